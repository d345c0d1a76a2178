"""Pure measurement of the criterion metrics: MEASURES maps every Metric to the function measuring it in a run.

A function returns the value (None: it cannot be measured in this run: no fault, no canary, no load, a window
that cannot be placed), where the value comes from (evidence) and how it may be judged: a lower bound (an RTO
not reached yet), a confidence interval, or the best verdict a rule allows. Every share of requests (error
rates, hit rates, fallback and throttle shares) is judged by its one-sided 95 % Clopper-Pearson bounds, so the
number of requests it needs follows from its target (0 errors in 299 requests first bound an error rate below
1 %); percentiles need percentile_minimum(q) samples. Each metric's unit and windows are in
gameday.base.metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from gameday.base.metrics import Metric, Window
from gameday.base.models import Criterion
from reports.comparisons import figure as comparison_figure
from reports.comparisons import window_bounds_text
from reports.findings import Findings, WindowStats, iso_utc
from reports.recovery import RtoResult
from reports.samples import percentile_minimum
from reports.scenario_metrics import FIRST_PROVIDER
from reports.statistics import CONFIDENCE, clopper_pearson
from reports.vitals import MIN_LOADS, p75_text

MIN_REQUESTS = 20


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class Measurement:
    value: float | None
    evidence: str
    lower_bound: float | None = None  # an RTO not reached yet: the true value is at least this
    interval: tuple[float, float] | None = None  # a confidence interval of the value: judged by it (see judge)
    ceiling: Verdict | None = None    # the best verdict a rule allows (the zero-error baseline)
    # A share the window held (hits, errors of its requests): `==` asks what the window held (no hit at all) and
    # is judged by the value; the inequalities claim a rate, and its interval decides.
    observed_share: bool = False


Measure = Callable[[Findings, Criterion], Measurement]
WindowMeasure = Callable[[WindowStats, Metric], Measurement]


def measure(f: Findings, c: Criterion) -> Measurement:
    """Pure: the value of `c.metric` in the run (None: cannot be measured) and where it comes from."""
    return MEASURES[c.metric](f, c)


def _clock(t_s: float | None) -> str:
    text = iso_utc(t_s)
    return "n/a" if text is None else text[11:19] + "Z"


def _span(w: WindowStats) -> str:
    close = "]" if w.name in ("after", "overall") else ")"
    return f"the {w.name} window [{_clock(w.start_s)}, {_clock(w.end_s)}{close}"


# --- whole-run figures --------------------------------------------------------------------------------------

def _rel(t_s: float | None, t0: float | None) -> str:
    return "n/a" if t_s is None or t0 is None else f"+{t_s - t0:.2f} s"


def _rto(result: RtoResult | None, f: Findings, what: str, samples: str, cadence: str, success: str) -> Measurement:
    if result is None:
        return Measurement(None, f"{what} RTO needs a fault: {f.notes[0] if f.notes else 'no fault time'}")
    slo = (f"SLO: >= {result.success_ratio:.1%} {success}s in every {result.sustain_s:g} s window from the fault "
           "to the end of the data")
    seen = f"{what} RTO from {result.samples:,} {samples} {cadence} after the fault at {_clock(f.t0_s)} ({slo})"
    if result.samples == 0:
        return Measurement(None, f"{seen}: no samples after the fault")
    t0 = f.t0_s
    facts = []
    if result.impact_at_s is not None:
        facts.append(f"first impact {_rel(result.impact_at_s, t0)} after the fault (time to impact)")
    if result.relapses:
        facts.append(f"the SLO broke again after holding at {', '.join(_rel(r, t0) for r in result.relapses)} "
                     "(relapse; recovery counts from after the last)")
    if result.max_gap_s is not None and result.resolution_s and result.max_gap_s > 1.5 * result.resolution_s:
        facts.append(f"probes missing or late: widest gap {result.max_gap_s:.2f} s "
                     f"(interval {result.resolution_s:g} s)")
    more = "; " + "; ".join(facts) if facts else ""
    if result.sustained_until_end:
        return Measurement(None, f"{seen}: recovery unknown: the SLO held from {_rel(result.recovered_at_s, t0)} but "
                                 f"the data ended after {result.sustained_s or 0:.2f} s of the {result.sustain_s:g} s "
                                 f"sustain window{more}", lower_bound=result.rto_low_s)
    if not result.recovered:
        # Not recovered: the recovery, if any, came after the last window that broke the SLO.
        last = result.broken_until_s if result.broken_until_s is not None else result.last_failure_s
        bound = max(0.0, (last if last is not None else t0) - t0)
        return Measurement(None, f"{seen}: not recovered: the SLO last broke in the window from "
                                 f"{_rel(last, t0)}{more}", lower_bound=bound)
    if result.rto_s == 0:
        return Measurement(0.0, f"{seen}: no sustain window broke the SLO ({result.failures:,} isolated failures "
                                f"of {result.samples:,}){more}")
    low, high = result.rto_low_s, result.rto_high_s
    return Measurement(result.rto_s, f"{seen}: first {success} after the last window that broke the SLO "
                                     f"{result.rto_s:.2f} s after the fault; the true RTO lies in "
                                     f"[{low:.2f}, {high:.2f}] s (last failure .. that {success} answered){more}",
                       interval=(low, high))


def _rto_read(f: Findings, c: Criterion) -> Measurement:
    return _rto(f.rto_read, f, "read", "health reads", f"every {f.health_interval_s:g} s", "ok read")


def _rto_write(f: Findings, c: Criterion) -> Measurement:
    return _rto(f.rto_write, f, "write", "canary writes", f"at {f.canary_rate_per_s:g}/s", "acked write")


def _seqs(seqs: tuple[int, ...], total: int) -> str:
    shown = ", ".join(str(s) for s in seqs[:10])
    return shown + (f" ... ({total:,} in all)" if total > 10 else "")


def _rpo(f: Findings, c: Criterion) -> Measurement:
    """rpo_s, lost_writes and lost_writes_after_t0, from the same canary accounting."""
    r = f.rpo
    if r is None:
        why = "no fault" if f.t0_s is None else "no canary writes or no surviving_seqs.json (final writer's seqs)"
        return Measurement(None, f"RPO cannot be measured: {why}")
    if not r.writer_known:
        return Measurement(None, "RPO unknown: the final writer is unknown (not exactly one writable database when "
                                 "the run ended), so no acked write can be judged lost or kept")
    if r.acked_writes == 0:
        return Measurement(None, "RPO cannot be measured: no canary write was acknowledged")
    base = (f"{r.acked_writes:,} acked canary writes, {r.lost_writes:,} missing from the final writer "
            f"{f.writer_region or '?'}")
    after = ""
    if r.lost_after_t0:
        first, last = r.lost_after_t0_acks or (None, None)
        after = (f"; {r.lost_after_t0:,} sent after the fault and lost (acked {_rel(first, f.t0_s)} .. "
                 f"{_rel(last, f.t0_s)}; seqs {_seqs(r.lost_after_t0_seqs, r.lost_after_t0)}): split brain or a "
                 "failback dropped them (criterion lost_writes_after_t0)")
    if c.metric is Metric.lost_writes:
        return Measurement(float(r.lost_writes), base + after)
    if c.metric is Metric.lost_writes_after_t0:
        return Measurement(float(r.lost_after_t0), f"{base}{after or '; none sent after the fault was lost'}")
    if r.lost_before_t0 == 0:
        return Measurement(0.0, f"{base}: no write sent before the fault was lost{after}")
    figure = (f"{base}; oldest lost write acked {r.rpo_s:.2f} s before the fault at {_clock(f.t0_s)} "
              f"({r.lost_before_t0:,} lost writes sent before the fault)")
    if r.loss_from_start or r.rpo_high_s is None:
        return Measurement(None, f"{figure}: only a lower bound: the first acked canary write was lost, so the loss "
                                 f"may have begun before the canary started{after}", lower_bound=r.rpo_s)
    return Measurement(r.rpo_s, f"{figure}; the true RPO lies in [{r.rpo_s:.2f}, {r.rpo_high_s:.2f}] s (up to the "
                                f"newest surviving ack before it; canary interval {r.resolution_s or 0:g} s){after}",
                       interval=(r.rpo_s, r.rpo_high_s))


def _split_brain(f: Findings, c: Criterion) -> Measurement:
    if f.split_brain_events is None:
        return Measurement(None, "no writer samples (database roles) were recorded")
    return Measurement(float(f.split_brain_events), f"{f.split_brain_events:,} of {f.writers_samples:,} writer "
                                                      "samples saw two or more writable databases")


def _failback(f: Findings, c: Criterion) -> Measurement:
    return Measurement(None if f.failback_ok is None else float(f.failback_ok), f.failback_evidence)


def _warmup(f: Findings, c: Criterion) -> Measurement:
    w = f.cache_warmup
    if w is None or w.recovered_s is None or w.target_rate is None:
        return Measurement(None, f"cache warm-up cannot be measured: {w.evidence if w else 'no findings'}")
    if w.warmup_s is None:
        return Measurement(None, w.evidence, lower_bound=w.observed_s)
    return Measurement(w.warmup_s, w.evidence)


def _deployment(f: Findings, c: Criterion) -> Measurement:
    d = f.deployment
    if d is None:
        return Measurement(None, "no deployment in the fault ledger")
    value = d.detect_s if c.metric is Metric.deploy_detect_s else d.restore_s
    if value is None:
        # Not detected / not rolled back while the experiment ran: at least as long as it watched.
        return Measurement(None, d.evidence, lower_bound=d.observed_s)
    return Measurement(value, d.evidence)


def _lag(f: Findings, c: Criterion) -> Measurement:
    s = f.scaling
    if s is None or s.spike is None:
        why = s.evidence if s else "no load spike and no capacity samples"
        return Measurement(None, f"scaling cannot be measured: {why}")
    lag = s.scale_out if c.metric is Metric.scale_out_lag_s else s.scale_in
    if not lag.evidence:
        return Measurement(None, f"scaling cannot be measured: {s.evidence}")
    return Measurement(lag.value_s, lag.evidence, lower_bound=lag.lower_bound_s)


def _comparison(f: Findings, c: Criterion) -> Measurement:
    """A before-vs-after or sliding-window metric (reports.comparisons), judged by its interval when it has one.
    `error_rate_increase` is decided from the one-sided bounds of the increase only (no zero-error-baseline
    rule: that rule was not monotone), so one more error in the window never improves its verdict."""
    got = comparison_figure(f.comparisons, c.metric.value, c.window.value)
    return Measurement(got.value, got.evidence, interval=got.interval)


# --- figures of one window ----------------------------------------------------------------------------------

def _in_window(measure_window: WindowMeasure, needs_load: bool = True) -> Measure:
    """The measure of a window metric: the criterion's window is placed first (else nothing can be measured);
    `needs_load`: not judged when a load worker's samples end inside the window (browser page loads do not)."""
    def in_window(f: Findings, c: Criterion) -> Measurement:
        w = f.windows.get(c.window.value)
        if w is None and c.window is Window.spike:
            why = f.scaling.evidence if f.scaling is not None and f.scaling.spike is None else "no load spike"
            return Measurement(None, f"the spike window cannot be placed in this run: {why}")
        if w is None or not w.defined:
            return Measurement(None, f"the {c.window.value} window cannot be placed in this run "
                                     f"({'no fault' if f.t0_s is None else 'a fault or the service never recovered'})")
        if needs_load and w.load_gap_s is not None:
            return Measurement(None, f"a load worker's samples end at {_clock(w.load_gap_s)} (it sent no final "
                                     f"report: load/workers.json), inside {_span(w)}: the window's figures are "
                                     "incomplete, not judged")
        return measure_window(w, c.metric)
    return in_window


