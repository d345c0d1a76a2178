"""Pure before-vs-after comparisons of one run (fault, recovery, after vs baseline) and its sliding SLO windows.

Requests are the load arrivals when the run has any (an arrival never sent is a failed request without a
latency), else the health probes (one source for both latency and errors, unlike WindowStats which counts
both). The latency shift compares successful requests only (failures are counted by error_rate_increase, so
a fast failure cannot lower the shift); the sliding P95 ranks every failure above every success, as the
window percentiles do (reports.samples). Window membership follows reports.findings.window_stats: by
intended start, and a baseline request counts only when it also ended before the baseline's end. Sliding
windows (reports.sliding.sliding_slo, 30 s sliding by 1 s) cover every placed window, by intended start;
their compliance thresholds are the targets of the experiment's first `sliding_p95_ms` / `sliding_error_rate`
criteria with `<` or `<=` (none: compliance is not judged).

`figure` turns them into the value, confidence interval and evidence of the criterion metrics
`latency_shift_ms`, `error_rate_increase`, `sliding_p95_ms` and `sliding_error_rate` (judged in reports.certify).
Both comparisons allow for serial dependence and bursts (reports.statistics: batch-means design effects), and
`error_rate_increase` is judged by the bounds of the increase alone (a zero-error baseline gets no special
rule), so its verdict is monotone in the window's error count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from gameday.base.metrics import VS_BASELINE, Window
from reports.sliding import SlidingSlo, sliding_slo
from reports.statistics import (
    CONFIDENCE,
    MIN_SAMPLES,
    RateComparison,
    ShiftComparison,
    compare_error_series,
    compare_latency,
)

COMPARED = tuple(w.value for w in Window if w in VS_BASELINE)   # fault, recovery, after
SLIDING_WINDOW_S, SLIDING_STEP_S = 30.0, 1.0
Bounds = dict[str, tuple[float | None, float | None, bool]]   # window -> (start, end, end included)


@dataclass(frozen=True, eq=False)
class Requests:
    """Per-request arrays of one source, ordered by intended start."""

    t_s: np.ndarray
    latency_ms: np.ndarray
    ok: np.ndarray
    source: str          # "load samples" | "health probes"


@dataclass(frozen=True)
class WindowComparison:
    """One window against the baseline."""

    window: str
    latency: ShiftComparison
    errors: RateComparison


@dataclass(frozen=True)
class Comparisons:
    """Every comparison of a run; empty when there is no baseline or no request."""

    source: str | None = None
    windows: dict[str, WindowComparison] = field(default_factory=dict)   # placed windows of COMPARED
    sliding: dict[str, SlidingSlo] = field(default_factory=dict)         # every placed window


@dataclass(frozen=True)
class Figure:
    """A criterion metric's value with its confidence interval (None: judged by the value) and evidence."""

    value: float | None
    evidence: str
    interval: tuple[float, float] | None = None
    zero_baseline: bool = False       # the baseline had no error and the window has some (informational)
    significant: bool = False         # the increase's one-sided lower bound is above 0


def requests_of(health: list[dict], samples: pd.DataFrame | None) -> Requests:
    """Pure: the load arrivals (a dropped one failed, without a latency), else the health probes, in time order."""
    if samples is not None and len(samples):
        dropped = samples["dropped"].to_numpy(dtype=bool)
        t = samples["t_s"].to_numpy(dtype=float)
        latency = np.where(dropped, np.nan, samples["latency_ms"].to_numpy(dtype=float))
        ok, source = samples["ok"].to_numpy(dtype=bool) & ~dropped, "load samples"
    else:
        t = np.array([r["at_s"] for r in health], dtype=float)
        latency = np.array([r.get("latency_ms", np.nan) for r in health], dtype=float)
        ok, source = np.array([bool(r.get("ok")) for r in health], dtype=bool), "health probes"
    order = np.argsort(t, kind="stable")
    return Requests(t[order], latency[order], ok[order], source)


