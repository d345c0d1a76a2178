"""Bring the local reference stack up, report its status, and take it down, by PIDs kept in a state file.

`up` starts every component detached and returns once all are healthy; `down` works from the state file
alone, so it also cleans up after a supervisor that was killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gameday.base.errors import StackError
from infra.local import postgres, redis_server
from infra.local.alarm_rules import alarms_file
from infra.local.config import StackConfig
from infra.local.layout import (
    HOST,
    PRIMARY_REGION,
    PROVIDERS,
    REGIONS,
    REPLICATION_LINK,
    SECONDARY_REGION,
    SLOTS,
    StackLayout,
    cache_link,
    db_link,
    origin_link,
    provider_link,
    router_link,
)
from infra.local.processes import ProcessRef, cmdline_of, spawn, start_ticks_of, stop, tagged_with
from infra.local.scaling import policy_for
from infra.local.stack_status import stack_status
from infra.local.waiting import http_json, port_accepts, port_is_free, wait_until

STATE_VERSION = 1
STACK_TAG = "GAMEDAY_STACK_TAG"
"""Environment variable every component is started with (value: the stack directory), so `down` can find a
process that was spawned but not yet recorded when the supervisor died."""
#: fault proxy, router, AI providers, pager, monitor; per region Postgres, Redis, API, origin
COMPONENT_COUNT = 5 + 4 * len(REGIONS)
PROVIDER_LATENCY = {"bedrock": "200:500", "google": "250:600", "meta": "300:700"}
"""Median:P95 ms of each provider stub: P95 well inside the AI SLO (1.5 s) and the gateway's 1 s timeout."""


@dataclass(frozen=True)
class Component:
    """One process of the stack as the state file records it."""

    name: str
    kind: str  # faultproxy | postgres | redis | api | router
    region: str | None
    role: str
    port: int
    ref: ProcessRef
    log: str
    argv: tuple[str, ...] = ()
    user: tuple[int, int] | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "region": self.region, "role": self.role,
                "address": f"{HOST}:{self.port}", "port": self.port, **self.ref.as_dict(), "log": self.log,
                "argv": list(self.argv), "user": list(self.user) if self.user else None}

    @classmethod
    def from_dict(cls, d: dict) -> Component:
        user = d.get("user")
        return cls(d["name"], d["kind"], d["region"], d["role"], d["port"], ProcessRef(d["pid"], d["start_ticks"]),
                   d["log"], tuple(d.get("argv", ())), (user[0], user[1]) if user else None)