def _percentile(w: WindowStats, m: Metric) -> Measurement:
    """p50_ms, p95_ms, p99_ms: over every arrival of the window, a failed or dropped one ranked above every
    success (+inf); judged only with percentile_minimum(q) of them and never on closed-model load."""
    q = {Metric.p50_ms: 50, Metric.p95_ms: 95, Metric.p99_ms: 99}[m]
    need = percentile_minimum(q)
    if w.latency_samples < need:
        return Measurement(None, f"only {w.latency_samples} latency samples in {_span(w)} (< {need}: with fewer "
                                 f"even the largest is no {CONFIDENCE:.0%} upper confidence bound of the P{q})")
    if w.closed_model:
        return Measurement(None, f"{_span(w)} overlaps a closed-model load stage: its latencies get no "
                                 "coordinated-omission correction (users wait for replies), so no latency criterion "
                                 "is judged on it; use open-model stages (rate_per_s)")
    how = (f"exact nearest-rank P{q} of {w.latency_samples:,} {w.latency_source} in {_span(w)}, latency from the "
           f"intended start; {w.latency_failures:,} failed or never sent, ranked slower than every success")
    value = getattr(w, f"p{q}_ms")
    if value is not None and value == float("inf"):
        # the rank falls on a failure: the percentile is above every served latency, so it breaks any `<` target
        return Measurement(None, f"{how}: more than {100 - q} % failed, so the P{q} is no served latency",
                           lower_bound=float("inf"))
    return Measurement(value, how)