def _member(r: Requests, start_s: float, end_s: float, closed: bool, finished_before_end: bool) -> np.ndarray:
    member = (r.t_s >= start_s) & ((r.t_s <= end_s) if closed else (r.t_s < end_s))
    if finished_before_end:
        member &= r.t_s + np.nan_to_num(r.latency_ms.astype(float)) / 1000 < end_s
    return member


def sliding_thresholds(criteria: Sequence) -> tuple[float | None, float | None]:
    """Pure: (P95 ms, error rate) targets of the first `sliding_p95_ms` / `sliding_error_rate` `<`/`<=` criteria."""
    def first(metric: str) -> float | None:
        return next((c.target for c in criteria if str(c.metric) == metric and c.op in ("<", "<=")), None)
    return first("sliding_p95_ms"), first("sliding_error_rate")


def compare(bounds: Bounds, health: list[dict], samples: pd.DataFrame | None, criteria: Sequence = ()) -> Comparisons:
    """Pure: latency and error comparisons of fault, recovery and after vs baseline, and sliding SLO windows."""
    r = requests_of(health, samples)
    if not len(r.t_s):
        return Comparisons()
    p95_max, error_max = sliding_thresholds(criteria)
    ranked = np.where(r.ok, r.latency_ms, np.inf)          # a failure ranks above every success
    served = np.where(r.ok, r.latency_ms, np.nan)          # the shift compares successes
    sliding = {name: sliding_slo(r.t_s, ranked, r.ok, start, end, SLIDING_WINDOW_S, SLIDING_STEP_S,
                                 p95_max, error_max)
               for name, (start, end, _) in bounds.items() if start is not None and end is not None}
    base_start, base_end, base_closed = bounds.get("baseline", (None, None, False))
    if base_start is None or base_end is None:
        return Comparisons(r.source, {}, sliding)
    base = _member(r, base_start, base_end, base_closed, True)
    base_latency, base_ok = served[base], r.ok[base]
    windows = {}
    for name in COMPARED:
        start, end, closed = bounds.get(name, (None, None, False))
        if start is None or end is None:
            continue
        inside = _member(r, start, end, closed, False)
        ok = r.ok[inside]
        windows[name] = WindowComparison(
            name, compare_latency(base_latency, served[inside]),
            compare_error_series(~base_ok, ~ok))
    return Comparisons(r.source, windows, sliding)


# --- criterion figures -----------------------------------------------------------------------------------

def _clock(t_s: float | None) -> str:
    if t_s is None:
        return "n/a"
    return datetime.fromtimestamp(t_s, UTC).strftime("%H:%M:%SZ")


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.3g} %"


def figure(comparisons: Comparisons, metric: str, window: str) -> Figure:
    """Pure: the value, interval and evidence of a comparison metric (`latency_shift_ms`, `error_rate_increase`,
    `sliding_p95_ms`, `sliding_error_rate`) in `window`; value None when it cannot be measured."""
    if metric.startswith("sliding_"):
        return _sliding(comparisons, metric, window)
    if window not in COMPARED:
        return Figure(None, f"{metric} compares the {', '.join(COMPARED)} windows with the baseline, not {window}")
    c = comparisons.windows.get(window)
    if c is None:
        return Figure(None, f"no {window} window to compare with a baseline in this run (no baseline, no requests, "
                            "or the window cannot be placed)")
    if metric == "latency_shift_ms":
        return _shift(c.latency, window, comparisons.source)
    return _increase(c.errors, window, comparisons.source)


