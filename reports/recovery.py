"""Pure RTO/RPO analysis of probe records (as parsed from probes.jsonl): recovery times, phases, lost writes.

Definitions (DESIGN.md "Measurement definitions", docs/measurement.md; `t0` = when the fault injection call
returned):

- A sample holds the SLO when it succeeded: a canary write whose outcome is "acked" ("failed" and
  "uncertain" do not), a health read with `ok` true. A sample sits at its *intended* time (canary
  `sent_s`, health `at_s`), so a request that hangs counts from when it should have started.
- RTO (write_rto, read_rto): the SLO holds over a sustain window [u, u + sustain_s) when at least
  `success_ratio` (default 0.95; experiment `windows.sustain_success_ratio`) of its samples succeeded.
  Windows start at t0, at every sample at or after t0 and at the end of the data (the last sample stands
  for one sampling interval). A fully observed window with no sample breaks the SLO when two or more probes
  were due in it (a stalled sampler); a window the data ends inside breaks it only when its failures break
  the ratio even if every probe still due had succeeded. Every window that breaks the SLO counts, however
  late after t0 (late impact) and however long after an earlier recovery (a relapse). Recovery = the first
  successful sample after the last breaking window (t0 when none broke: RTO 0); RTO = recovery - t0. When
  the data ends before that recovery's own window was fully observed, the RTO is unknown
  (`sustained_until_end`; INCONCLUSIVE).
  `impact_at_s` = the first failure of the first breaking window (time to impact); `relapses` = the first
  failure of each later breaking window that came at least `sustain_s` after the SLO was back.
  Bracket (two-sided; the truth lies in [rto_low_s, rto_high_s]): low = the later of the last breaking
  window's start and the last failure before the recovery sample (intended times, so a skipped or late
  probe widens it); high = when the recovery sample was answered (canary `acked_s`, health `at_s` +
  `latency_ms`; latency counts from the intended time, so sampler lag is inside it), else one interval.
  `resolution_s` = the sampling interval (given, or the median spacing); `max_gap_s` the widest spacing.
- Phases (rto_phases), each a [start, end] pair of epoch seconds with its own resolution:
    impact           t0 -> the first failure that broke the SLO, reads or writes (impact_phase)
    detection        t0 -> the first reaction: the router switching its active region away from the
                     pre-fault region (the router's own switch time when the routing samples carry it),
                     or the start of the first remediation event after t0, whichever came first
    routing_switch   router switch -> the entry point first serving another region (a routing sample's
                     `served_region`, or an ok health read answered by another region)
    promotion        a remediation event `{"kind": "promotion", "start_s", "end_s"}` ending after t0
    client_recovery  promotion end -> the first canary write acked after it by another region
  A phase whose evidence is missing is None; phases may overlap when a remediation re-routes after
  promoting. The pre-fault region is the last one the routing samples (else health reads) saw before t0.
- RPO (rpo): acked writes whose seq is missing from the final writer are lost. RPO = `t0` minus the ack
  time of the oldest lost write sent before `t0` (0 when none; a write in flight at t0 counts 0), so a
  survivor between two losses does not hide the older one. Bracket: [rpo_s, rpo_high_s], rpo_high_s = `t0`
  minus the newest surviving ack before that oldest lost write (None when the first acked write was lost:
  `loss_from_start`, the figure is only a lower bound). Lost writes sent after `t0` (split brain, a failback
  dropping the interim writer's writes) are counted apart (`lost_after_t0`, metric lost_writes_after_t0).
  Without exactly one known final writer (`writer_known` False) nothing is counted as lost and rpo_s is None.
  Resolution = the canary interval.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import pairwise

from gameday.base.probe_kinds import ProbeKind

DEFAULT_SUSTAIN_S = 10.0
DEFAULT_SUCCESS_RATIO = 0.95  # 0.99 over sliding 10 s windows breaks on a 0.2 % background


@dataclass(frozen=True)
class RtoResult:
    """Recovery time of one SLO (reads or writes) after the fault at `t0` (rule in the module docstring)."""

    rto_s: float | None               # None: no recovery observed for a full sustain window
    recovered: bool
    resolution_s: float | None        # sampling interval; None with fewer than two samples
    sustain_s: float
    sustained_s: float | None         # how long the recovery window was seen to hold (<= sustain_s)
    sustained_until_end: bool         # a provisional recovery whose sustain window the data did not cover
    recovered_at_s: float | None      # epoch start of the recovery window (t0 when rto_s is 0); provisional too
    first_failure_s: float | None     # first failing sample at or after t0
    last_failure_s: float | None      # last failing sample before recovery (or at all, when not recovered)
    samples: int                      # samples at or after t0
    failures: int                     # failing samples at or after t0
    success_ratio: float = 1.0        # the SLO: a sustain window holds when this share of its samples succeeded
    impact_at_s: float | None = None  # first failure of the first window that broke the SLO (time to impact)
    broken_until_s: float | None = None  # start of the last sustain window that broke the SLO
    rto_low_s: float | None = None    # the honest bracket of the RTO: the truth lies in [rto_low_s, rto_high_s]
    rto_high_s: float | None = None
    relapses: tuple[float, ...] = ()  # first failure of each impact after the SLO had held a full sustain window
    max_gap_s: float | None = None    # widest spacing of samples after t0 (missing or late probes)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["relapses"] = list(self.relapses)
        return out


@dataclass(frozen=True)
class RpoResult:
    """Data lost by the failover, from the canary's acknowledgements and the seqs the final writer holds."""

    rpo_s: float | None               # None: the final writer is unknown, so nothing can be said
    resolution_s: float | None
    acked_writes: int
    lost_writes: int                  # every acked write missing from the final writer (0 when unknown)
    lost_seqs: tuple[int, ...]
    uncertain_writes: int
    uncertain_committed: int          # uncertain writes that turned out to be on the final writer
    failed_writes: int
    newest_surviving_ack_s: float | None  # newest surviving write acked at or before the oldest lost one
    oldest_lost_ack_s: float | None
    newest_lost_ack_s: float | None
    loss_from_start: bool             # the first acked write was lost: rpo_s is only a lower bound
    writer_known: bool = True         # exactly one final writer was read (surviving_seqs.json writer_region)
    rpo_high_s: float | None = None   # the bracket's upper end: t0 - newest_surviving_ack_s (None: unbounded)
    lost_before_t0: int = 0           # lost writes acked at or before t0 (the figure)
    lost_after_t0: int = 0            # lost writes sent after t0 (split brain, failback): counted apart
    lost_after_t0_seqs: tuple[int, ...] = ()
    lost_after_t0_acks: tuple[float, float] | None = None   # first and last ack time of those

    def as_dict(self) -> dict:
        out = asdict(self)
        out["lost_seqs"] = list(self.lost_seqs)
        out["lost_after_t0_seqs"] = list(self.lost_after_t0_seqs)
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
    impact: Phase | None = None       # t0 -> the first failure that broke the SLO (time to impact; see impact_phase)

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


