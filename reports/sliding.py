"""Pure sliding SLO windows: windows of `window_s` sliding by `step_s` over per-request arrays, each with its
exact nearest-rank P95 and error rate; the worst of them and how many meet the thresholds. Tumbling intervals
(the soak's 10 s intervals) are the same windows with step == window (reports.scenario_metrics)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reports.samples import nearest_rank
from reports.statistics import MIN_SAMPLES, clopper_pearson_arrays


@dataclass(frozen=True)
class SlidingSlo:
    """The worst sliding windows of a span and the share of windows meeting the thresholds."""

    window_s: float
    step_s: float
    windows: int = 0                   # windows with at least min_requests requests
    skipped: int = 0                   # windows with fewer
    worst_p95_ms: float | None = None
    worst_p95_start_s: float | None = None
    worst_error_rate: float | None = None
    worst_error_start_s: float | None = None
    worst_errors: int = 0
    worst_requests: int = 0
    p95_max_ms: float | None = None    # thresholds a compliant window meets (at most); None: not judged
    error_rate_max: float | None = None
    compliant: int | None = None       # windows meeting every given threshold; None without thresholds
    # (the highest one-sided 95 % Clopper-Pearson lower bound, the highest upper bound) of the windows' error rates:
    # every window's rate is below the second, and some window's is at least the first (at 95 % each)
    error_bounds: tuple[float, float] | None = None

    @property
    def compliant_share(self) -> float | None:
        return None if self.compliant is None or not self.windows else self.compliant / self.windows


def sliding_slo(t_s: np.ndarray, latency_ms: np.ndarray, ok: np.ndarray, start_s: float, end_s: float,
                window_s: float = 30.0, step_s: float = 1.0, p95_max_ms: float | None = None,
                error_rate_max: float | None = None, min_requests: int = MIN_SAMPLES, *, cover_end: bool = False,
                closed: bool = False, latency_counted: np.ndarray | None = None,
                min_latencies: int = 1) -> SlidingSlo:
    """Pure: every whole window [start_s + k*step_s, + window_s) inside [start_s, end_s]: worst exact P95, worst
    error rate and how many windows meet both given thresholds (at most).

    With `cover_end` a last step cut short by `end_s` counts too, so tumbling intervals (step_s == window_s)
    hold every request of the span; that short step holds a request at `end_s` when the span is `closed`. A
    tumbling interval's short last step joins the interval before it (so every interval is at least one interval
    long: a remainder of a few requests judged alone could never show an error rate small). The P95 is over the
    requests with a latency that `latency_counted` marks (default: all), and a window with fewer than
    `min_latencies` of them has none."""
    steps_per_window = window_s / step_s
    if step_s <= 0 or steps_per_window < 1 or abs(steps_per_window - round(steps_per_window)) > 1e-9:
        raise ValueError(f"window_s ({window_s:g}) must be a whole multiple of step_s ({step_s:g})")
    empty = SlidingSlo(window_s, step_s, p95_max_ms=p95_max_ms, error_rate_max=error_rate_max)
    w = int(round(steps_per_window))
    span = (end_s - start_s) / step_s
    steps = math.ceil(span) if cover_end else math.floor(span + 1e-9)
    if cover_end and w == 1 and steps >= 2 and span - (steps - 1) < 1 - 1e-9:
        steps -= 1                               # the sliver joins the last whole interval (its edge becomes end_s)
    if steps < w:
        return empty
    t = np.asarray(t_s, dtype=float)
    latency, ok = np.asarray(latency_ms), np.asarray(ok, dtype=bool)
    measured = ~np.isnan(latency) if latency.dtype.kind == "f" else np.ones(len(latency), dtype=bool)
    if latency_counted is not None:
        measured &= np.asarray(latency_counted, dtype=bool)
    if len(t) > 1 and not (np.diff(t) >= 0).all():
        order = np.argsort(t)                # the order of equal times changes no figure: no stable sort
        t, latency, ok, measured = t[order], latency[order], ok[order], measured[order]
    edges = start_s + np.arange(steps + 1) * step_s
    bounds = np.searchsorted(t, edges, "left")
    if cover_end and edges[-1] != end_s:         # the last step (short, or widened by a sliver) ends at end_s
        bounds[-1] = np.searchsorted(t, end_s, "right" if closed else "left")
    errors_before = np.concatenate(([0], np.cumsum(~ok)))
    latencies_before = np.concatenate(([0], np.cumsum(measured)))
    first, stop = bounds[:steps - w + 1], bounds[w:]
    requests, errors = stop - first, errors_before[stop] - errors_before[first]
    counted = np.flatnonzero(requests >= min_requests)
    if not len(counted):
        return SlidingSlo(window_s, step_s, 0, len(requests), p95_max_ms=p95_max_ms, error_rate_max=error_rate_max)
    enough = latencies_before[stop[counted]] - latencies_before[first[counted]] >= min_latencies
    all_measured = bool(measured.all())      # a failed probe may have no latency: P95 of the measured ones
    p95 = np.full(len(counted), math.nan)
    for i in np.flatnonzero(enough):
        inside = slice(first[counted[i]], stop[counted[i]])
        p95[i] = nearest_rank(latency[inside] if all_measured else latency[inside][measured[inside]], 95)
    rates = errors[counted] / requests[counted]
    lows, highs = clopper_pearson_arrays(errors[counted], requests[counted])
    worst_err = int(np.argmax(rates))
    worst_p95 = None if np.isnan(p95).all() else int(np.nanargmax(p95))
    compliant = None
    if p95_max_ms is not None or error_rate_max is not None:
        meets = np.ones(len(counted), dtype=bool)
        if p95_max_ms is not None:
            meets &= p95 <= p95_max_ms       # NaN (no latency) never meets it
        if error_rate_max is not None:
            meets &= rates <= error_rate_max
        compliant = int(meets.sum())
    at = start_s + counted * step_s
    return SlidingSlo(window_s, step_s, len(counted), len(requests) - len(counted),
                      None if worst_p95 is None else float(p95[worst_p95]),
                      None if worst_p95 is None else float(at[worst_p95]), float(rates[worst_err]),
                      float(at[worst_err]),
                      int(errors[counted][worst_err]), int(requests[counted][worst_err]), p95_max_ms,
                      error_rate_max, compliant, (float(lows.max()), float(highs.max())))
