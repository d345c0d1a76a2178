"""Holds that outlast the target's failure detection: a fault held for less time than the target needs to notice
it and steer clients away (health checks x failure threshold + DNS TTL) ends before a failover could be seen.

An experiment names such holds (`windows.detection_holds: [hold_s]`, keys of its Chaos Toolkit configuration);
the runner raises each one that is shorter than the target's `reroute_s` to it, says so, and records it in
run.json. On the local stack (router checks every 1 s, 3 failures, no TTL: 3 s) no shipped hold is raised; on AWS
(Route 53: 30 s x 3 + a 60 s TTL) a 10 s hold becomes 150 s. Pure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from gameday.base.models import experiment_activities
from infra.targets.base import DetectionTiming

__all__ = ["HoldChange", "raise_holds", "fault_max_s", "AWS_WAITS_S"]

#: What a fault's maximum duration allows beyond the pauses: the waits of AWS operations (a global database
#: failover and its failback, each minutes; infra/targets/aws_wait.py WaitTimeouts).
AWS_WAITS_S = 3600.0


@dataclass(frozen=True)
class HoldChange:
    key: str
    declared_s: float
    used_s: float
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return f"hold {self.key} raised from {self.declared_s:g} s to {self.used_s:g} s: {self.reason}"


def raise_holds(configuration: dict, variables: dict, keys: list[str],
                timing: DetectionTiming) -> tuple[dict, list[HoldChange]]:
    """`variables` (the run's configuration overrides) with every hold in `keys` at least `timing.reroute_s`
    (rounded up to a whole second), and what was changed. A hold whose value is not a number (an environment
    or secret reference) is left alone: the runner cannot know it."""
    floor_s = math.ceil(timing.reroute_s)
    out, changes = dict(variables), []
    for key in keys:
        declared = out.get(key, configuration.get(key))
        if isinstance(declared, bool) or not isinstance(declared, int | float) or declared >= floor_s:
            continue
        out[key] = float(floor_s)  # a float: Chaos Toolkit's --var passes it typed (a pause needs a number)
        changes.append(HoldChange(key, float(declared), float(floor_s),
                                  f"the target reroutes after {timing.check_interval_s:g} s x "
                                  f"{timing.failure_threshold} failed checks + {timing.dns_ttl_s:g} s TTL = "
                                  f"{timing.reroute_s:g} s ({timing.source})"))
    return out, changes


def fault_max_s(raw: dict, variables: dict, declared_s: float | None) -> float:
    """The longest a fault of experiment `raw` may last (its AWS-side expiry): `declared_s` (the experiment's
    `max_fault_s`) when given, else every pause of the experiment (configuration and `variables` resolved; one
    that is not a number counts as 0) plus AWS_WAITS_S."""
    if declared_s is not None:
        return float(declared_s)
    return pauses_s(raw, variables) + AWS_WAITS_S


def pauses_s(raw: dict, variables: dict) -> float:
    """Pure: every pause of experiment `raw` in seconds (configuration and `variables` resolved; one that is not a
    number counts as 0): the least its method and rollbacks take."""
    configuration = {**(raw.get("configuration") or {}), **variables}
    total = 0.0
    for _, activity in experiment_activities(raw):
        pauses = activity.get("pauses") if isinstance(activity, dict) else None
        for value in (pauses or {}).values() if isinstance(pauses, dict) else ():
            if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
                value = configuration.get(value[2:-1])
            if isinstance(value, int | float) and not isinstance(value, bool):
                total += float(value)
    return total