def _window_counts(times: list[float], ok_prefix: list[int], start_s: float, sustain_s: float) -> tuple[int, int]:
    lo, hi = bisect_left(times, start_s), bisect_left(times, start_s + sustain_s)
    return hi - lo, ok_prefix[hi] - ok_prefix[lo]


def _rto(points: list[tuple[float, bool, float | None]], t0: float, sustain_s: float, resolution_s: float | None,
         success_ratio: float = DEFAULT_SUCCESS_RATIO) -> RtoResult:
    if sustain_s <= 0:
        raise ValueError(f"sustain_s must be > 0, got {sustain_s}")
    if not 0 < success_ratio <= 1:
        raise ValueError(f"success_ratio must be in (0, 1], got {success_ratio}")
    after = sorted(p for p in points if p[0] >= t0)
    failures = sum(1 for _, ok, _ in after if not ok)
    base = {"resolution_s": resolution_s, "sustain_s": sustain_s, "samples": len(after), "failures": failures,
            "success_ratio": success_ratio}
    if not after:
        return RtoResult(None, False, sustained_s=None, sustained_until_end=False, recovered_at_s=None,
                         first_failure_s=None, last_failure_s=None, **base)
    times = [t for t, _, _ in after]
    ok_prefix = [0]
    for _, ok, _ in after:
        ok_prefix.append(ok_prefix[-1] + ok)
    step = resolution_s or 0.0
    observed_until = times[-1] + step          # the last sample stands for its whole sampling slot
    eps = 1e-9

    due = round(sustain_s / step) if step else 0  # probes a sustain window should hold

    def broken(start_s: float) -> bool:
        n, ok = _window_counts(times, ok_prefix, start_s, sustain_s)
        if start_s + sustain_s > observed_until + eps:  # partly observed: broken only if the rest cannot save it
            full = max(n, due)
            return ok + (full - n) < success_ratio * full - eps
        if n == 0:                                # unobserved (a stalled sampler) when two probes were due
            return due >= 2
        return ok < success_ratio * n - eps

    # Windows start at t0, at every sample after it and at the end of the data.
    anchors = sorted({t0, *times, observed_until - sustain_s})
    breaks = [a for a in anchors if a >= t0 and broken(a)]
    first_failure = next((t for t, ok, _ in after if not ok), None)
    gaps = [b - a for a, b in pairwise([t0, *times])]
    base.update(first_failure_s=first_failure, max_gap_s=max(gaps) if gaps else None)
    impact = relapses = None
    if breaks:
        impact = next((t for t, ok, _ in after if not ok and t >= breaks[0]), breaks[0])
        # next_ok[i] / next_fail[i]: the first success / failure at index >= i (indexes into `after`)
        next_ok, next_fail = [math.inf] * (len(after) + 1), [math.inf] * (len(after) + 1)
        for i in range(len(after) - 1, -1, -1):
            next_ok[i] = after[i][0] if after[i][1] else next_ok[i + 1]
            next_fail[i] = next_fail[i + 1] if after[i][1] else after[i][0]
        found = []
        for a, b in pairwise(breaks):   # a relapse: the SLO held a whole window after a, then broke again
            back = next_ok[bisect_right(times, a)]
            hit = next_fail[bisect_left(times, b)]
            hit = b if hit == math.inf else hit
            if back + sustain_s <= hit and (not found or found[-1] != hit):
                found.append(hit)
        relapses = tuple(found)
    base.update(impact_at_s=impact, broken_until_s=breaks[-1] if breaks else None, relapses=relapses or ())
    if not breaks:
        start, low_s, high_s = t0, t0, t0
        answered = None
    else:
        last_break = breaks[-1]
        nxt = next(((t, answer) for t, ok, answer in after if ok and t > last_break), None)
        if nxt is None:
            last = max((t for t, ok, _ in after if not ok), default=last_break)
            return RtoResult(None, False, sustained_s=None, sustained_until_end=False, recovered_at_s=None,
                             last_failure_s=last, **base)
        start, answered = nxt
        low_s = max([last_break] + [t for t, ok, _ in after if not ok and t < start])
        high_s = max(start, answered if answered is not None else start + step)
    last_failure = max((t for t, ok, _ in after if not ok and t < start), default=None)
    held_s = min(sustain_s, observed_until - start)
    if start + sustain_s > observed_until + eps:  # the data ended before the window was fully observed
        return RtoResult(None, False, sustained_s=held_s, sustained_until_end=True, recovered_at_s=start,
                         last_failure_s=last_failure, rto_low_s=low_s - t0, **base)
    return RtoResult(start - t0, True, sustained_s=held_s, sustained_until_end=False, recovered_at_s=start,
                     last_failure_s=last_failure, rto_low_s=low_s - t0, rto_high_s=high_s - t0, **base)


