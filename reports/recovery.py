"""Pure RTO/RPO analysis of probe records (as parsed from probes.jsonl): recovery times, phases, lost writes.

Definitions (DESIGN.md "Measurement definitions"; `t0` = when the fault injection call returned):

- A sample holds the SLO when it succeeded: a canary write whose outcome is "acked" ("failed" and
  "uncertain" do not), a health read with `ok` true. A sample sits at its *intended* time (canary
  `sent_s`, health `at_s`), so a request that hangs counts from when it should have started.
- RTO (write_rto, read_rto) = `t0` to the intended time of the first successful sample after which every
  sample in the following `sustain_s` seconds also succeeds; only samples at or after `t0` count.
  0 when no sample at or after `t0` failed before that window (the fault never broke the SLO); None
  when no such window exists (not recovered). When the data ends less than `sustain_s` after a window
  that held to the end, that window counts and `sustained_until_end` is set (`sustained_s` says how
  long it was seen to hold). `resolution_s` = the sampling interval (given, or the median spacing of
  the samples): the true recovery lies within one interval before the reported one.
- Phases (rto_phases), each a [start, end] pair of epoch seconds with its own resolution:
    detection        t0 -> the first reaction: the router switching its active region away from the
                     pre-fault region (the router's own switch time when the routing samples carry it),
                     or the start of the first remediation event after t0, whichever came first
    routing_switch   router switch -> the entry point first serving another region (a routing sample's
                     `served_region`, or an ok health read answered by another region)
    promotion        a remediation event `{"kind": "promotion", "start_s", "end_s"}` ending after t0
    client_recovery  promotion end -> the first canary write acked after it by another region
  A phase whose evidence is missing is None; phases may overlap when a remediation re-routes after
  promoting. The pre-fault region is the last one the routing samples (else health reads) saw before t0.
- RPO (rpo): acked writes whose seq is missing from the new writer are lost. RPO = `t0` minus the ack
  time of the newest surviving acked write acked at or before `t0`, when any acked write was lost; else
  0. If no acked write before `t0` survived, RPO = `t0` minus the first canary's send time and
  `loss_from_start` marks it a lower bound. Resolution = the canary interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import pairwise

from gameday.base.probe_kinds import ProbeKind

DEFAULT_SUSTAIN_S = 10.0


@dataclass(frozen=True)
class RtoResult:
    """Recovery time of one SLO (reads or writes) after the fault at `t0`."""

    rto_s: float | None               # None: never recovered in the data
    recovered: bool
    resolution_s: float | None        # sampling interval; None with fewer than two samples
    sustain_s: float
    sustained_s: float | None         # how long the recovery window was seen to hold (<= sustain_s)
    sustained_until_end: bool         # the data ended before sustain_s had passed
    recovered_at_s: float | None      # epoch start of the recovery window (t0 when rto_s is 0)
    first_failure_s: float | None     # first failing sample at or after t0
    last_failure_s: float | None      # last failing sample before recovery (or at all, when not recovered)
    samples: int                      # samples at or after t0
    failures: int                     # failing samples at or after t0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RpoResult:
    """Data lost by the failover, from the canary's acknowledgements and the seqs the new writer holds."""

    rpo_s: float
    resolution_s: float | None
    acked_writes: int
    lost_writes: int
    lost_seqs: tuple[int, ...]
    uncertain_writes: int
    uncertain_committed: int          # uncertain writes that turned out to be on the new writer
    failed_writes: int
    newest_surviving_ack_s: float | None
    oldest_lost_ack_s: float | None
    newest_lost_ack_s: float | None
    loss_from_start: bool             # no write acked before t0 survived: rpo_s is a lower bound

    def as_dict(self) -> dict:
        out = asdict(self)
        out["lost_seqs"] = list(self.lost_seqs)
        return out


@dataclass(frozen=True)
class Phase:
    """One phase of a recovery, with the evidence that bounds it."""

    start_s: float
    end_s: float
    duration_s: float
    source: str                       # which records the bounds come from
    resolution_s: float               # coarsest sampling interval of the two bounds (0: exact timestamps)


@dataclass(frozen=True)
class RtoPhases:
    """The recovery split into detection, routing switch, promotion and client recovery (None: no evidence)."""

    detection: Phase | None
    routing_switch: Phase | None
    promotion: Phase | None
    client_recovery: Phase | None
    pre_fault_region: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Mark:
    at_s: float
    source: str
    resolution_s: float