def _errors(w: WindowStats, m: Metric) -> Measurement:
    """error_rate and availability, judged by one-sided 95 % Clopper-Pearson bounds: `error_rate < t` PASSes only
    when the upper bound is below t and FAILs when the lower bound is not; the minimum follows from the target."""
    bounds = clopper_pearson(w.errors, w.requests)
    if bounds is None:
        return Measurement(None, f"no requests in {_span(w)}")
    low, high = bounds
    value = w.error_rate if m is Metric.error_rate else w.availability
    interval = (low, high) if m is Metric.error_rate else (1 - high, 1 - low)
    dropped = f", {w.dropped_requests:,} open-model arrivals never sent counted as failed" if w.dropped_requests else ""
    return Measurement(value, f"{w.errors:,} errors in {w.requests:,} requests ({w.load_requests:,} load sent, "
                              f"{w.health_requests:,} health probes{dropped}) in {_span(w)}; one-sided "
                              f"{CONFIDENCE:.0%} Clopper-Pearson bounds [{interval[0]:.4g}, {interval[1]:.4g}], "
                              "judged by them", interval=interval, observed_share=True)


def _share(part: int, total: int, value: float, what: str) -> Measurement:
    """A share of `total` requests judged by its one-sided Clopper-Pearson bounds (none: no requests)."""
    bounds = clopper_pearson(part, total)
    if bounds is None:
        return Measurement(None, f"{what}: none")
    return Measurement(value, f"{what}; one-sided {CONFIDENCE:.0%} Clopper-Pearson bounds [{bounds[0]:.4g}, "
                              f"{bounds[1]:.4g}], judged by them", interval=bounds, observed_share=True)


