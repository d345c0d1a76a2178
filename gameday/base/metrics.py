"""The metric table: every criterion metric with its unit, the windows it can be judged in and what it measures.

A metric is a member of `Metric`, a row of METRICS and a function in reports.measures.MEASURES (a unit test
checks that none is missing). Criterion validation (gameday.base.models) reads the unit and the windows here,
so a criterion that could never be measured is refused before anything is touched. The window rules follow the
analysis: a whole-run figure (an RTO, the RPO, a lag) ignores windows, so it is judged `overall` only; a
comparison with the baseline exists only for the fault, recovery and after windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Unit = Literal["s", "ms", "ratio", "count"]


class Window(StrEnum):
    """The part of a run a criterion is judged over (placed by reports.findings)."""

    baseline = "baseline"
    fault = "fault"
    recovery = "recovery"
    after = "after"
    overall = "overall"
    spike = "spike"          # the load profile's peak stage after `windows.warmup_s` (reports.scaling)


class Metric(StrEnum):
    """What a criterion measures (METRICS describes each); the suffix is its unit (`_s`, `_ms`)."""

    rto_read_s = "rto_read_s"
    rto_write_s = "rto_write_s"
    rpo_s = "rpo_s"
    lost_writes = "lost_writes"
    lost_writes_after_t0 = "lost_writes_after_t0"
    p50_ms = "p50_ms"
    p95_ms = "p95_ms"
    p99_ms = "p99_ms"
    error_rate = "error_rate"
    availability = "availability"
    split_brain_events = "split_brain_events"
    failback_ok = "failback_ok"
    dropped_requests = "dropped_requests"
    cache_hit_rate = "cache_hit_rate"
    cache_warmup_s = "cache_warmup_s"
    edge_hit_rate = "edge_hit_rate"
    ttfb_p75_ms = "ttfb_p75_ms"        # Core Web Vitals of the browser sampler's page loads (reports.vitals)
    fcp_p75_ms = "fcp_p75_ms"
    lcp_p75_ms = "lcp_p75_ms"
    cls_p75 = "cls_p75"                # a unitless layout-shift score, reported like a ratio
    inp_p75_ms = "inp_p75_ms"
    page_error_rate = "page_error_rate"
    deploy_detect_s = "deploy_detect_s"
    deploy_restore_s = "deploy_restore_s"
    ai_p95_ms = "ai_p95_ms"
    ai_error_rate = "ai_error_rate"
    ai_fallback_share = "ai_fallback_share"
    journey_p95_ms = "journey_p95_ms"          # critical journeys (flows) timed end to end (reports.journeys)
    journey_error_rate = "journey_error_rate"
    interval_p95_ms = "interval_p95_ms"
    interval_error_rate = "interval_error_rate"
    latency_shift_ms = "latency_shift_ms"
    error_rate_increase = "error_rate_increase"
    sliding_p95_ms = "sliding_p95_ms"
    sliding_error_rate = "sliding_error_rate"
    scale_out_lag_s = "scale_out_lag_s"
    scale_in_lag_s = "scale_in_lag_s"
    capacity_max_ratio = "capacity_max_ratio"
    throttled_requests = "throttled_requests"
    throttle_rate = "throttle_rate"
    time_to_detect_s = "time_to_detect_s"
    time_to_notify_s = "time_to_notify_s"
    alarm_cleared_s = "alarm_cleared_s"
    false_alarms = "false_alarms"


ANY_WINDOW = frozenset(Window)
WHOLE_RUN = frozenset({Window.overall})        # one figure of the run: no window to choose
VS_BASELINE = frozenset({Window.fault, Window.recovery, Window.after})   # a window compared with the baseline


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is reported and judged."""

    unit: Unit
    windows: frozenset[Window]       # the windows a criterion on it may name
    description: str