class LocalStack:
    """The two-region reference stack of one `StackConfig` (its ports, state directory and router tuning)."""

    def __init__(self, config: StackConfig, progress: Callable[[str], None] = lambda line: None):
        self.config = config
        self.layout: StackLayout = config.layout
        self.dir = config.dir
        self.progress = progress
        self._components: list[Component] = []

    # ---- state file -------------------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def _load(self) -> list[Component]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return []
        return [Component.from_dict(c) for c in data.get("components", [])]

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        data = {"version": STATE_VERSION, "layout": self.layout.__dict__,
                "components": [c.as_dict() for c in self._components]}
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.state_path)

    def _spawn(self, name: str, argv: list[str] | tuple[str, ...], user: tuple[int, int] | None) -> ProcessRef:
        env = {**os.environ, STACK_TAG: str(self.dir)}
        return spawn(list(argv), self.dir / "logs" / f"{name}.log", user=user, env=env,
                     cwd=Path(__file__).resolve().parents[2])

    def _start(self, name: str, kind: str, region: str | None, role: str, port: int, argv: list[str],
               user: tuple[int, int] | None = None) -> None:
        ref = self._spawn(name, argv, user)
        log = str(self.dir / "logs" / f"{name}.log")
        self._components.append(Component(name, kind, region, role, port, ref, log, tuple(argv), user))
        self._save()  # record the PID at once: a crash from here on must not leak the process

    def components(self) -> list[Component]:
        """The recorded components (alive or not), as the state file has them now."""
        return self._load()

    def respawn(self, name: str) -> Component:
        """Start a recorded component again with its recorded command line (after it was killed)."""
        components = self._load()
        names = [c.name for c in components]
        if name not in names:
            raise StackError(f"restart of component {name!r} failed: not in the stack's state file; "
                             f"components: {', '.join(names)}")
        old = components[names.index(name)]
        if old.ref.alive():
            return old
        new = Component(old.name, old.kind, old.region, old.role, old.port, self._spawn(name, old.argv, old.user),
                        old.log, old.argv, old.user)
        self._components = [new if c.name == name else c for c in components]
        self._save()
        return new

    def pg_dir(self, region: str) -> Path:
        return self._pg_dir(region)

    def record_link_upstream(self, name: str, upstream: str) -> None:
        """Keep the fault proxy's config file in step with a link whose upstream moved (the replication link
        follows the writer): a fault proxy restarted after a crash then comes back with the topology of now."""
        proxies = self.dir / "proxies.json"
        links = json.loads(proxies.read_text())
        for link in links:
            if link["name"] == name:
                link["upstream"] = upstream
        tmp = proxies.with_suffix(".tmp")
        tmp.write_text(json.dumps(links, indent=2))
        os.replace(tmp, proxies)

    # ---- up ---------------------------------------------------------------------------------------------------
    def up(self) -> dict:
        """Start everything, wait until healthy, return `status()`. Idempotent on a healthy stack."""
        # Not by working directory here: a person's shell sitting in the stack directory is not a component.
        running = [c for c in self._load() if c.ref.alive()] or tagged_with(STACK_TAG, str(self.dir), by_cwd=False)
        if running and (lost := self._lost_data()):
            # Processes still run on files that are gone (their state, their databases): they cannot be trusted
            # with a run, and restarting them in place would fail. Stop them all; the start below builds anew.
            self.progress(f"{lost} was deleted under the running stack: stopping it and building it again")
            self.down()
        elif running:
            current = self.status()
            if current["healthy"]:
                self.progress("stack is already up and healthy")
                return current
            self.progress("stack is partly up or unhealthy: restarting it")
            self.down()
        self._check_ports()
        started = time.monotonic()
        try:
            self._start_all()
        except BaseException:
            self.progress("start failed: stopping what was started")
            self.down()
            raise
        self.progress(f"stack up in {time.monotonic() - started:.2f} s")
        return self.status()

    def _lost_data(self) -> str | None:
        """What of the stack's directory is gone while its processes run (e.g. `rm -rf` of the stack directory),
        or None when all of it is there."""
        if not self.state_path.is_file():
            return f"the state file {self.state_path}"
        for region in REGIONS:
            if not postgres.is_initialised(self._pg_dir(region)):
                return f"the PostgreSQL data directory {self._pg_dir(region)}"
            if not (self.dir / "redis" / region).is_dir():
                return f"the Redis directory {self.dir / 'redis' / region}"
        return None

    def _check_ports(self) -> None:
        for port in self.layout.all_ports():
            if not port_is_free(port):
                raise StackError(f"start of the local stack failed: port {HOST}:{port} is already in use",
                                 hint="another stack or program holds it: run `gameday stack down`, "
                                      "or pick other ports with --base-port / GAMEDAY_BASE_PORT")

    def _start_all(self) -> None:
        lay, py, timeout = self.layout, sys.executable, self.config.start_timeout_s
        bindir, user = postgres.find_bindir(), postgres.os_user()
        redis_bin = redis_server.find_binary()
        self._components = []
        self.dir.mkdir(parents=True, exist_ok=True)

        proxies = self.dir / "proxies.json"
        proxies.write_text(json.dumps([link.as_toxiproxy() for link in lay.links()], indent=2))
        self._start("faultproxy", "faultproxy", None, "fault-proxy", lay.toxiproxy_port,
                    [py, "-m", "infra.local.faultproxy", "--host", HOST, "--port", str(lay.toxiproxy_port),
                     "--config", str(proxies)])
        provider_argv = [py, "-m", "infra.local.providers", "--host", HOST]
        for provider in PROVIDERS:
            provider_argv += ["--provider", f"{provider}={lay.provider_port(provider)}",
                              "--latency", f"{provider}={PROVIDER_LATENCY[provider]}"]
        self._start("providers", "providers", None, "ai-providers", lay.provider_port(PROVIDERS[0]), provider_argv)
        for region in REGIONS:
            self._start(f"origin-{region}", "origin", region, "static-origin", lay.origin_port(region),
                        [py, "-m", "infra.local.origin", "--host", HOST, "--port", str(lay.origin_port(region)),
                         "--region", region])
        for region in REGIONS:
            self._start(f"redis-{region}", "redis", region, "cache", lay.redis_port(region),
                        redis_server.server_argv(redis_bin, lay.redis_port(region), self.dir / "redis" / region))

        primary_dir, standby_dir = self._pg_dir(PRIMARY_REGION), self._pg_dir(SECONDARY_REGION)
        if not postgres.is_initialised(primary_dir) or postgres.is_standby_dir(primary_dir):
            self.progress(f"initialising PostgreSQL primary in {primary_dir}")
            if primary_dir.exists():
                shutil.rmtree(primary_dir)
            postgres.initdb(bindir, primary_dir, user)
        self._start(f"postgres-{PRIMARY_REGION}", "postgres", PRIMARY_REGION, "primary", lay.pg_port(PRIMARY_REGION),
                    postgres.server_argv(bindir, primary_dir, lay.pg_port(PRIMARY_REGION)), user)

        for region in REGIONS:
            config = self.dir / f"gateway-{region}.json"
            config.write_text(json.dumps(self._gateway_config(region), indent=2))
            self._start(f"api-{region}", "api", region, "gateway", lay.app_port(region),
                        [py, "-m", "infra.local.region_gateway", "--config", str(config)])
        router_argv = [py, "-m", "infra.local.router", "--host", HOST, "--port", str(lay.router_port),
                       "--interval-s", str(self.config.router_interval_s),
                       "--failure-threshold", str(self.config.router_failure_threshold),
                       "--recovery-threshold", str(self.config.router_recovery_threshold),
                       "--ttl-s", str(self.config.router_ttl_s)]
        for region in REGIONS:
            router_argv += ["--region", f"{region}=http://{lay.link(router_link(region)).listen}",
                            "--origin", f"{region}=http://{lay.link(origin_link(region)).listen}"]
        self._start("router", "router", None, "router", lay.router_port, router_argv)
        monitoring = self.dir / "monitoring"
        self._start("pager", "pager", None, "pager", lay.pager_port,
                    [py, "-m", "infra.local.pager", "--host", HOST, "--port", str(lay.pager_port),
                     "--dir", str(monitoring)])
        monitor_config = self.dir / "monitor.json"
        monitor_config.write_text(json.dumps(self._monitor_config(monitoring), indent=2))
        self._start("monitor", "monitor", None, "monitoring", lay.monitor_port,
                    [py, "-m", "infra.local.monitor", "--config", str(monitor_config)])

        postgres.wait_ready(lay.pg_port(PRIMARY_REGION), timeout)
        postgres.ensure_schema(lay.pg_port(PRIMARY_REGION))
        wait_until(lambda: http_json(f"{lay.toxiproxy_url}/version") is not None, "the fault proxy", timeout,
                   on_timeout=lambda: f"see {self.dir / 'logs' / 'faultproxy.log'}")
        if not (postgres.is_initialised(standby_dir) and postgres.is_standby_dir(standby_dir)):
            self.progress(f"cloning the standby into {standby_dir} over the replication link")
            postgres.base_backup(bindir, standby_dir, lay.link(REPLICATION_LINK).listen_port, user)
        self._start(f"postgres-{SECONDARY_REGION}", "postgres", SECONDARY_REGION, "standby",
                    lay.pg_port(SECONDARY_REGION),
                    postgres.server_argv(bindir, standby_dir, lay.pg_port(SECONDARY_REGION)), user)
        postgres.wait_ready(lay.pg_port(SECONDARY_REGION), timeout)

        for component in self._components:
            if component.kind == "redis":
                wait_until(lambda c=component: port_accepts(c.port), component.name, timeout)
        for region in REGIONS:
            url = f"http://{HOST}:{lay.app_port(region)}/health"
            wait_until(lambda u=url: (r := http_json(u)) is not None and r[0] == 200 and r[1]["cache"]["ok"],
                       f"api-{region}", timeout, on_timeout=lambda u=url: f"GET {u} -> {http_json(u)}")
        wait_until(self._router_saw_all_regions, "router", timeout,
                   on_timeout=lambda: f"GET {lay.router_url}/_router/status "
                                      f"-> {http_json(lay.router_url + '/_router/status')}")
        for name, url in (("pager", f"{lay.pager_url}/health"), ("monitor", f"{lay.monitor_url}/_monitor/status")):
            wait_until(lambda u=url: (r := http_json(u)) is not None and r[0] == 200, name, timeout,
                       on_timeout=lambda n=name: f"see {self.dir / 'logs' / f'{n}.log'}")

    def _gateway_config(self, region: str) -> dict:
        lay = self.layout
        return {"region": region, "host": HOST, "port": lay.app_port(region),
                "slot_ports": {slot: lay.instance_ports(region, slot) for slot in SLOTS},
                "app_args": ["--region", region, "--db-port", str(lay.link(db_link(region)).listen_port),
                             "--redis-port", str(lay.link(cache_link(region)).listen_port),
                             *[arg for p in PROVIDERS for arg in ("--provider", f"{p}=http://{lay.link(provider_link(p)).listen}")]],
                "policy": policy_for(self.config.environment).as_dict()}

    def _monitor_config(self, monitoring: Path) -> dict:
        lay = self.layout
        return {"host": HOST, "port": lay.monitor_port, "dir": str(monitoring),
                "alarms_file": str(alarms_file(self.config.environment)),
                "entry_url": lay.router_url, "sink_url": f"{lay.pager_url}/hooks",
                "regions": {region: {"link_url": f"http://{lay.link(router_link(region)).listen}",
                                     "gateway_url": f"http://{HOST}:{lay.app_port(region)}",
                                     "redis_port": lay.redis_port(region)} for region in REGIONS}}

    def _router_saw_all_regions(self) -> bool:
        answer = http_json(f"{self.layout.router_url}/_router/status")
        if answer is None or answer[0] != 200:
            return False
        regions = answer[1].get("regions", {})
        return all(regions.get(r, {}).get("last_ok_at") for r in REGIONS)

    def _pg_dir(self, region: str) -> Path:
        return self.dir / "pg" / region

    # ---- down -------------------------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop every recorded process (newest first) and any Postgres left on our data directories."""
        stopped = []
        for component in reversed(self._load()):
            # Postgres: SIGINT is "fast shutdown"; SIGTERM would wait for clients to leave.
            sig = signal.SIGINT if component.kind == "postgres" else signal.SIGTERM
            if stop(component.ref, sig=sig):
                stopped.append(component.name)
        for region in REGIONS:
            orphan = self._postmaster_of(self._pg_dir(region))
            if orphan is not None and stop(orphan, sig=signal.SIGINT):
                stopped.append(f"postgres-{region} (orphan)")
        for orphan in tagged_with(STACK_TAG, str(self.dir)):
            if stop(orphan):
                stopped.append(f"pid {orphan.pid} (unrecorded)")
        self._components = []
        if self.state_path.exists():
            self.state_path.unlink()
        return stopped

    @staticmethod
    def _postmaster_of(datadir: Path) -> ProcessRef | None:
        """A postmaster still running on `datadir` (its postmaster.pid names it), e.g. after a lost state file."""
        try:
            pid = int((datadir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        ticks = start_ticks_of(pid)
        if ticks is None:
            return None
        cmdline = cmdline_of(pid)
        return ProcessRef(pid, ticks) if cmdline is not None and str(datadir) in cmdline else None

    # ---- status -----------------------------------------------------------------------------------------------
    def status(self) -> dict:
        """Every component (name, region, role, pid, address, alive, healthy), the writer region, URLs and
        each region's behaviour (see infra/local/stack_status.py)."""
        recorded = [c.as_dict() | {"alive": c.ref.alive()} for c in self._load()]
        return stack_status(self.layout, recorded, REGIONS, COMPONENT_COUNT, str(self.dir))