def _dropped(w: WindowStats, m: Metric) -> Measurement:
    if w.dropped_requests is None:
        return Measurement(None, "no load samples in this run")
    if w.load_arrivals < MIN_REQUESTS:
        return Measurement(None, f"only {w.load_arrivals} load arrivals in {_span(w)} (< {MIN_REQUESTS})")
    return Measurement(float(w.dropped_requests), f"{w.dropped_requests:,} of {w.load_arrivals:,} open-model "
                                                  f"arrivals never sent in {_span(w)}")


def _hit_rate(w: WindowStats, m: Metric) -> Measurement:
    """cache_hit_rate and edge_hit_rate."""
    hits, total, what = ((w.cache_hits, w.cache_reads, "cached reads (GET /items/[id])")
                         if m is Metric.cache_hit_rate else
                         (w.edge_hits, w.edge_requests, "hashed-asset requests (GET /static/[asset])"))
    if total == 0:
        return Measurement(None, f"no successful {what} in {_span(w)}")
    return _share(hits, total, hits / total, f"{hits:,} X-Cache hits in {total:,} successful {what} in {_span(w)}")


def _ai(w: WindowStats, m: Metric) -> Measurement:
    a = w.ai
    if m is Metric.ai_fallback_share:
        if a.answers == 0:
            return Measurement(None, f"no successful AI answers (POST /ai) in {_span(w)}")
        by = ", ".join(f"{name} {count:,}" for name, count in a.providers)
        return _share(a.fallback_answers, a.answers, a.fallback_answers / a.answers,
                      f"{a.fallback_answers:,} of {a.answers:,} successful AI answers in {_span(w)} not served by "
                      f"the first-priority provider {FIRST_PROVIDER} (X-AI-Provider: {by})")
    if a.requests == 0:
        return Measurement(None, f"no AI requests (POST /ai) in {_span(w)}")
    if m is Metric.ai_error_rate:
        return _share(a.errors, a.requests, a.error_rate, f"{a.errors:,} errors in {a.requests:,} AI requests "
                                                          f"(POST /ai, arrivals never sent count as failed) in "
                                                          f"{_span(w)}")
    if a.latency_samples < (need := percentile_minimum(95)):
        return Measurement(None, f"only {a.latency_samples} AI requests (POST /ai) in {_span(w)} (< {need} for a P95)")
    how = (f"exact nearest-rank P95 of {a.latency_samples:,} AI requests (POST /ai) in {_span(w)}, {a.errors:,} "
           "failed or never sent ranked slower than every success")
    if a.p95_ms == float("inf"):
        return Measurement(None, f"{how}: more than 5 % failed, so the P95 is no served latency",
                           lower_bound=float("inf"))
    return Measurement(a.p95_ms, how)


