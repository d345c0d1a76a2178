"""Operations on a running local stack that faults and remediations are made of: power a region off and on,
fence and promote databases, rebuild a standby from the current writer, switch routing."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager

import httpx
import psycopg

from gameday.base.errors import StackError
from infra.local import postgres
from infra.local.layout import HOST, REGIONS, REPLICATION_LINK, router_link
from infra.local.processes import ProcessRef, children_of, start_ticks_of, state_of
from infra.local.stack_status import component_status
from infra.local.supervisor import Component, LocalStack
from infra.local.toxiproxy_client import ToxiproxyClient
from infra.local.waiting import wait_until

POWERED_KINDS = ("postgres", "redis", "api", "origin")
"""What a region's power-off kills: its database, cache, API (gateway and instances) and static origin."""


def _kill_tree(pid: int, sig: int) -> None:
    for child in children_of(pid):
        _kill_tree(child, sig)
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class LocalOperations:
    """The building blocks of faults and remediations on the stack described by `stack`."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.layout = stack.layout
        self.toxiproxy = ToxiproxyClient(self.layout.toxiproxy_url)

    # --- regions -------------------------------------------------------------------------------------
    def region_components(self, region: str) -> list[Component]:
        if region not in REGIONS:
            raise StackError(f"lookup of region {region!r} failed: valid regions: {', '.join(REGIONS)}")
        return [c for c in self.stack.components() if c.region == region and c.kind in POWERED_KINDS]

    def power_off(self, region: str) -> list[str]:
        """SIGSTOP every process of the region at once, then SIGKILL them all (a power cut, no clean shutdown).
        Ctrl-C and SIGTERM wait until it is done: a power cut stopped half way would leave frozen processes."""
        victims = [c for c in self.region_components(region) if c.ref.alive()]
        with _signals_deferred():
            for c in victims:
                _kill_tree(c.ref.pid, signal.SIGSTOP)
            for c in victims:
                _kill_tree(c.ref.pid, signal.SIGKILL)
        # No waiting for the kernel to reap them: frozen then killed, they serve nothing from here on, and
        # returning now keeps the ledger's fault time (t0) on the moment the region died.
        return [c.name for c in victims]

    def power_on(self, region: str) -> list[str]:
        """Start the region's dead processes again. Its database comes back as a standby of the current writer
        when another region took over meanwhile (never as a second writer), else as it was."""
        started = []
        for c in self.region_components(region):
            if c.ref.alive() and _is_stopped(c.ref.pid):  # killed a moment ago by power_off, or frozen by one
                _kill_tree(c.ref.pid, signal.SIGKILL)     # that was itself killed half way (SIGKILL cannot wait)
                _wait_dead(c.ref)
            if c.ref.alive():
                continue
            if c.kind == "postgres":
                writers = [r for r in self.writer_regions() if r != region]
                if writers:
                    self.rebuild_standby(region, writers[0])
                    started.append(f"{c.name} (as standby of {writers[0]})")
                    continue
            if c.kind == "postgres":  # its killed postmaster may linger as a zombie its lock file still names
                postgres.clear_stale_pid_file(self.stack.pg_dir(region))
            self.stack.respawn(c.name)
            started.append(c.name)
        for c in self.region_components(region):
            if c.kind == "postgres":
                postgres.wait_ready(c.port, 60)
        self.wait_region_healthy(region)
        return started

    def region_problems(self, region: str) -> list[str]:
        """What keeps `region`'s processes from serving: components dead or not answering their health check."""
        problems = []
        for c in self.region_components(region):
            status = component_status(c.as_dict() | {"alive": c.ref.alive()})
            if not status["healthy"]:
                problems.append(f"{c.name} {'not running' if not status['alive'] else 'not healthy'}")
        return problems

    def wait_region_healthy(self, region: str, timeout_s: float = 30.0) -> None:
        """Postcondition of bringing a region back: every component of it runs and answers (StackError else)."""
        deadline = time.monotonic() + timeout_s
        problems = self.region_problems(region)
        while problems and time.monotonic() < deadline:
            time.sleep(0.2)
            problems = self.region_problems(region)
        if problems:
            raise StackError(f"restore of region {region} on target local failed: after {timeout_s:.0f} s "
                             f"{'; '.join(problems)}", hint="`gameday stack status` shows each component; "
                             "`gameday recover` tries again")

    # --- databases -----------------------------------------------------------------------------------
    def pg_component(self, region: str) -> Component:
        return next(c for c in self.stack.components() if c.kind == "postgres" and c.region == region)

    def writer_regions(self) -> list[str]:
        """Regions whose database answers and is writable (more than one is split brain)."""
        return [r for r in REGIONS if postgres.in_recovery(self.layout.pg_port(r)) is False]

    def fence(self, region: str) -> bool:
        """Make sure `region`'s database can no longer accept writes: stop it hard. True when it was running."""
        component = self.pg_component(region)
        if not component.ref.alive():
            return False
        _kill_tree(component.ref.pid, signal.SIGKILL)
        _wait_dead(component.ref)
        return True

    def promote(self, region: str, timeout_s: float = 30.0) -> float:
        """`pg_promote()` on `region`'s standby; seconds until it accepts writes."""
        started = time.monotonic()
        port = self.layout.pg_port(region)
        with psycopg.connect(postgres.dsn(port, "postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                return 0.0
            conn.execute("SELECT pg_promote(true, %s)", (int(timeout_s),))
        wait_until(lambda: postgres.in_recovery(port) is False, f"promotion of the database in {region}", timeout_s)
        return time.monotonic() - started

    def set_read_only(self, region: str, read_only: bool) -> None:
        """Planned switchover's fence: new transactions on `region`'s database become read-only (or writable)."""
        with psycopg.connect(postgres.dsn(self.layout.pg_port(region), "postgres"), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET default_transaction_read_only = {'on' if read_only else 'off'}")
            conn.execute("SELECT pg_reload_conf()")
            # Open sessions keep their setting until their next transaction; end them so none writes on.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")

    def rebuild_standby(self, region: str, source_region: str) -> None:
        """Stop `region`'s database and clone it from `source_region`'s writer over the replication link."""
        component = self.pg_component(region)
        if component.ref.alive():
            self.fence(region)
        self.repoint_replication(source_region)
        self.set_link(REPLICATION_LINK, True)
        bindir, user = postgres.find_bindir(), postgres.os_user()
        postgres.base_backup(bindir, self.stack.pg_dir(region), self.layout.link(REPLICATION_LINK).listen_port, user)
        self.stack.respawn(component.name)
        postgres.wait_ready(component.port, 60)

    def repoint_replication(self, source_region: str) -> None:
        """Standbys stream from `source_region`'s database: the replication link's upstream follows the writer."""
        link, upstream = self.layout.link(REPLICATION_LINK), f"{HOST}:{self.layout.pg_port(source_region)}"
        self.stack.record_link_upstream(link.name, upstream)  # before the proxy: a crash between keeps the new one
        self.toxiproxy.update_proxy(link.name, upstream=upstream)

    def wait_caught_up(self, standby_region: str, writer_region: str, timeout_s: float = 60.0) -> None:
        """Block until the standby has replayed everything the writer has written so far."""
        with psycopg.connect(postgres.dsn(self.layout.pg_port(writer_region), "postgres"), autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]

        def replayed() -> bool:
            try:
                with psycopg.connect(postgres.dsn(self.layout.pg_port(standby_region), "postgres"),
                                     autocommit=True) as conn:
                    return bool(conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0])
            except psycopg.Error:
                return False

        wait_until(replayed, f"catch-up of the standby in {standby_region}", timeout_s, interval_s=0.05)

    # --- routing -------------------------------------------------------------------------------------
    def route_to(self, region: str | None) -> dict:
        """Pin the router to `region` (None: back to health-based routing)."""
        answer = httpx.post(f"{self.layout.router_url}/_router/override", json={"region": region}, timeout=5)
        if answer.status_code != 200:
            raise StackError(f"override of the router to {region} failed: HTTP {answer.status_code}: {answer.text}")
        return answer.json()

    def set_link(self, name: str, enabled: bool) -> None:
        self.toxiproxy.set_enabled(name, enabled)

    def region_links(self, region: str) -> list[str]:
        """The links a partition of `region` cuts: traffic into the region and the inter-region replication."""
        return [router_link(region), REPLICATION_LINK]


@contextmanager
def _signals_deferred():
    """Block SIGINT and SIGTERM for the block (they are delivered when it ends)."""
    deferred = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _is_stopped(pid: int) -> bool:
    """A process SIGSTOPped or already dying (power_off leaves them so for a moment)."""
    return (state_of(pid) or "") in ("T", "t", "X", "x")


def _wait_dead(ref: ProcessRef, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.waitpid(ref.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if start_ticks_of(ref.pid) != ref.start_ticks:
            return
        time.sleep(0.01)