def _of(records: Iterable[dict], kind: ProbeKind) -> list[dict]:
    # Accept either one probe's records (even without their `probe` field) or every record of probes.jsonl.
    return [r for r in records if r.get("probe", kind) == kind]


def sampling_interval_s(times: Iterable[float]) -> float | None:
    """The median spacing of sample times; None with fewer than two distinct times."""
    ordered = sorted(times)
    gaps = sorted(b - a for a, b in pairwise(ordered) if b > a)
    return gaps[len(gaps) // 2] if gaps else None


def _rto(points: list[tuple[float, bool]], t0: float, sustain_s: float, resolution_s: float | None) -> RtoResult:
    if sustain_s <= 0:
        raise ValueError(f"sustain_s must be > 0, got {sustain_s}")
    after = sorted(p for p in points if p[0] >= t0)
    failures = sum(1 for _, ok in after if not ok)
    none = RtoResult(None, False, resolution_s, sustain_s, None, False, None, None, None, len(after), failures)
    if not after:
        return none
    end_s = after[-1][0]
    next_failure = [math.inf] * len(after)  # time of the first failure strictly after index i
    upcoming = math.inf
    for i in range(len(after) - 1, -1, -1):
        next_failure[i] = upcoming
        if not after[i][1]:
            upcoming = after[i][0]
    first_failure = next((t for t, ok in after if not ok), None)
    last_failure = None
    for i, (at_s, ok) in enumerate(after):
        if not ok:
            last_failure = at_s
            continue
        if next_failure[i] > at_s + sustain_s:
            start_s = at_s if last_failure is not None else t0
            held_s = min(sustain_s, end_s - start_s)
            return RtoResult(start_s - t0, True, resolution_s, sustain_s, held_s,
                             next_failure[i] == math.inf and end_s - start_s < sustain_s, start_s,
                             first_failure, last_failure, len(after), failures)
    return RtoResult(None, False, resolution_s, sustain_s, None, False, None, first_failure, last_failure,
                     len(after), failures)


def write_rto(canary: list[dict], t0: float, sustain_s: float = DEFAULT_SUSTAIN_S,
              interval_s: float | None = None) -> RtoResult:
    """Write RTO from canary records; `interval_s` defaults to the median spacing of `sent_s` (1 / rate)."""
    canary = _of(canary, ProbeKind.canary)
    points = [(float(c["sent_s"]), c["outcome"] == "acked") for c in canary]
    resolution = interval_s if interval_s is not None else sampling_interval_s(t for t, _ in points)
    return _rto(points, t0, sustain_s, resolution)


def read_rto(health: list[dict], t0: float, sustain_s: float = DEFAULT_SUSTAIN_S,
             interval_s: float | None = None) -> RtoResult:
    """Read RTO from health records; `interval_s` defaults to the median spacing of `at_s`."""
    health = _of(health, ProbeKind.health)
    points = [(float(h["at_s"]), bool(h["ok"])) for h in health]
    resolution = interval_s if interval_s is not None else sampling_interval_s(t for t, _ in points)
    return _rto(points, t0, sustain_s, resolution)


def rpo(canary: list[dict], t0: float, surviving_seqs: set[int], interval_s: float | None = None) -> RpoResult:
    """RPO and write accounting from canary records and the seqs present on the new writer."""
    canary = _of(canary, ProbeKind.canary)
    surviving = set(surviving_seqs)
    acked = [c for c in canary if c["outcome"] == "acked"]
    uncertain = [c for c in canary if c["outcome"] == "uncertain"]
    lost = [c for c in acked if c["seq"] not in surviving]
    resolution = interval_s if interval_s is not None else sampling_interval_s(c["sent_s"] for c in canary)
    before = [c["acked_s"] for c in acked if c["seq"] in surviving and c["acked_s"] <= t0]
    newest_surviving = max(before) if before else None
    loss_from_start = bool(lost) and newest_surviving is None
    if not lost:
        rpo_s = 0.0
    elif newest_surviving is not None:
        rpo_s = max(0.0, t0 - newest_surviving)
    else:
        rpo_s = max(0.0, t0 - min(c["sent_s"] for c in canary))
    lost_acks = [c["acked_s"] for c in lost]
    return RpoResult(
        rpo_s=rpo_s, resolution_s=resolution, acked_writes=len(acked), lost_writes=len(lost),
        lost_seqs=tuple(sorted(c["seq"] for c in lost)), uncertain_writes=len(uncertain),
        uncertain_committed=sum(1 for c in uncertain if c["seq"] in surviving),
        failed_writes=sum(1 for c in canary if c["outcome"] == "failed"),
        newest_surviving_ack_s=newest_surviving, oldest_lost_ack_s=min(lost_acks) if lost_acks else None,
        newest_lost_ack_s=max(lost_acks) if lost_acks else None, loss_from_start=loss_from_start)


def split_brain_events(writers_samples: list[dict]) -> int:
    """How many `writers` samples saw two or more writable regions at once."""
    return sum(1 for w in _of(writers_samples, ProbeKind.writers) if len(w.get("writable") or ()) >= 2)


def _pre_fault_region(t0: float, health: list[dict], routing: list[dict]) -> str | None:
    seen = [r for r in routing if r["at_s"] < t0 and (r.get("served_region") or r.get("active_region"))]
    if seen:
        last = max(seen, key=lambda r: r["at_s"])
        return last.get("served_region") or last.get("active_region")
    reads = [h for h in health if h["at_s"] < t0 and h.get("ok") and h.get("region")]
    return max(reads, key=lambda h: h["at_s"])["region"] if reads else None


def _phase(start: _Mark | None, end: _Mark | None) -> Phase | None:
    if start is None or end is None:
        return None
    end_s = max(end.at_s, start.at_s)
    source = start.source if start.source == end.source else f"{start.source} -> {end.source}"
    return Phase(start.at_s, end_s, end_s - start.at_s, source, max(start.resolution_s, end.resolution_s))


def _first(marks: Iterable[_Mark | None]) -> _Mark | None:
    present = [m for m in marks if m is not None]
    return min(present, key=lambda m: m.at_s) if present else None


def rto_phases(t0: float, health: list[dict], routing: list[dict], events: list[dict],
               canary: list[dict] | None = None) -> RtoPhases:
    """Split the recovery after `t0` into phases (definitions in the module docstring)."""
    health, routing = _of(health, ProbeKind.health), _of(routing, ProbeKind.routing)
    canary = _of(canary or [], ProbeKind.canary)
    routing = sorted(routing, key=lambda r: r["at_s"])
    health_res = sampling_interval_s(h["at_s"] for h in health) or 0.0
    routing_res = sampling_interval_s(r["at_s"] for r in routing) or 0.0
    canary_res = sampling_interval_s(c["sent_s"] for c in canary) or 0.0
    region = _pre_fault_region(t0, health, routing)

    switch = None
    for r in routing:
        if r["at_s"] >= t0 and region is not None and r.get("active_region") not in (None, region):
            exact = r.get("last_switch_at_s")
            switch = (_Mark(exact, "router switch", 0.0) if exact is not None and exact >= t0
                      else _Mark(r["at_s"], "routing samples", routing_res))
            break
    starts = [e["start_s"] for e in events if e.get("start_s") is not None and e["start_s"] >= t0]
    remediation = _Mark(min(starts), "remediation events", 0.0) if starts else None
    detected = _first([switch, remediation])

    served = _first([
        next((_Mark(r["at_s"], "routing samples", routing_res) for r in routing
              if r["at_s"] >= t0 and region is not None and r.get("served_region") not in (None, region)), None),
        next((_Mark(h["at_s"], "health reads", health_res) for h in sorted(health, key=lambda h: h["at_s"])
              if h["at_s"] >= t0 and h.get("ok") and region is not None and h.get("region") not in (None, region)),
             None)])

    promotions = sorted((e for e in events if e.get("kind") == "promotion" and e.get("end_s") is not None
                         and e["end_s"] >= t0), key=lambda e: e["start_s"])
    promotion = promotions[0] if promotions else None
    promoted = _Mark(promotion["end_s"], "remediation events", 0.0) if promotion else None
    recovered = None
    if promoted is not None:
        acks = sorted(c["acked_s"] for c in canary if c["outcome"] == "acked" and c["acked_s"] >= promoted.at_s
                      and (region is None or c.get("region") != region))
        recovered = _Mark(acks[0], "canary writes", canary_res) if acks else None

    return RtoPhases(
        detection=_phase(_Mark(t0, "fault ledger", 0.0), detected),
        routing_switch=_phase(switch, served),
        promotion=_phase(_Mark(promotion["start_s"], "remediation events", 0.0), promoted) if promotion else None,
        client_recovery=_phase(promoted, recovered),
        pre_fault_region=region)