def _interval(w: WindowStats, m: Metric) -> Measurement:
    """interval_p95_ms and interval_error_rate: the worst of the window's tumbling intervals."""
    i = w.intervals
    size = f"{i.window_s:g} s intervals"
    if i.windows == 0:
        return Measurement(None, f"no {size} with >= {MIN_REQUESTS} load requests in {_span(w)}")
    counted = f"{i.windows} {size} of {_span(w)} ({i.skipped} with < {MIN_REQUESTS} requests skipped)"
    if m is Metric.interval_error_rate:
        return Measurement(i.worst_error_rate, f"worst of {counted}: {i.worst_errors:,} errors in {i.worst_requests:,} "
                                               f"load requests from {_clock(i.worst_error_start_s)}; "
                                               f"{window_bounds_text(i.error_bounds, 'interval')}",
                           interval=i.error_bounds or (0.0, 1.0))
    if i.worst_p95_ms is None:
        return Measurement(None, f"no interval with >= {MIN_REQUESTS} non-AI load samples in {counted}")
    return Measurement(i.worst_p95_ms, f"worst exact nearest-rank P95 of the non-AI load samples of {counted}: "
                                       f"the interval from {_clock(i.worst_p95_start_s)}")


def _vitals(w: WindowStats, m: Metric) -> Measurement:
    """The Core Web Vitals' P75s and page_error_rate (reports.vitals): a P75 needs MIN_LOADS page loads; one that
    falls on a failed load is no served value and breaks any `<`/`<=` target; the failure rate is a share."""
    v = w.vitals
    if v is None:
        return Measurement(None, "no vitals.jsonl in this run: no browser sampler (extensions.gameday.vitals)")
    if m is Metric.page_error_rate:
        if not v.loads:
            return Measurement(None, f"no page loads in {_span(w)}")
        why = ", ".join(f"{text} x{n}" for text, n in v.errors[:3])
        return _share(v.failed, v.loads, v.failed / v.loads, f"{v.failed:,} failed of {v.loads:,} page loads in "
                                                             f"{_span(w)}" + (f" ({why})" if why else ""))
    figure = v.vital(m.value)
    how = f"{p75_text(figure)} in {_span(w)}"
    if not figure.enough:
        return Measurement(None, f"only {figure.samples} page loads count for {m.value} in {_span(w)} (< "
                                 f"{MIN_LOADS} needed for a P75; {v.loads} loads in all, {figure.missing} "
                                 "successful ones without the vital)")
    if figure.p75 == float("inf"):
        return Measurement(None, f"{how}: more than 25 % of them failed, so the P75 is no served value",
                           lower_bound=float("inf"))
    return Measurement(figure.p75, how)


