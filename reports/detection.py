"""Pure: did the monitoring notice the fault, and how fast. From the target's alarm record (alarms.json).

- time to detect: t0 -> the first change to ALARM of an expected alarm (`detection.expected_alarms`). An alarm
  changes state only at the end of one of its periods, so its period is the figure's resolution. An expected
  alarm already in ALARM when the fault began cannot show detection: unmeasured.
- time to notify: t0 -> the first delivered notification of an expected alarm's change to ALARM (the local pager's
  receive time); unmeasured where deliveries cannot be observed (AWS: SNS and chat are outside CloudWatch).
- alarm cleared: the last recovery -> every expected alarm that fired back to OK.
- false alarms: changes to ALARM during the baseline (of any alarm that pages: not `severity: info`, e.g. a
  scaled-out alarm that fires under normal load) plus those of a `detection.quiet_alarms` alarm at any time.
A figure not observed before the run ended is a lower bound (the time the record covers), never a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALARM, OK = "ALARM", "OK"


@dataclass(frozen=True)
class Detection:
    source: str
    expected: tuple[str, ...]
    detect_s: float | None = None
    detected_alarm: str | None = None
    detected_at_s: float | None = None
    detect_bound_s: float | None = None        # not detected while the record covers this long after t0
    notify_s: float | None = None
    notified_at_s: float | None = None
    notify_bound_s: float | None = None
    cleared_s: float | None = None
    cleared_at_s: float | None = None
    cleared_bound_s: float | None = None
    resolution_s: float | None = None          # the detecting alarm's period
    false_alarms: int | None = None
    false_alarm_changes: tuple[dict, ...] = ()
    evidence: str = ""                         # of the time to detect (and why nothing could be measured)
    notify_evidence: str = ""
    cleared_evidence: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def _state_at(changes: list[dict], alarm: str, t_s: float) -> str | None:
    """The alarm's state just before `t_s` from its recorded changes (None: no change recorded before)."""
    before = [c for c in changes if c["alarm"] == alarm and c["at_s"] < t_s]
    return before[-1]["to"] if before else None


def _period(record: dict, alarm: str | None) -> float | None:
    found = (record.get("alarms") or {}).get(alarm or "", {})
    return found.get("period_s")


def detection(record: dict | None, expected: tuple[str, ...], quiet: tuple[str, ...], *, t0_s: float | None,
              baseline: tuple[float | None, float | None], last_recovery_s: float | None,
              start_s: float | None, end_s: float | None) -> Detection:
    """Pure: the detection figures of one run."""
    if record is None:
        return Detection("none", expected, evidence="the target's monitoring could not be read (no alarms.json): "
                                                    "detection is unmeasured")
    changes = sorted(record.get("changes") or [], key=lambda c: c["at_s"])
    defined = record.get("alarms") or {}
    notes = []
    unknown = [a for a in (*expected, *quiet) if a not in defined]
    if unknown:
        notes.append(f"alarm(s) {', '.join(unknown)} are not defined by the target ({record.get('source')})")
    info = {name for name, a in defined.items() if a.get("severity") == "info"}
    false = _false_alarms([c for c in changes if c["alarm"] not in info or c["alarm"] in quiet], quiet, baseline,
                          start_s, end_s)
    base = {"source": record.get("source", "?"), "expected": expected, "false_alarms": len(false),
            "false_alarm_changes": tuple(false), "notes": tuple(notes)}
    if t0_s is None:
        return Detection(**base, evidence="no fault was injected: nothing to detect")
    if not expected:
        return Detection(**base, evidence="the experiment names no detection.expected_alarms")
    firing = [a for a in expected if _state_at(changes, a, t0_s) == ALARM]
    if firing:
        return Detection(**base, evidence=f"{', '.join(firing)} already in ALARM before the fault (t0): its firing "
                                          "cannot show detection")
    fired = [c for c in changes if c["alarm"] in expected and c["to"] == ALARM and c["at_s"] >= t0_s]
    covered = (end_s - t0_s) if end_s is not None else None
    if not fired:
        missing = " (" + "; ".join(notes) + ")" if notes else ""
        text = f"no expected alarm ({', '.join(expected)}) went to ALARM in the {covered or 0:.1f} s after the " \
               f"fault{missing}"
        return Detection(**base, detect_bound_s=covered, notify_bound_s=covered, resolution_s=max(
            (p for a in expected if (p := _period(record, a))), default=None), evidence=text,
            notify_evidence=text, cleared_evidence=text)
    first = fired[0]
    detect = first["at_s"] - t0_s
    resolution = first.get("period_s") or _period(record, first["alarm"])
    evidence = (f"{first['alarm']} went to ALARM {detect:.1f} s after the fault (resolution: its period, "
                f"{resolution:g} s): {first.get('reason', '')}" if resolution else
                f"{first['alarm']} went to ALARM {detect:.1f} s after the fault")
    notify = _notify(record, expected, t0_s, covered)
    cleared = _cleared(changes, {c["alarm"] for c in fired}, last_recovery_s, end_s)
    return Detection(**base, notify_evidence=notify[3], cleared_evidence=cleared[3], detect_s=detect,
                     detected_alarm=first["alarm"], detected_at_s=first["at_s"], resolution_s=resolution,
                     notify_s=notify[0], notified_at_s=notify[1], notify_bound_s=notify[2],
                     cleared_s=cleared[0], cleared_at_s=cleared[1], cleared_bound_s=cleared[2], evidence=evidence)