def write_rto(canary: list[dict], t0: float, sustain_s: float = DEFAULT_SUSTAIN_S,
              interval_s: float | None = None, success_ratio: float = DEFAULT_SUCCESS_RATIO) -> RtoResult:
    """Write RTO from canary records; `interval_s` defaults to the median spacing of `sent_s` (1 / rate)."""
    canary = _of(canary, ProbeKind.canary)
    points = [(float(c["sent_s"]), c["outcome"] == "acked", c.get("acked_s")) for c in canary]
    resolution = interval_s if interval_s is not None else sampling_interval_s(t for t, _, _ in points)
    return _rto(points, t0, sustain_s, resolution, success_ratio)


def read_rto(health: list[dict], t0: float, sustain_s: float = DEFAULT_SUSTAIN_S,
             interval_s: float | None = None, success_ratio: float = DEFAULT_SUCCESS_RATIO) -> RtoResult:
    """Read RTO from health records; `interval_s` defaults to the median spacing of `at_s`."""
    health = _of(health, ProbeKind.health)
    points = [(float(h["at_s"]), bool(h["ok"]), _answered_s(h)) for h in health]
    resolution = interval_s if interval_s is not None else sampling_interval_s(t for t, _, _ in points)
    return _rto(points, t0, sustain_s, resolution, success_ratio)