def _journey(w: WindowStats, m: Metric) -> Measurement:
    """journey_p95_ms and journey_error_rate (reports.journeys): judged as p95_ms and error_rate are (P95: at least
    percentile_minimum(95) journeys, never on closed-model load; the rate by its Clopper-Pearson bounds)."""
    j = w.journeys
    if j.arrivals == 0:
        return Measurement(None, f"no critical journeys in {_span(w)} (a flow such as `critical` in the load mix)")
    what = f"{j.arrivals:,} journeys in {_span(w)}: {j.describe()}"
    if m is Metric.journey_error_rate:
        return _share(j.failures, j.arrivals, j.error_rate, f"{j.failures:,} failed of {what}; failed: "
                                                            f"{j.failures_text()}")
    if j.arrivals < (need := percentile_minimum(95)):
        return Measurement(None, f"only {what} (< {need} for a P95)")
    if w.closed_model:
        return Measurement(None, f"{_span(w)} overlaps a closed-model load stage: no coordinated-omission "
                                 "correction, so no journey latency is judged on it; use open-model stages")
    how = (f"exact nearest-rank P95 of {what}; latency from the arrival's intended start to the end of its last "
           f"step; {j.failures:,} failed or never started ranked slower than every success ({j.failures_text()})")
    if j.p95_ms == float("inf"):
        return Measurement(None, f"{how}: more than 5 % failed, so the P95 is no served latency",
                           lower_bound=float("inf"))
    return Measurement(j.p95_ms, how)


def _capacity_max(w: WindowStats, m: Metric) -> Measurement:
    if w.capacity_max is None:
        return Measurement(None, f"no capacity samples in {_span(w)}")
    ratio, at = w.capacity_max
    return Measurement(ratio, f"at most {at['instances']} instance(s) of {at.get('region')} against its cap of "
                              f"{at['max_instances']} (capacity sample at {_clock(at['at_s'])}) in {_span(w)}")


def _counter_timing(t) -> str:
    """How exactly gateway counters place a throttle in time: one capacity sample's spacing, from the data."""
    if t.source != "gateway counters":
        return ""
    return f"; ± {t.resolution_s:g} s, the capacity samples' spacing" if t.resolution_s else "; timing unknown"


def _throttles(w: WindowStats, m: Metric) -> Measurement:
    """throttle_rate and throttled_requests: the gateways' counters, else the load samples' 429s."""
    t = w.throttled
    if t is None or t.count is None:
        return Measurement(None, f"no capacity samples and no load samples in {_span(w)}")
    if m is Metric.throttle_rate:
        if not t.requests:
            return Measurement(None, f"no requests counted in {_span(w)}")
        return _share(t.count, t.requests, t.rate, f"{t.count:,} of {t.requests:,} requests throttled (429) in "
                                                   f"{_span(w)} ({t.source}"
                                                   f"{_counter_timing(t)}); "
                                                   f"{t.load_throttled:,} of {t.load_requests:,} load requests got a "
                                                   "429")
    if t.source == "load samples":
        return Measurement(float(t.count), f"{t.count:,} of {t.load_requests:,} load requests answered 429 in "
                                           f"{_span(w)} (no capacity samples: load samples only)")
    regions = ", ".join(f"{region} {n:,}" for region, n in t.by_region)
    return Measurement(float(t.count), f"{t.count:,} requests throttled (429) by the region gateways in {_span(w)} "
                                       f"({regions}; their counters{_counter_timing(t)}); {t.load_throttled:,} of "
                                       f"{t.load_requests:,} load requests got a 429")


