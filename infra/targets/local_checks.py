"""What the local driver checks in an experiment before anything is touched: regions, modes and links. Pure."""

from __future__ import annotations

from infra.local.alarm_rules import alarm_names
from infra.local.layout import REGIONS
from infra.targets.base import UNRESOLVED, Problems

REGION_MODES = ("partition", "power_off")


def _region(args: dict) -> Problems:
    region = args.get("region", UNRESOLVED)
    if region is UNRESOLVED or region in REGIONS:
        return []
    return [("region", f"region {region!r} is not part of the local stack; valid regions: {', '.join(REGIONS)}")]


def _fail_region(args: dict) -> Problems:
    problems = _region(args)
    mode = args.get("mode", "partition")
    if mode is not UNRESOLVED and mode not in REGION_MODES:
        problems.append(("mode", f"region failure mode {mode!r} has no local meaning; valid on local: "
                                 f"{', '.join(REGION_MODES)}"))
    return problems


def _bandwidth(args: dict) -> Problems:
    rate = args.get("rate_kb_s", UNRESOLVED)
    if rate is UNRESOLVED:
        return []
    try:
        ok = int(rate) > 0
    except (TypeError, ValueError):
        ok = False
    return [] if ok else [("rate_kb_s", f"rate {rate!r} must be a whole number of KB/s above 0")]


def _alarm(args: dict) -> Problems:
    alarm = args.get("alarm", UNRESOLVED)
    if alarm is UNRESOLVED:
        return []
    names = alarm_names()
    if alarm in names:
        return []
    return [("alarm", f"alarm {alarm!r} is not defined on the local stack (infra/local/alarms/); valid alarms: "
                      f"{', '.join(names)}")]


_CHECKS = {"gameday.faults.fail_region": _fail_region,
           "gameday.faults.silence_alarm": _alarm,
           "gameday.faults.restore_alarm": _alarm,
           "gameday.faults.restore_region": _region,
           "gameday.faults.flush_cache": _region,
           "gameday.faults.limit_bandwidth": _bandwidth,
           "probes.stack.wait_for_impact": lambda args: [] if args.get("region") is None else _region(args)}


def problems(activity: str, args: dict) -> Problems:
    """The problems of `activity` with `args` on the local stack (activities it does not know: none)."""
    check = _CHECKS.get(activity)
    return check(args) if check else []
