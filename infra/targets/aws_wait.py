"""Waiting for AWS's asynchronous operations: Aurora (global) failovers and switchovers and ElastiCache test
failovers return at once and finish minutes later; the driver polls a describe call until the operation is done.

`wait_for` is the one loop: it reads, asks `progress(answer)` what is still pending (None: done), logs each new
state, and raises the project's error on timeout. Clock and sleep are injected (the driver's), so tests do not wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gameday.base.errors import GameDayError

__all__ = ["WaitTimeouts", "Waiting", "wait_for", "global_failover_pending", "fis_pending", "GLOBAL_BUSY",
           "FIS_ENDED", "FIS_RUNNING"]

T = TypeVar("T")

#: FIS experiment statuses after which nothing runs any more (FIS API reference, ExperimentState).
FIS_ENDED = ("completed", "stopped", "failed", "cancelled")
#: FIS experiment statuses in which it acts or is about to (a recovery stops these).
FIS_RUNNING = ("pending", "initiating", "running")

#: FailoverState.Status values of a global cluster operation still under way (RDS API reference, FailoverState).
GLOBAL_BUSY = ("pending", "failing-over", "switching-over", "cancelling")


@dataclass(frozen=True)
class WaitTimeouts:
    """How long the driver waits for each asynchronous operation (seconds) and how often it polls."""

    global_cluster_s: float = 1800.0   # global switchover/failover: minutes (RPO/replication catch-up first)
    db_cluster_s: float = 600.0        # Aurora in-region failover: typically under a minute
    cache_s: float = 1200.0            # ElastiCache test_failover of one node group: several minutes
    provisioned_s: float = 900.0       # Lambda provisioned concurrency: allocated (READY) within minutes
    fis_s: float = 600.0               # FIS: an experiment starting (targets resolved) or stopping (actions undone)
    interval_s: float = 10.0


@dataclass(frozen=True)
class Waiting:
    """What the waits of one driver use: its clock, its sleep, its log and its timeouts."""

    clock: Callable[[], float]
    sleep: Callable[[float], None]
    log: Callable[[str], None]
    timeouts: WaitTimeouts


def wait_for(read: Callable[[], T], progress: Callable[[T], str | None], *, waiting: Waiting, action: str,
             resource: str, until: str, timeout_s: float, hint: str) -> tuple[T, float]:
    """Poll `read()` until `progress(answer)` is None; returns the last answer and the seconds waited.

    `progress` returns what is still pending (a short state, logged when it changes) or raises a GameDayError for
    a terminal failure. On timeout: GameDayError `<action> of <resource> on target aws failed: ...` with `hint`.
    """
    start = waiting.clock()
    last: str | None = None
    while True:
        answer = read()
        pending = progress(answer)
        elapsed = waiting.clock() - start
        if pending is None:
            waiting.log(f"{action} of {resource}: {until} after {elapsed:.0f} s")
            return answer, elapsed
        if pending != last:
            waiting.log(f"{action} of {resource}: waiting until {until}; now {pending} ({elapsed:.0f} s)")
            last = pending
        if elapsed >= timeout_s:
            raise GameDayError(f"{action} of {resource} on target aws failed: not done after {elapsed:.0f} s "
                               f"(timeout {timeout_s:.0f} s): still {pending}, expected: {until}", hint=hint)
        waiting.sleep(min(waiting.timeouts.interval_s, timeout_s - elapsed))  # > 0: checked just above


def global_failover_pending(found: dict, writer_arn: str | None, *, action: str, resource: str) -> str | None:
    """Pure: what a global cluster (DescribeGlobalClusters item) still waits for before `writer_arn` writes and
    no operation is under way (None: done). A cancelled operation raises."""
    state = found.get("FailoverState") or {}
    status = state.get("Status")
    if status == "cancelling":
        raise GameDayError(f"{action} of {resource} on target aws failed: AWS is cancelling the operation (the "
                           "clusters return to their previous roles)",
                           hint="read the RDS events of the global cluster; retry once its status is available")
    if status in GLOBAL_BUSY:
        return f"FailoverState {status}"
    if found.get("Status", "available") != "available":
        return f"status {found.get('Status')}"
    writers = [m["DBClusterArn"] for m in found.get("GlobalClusterMembers", []) if m.get("IsWriter")]
    if writer_arn is not None and writers != [writer_arn]:
        return f"writer {', '.join(writers) or 'none'}"
    return None


def fis_pending(experiment: dict, *, until: str, action: str, resource: str) -> str | None:
    """Pure: what an FIS experiment (GetExperiment's `experiment`) still waits for. `until` is `running` (after
    StartExperiment: an experiment that ended at once, e.g. on a stop condition already in ALARM, raises) or
    `ended` (after StopExperiment: FIS has undone its actions)."""
    state = experiment.get("state") or {}
    status = state.get("status", "")
    if until == "ended":
        return None if status in FIS_ENDED else f"status {status}"
    if status == "running":
        return None
    if status in FIS_ENDED or status == "stopping":
        raise GameDayError(f"{action} of {resource} on target aws failed: the FIS experiment {experiment.get('id')} "
                           f"is {status} before it ran: {state.get('reason') or 'no reason given'}",
                           hint="check the template's stop-condition alarms (an alarm in ALARM stops it at once) "
                                "and the FIS role's permissions; nothing is left running")
    return f"status {status}"