def _detection(f: Findings, c: Criterion) -> Measurement:
    d = f.detection
    if d is None:
        return Measurement(None, "detection was not analysed")
    if c.metric is Metric.false_alarms:
        if d.source == "none":
            return Measurement(None, d.evidence)
        shown = "; ".join(f"{x['alarm']} at {_clock(x['at_s'])} ({x['why']})" for x in d.false_alarm_changes[:5])
        return Measurement(float(d.false_alarms), f"{d.false_alarms} false alarm(s)" + (f": {shown}" if shown else
                                                                                    f" ({d.source})"))
    value, bound, text = {
        Metric.time_to_detect_s: (d.detect_s, d.detect_bound_s, d.evidence),
        Metric.time_to_notify_s: (d.notify_s, d.notify_bound_s, d.notify_evidence or d.evidence),
        Metric.alarm_cleared_s: (d.cleared_s, d.cleared_bound_s, d.cleared_evidence or d.evidence),
    }[c.metric]
    if value is None:
        return Measurement(None, text, lower_bound=bound)
    return Measurement(value, text)


#: Every metric's measure (gameday.base.metrics.METRICS has its unit and windows).
MEASURES: dict[Metric, Measure] = {
    Metric.rto_read_s: _rto_read,
    Metric.rto_write_s: _rto_write,
    Metric.rpo_s: _rpo,
    Metric.lost_writes: _rpo,
    Metric.lost_writes_after_t0: _rpo,
    Metric.p50_ms: _in_window(_percentile),
    Metric.p95_ms: _in_window(_percentile),
    Metric.p99_ms: _in_window(_percentile),
    Metric.error_rate: _in_window(_errors),
    Metric.availability: _in_window(_errors),
    Metric.split_brain_events: _split_brain,
    Metric.failback_ok: _failback,
    Metric.dropped_requests: _in_window(_dropped),
    Metric.cache_hit_rate: _in_window(_hit_rate),
    Metric.cache_warmup_s: _warmup,
    Metric.edge_hit_rate: _in_window(_hit_rate),
    Metric.ttfb_p75_ms: _in_window(_vitals, needs_load=False),
    Metric.fcp_p75_ms: _in_window(_vitals, needs_load=False),
    Metric.lcp_p75_ms: _in_window(_vitals, needs_load=False),
    Metric.cls_p75: _in_window(_vitals, needs_load=False),
    Metric.inp_p75_ms: _in_window(_vitals, needs_load=False),
    Metric.page_error_rate: _in_window(_vitals, needs_load=False),
    Metric.deploy_detect_s: _deployment,
    Metric.deploy_restore_s: _deployment,
    Metric.ai_p95_ms: _in_window(_ai),
    Metric.ai_error_rate: _in_window(_ai),
    Metric.ai_fallback_share: _in_window(_ai),
    Metric.journey_p95_ms: _in_window(_journey),
    Metric.journey_error_rate: _in_window(_journey),
    Metric.interval_p95_ms: _in_window(_interval),
    Metric.interval_error_rate: _in_window(_interval),
    Metric.latency_shift_ms: _comparison,
    Metric.error_rate_increase: _comparison,
    Metric.sliding_p95_ms: _comparison,
    Metric.sliding_error_rate: _comparison,
    Metric.scale_out_lag_s: _lag,
    Metric.scale_in_lag_s: _lag,
    Metric.capacity_max_ratio: _in_window(_capacity_max),
    Metric.throttled_requests: _in_window(_throttles),
    Metric.throttle_rate: _in_window(_throttles),
    Metric.time_to_detect_s: _detection,
    Metric.time_to_notify_s: _detection,
    Metric.alarm_cleared_s: _detection,
    Metric.false_alarms: _detection,
}