def _notify(record: dict, expected: tuple[str, ...], t0_s: float, covered: float | None):
    deliveries = record.get("deliveries")
    if deliveries is None:
        return None, None, None, "notifications cannot be observed on this target: time to notify is unmeasured"
    sent = sorted((d for d in deliveries if d.get("alarm") in expected and d.get("to") == ALARM
                   and d["received_s"] >= t0_s), key=lambda d: d["received_s"])
    if not sent:
        return None, None, covered, f"no notification of {', '.join(expected)} was delivered after the fault"
    first = sent[0]
    return (first["received_s"] - t0_s, first["received_s"], None,
            f"{first['alarm']}'s notification reached channel {first['channel']} "
            f"{first['received_s'] - t0_s:.1f} s after the fault")


def _cleared(changes: list[dict], fired: set[str], last_recovery_s: float | None, end_s: float | None):
    if last_recovery_s is None:
        return None, None, None, "the fault was not recovered: alarm clearance is unmeasured"
    back = []
    for alarm in sorted(fired):
        oks = [c["at_s"] for c in changes if c["alarm"] == alarm and c["to"] == OK and c["at_s"] >= last_recovery_s]
        still = _state_at(changes, alarm, end_s + 1e-9) if end_s is not None else None
        if not oks or still == ALARM:
            bound = (end_s - last_recovery_s) if end_s is not None else None
            return None, None, bound, f"{alarm} was still in ALARM when the run ended"
        back.append(oks[0])
    at = max(back)
    return at - last_recovery_s, at, None, f"every expected alarm that fired was OK {at - last_recovery_s:.1f} s " \
                                           "after the last recovery"


def _false_alarms(changes: list[dict], quiet: tuple[str, ...], baseline: tuple[float | None, float | None],
                  start_s: float | None, end_s: float | None) -> list[dict]:
    b0, b1 = baseline
    out = []
    for c in changes:
        if c["to"] != ALARM:
            continue
        in_baseline = b0 is not None and b1 is not None and b0 <= c["at_s"] < b1
        quiet_in_run = c["alarm"] in quiet and start_s is not None and end_s is not None \
            and start_s <= c["at_s"] <= end_s
        if in_baseline or quiet_in_run:
            out.append({"alarm": c["alarm"], "at_s": c["at_s"],
                        "why": "in the baseline" if in_baseline else "a quiet alarm"})
    return out