def _answered_s(h: dict) -> float | None:
    # health latency counts from the intended time, so the answer time includes any lateness of the sampler
    latency = h.get("latency_ms")
    if latency is None or not math.isfinite(latency):
        return None
    return float(h["at_s"]) + latency / 1000


def rpo(canary: list[dict], t0: float, surviving_seqs: set[int] | None, interval_s: float | None = None,
        writer_known: bool = True) -> RpoResult:
    """RPO and write accounting from canary records and the seqs present on the final writer.

    `surviving_seqs` None or `writer_known` False (not exactly one writer at the end): the loss is unknown,
    `rpo_s` is None and no write is counted as lost."""
    canary = _of(canary, ProbeKind.canary)
    acked = sorted((c for c in canary if c["outcome"] == "acked"), key=lambda c: c["acked_s"])
    uncertain = [c for c in canary if c["outcome"] == "uncertain"]
    resolution = interval_s if interval_s is not None else sampling_interval_s(c["sent_s"] for c in canary)
    failed = sum(1 for c in canary if c["outcome"] == "failed")
    if surviving_seqs is None or not writer_known:
        return RpoResult(None, resolution, len(acked), 0, (), len(uncertain), 0, failed, None, None, None, False,
                         writer_known=False)
    surviving = set(surviving_seqs)
    lost = [c for c in acked if c["seq"] not in surviving]
    # A write sent before t0 may have committed before the fault though its answer came after it (in flight at
    # the disaster): it belongs to the RPO. Only a write sent after t0 is a split-brain or failback loss.
    before = [c for c in lost if c["sent_s"] < t0]
    after = [c for c in lost if c["sent_s"] >= t0]
    oldest = before[0] if before else None
    survivors = [c["acked_s"] for c in acked if c["seq"] in surviving and oldest and c["acked_s"] <= oldest["acked_s"]]
    newest_surviving = max(survivors) if survivors else None
    loss_from_start = oldest is not None and oldest is acked[0]
    rpo_s = max(0.0, t0 - oldest["acked_s"]) if oldest else 0.0
    rpo_high = (max(0.0, t0 - newest_surviving) if newest_surviving is not None else None) if oldest else 0.0
    lost_acks = [c["acked_s"] for c in lost]
    return RpoResult(
        rpo_s=rpo_s, resolution_s=resolution, acked_writes=len(acked), lost_writes=len(lost),
        lost_seqs=tuple(sorted(c["seq"] for c in lost)), uncertain_writes=len(uncertain),
        uncertain_committed=sum(1 for c in uncertain if c["seq"] in surviving), failed_writes=failed,
        newest_surviving_ack_s=newest_surviving, oldest_lost_ack_s=min(lost_acks) if lost_acks else None,
        newest_lost_ack_s=max(lost_acks) if lost_acks else None, loss_from_start=loss_from_start,
        rpo_high_s=rpo_high, lost_before_t0=len(before), lost_after_t0=len(after),
        lost_after_t0_seqs=tuple(sorted(c["seq"] for c in after)),
        lost_after_t0_acks=(after[0]["acked_s"], after[-1]["acked_s"]) if after else None)


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


def impact_phase(t0: float, read: RtoResult | None, write: RtoResult | None) -> Phase | None:
    """Time to impact: `t0` to the first failure (reads or writes) of a sustain window that broke the SLO."""
    seen = [(r.impact_at_s, what, r.resolution_s or 0.0) for r, what in ((read, "health reads"),
                                                                        (write, "canary writes"))
            if r is not None and r.impact_at_s is not None]
    if not seen:
        return None
    at_s, what, resolution = min(seen)
    return Phase(t0, at_s, at_s - t0, f"fault ledger -> {what}", resolution)
