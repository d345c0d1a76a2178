"""Pure analysis of one run's files: fault windows, per-window load/health figures, RTO/RPO, split brain, journal.

Windows (epoch seconds; `t0` = the first injected disaster of the fault ledger (a region outage or a writer
kill: gameday.base.catalogue), else its first injected fault; baseline ends at the first fault; `after` starts
at the later of the last recovery and the experiment's end (run.json `experiment_ended_s`, rollbacks
included); `last recovery` = the latest `recovered` line, defined only when every injected fault was
recovered):

    baseline  [run start, first fault)   overall   [run start, run end]
    fault     [t0, last recovery)        (to the run end when a fault was never recovered)
    recovery  [service recovered, last recovery): running recovered while the fault is still in place;
              service recovered = the later of the read and write recovery points (t0 + RTO)
    after     [after start, run end]
    spike     [load step + windows.warmup_s, load drop): only when the load profile has a spike (reports.scaling)

Requests and errors of a window count every load arrival (sent, or dropped: an open-model arrival never
sent is a failed request) plus every health probe (availability = 1 - error rate over both); latency
percentiles are exact nearest-rank over every load arrival when the run has any, else over the health
probes, with each failed or dropped one ranked above every success (reports.samples: a fast failure never
lowers a percentile). A window that overlaps a closed-model stage of the load profile is marked
(`closed_model`): closed-model latencies get no coordinated-omission correction and are not judged.
A window that cannot be placed (no fault, a fault never recovered) has no bounds and no figures.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from gameday.base.catalogue import disaster_kinds
from gameday.base.ledger import fault_windows
from gameday.base.metrics import Window
from gameday.base.models import GameDaySpec
from gameday.base.probe_kinds import ProbeKind, of_kind
from reports.comparisons import Comparisons, compare
from reports.detection import Detection, detection
from reports.journeys import JourneyRecords, JourneyStats, journey_stats
from reports.recovery import (
    RpoResult,
    RtoPhases,
    RtoResult,
    impact_phase,
    read_rto,
    rpo,
    rto_phases,
    split_brain_events,
    write_rto,
)
from reports.samples import nearest_rank_with_failures
from reports.scaling import Scaling, Throttles, capacity_max, place_spike, scaling, throttles
from reports.scenario_metrics import (
    CACHED_READ,
    HASHED_ASSET,
    INTERVAL_S,
    AiStats,
    Deployment,
    Warmup,
    ai_stats,
    cache_recovered_s,
    cache_warmup,
    deployment,
    hit_counts,
    interval_stats,
    share,
)
from reports.sliding import SlidingSlo
from reports.vitals import VitalsStats, window_vitals

WINDOWS = tuple(w.value for w in Window)
LOST_SEQS_SHOWN = 100
FAILBACK = re.compile(r"fail[-_ ]?back", re.IGNORECASE)
PROMOTION = re.compile(r"promot|restore[-_]writer", re.IGNORECASE)  # an activity that brings a writer back


@dataclass(frozen=True, eq=False)
class RunInputs:
    """The parsed contents of a run directory (see reports.run_files for the files)."""

    run: dict                                   # run.json
    probes: tuple[dict, ...] = ()               # probes.jsonl records
    ledger: tuple[dict, ...] = ()               # faults.jsonl entries
    journal: dict | None = None                 # journal.json; None when absent
    samples: pd.DataFrame | None = None         # load samples (reports.sample_files.frame columns); None: no load
    surviving_seqs: frozenset[int] | None = None  # canary seqs on the final writer; None: unknown
    writer_region: str | None = None            # the final writer region
    remediations: tuple[dict, ...] = ()         # remediations.jsonl events
    load_profile: dict | None = None            # load/profile.json: the load profile as applied
    alarms: dict | None = None                  # alarms.json: the target's monitoring (reports.detection)
    load_workers: dict | None = None            # load/workers.json: each Locust worker's last report, final or not
    journeys: JourneyRecords | None = None      # load/samples/journeys-*: flows timed whole (reports.journeys)
    vitals: tuple[dict, ...] | None = None      # vitals.jsonl page loads (reports.vitals); None: no browser sampler


@dataclass(frozen=True)
class WindowStats:
    """Load and health figures of one window; None figures could not be measured."""

    name: str
    start_s: float | None
    end_s: float | None
    requests: int = 0
    errors: int = 0
    load_requests: int = 0
    load_errors: int = 0
    health_requests: int = 0
    health_errors: int = 0
    error_rate: float | None = None
    availability: float | None = None
    latency_source: str | None = None           # "load samples" | "health probes"
    latency_samples: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    dropped_requests: int | None = None         # None without load samples; counted in requests and errors
    load_arrivals: int = 0                      # sent + dropped
    latency_failures: int = 0                   # failed or dropped arrivals ranked above every success
    closed_model: bool = False                  # overlaps a closed-model stage: latencies are not judged
    load_gap_s: float | None = None             # a load worker's samples end here (it died): figures incomplete
    cache_reads: int = 0                        # sent, successful GET /items/[id] samples
    cache_hits: int = 0                         # ... answered with X-Cache: hit
    edge_requests: int = 0                      # sent, successful GET /static/[asset] samples
    edge_hits: int = 0                          # ... answered with X-Cache: Hit (by the edge)
    ai: AiStats = AiStats()                     # the POST /ai journey's samples only
    intervals: SlidingSlo = SlidingSlo(INTERVAL_S, INTERVAL_S)  # the window's worst 10 s interval (soak criteria)
    throttled: Throttles | None = None          # requests answered 429 (reports.scaling)
    capacity_max: tuple[float, dict] | None = None  # the most instances / cap in the window, and that sample
    journeys: JourneyStats = JourneyStats()     # critical journeys timed end to end (reports.journeys)
    vitals: VitalsStats | None = None           # the window's page loads (reports.vitals); None: no vitals.jsonl

    @property
    def defined(self) -> bool:
        return self.start_s is not None and self.end_s is not None

    @property
    def cache_hit_rate(self) -> float | None:
        return share(self.cache_hits, self.cache_reads)

    @property
    def edge_hit_rate(self) -> float | None:
        return share(self.edge_hits, self.edge_requests)


@dataclass(frozen=True)
class JournalFacts:
    """What the Chaos Toolkit journal says about the run (its own status and exit code are not trusted)."""

    present: bool
    status: str | None = None
    deviated: bool | None = None
    hypothesis_before_met: bool | None = None   # the gate; None: no hypothesis checked
    hypothesis_after_met: bool | None = None
    failed_activities: tuple[str, ...] = ()
    failed_rollbacks: tuple[str, ...] = ()      # interrupted ones are listed as "<name> (interrupted)"

    @property
    def problems(self) -> tuple[str, ...]:
        """Every journal fact that fails the run, as text."""
        if not self.present:
            return ()
        out = []
        if self.status != "completed":
            out.append(f"Chaos Toolkit status is {self.status!r}, not 'completed'")
        if self.deviated:
            out.append("the experiment deviated from its steady state")
        if self.hypothesis_before_met is False:
            out.append("the steady-state hypothesis (gate) was not met before the method")
        if self.hypothesis_after_met is False:
            out.append("the steady-state hypothesis was not met after the method")
        out += [f"activity failed: {name}" for name in self.failed_activities]
        out += [f"rollback failed: {name}" for name in self.failed_rollbacks]
        return tuple(out)

    @property
    def ok(self) -> bool | None:
        """True: nothing fails the run; False: something does; None: no journal to judge."""
        return None if not self.present else not self.problems


@dataclass(frozen=True)
class Findings:
    """Everything measured in one run, before any criterion is applied."""

    start_s: float | None
    end_s: float | None
    t0_s: float | None
    last_recovery_s: float | None
    fault_windows: tuple[dict, ...]
    windows: dict[str, WindowStats]
    rto_read: RtoResult | None
    rto_write: RtoResult | None
    phases: RtoPhases | None
    rpo: RpoResult | None
    split_brain_events: int | None
    writers_samples: int
    failback_ok: bool | None
    failback_evidence: str
    journal: JournalFacts
    writer_region: str | None = None
    sustain_s: float = 10.0
    sustain_success_ratio: float = 0.95
    health_interval_s: float = 0.1
    canary_rate_per_s: float = 20.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    cache_warmup: Warmup | None = None          # see reports.scenario_metrics
    deployment: Deployment | None = None
    comparisons: Comparisons = field(default_factory=Comparisons)  # before vs after, sliding SLO windows
    scaling: Scaling | None = None              # the load spike's scale-out and scale-in (reports.scaling)
    detection: Detection | None = None          # did the monitoring notice (reports.detection)


def iso_utc(t_s: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds (`2025-01-01T12:00:03.000Z`); None stays None."""
    if t_s is None or not math.isfinite(t_s):
        return None
    return datetime.fromtimestamp(t_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run_bounds(inputs: RunInputs, health: list[dict], canary: list[dict]) -> tuple[float | None, float | None]:
    times = [r["at_s"] for r in health] + [c["sent_s"] for c in canary]
    if inputs.samples is not None and len(inputs.samples):
        times += [float(inputs.samples["t_s"].min()), float(inputs.samples["t_s"].max())]
    start, end = inputs.run.get("started_s"), inputs.run.get("ended_s")
    start = start if start is not None else (min(times) if times else None)
    end = end if end is not None else (max(times) if times else None)
    return start, end


def _in(times: np.ndarray, start: float, end: float, closed: bool) -> np.ndarray:
    return (times >= start) & ((times <= end) if closed else (times < end))


def window_stats(name: str, start_s: float | None, end_s: float | None, closed: bool, health: list[dict],
                 samples: pd.DataFrame | None, finished_before_end: bool = False) -> WindowStats:
    """Pure: the figures of one window (`closed`: the end is included). With `finished_before_end` a request
    belongs to the window only when it also ended before the window's end (the baseline: a request still
    in flight when the fault begins is not a baseline request)."""
    if start_s is None or end_s is None:
        return WindowStats(name, start_s, end_s)
    h_times = np.array([r["at_s"] for r in health], dtype=float)
    h_in = _in(h_times, start_s, end_s, closed)
    if finished_before_end:
        h_lat_s = np.nan_to_num(np.array([r.get("latency_ms", 0.0) for r in health], dtype=float)) / 1000
        h_in &= h_times + h_lat_s < end_s
    h_ok = np.array([bool(r.get("ok")) for r in health], dtype=bool)[h_in]
    h_lat = np.array([r.get("latency_ms", math.nan) for r in health], dtype=float)[h_in]
    health_requests, health_errors = int(h_in.sum()), int((~h_ok).sum())
    load_requests = load_errors = arrivals = 0
    dropped = None
    # failures rank above every success (+inf); a success without a latency is not measured
    latencies, failures, source = h_lat[h_ok & ~np.isnan(h_lat)], health_errors, "health probes"
    if samples is not None and len(samples):
        t = samples["t_s"].to_numpy()
        member = _in(t, start_s, end_s, closed)
        if finished_before_end:
            member &= t + np.nan_to_num(samples["latency_ms"].to_numpy(dtype=float)) / 1000 < end_s
        s = samples[member]
        sent = s[~s["dropped"]]
        load_requests, load_errors = len(sent), int((~sent["ok"]).sum())
        dropped, arrivals = int(s["dropped"].sum()), len(s)
        sent_ok = sent["ok"].to_numpy(dtype=bool)
        latencies, failures = sent["latency_ms"].to_numpy(dtype=float)[sent_ok], load_errors + dropped
        source = "load samples"
    # an arrival never sent is a failed request (open model: it was due and nobody served it)
    requests = load_requests + (dropped or 0) + health_requests
    errors = load_errors + (dropped or 0) + health_errors
    rate = errors / requests if requests else None
    ranked = len(latencies) + failures
    pct = {q: nearest_rank_with_failures(latencies, failures, q) if ranked else None for q in (50, 95, 99)}
    return WindowStats(name, start_s, end_s, requests, errors, load_requests, load_errors, health_requests,
                       health_errors, rate, None if rate is None else 1 - rate, source, ranked,
                       pct[50], pct[95], pct[99], dropped, arrivals, latency_failures=failures)


def load_gap_s(workers: dict | None) -> float | None:
    """Pure: where the load's samples stop being complete: the earliest last report of a worker whose final report
    never came (it died, or was stopped before it could report); None when every worker reported to the end."""
    lost = [w.get("last_report_s") for w in (workers or {}).values() if not w.get("final_report")]
    if not lost:
        return None
    known = [t for t in lost if t is not None]
    return min(known) if known else float("-inf")  # a worker that never reported: nothing of it is there


def closed_model_spans(profile: dict | None, samples: pd.DataFrame | None) -> list[tuple[float, float]]:
    """Pure: [start, end) of every closed-model stage (users, no arrival rate) of the load profile, anchored at
    the first load sample as reports.scaling does; none without a profile or samples."""
    stages = (profile or {}).get("stages") or []
    if not stages or samples is None or not len(samples):
        return []
    at, spans = float(samples["t_s"].min()), []
    for stage in stages:
        duration = float(stage.get("duration_s") or 0.0)
        if stage.get("rate_per_s") is None:
            spans.append((at, at + duration))
        at += duration
    return spans


def journal_facts(journal: dict | None) -> JournalFacts:
    """Pure: status, deviation, hypothesis and failed activities/rollbacks of a Chaos Toolkit journal."""
    if journal is None:
        return JournalFacts(present=False)
    states = journal.get("steady_states") or {}

    def met(key: str) -> bool | None:
        state = states.get(key)
        return None if not isinstance(state, dict) else bool(state.get("steady_state_met"))

    def failed(records: list) -> tuple[str, ...]:
        out = []
        for record in records or []:
            name = (record.get("activity") or {}).get("name", "?")
            if record.get("status") == "failed":
                out.append(name)
            elif record.get("status") is None:
                out.append(f"{name} (interrupted)")
        return tuple(out)

    return JournalFacts(present=True, status=journal.get("status"), deviated=journal.get("deviated"),
                        hypothesis_before_met=met("before"), hypothesis_after_met=met("after"),
                        failed_activities=failed(journal.get("run")), failed_rollbacks=failed(journal.get("rollbacks")))


def failback(journal: dict | None, remediations: tuple[dict, ...], pre_fault_region: str | None,
             writer_region: str | None) -> tuple[bool | None, str]:
    """Pure: whether failback restored the original writer, and the evidence; None when nothing shows a failback."""
    records = [r for key in ("run", "rollbacks") for r in (journal or {}).get(key) or []
               if FAILBACK.search((r.get("activity") or {}).get("name", ""))]
    events = [e for e in remediations if e.get("kind") == "failback"]
    if records:
        ok = all(r.get("status") == "succeeded" for r in records)
        names = ", ".join(sorted({r["activity"]["name"] for r in records}))
        evidence = f"journal activity {names} {'succeeded' if ok else 'did not succeed'}"
    elif events:
        ok = all(e.get("end_s") is not None and not e.get("error") for e in events)
        evidence = f"{len(events)} failback remediation event(s) {'completed' if ok else 'did not complete'}"
    else:
        return None, "no failback activity in the journal and no failback remediation event"
    if ok and pre_fault_region and writer_region:
        ok = writer_region == pre_fault_region
        evidence += f"; final writer {writer_region}, writer before the fault {pre_fault_region}"
    return ok, evidence


def _epoch_s(text: object) -> float | None:
    try:
        at = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()  # naive journal times are UTC


def journal_promotions(journal: dict | None) -> tuple[dict, ...]:
    """Pure: succeeded promotion activities of the journal as remediation events `{kind, start_s, end_s, source}`."""
    events = []
    for record in (journal or {}).get("run") or []:
        activity = record.get("activity") or {}
        name = activity.get("name", "")
        func = (activity.get("provider") or {}).get("func", "")
        start_s, end_s = _epoch_s(record.get("start")), _epoch_s(record.get("end"))
        promoting = PROMOTION.search(name) or PROMOTION.search(func)
        if promoting and record.get("status") == "succeeded" and None not in (start_s, end_s):
            events.append({"kind": "promotion", "start_s": start_s, "end_s": end_s, "source": f"journal: {name}"})
    return tuple(events)


def analyse(inputs: RunInputs, spec: GameDaySpec) -> Findings:
    """Pure: every figure of one run, from its parsed files and the experiment's gameday block."""
    health, canary = of_kind(inputs.probes, ProbeKind.health), of_kind(inputs.probes, ProbeKind.canary)
    writers = of_kind(inputs.probes, ProbeKind.writers)
    routing = of_kind(inputs.probes, ProbeKind.routing)
    start_s, end_s = _run_bounds(inputs, health, canary)
    faults = tuple(fault_windows(list(inputs.ledger)))
    # The baseline ends when the first injection began: the fault may bite before its call returns.
    first_fault = faults[0].get("begun_s", faults[0]["start_s"]) if faults else None
    # t0 is the disaster (a region or writer lost) when there is one: a replication cut before it only
    # prepares the loss window that RPO measures.
    disasters = [w for w in faults if w["kind"] in disaster_kinds()]
    t0 = (disasters or faults)[0]["start_s"] if faults else None
    ends = [w["end_s"] for w in faults]
    last_recovery = max(ends) if faults and None not in ends else None
    # "after" begins once the whole experiment is over (rollbacks such as a failback included).
    experiment_end = inputs.run.get("experiment_ended_s")
    after_start = max(last_recovery, experiment_end) if last_recovery is not None and experiment_end else last_recovery
    sustain_s, ratio = spec.windows.sustain_s, spec.windows.sustain_success_ratio
    health_interval_s, canary_interval_s = spec.probes.health_interval_s, 1 / spec.probes.canary_rate_per_s

    rto_read = rto_write = phases = rpo_result = None
    if t0 is not None:
        rto_read = read_rto(health, t0, sustain_s, health_interval_s, ratio)
        rto_write = write_rto(canary, t0, sustain_s, canary_interval_s, ratio)
        events = list(inputs.remediations)
        if not any(e.get("kind") == "promotion" for e in events):  # the journal times the promotion too
            events += journal_promotions(inputs.journal)
        phases = replace(rto_phases(t0, health, routing, events, canary),
                         impact=impact_phase(t0, rto_read, rto_write))
        if inputs.surviving_seqs is not None and canary:
            # the final writer is known only when exactly one database wrote at the end (surviving_seqs.json)
            rpo_result = rpo(canary, t0, set(inputs.surviving_seqs), canary_interval_s,
                             writer_known=inputs.writer_region is not None)
            if len(rpo_result.lost_seqs) > LOST_SEQS_SHOWN or len(rpo_result.lost_after_t0_seqs) > LOST_SEQS_SHOWN:
                rpo_result = _first_lost(rpo_result)

    recovered = [r.recovered_at_s for r in (rto_read, rto_write) if r is not None and r.recovered]
    fault_end = last_recovery if last_recovery is not None else (end_s if t0 is not None else None)
    service_back = max(recovered) if recovered and fault_end is not None else None
    bounds = {"baseline": (start_s, first_fault if first_fault is not None else end_s, False),
              "fault": (t0, fault_end, last_recovery is None),
              "recovery": (service_back, max(fault_end, service_back) if service_back is not None else None,
                           False),
              "after": (after_start, end_s if after_start is not None else None, True),
              "overall": (start_s, end_s, True)}
    capacity = of_kind(inputs.probes, ProbeKind.capacity)
    spike = place_spike(inputs.load_profile, inputs.samples, spec.windows.warmup_s)
    if spike is not None:
        bounds["spike"] = (spike.window_start_s, spike.drop_s, False)
    windows = {name: _with_capacity(_with_hits(window_stats(name, a, b, closed, health, inputs.samples,
                                                            name == "baseline"), inputs.samples, closed),
                                    capacity, inputs.samples)
               for name, (a, b, closed) in bounds.items()}
    if inputs.journeys is not None:  # flows timed whole, placed by intended start as their requests are
        windows = {name: replace(w, journeys=journey_stats(inputs.journeys, *bounds[name], name == "baseline"))
                   for name, w in windows.items()}
    gap = load_gap_s(inputs.load_workers)
    if gap is not None:
        windows = {name: replace(w, load_gap_s=gap) if w.defined and w.end_s > gap else w
                   for name, w in windows.items()}
    if inputs.vitals is not None:  # page loads placed by navigation start, as load samples by intended start
        windows = {name: replace(w, vitals=window_vitals(inputs.vitals, w.start_s, w.end_s, bounds[name][2],
                                                         name == "baseline"))
                   for name, w in windows.items()}
    closed_spans = closed_model_spans(inputs.load_profile, inputs.samples)
    windows = {name: replace(w, closed_model=w.defined and any(a < w.end_s and w.start_s < b for a, b in closed_spans))
               for name, w in windows.items()}
    warmup = cache_warmup(inputs.samples, cache_recovered_s(faults), end_s, windows["baseline"].cache_hit_rate)
    ok, evidence = failback(inputs.journal, inputs.remediations, phases.pre_fault_region if phases else None,
                            inputs.writer_region)
    notes = () if t0 is not None else ("no fault was injected (no `injected` line in faults.jsonl)",)
    return Findings(start_s=start_s, end_s=end_s, t0_s=t0, last_recovery_s=last_recovery, fault_windows=faults,
                    windows=windows, rto_read=rto_read, rto_write=rto_write, phases=phases, rpo=rpo_result,
                    split_brain_events=split_brain_events(writers) if writers else None,
                    writers_samples=len(writers), failback_ok=ok, failback_evidence=evidence,
                    journal=journal_facts(inputs.journal), writer_region=inputs.writer_region,
                    sustain_s=sustain_s, sustain_success_ratio=ratio, health_interval_s=health_interval_s,
                    canary_rate_per_s=spec.probes.canary_rate_per_s, notes=notes, cache_warmup=warmup,
                    deployment=deployment(faults, inputs.journal, experiment_end),
                    comparisons=compare(bounds, health, inputs.samples, spec.criteria),
                    scaling=scaling(spike, capacity) if spike is not None or capacity else None,
                    detection=detection(inputs.alarms, spec.detection.expected_alarms, spec.detection.quiet_alarms,
                                        t0_s=t0, baseline=bounds["baseline"][:2], last_recovery_s=last_recovery,
                                        start_s=start_s, end_s=end_s))


def _with_hits(w: WindowStats, samples: pd.DataFrame | None, closed: bool) -> WindowStats:
    """The window's cache and edge hit counts added (from the load samples)."""
    cache_hits, cache_reads = hit_counts(samples, CACHED_READ, w.start_s, w.end_s, closed)
    edge_hits, edge_requests = hit_counts(samples, HASHED_ASSET, w.start_s, w.end_s, closed)
    return replace(w, cache_reads=cache_reads, cache_hits=cache_hits, edge_requests=edge_requests,
                   edge_hits=edge_hits, ai=ai_stats(samples, w.start_s, w.end_s, closed),
                   intervals=interval_stats(samples, w.start_s, w.end_s, closed))


def _with_capacity(w: WindowStats, capacity: list[dict], samples: pd.DataFrame | None) -> WindowStats:
    """The window's throttled requests and peak capacity added (from the gateways' capacity samples)."""
    if not w.defined:
        return w
    return replace(w, throttled=throttles(capacity, samples, w.start_s, w.end_s),
                   capacity_max=capacity_max(capacity, w.start_s, w.end_s))


def _first_lost(result: RpoResult) -> RpoResult:
    return replace(result, lost_seqs=result.lost_seqs[:LOST_SEQS_SHOWN],
                   lost_after_t0_seqs=result.lost_after_t0_seqs[:LOST_SEQS_SHOWN])
