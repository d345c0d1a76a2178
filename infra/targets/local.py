"""The local driver: faults, remediations and probes carried out on the local reference stack."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
import psycopg
import redis

from gameday.base import run_clock
from gameday.base.errors import InvalidInput, StackError
from gameday.base.settings import Settings
from infra.local import postgres
from infra.local.config import StackConfig
from infra.local.layout import HOST, PRIMARY_REGION, REGIONS, StackLayout
from infra.local.operations import LocalOperations
from infra.local.supervisor import LocalStack
from infra.local.waiting import port_accepts, wait_until
from infra.targets import local_checks
from infra.targets.base import DEFAULT_RECOVERY, DetectionTiming, Problems, SamplerSources, TargetOptions
from infra.targets.local_checks import REGION_MODES

LATENCY_TOXIC = "gameday_latency"
HTTP_ERROR_TOXIC = "gameday_http_error"
BANDWIDTH_TOXIC = "gameday_bandwidth"
WRITER_LOOKUP_S = 15.0
VERIFY_TIMEOUT_S = 30.0
GATEWAY_TIMEOUT_S = 60.0  # a deploy starts instances and runs the health gate before it answers
REFERENCE_SETTLE_S = 30.0  # restore_reference waits this long for the restored stack to answer healthy


def stack_config(settings: Settings) -> StackConfig:
    """The local stack's plain configuration from the harness's settings."""
    return StackConfig(dir=settings.stack_dir, environment=settings.environment,
                       layout=StackLayout(router_port=settings.router_port, toxiproxy_port=settings.toxiproxy_port,
                                          base_port=settings.base_port),
                       router_interval_s=settings.router_interval_s,
                       router_failure_threshold=settings.router_failure_threshold,
                       router_recovery_threshold=settings.router_recovery_threshold,
                       router_ttl_s=settings.router_ttl_s, start_timeout_s=settings.start_timeout_s)


def with_base_port(settings: Settings, base: int) -> Settings:
    """The same settings for a stack laid out from one base port (see StackLayout.from_base)."""
    layout = StackLayout.from_base(base)
    return settings.model_copy(update={"router_port": layout.router_port, "toxiproxy_port": layout.toxiproxy_port,
                                       "base_port": layout.base_port})


def _check_region(region: str) -> None:
    if region not in REGIONS:
        raise InvalidInput(f"region {region!r} is not part of the local stack; valid regions: {', '.join(REGIONS)}")


class LocalTarget:
    """Driver for one local stack (chosen by settings: ports and state directory)."""

    name = "local"
    needs_profile = False
    records_dry_runs = False  # `gameday run --dry-run` prints the plan and starts nothing
    replays_without_ledger = True  # every undo is idempotent and needs no saved state
    dry_run = False
    edge_url = None  # the router is the edge too (infra/local/edge.py): static journeys go to the entry point

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.stack = LocalStack(stack_config(self.settings))
        self.ops = LocalOperations(self.stack)
        self.layout: StackLayout = self.stack.layout

    # --- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def configure(cls, options: TargetOptions) -> None:
        """Nothing to read: the stack is named by the settings (ports, state directory)."""
        return None

    @classmethod
    def check(cls, activity: str, args: dict, config=None) -> Problems:
        return local_checks.problems(activity, args)

    @classmethod
    def open(cls, settings: Settings, options: TargetOptions) -> LocalTarget:
        return cls(settings)

    @classmethod
    def from_environment(cls, settings: Settings, configuration: dict) -> LocalTarget:
        """The stack GAMEDAY_* names, or the one laid out from configuration `gameday_base_port`."""
        base = configuration.get("gameday_base_port")
        return cls(with_base_port(settings, int(base)) if base else settings)

    def describe(self) -> str:
        return f"the local stack (router {self.layout.router_url}, state {self.stack.dir})"

    def preflight(self) -> dict:
        return {"stack": str(self.stack.dir), "entry_url": self.entry_url}

    def prepare(self, progress: Callable[[str], None]) -> dict:
        """Bring the stack up (or check that it is up)."""
        self.stack.progress = progress
        self.stack.up()
        return self.preflight()

    def child_env(self) -> dict[str, str]:
        lay = self.layout
        return {"GAMEDAY_TARGET": self.name, "GAMEDAY_ROUTER_PORT": str(lay.router_port),
                "GAMEDAY_TOXIPROXY_PORT": str(lay.toxiproxy_port), "GAMEDAY_BASE_PORT": str(lay.base_port),
                "GAMEDAY_STACK_ROOT": str(self.settings.stack_root)}

    @contextmanager
    def write_ahead(self, callback: Callable[[dict | None], None]):
        """A local fault's recovery needs no saved state: the entry is begun at once, with the catalogue's."""
        callback(DEFAULT_RECOVERY)
        yield self

    def dry_run_summary(self) -> dict:
        return {"calls": 0}

    def reference_problems(self) -> list[str]:
        """How the stack differs from its reference topology: every link enabled without toxics, every component
        running and healthy, exactly one writer and in the primary region, the router serving the primary
        region by health (no override), and a write through the entry point committed there."""
        problems = [f"{c.name} not running" for c in self.stack.components() if c.region is None and not c.ref.alive()]
        try:
            for link in self.layout.links():
                if not self.ops.toxiproxy.proxy(link.name)["enabled"]:
                    problems.append(f"link {link.name} disabled")
                if toxics := [t["name"] for t in self.ops.toxiproxy.toxics(link.name)]:
                    problems.append(f"link {link.name} has toxics {', '.join(toxics)}")
        except StackError as exc:  # the fault proxy itself is down (killed): no link can be read
            problems.append(f"links unreadable: {str(exc).splitlines()[0]}")
        for region in REGIONS:
            problems += self.ops.region_problems(region)
        if (writers := self.writer_regions()) != [PRIMARY_REGION]:
            problems.append(f"writers {writers or 'none'}, expected exactly {PRIMARY_REGION}")
        try:
            routing = httpx.get(f"{self.layout.router_url}/_router/status", timeout=2).json()
            if routing.get("override") is not None or routing.get("served_region") != PRIMARY_REGION:
                problems.append(f"router serves {routing.get('served_region')} (override {routing.get('override')})")
        except httpx.HTTPError as exc:
            problems.append(f"router status unreadable: {exc}")
        problems += [f"alarm {name} not evaluated" for name in self._silenced_alarms()]
        if not problems:
            try:
                self.verify_write(PRIMARY_REGION, timeout_s=10)
            except StackError as exc:
                problems.append(str(exc).splitlines()[0])
        return problems

    def _restart_shared_components(self) -> list[str]:
        """Start the components of no region (fault proxy, AI providers, router) that died, as recorded; wait until
        each accepts connections. The fault proxy comes back with its links as configured at `stack up`."""
        started = []
        for component in self.stack.components():
            if component.region is None and not component.ref.alive():
                self.stack.respawn(component.name)
                wait_until(lambda c=component: port_accepts(c.port), component.name, self.settings.start_timeout_s)
                started.append(component.name)
        return started

    def restore_reference(self) -> dict:
        """Back to the reference topology whatever a crash left: links enabled and clean, dead processes back,
        the writer in the primary region (failback), health-based routing; then verified (StackError else)."""
        started = self._restart_shared_components()  # the fault proxy first: every link lives in it
        for link in self.layout.links():
            self.ops.set_link(link.name, True)
            for toxic in self.ops.toxiproxy.toxics(link.name):
                self.ops.toxiproxy.remove_toxic(link.name, toxic["name"])
        started += [name for region in REGIONS for name in self.ops.power_on(region)]
        writers = self.writer_regions()
        if not writers:  # both databases standbys or dead: the primary's was the writer of the reference
            self.ops.promote(PRIMARY_REGION)
            writers = self.writer_regions()
        failback = self.failback() if writers != [PRIMARY_REGION] else None
        self.ops.route_to(None)
        for alarm in self._silenced_alarms():
            self._set_alarm(alarm, True)
        # A failback rebuilds the other region's database as a standby: its gateway answers unhealthy until the
        # standby has streamed, so the postcondition is waited for, not read once.
        deadline = time.monotonic() + REFERENCE_SETTLE_S
        while (problems := self.reference_problems()) and time.monotonic() < deadline:
            time.sleep(0.5)
        if problems:
            raise StackError(f"restore of the reference topology on target local failed: {'; '.join(problems)}",
                             hint="`gameday stack down` then `gameday stack up` rebuilds the stack from scratch")
        return {"started": started, "failback": failback, "at_s": run_clock.now()}

    ledger_store = None  # the ledger is the file at ledger_path

    def exclusive(self, run_id: str, duration_s: float):
        """The stack is on this machine: gameday.run_lock's file lock is all the exclusion it needs."""
        return nullcontext()

    @property
    def ledger_path(self) -> Path:
        """The stack-level fault ledger: it outlives any run (infra.targets.ledger_for opens it)."""
        return self.stack.dir / "faults.jsonl"

    @property
    def entry_url(self) -> str:
        """The public entry point the load, the canary and the health probe use."""
        return self.layout.router_url

    def _check_link(self, link: str) -> None:
        names = [lk.name for lk in self.layout.links()]
        if link not in names:
            raise InvalidInput(f"link {link!r} is not part of the local stack; valid links: {', '.join(names)}")

    # --- faults ----------------------------------------------------------------------------------
    def fail_region(self, region: str, mode: str = "partition") -> dict:
        """partition: cut every link into the region, replication included; power_off: SIGKILL its processes."""
        _check_region(region)
        if mode not in REGION_MODES:
            raise InvalidInput(f"region failure mode {mode!r} is unknown; valid modes: {', '.join(REGION_MODES)}")
        links = self.ops.region_links(region)
        for link in links:
            self.ops.set_link(link, False)
        killed = self.ops.power_off(region) if mode == "power_off" else []
        return {"region": region, "mode": mode, "links_cut": links, "killed": killed, "at_s": run_clock.now()}

    def restore_region(self, region: str, **recorded) -> dict:
        """Undo either mode: processes back (a database as standby of the current writer), links back."""
        _check_region(region)
        self._restart_shared_components()  # an undo after a crash may find the fault proxy itself dead
        links = self.ops.region_links(region)
        for link in links:
            self.ops.set_link(link, True)
        started = self.ops.power_on(region)
        return {"region": region, "started": started, "links_restored": links, "at_s": run_clock.now()}

    def cut_link(self, link: str) -> dict:
        self._check_link(link)
        self.ops.set_link(link, False)
        return {"link": link, "enabled": False, "at_s": run_clock.now()}

    def restore_link(self, link: str, **recorded) -> dict:
        self._check_link(link)
        self._restart_shared_components()
        self.ops.set_link(link, True)
        return {"link": link, "enabled": True, "at_s": run_clock.now()}

    def add_latency(self, link: str, ms: float, jitter_ms: float = 0.0) -> dict:
        self._check_link(link)
        self.remove_latency(link)
        self.ops.toxiproxy.add_toxic(link, "latency", {"latency": ms, "jitter": jitter_ms}, name=LATENCY_TOXIC)
        return {"link": link, "latency_ms": ms, "jitter_ms": jitter_ms, "at_s": run_clock.now()}

    def remove_latency(self, link: str, **recorded) -> dict:
        self._check_link(link)
        self._restart_shared_components()
        if any(t["name"] == LATENCY_TOXIC for t in self.ops.toxiproxy.toxics(link)):
            self.ops.toxiproxy.remove_toxic(link, LATENCY_TOXIC)
        return {"link": link, "latency_ms": 0, "at_s": run_clock.now()}

    def limit_bandwidth(self, link: str, rate_kb_s: int) -> dict:
        self._check_link(link)
        self.remove_bandwidth_limit(link)
        for stream in ("upstream", "downstream"):
            self.ops.toxiproxy.add_toxic(link, "bandwidth", {"rate": int(rate_kb_s)},
                                         name=f"{BANDWIDTH_TOXIC}_{stream}", stream=stream)
        return {"link": link, "rate_kb_s": int(rate_kb_s), "at_s": run_clock.now()}

    def remove_bandwidth_limit(self, link: str, **recorded) -> dict:
        self._check_link(link)
        self._restart_shared_components()
        for toxic in self.ops.toxiproxy.toxics(link):
            if toxic["name"].startswith(BANDWIDTH_TOXIC):
                self.ops.toxiproxy.remove_toxic(link, toxic["name"])
        return {"link": link, "rate_kb_s": None, "at_s": run_clock.now()}

    def inject_http_error(self, link: str, status: int, probability: float = 1.0) -> dict:
        self._check_link(link)
        self.remove_http_error(link)
        self.ops.toxiproxy.add_toxic(link, "http_error", {"status": int(status)}, name=HTTP_ERROR_TOXIC,
                                     stream="upstream", toxicity=float(probability))
        return {"link": link, "status": int(status), "probability": float(probability), "at_s": run_clock.now()}

    def remove_http_error(self, link: str, **recorded) -> dict:
        self._check_link(link)
        self._restart_shared_components()
        if any(t["name"] == HTTP_ERROR_TOXIC for t in self.ops.toxiproxy.toxics(link)):
            self.ops.toxiproxy.remove_toxic(link, HTTP_ERROR_TOXIC)
        return {"link": link, "http_error": None, "at_s": run_clock.now()}

    def kill_db_writer(self, restore_writer: bool = False) -> dict:
        """SIGKILL of the writable Postgres (fenced). Its undo, `restore_region`, always restarts it, as a standby
        when another region writes by then (`restore_writer` changes nothing here: no second outage either way)."""
        writers = self.ops.writer_regions()
        if not writers:
            raise StackError("kill of the database writer on target local failed: no writable database",
                             hint="`gameday stack status` shows the databases' roles")
        self.ops.fence(writers[0])
        return {"region": writers[0], "killed": f"postgres-{writers[0]}", "at_s": run_clock.now()}

    def writer_regions(self) -> list[str]:
        return self.ops.writer_regions()

    # --- remediations ----------------------------------------------------------------------------
    def promote_secondary(self, allow_data_loss: bool = False) -> dict:
        """Emergency failover: fence the old writer, promote the standby, pin routing to it, verify a write
        (`allow_data_loss` is accepted and ignored: a local promotion after a power-off is always this one)."""
        writers = self.ops.writer_regions()
        current = writers[0] if writers else PRIMARY_REGION
        target = next(r for r in REGIONS if r != current)
        started = run_clock.now()
        fenced = [r for r in REGIONS if r != target and self.ops.fence(r)]
        promotion_start = run_clock.now()
        promotion_s = self.ops.promote(target)
        promotion_end = run_clock.now()
        self.ops.route_to(target)
        verified_at = self.verify_write(target)
        return {"from_region": current, "to_region": target, "fenced": fenced, "start_s": started,
                "promotion_start_s": promotion_start, "promotion_end_s": promotion_end,
                "promotion_s": round(promotion_s, 3), "routed_at_s": run_clock.now(), "verified_at_s": verified_at}

    def restore_writer(self) -> dict:
        """A writer again after the writer database was lost: the reference stack has one database per region, so
        the standby in the other region is promoted (fenced, promoted, routed, verified): `promote_secondary`."""
        return {**self.promote_secondary(), "cross_region": True}

    def failback(self) -> dict:
        """Planned switchover back to the primary region, with zero data loss, then verification."""
        writers = self.ops.writer_regions()
        if writers == [PRIMARY_REGION]:
            self.ops.route_to(None)
            return {"skipped": True, "reason": f"{PRIMARY_REGION} is already the only writer", "at_s": run_clock.now()}
        if len(writers) != 1:
            raise StackError(f"failback on target local failed: expected one writer, found {writers or 'none'}",
                             hint="promote a region first (remediations.failover.promote_secondary)")
        interim = writers[0]
        started = run_clock.now()
        self.ops.power_on(PRIMARY_REGION)  # dead processes back; a dead database as a standby of the interim
        if self._is_writable(PRIMARY_REGION) is not False:  # not (yet) a standby: clone it from the interim
            self.ops.rebuild_standby(PRIMARY_REGION, interim)
        for link in self.ops.region_links(PRIMARY_REGION):
            self.ops.set_link(link, True)
        self.ops.wait_caught_up(PRIMARY_REGION, interim)
        self.ops.set_read_only(interim, True)       # soft fence: no new writes on the interim writer
        self.ops.wait_caught_up(PRIMARY_REGION, interim)
        self.ops.fence(interim)  # hard fence before promoting: never two writers
        promotion_s = self.ops.promote(PRIMARY_REGION)
        self.ops.route_to(None)
        self.ops.rebuild_standby(interim, PRIMARY_REGION)
        verified_at = self.verify_write(PRIMARY_REGION)
        return {"from_region": interim, "to_region": PRIMARY_REGION, "start_s": started,
                "promotion_s": round(promotion_s, 3), "verified_at_s": verified_at, "end_s": run_clock.now()}

    def _is_writable(self, region: str) -> bool | None:
        recovery = postgres.in_recovery(self.layout.pg_port(region))
        return None if recovery is None else not recovery

    # --- deployments and caches ------------------------------------------------------------------
    def _gateway(self, region: str, method: str, path: str, body: dict | None = None,
                 timeout_s: float = GATEWAY_TIMEOUT_S) -> httpx.Response:
        _check_region(region)
        url = f"http://127.0.0.1:{self.layout.app_port(region)}{path}"
        try:
            return httpx.request(method, url, json=body, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise StackError(f"{method} {path} of region {region} on target local failed: {type(exc).__name__}: {exc}",
                             hint="`gameday stack status` shows whether the region gateway runs") from exc

    def deploy(self, region: str, version: str, error_rate: float = 0.0, added_latency_ms: float = 0.0,
               force: bool = False) -> dict:
        """Start `version` in `region`'s idle slot behind the health gate (`force` switches anyway); the gateway's
        answer, with `changed: False` and `gate_refused: True` when the gate kept it from going live."""
        answer = self._gateway(region, "POST", "/_region/deploy", {"version": version, "error_rate": error_rate,
                                                                   "added_latency_ms": added_latency_ms,
                                                                   "force": force})
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        if answer.status_code not in (200, 422):
            raise StackError(f"deployment of {version} to region {region} on target local failed: "
                             f"HTTP {answer.status_code}: {answer.text[:300]}")
        live = answer.status_code == 200 and bool(body.get("deployed"))
        return {**body, "changed": live, **({} if live else {"gate_refused": True})}

    def release_watch_url(self, region: str) -> str:
        """A regression watcher reads the region's gateway directly (the router would hide a bad slot)."""
        _check_region(region)
        return f"http://127.0.0.1:{self.layout.app_port(region)}"

    def active_release(self, region: str) -> str | None:
        answer = self._gateway(region, "GET", "/_region/status")
        return answer.json().get("release") if answer.status_code == 200 else None

    def rollback_deployment(self, region: str, version: str | None = None, **recorded) -> dict:
        """Switch `region` back to its previous slot while `version` (any when None) is live; idempotent."""
        active = self.active_release(region)
        if version is not None and (active is None or not active.endswith(f"/{version}")):
            return {"region": region, "skipped": True, "active_release": active,
                    "reason": f"{version} is no longer the active release", "at_s": run_clock.now()}
        answer = self._gateway(region, "POST", "/_region/rollback")
        if answer.status_code != 200:
            raise StackError(f"rollback of region {region} on target local failed: HTTP {answer.status_code}: "
                             f"{answer.text[:300]}", hint="`gameday stack status` shows the region's slots")
        return {"region": region, **answer.json(), "at_s": run_clock.now()}

    # --- monitoring (infra/local/monitor.py, the CloudWatch stand-in) ------------------------------------
    def silence_alarm(self, alarm: str) -> dict:
        """Stop evaluating `alarm` (a deleted or never deployed alarm): the detection gap a GameDay must catch."""
        return {**self._set_alarm(alarm, False), "at_s": run_clock.now()}

    def restore_alarm(self, alarm: str, **recorded) -> dict:
        """Evaluate `alarm` again (from INSUFFICIENT_DATA, like a new alarm). Idempotent."""
        self._restart_shared_components()
        return {**self._set_alarm(alarm, True), "at_s": run_clock.now()}

    def _set_alarm(self, alarm: str, enabled: bool) -> dict:
        url = f"{self.layout.monitor_url}/_monitor/alarms/{alarm}"
        try:
            answer = httpx.post(url, json={"enabled": enabled}, timeout=5)
        except httpx.HTTPError as exc:
            raise StackError(f"{'restore' if enabled else 'silence'} of alarm {alarm} on target local failed: {exc}",
                             hint="`gameday stack status` shows whether the monitor runs") from exc
        if answer.status_code == 404:
            raise InvalidInput(f"alarm {alarm!r} is not defined on the local stack; valid alarms: "
                               f"{', '.join(answer.json().get('valid', []))}")
        answer.raise_for_status()
        body = answer.json()
        return {"alarm": alarm, "enabled": body["enabled"], "was_enabled": body["was_enabled"]}

    def _silenced_alarms(self) -> list[str]:
        try:
            alarms = httpx.get(f"{self.layout.monitor_url}/_monitor/status", timeout=2).json()["alarms"]
        except (httpx.HTTPError, ValueError, KeyError):
            return []  # a dead monitor is reported as a component not running
        return sorted(name for name, a in alarms.items() if not a["enabled"])

    def alarm_record(self, since_s: float) -> dict | None:
        """The monitor's alarms (definitions and current states), their state changes and the pager's deliveries
        since `since_s` (epoch seconds, the stack's wall clock); None when the monitor does not answer."""
        try:
            status = httpx.get(f"{self.layout.monitor_url}/_monitor/status", timeout=5).json()
            changes = httpx.get(f"{self.layout.monitor_url}/_monitor/history", params={"since": since_s},
                                timeout=5).json()["changes"]
        except (httpx.HTTPError, ValueError, KeyError):
            return None
        try:
            deliveries = httpx.get(f"{self.layout.pager_url}/deliveries", params={"since": since_s},
                                   timeout=5).json()["deliveries"]
        except (httpx.HTTPError, ValueError, KeyError):
            deliveries = None  # notifications unknown: time to notify cannot be measured
        return {"source": f"the local monitor ({self.layout.monitor_url}) and pager ({self.layout.pager_url})",
                "alarms": status["alarms"], "changes": changes,
                "deliveries": None if deliveries is None else [
                    {"channel": d["channel"], "received_s": d["received_s"], "alarm": d["body"].get("alarm"),
                     "to": d["body"].get("to")} for d in deliveries]}

    def flush_cache(self, region: str) -> dict:
        """Empty `region`'s Redis (a cold cache, like a replaced node)."""
        _check_region(region)
        try:
            with redis.Redis(host="127.0.0.1", port=self.layout.redis_port(region), socket_timeout=2,
                             socket_connect_timeout=2) as client:
                keys = client.dbsize()
                client.flushdb()
        except (redis.RedisError, OSError) as exc:
            raise StackError(f"flush of the cache of {region} on target local failed: {exc}",
                             hint="`gameday stack status` shows whether the region's Redis runs") from exc
        return {"region": region, "keys_flushed": int(keys), "at_s": run_clock.now()}

    def verify_write(self, region: str, timeout_s: float = VERIFY_TIMEOUT_S) -> float:
        """Postcondition: a write through the public entry point commits in `region`; returns its ack time."""
        seq = -int(run_clock.now() * 1000)  # negative: never collides with the canary's positive sequence
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                answer = httpx.post(f"{self.layout.router_url}/writes", json={"seq": seq}, timeout=2)
                if answer.status_code in (200, 201) and answer.headers.get("X-Region") == region:
                    return run_clock.now()
                last = f"HTTP {answer.status_code} from {answer.headers.get('X-Region')}: {answer.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise StackError(f"verification of writes in {region} through {self.layout.router_url} failed after "
                         f"{timeout_s:.0f} s: {last}")

    # --- probes ----------------------------------------------------------------------------------
    def served_region(self) -> str:
        """The region the entry point's router sends traffic to now."""
        return httpx.get(f"{self.layout.router_url}/_router/status", timeout=2).json()["served_region"]

    def region_capacity(self, region: str) -> dict:
        """The region gateway's capacity now: instances, ready ones, in flight, its caps and throttles so far."""
        status = self._gateway(region, "GET", "/_region/status", timeout_s=2).json()
        policy = status.get("policy") or {}
        return {"region": region, "instances": status.get("instances"), "ready": status.get("ready_instances"),
                "in_flight": (status.get("capacity") or {}).get("in_flight"),
                "min_instances": policy.get("min_instances"), "max_instances": policy.get("max_instances"),
                "throttles_total": status.get("throttles_total"), "requests_total": status.get("requests_total")}

    def surviving_writes(self, since_seq: int) -> dict:
        """The canary writes (seq >= since_seq) the one writer holds; no seqs and writer None when not exactly one
        database writes (waits a little: a busy database may miss one answer)."""
        deadline = time.monotonic() + WRITER_LOOKUP_S
        writers = self.writer_regions()
        while len(writers) != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            writers = self.writer_regions()
        if len(writers) != 1:
            return {"seqs": [], "writer_region": None}
        with psycopg.connect(postgres.dsn(self.layout.pg_port(writers[0])), autocommit=True) as conn:
            seqs = [row[0] for row in conn.execute("SELECT seq FROM canary_writes WHERE seq >= %s ORDER BY seq",
                                                   (since_seq,))]
        return {"seqs": seqs, "writer_region": writers[0]}

    def detection_timing(self) -> DetectionTiming:
        """The router's health checks (the Route 53 stand-in) as the running router reports them: its interval,
        failure threshold and answer TTL (the settings it was started with when it cannot be asked)."""
        try:
            status = httpx.get(f"{self.layout.router_url}/_router/status", timeout=2).json()
            interval_s, threshold, ttl_s = status["interval_s"], status["failure_threshold"], status["ttl_s"]
            return DetectionTiming(float(interval_s), int(threshold), float(ttl_s),
                                   f"the local router's health checks ({self.layout.router_url})")
        except (httpx.HTTPError, ValueError, KeyError):
            s = self.settings
            return DetectionTiming(s.router_interval_s, s.router_failure_threshold, s.router_ttl_s,
                                   "the local router's settings (GAMEDAY_ROUTER_*; the router did not answer)")

    def sampler_sources(self) -> SamplerSources:
        return SamplerSources(pg_ports={r: self.layout.pg_port(r) for r in REGIONS},
                              capacity_urls={r: f"http://{HOST}:{self.layout.app_port(r)}" for r in REGIONS},
                              routing=True)