METRICS: dict[Metric, MetricSpec] = {
    Metric.rto_read_s: MetricSpec("s", WHOLE_RUN, "fault time to the read SLO held for good (sustain window)"),
    Metric.rto_write_s: MetricSpec("s", WHOLE_RUN, "fault time to the write SLO held for good (sustain window)"),
    Metric.rpo_s: MetricSpec("s", WHOLE_RUN, "fault time minus the oldest lost write sent before it; 0 if none"),
    Metric.lost_writes: MetricSpec("count", WHOLE_RUN, "acked canary writes missing from the final writer"),
    Metric.lost_writes_after_t0: MetricSpec("count", WHOLE_RUN,
                                            "acked, sent after the fault and missing from the final writer"),
    Metric.p50_ms: MetricSpec("ms", ANY_WINDOW, "exact nearest-rank P50 of the window's latencies"),
    Metric.p95_ms: MetricSpec("ms", ANY_WINDOW, "exact nearest-rank P95 of the window's latencies"),
    Metric.p99_ms: MetricSpec("ms", ANY_WINDOW, "exact nearest-rank P99 of the window's latencies"),
    Metric.error_rate: MetricSpec("ratio", ANY_WINDOW, "failed / all requests (load and health probes), 0..1"),
    Metric.availability: MetricSpec("ratio", ANY_WINDOW, "successful / all requests, 0..1"),
    Metric.split_brain_events: MetricSpec("count", WHOLE_RUN, "samples with more than one writable region"),
    Metric.failback_ok: MetricSpec("count", WHOLE_RUN, "1 when failback restored the original writer, else 0"),
    Metric.dropped_requests: MetricSpec("count", ANY_WINDOW,
                                        "open-model requests never sent (too late or too many in flight)"),
    Metric.cache_hit_rate: MetricSpec("ratio", ANY_WINDOW,
                                      "X-Cache hit / sent cached reads (GET /items/[id]) in the window, 0..1"),
    Metric.cache_warmup_s: MetricSpec("s", WHOLE_RUN,
                                      "cache recovered -> per-second hit rate first >= 80 % of the baseline's"),
    Metric.edge_hit_rate: MetricSpec("ratio", ANY_WINDOW,
                                     "X-Cache Hit / sent hashed-asset requests (GET /static/[asset]), 0..1"),
    Metric.ttfb_p75_ms: MetricSpec("ms", ANY_WINDOW, "exact P75 time to first byte of the window's page loads "
                                                     "(headless Chromium; failed loads ranked above every success)"),
    Metric.fcp_p75_ms: MetricSpec("ms", ANY_WINDOW, "exact P75 first contentful paint of the window's page loads"),
    Metric.lcp_p75_ms: MetricSpec("ms", ANY_WINDOW, "exact P75 largest contentful paint of the window's page loads"),
    Metric.cls_p75: MetricSpec("ratio", ANY_WINDOW, "exact P75 cumulative layout shift (unitless score) of the "
                                                    "window's page loads"),
    Metric.inp_p75_ms: MetricSpec("ms", ANY_WINDOW, "exact P75 interaction to next paint of the window's page loads "
                                                    "that saw an interaction"),
    Metric.page_error_rate: MetricSpec("ratio", ANY_WINDOW, "failed / all page loads of the browser sampler in the "
                                                            "window, 0..1"),
    Metric.deploy_detect_s: MetricSpec("s", WHOLE_RUN, "bad version live -> the regression watcher's alarm"),
    Metric.deploy_restore_s: MetricSpec("s", WHOLE_RUN,
                                        "bad version live -> rolled back by the experiment (not the safety net)"),
    Metric.ai_p95_ms: MetricSpec("ms", ANY_WINDOW, "exact P95 of the POST /ai journey's sent samples in the window"),
    Metric.ai_error_rate: MetricSpec("ratio", ANY_WINDOW, "failed / sent POST /ai requests in the window, 0..1"),
    Metric.ai_fallback_share: MetricSpec("ratio", ANY_WINDOW,
                                         "successful AI answers not from the first-priority provider, 0..1"),
    Metric.journey_p95_ms: MetricSpec("ms", ANY_WINDOW, "exact P95 of the window's critical journeys, intended start "
                                                        "to the end of the last step (failed ones ranked above all)"),
    Metric.journey_error_rate: MetricSpec("ratio", ANY_WINDOW,
                                          "critical journeys with a failed step or never started / all, 0..1"),
    Metric.interval_p95_ms: MetricSpec("ms", ANY_WINDOW,
                                       "the worst P95 of the window's 10 s intervals (non-AI load samples)"),
    Metric.interval_error_rate: MetricSpec("ratio", ANY_WINDOW,
                                           "the worst error rate of the window's 10 s intervals, 0..1"),
    Metric.latency_shift_ms: MetricSpec("ms", VS_BASELINE,
                                        "Hodges-Lehmann shift of the window's latencies vs the baseline's"),
    Metric.error_rate_increase: MetricSpec("ratio", VS_BASELINE,
                                           "the window's error rate minus the baseline's, -1..1"),
    Metric.sliding_p95_ms: MetricSpec("ms", ANY_WINDOW,
                                      "the worst exact P95 of the window's 30 s windows sliding by 1 s"),
    Metric.sliding_error_rate: MetricSpec("ratio", ANY_WINDOW,
                                          "the worst error rate of the window's 30 s sliding windows, 0..1"),
    Metric.scale_out_lag_s: MetricSpec("s", WHOLE_RUN, "load step -> the capacity the spike held is ready"),
    Metric.scale_in_lag_s: MetricSpec("s", WHOLE_RUN, "load drop -> instances back at the count of the load step"),
    Metric.capacity_max_ratio: MetricSpec("ratio", ANY_WINDOW,
                                          "the window's most instances / the cap (max_instances)"),
    Metric.throttled_requests: MetricSpec("count", ANY_WINDOW,
                                          "requests the region gateways answered 429 in the window"),
    Metric.throttle_rate: MetricSpec("ratio", ANY_WINDOW,
                                     "throttled / requests the region gateways counted in the window, 0..1"),
    Metric.time_to_detect_s: MetricSpec("s", WHOLE_RUN,
                                        "fault (t0) -> the first expected alarm in ALARM (detection.expected_alarms)"),
    Metric.time_to_notify_s: MetricSpec("s", WHOLE_RUN,
                                        "fault (t0) -> the first notification of an expected alarm delivered"),
    Metric.alarm_cleared_s: MetricSpec("s", WHOLE_RUN, "last recovery -> every expected alarm back to OK"),
    Metric.false_alarms: MetricSpec("count", WHOLE_RUN, "changes to ALARM in the baseline (of a paging alarm) or "
                                                        "of a detection.quiet_alarms alarm at any time"),
}


def metric_unit(metric: Metric) -> Unit:
    """The unit a metric is reported in: `s`, `ms`, `ratio` or `count`."""
    return METRICS[metric].unit


def window_problem(metric: Metric, window: Window) -> str | None:
    """Why a criterion on `metric` cannot be judged in `window`; None when it can."""
    windows = METRICS[metric].windows
    if window in windows:
        return None
    if windows == WHOLE_RUN:
        return f"{metric.value} is a figure of the whole run: judged overall, not in {window.value} (drop `in ...`)"
    valid = ", ".join(w.value for w in Window if w in windows)
    return f"{metric.value} cannot be judged in {window.value}; valid windows: {valid} (name one: `in <window>`)"