def _shift(s: ShiftComparison, window: str, source: str | None) -> Figure:
    if not s.enough:
        return Figure(None, f"only {s.n_baseline:,} baseline and {s.n_window:,} {window} latencies ({source}; "
                            f"< {MIN_SAMPLES} in a window)")
    sub = (f"; shift and interval from seeded random subsamples of {s.shift_n_baseline:,} and {s.shift_n_window:,}"
           if s.subsampled else "")
    evidence = (f"Hodges-Lehmann shift of the {window} window vs the baseline {s.shift:+.2f} ms, "
                f"{s.confidence:.0%} interval [{s.ci_low:.2f}, {s.ci_high:.2f}] ms, from {s.n_window:,} vs "
                f"{s.n_baseline:,} {source} (medians {s.median_window:.2f} vs {s.median_baseline:.2f} ms); "
                f"Mann-Whitney U = {s.u:,.1f}, p = {_p(s.p_two_sided)} two-sided, p = {_p(s.p_slower)} "
                f"that the window is slower{sub}; {_dependence(s.dependence)}")
    return Figure(s.shift, evidence, (s.ci_low, s.ci_high))


def _dependence(d) -> str:
    return "independence assumed" if d is None else d.text()


def _increase(e: RateComparison, window: str, source: str | None) -> Figure:
    if not e.enough:
        return Figure(None, f"only {e.baseline_requests:,} baseline and {e.window_requests:,} {window} requests "
                            f"({source}; < {MIN_SAMPLES} in a window)")
    test = {"fisher": "Fisher's exact test"}.get(e.test, e.test)
    evidence = (f"{e.window_errors:,} errors in {e.window_requests:,} {source} of the {window} window "
                f"({_pct(e.window_rate)}) vs {e.baseline_errors:,} in {e.baseline_requests:,} in the baseline "
                f"({_pct(e.baseline_rate)}): increase {e.diff * 100:+.3g} percentage points, one-sided "
                f"{e.confidence:.0%} bounds [{e.diff_lower * 100:+.3g}, {e.diff_upper * 100:+.3g}]; p = "
                f"{_p(e.p_higher)} that the window errs more ({test}); {_dependence(e.dependence)}; judged by "
                "the bounds")
    significant = e.diff_lower is not None and e.diff_lower > 0
    return Figure(e.diff, evidence, (e.diff_lower, e.diff_upper), e.zero_baseline, significant)


def window_bounds_text(bounds: tuple[float, float] | None, what: str = "window") -> str:
    """How a worst-window error rate is judged: by the Clopper-Pearson bounds of every `what`'s rate."""
    if bounds is None:
        return "no bounds"
    return (f"judged by one-sided {CONFIDENCE:.0%} Clopper-Pearson bounds of every {what}'s error rate: some {what} "
            f"errs at >= {bounds[0]:.4g}, none at >= {bounds[1]:.4g}")


def _sliding(comparisons: Comparisons, metric: str, window: str) -> Figure:
    s = comparisons.sliding.get(window)
    if s is None:
        return Figure(None, f"the {window} window cannot be placed in this run, or it has no requests")
    size = f"{s.window_s:g} s windows sliding by {s.step_s:g} s"
    if s.windows == 0:
        return Figure(None, f"no {size} with >= {MIN_SAMPLES} {comparisons.source} in the {window} window "
                            f"({s.skipped} with fewer; the window may be shorter than {s.window_s:g} s)")
    counted = f"{s.windows:,} {size} in the {window} window ({s.skipped:,} with < {MIN_SAMPLES} requests skipped)"
    if metric == "sliding_error_rate":
        return Figure(s.worst_error_rate, f"worst of {counted}: {s.worst_errors:,} errors in {s.worst_requests:,} "
                                          f"{comparisons.source} from {_clock(s.worst_error_start_s)}; "
                                          f"{window_bounds_text(s.error_bounds)}", s.error_bounds)
    if s.worst_p95_ms is None:
        return Figure(None, f"no latencies in {counted}")
    return Figure(s.worst_p95_ms, f"worst exact nearest-rank P95 of {counted}, {comparisons.source}: the window "
                                  f"from {_clock(s.worst_p95_start_s)}")
