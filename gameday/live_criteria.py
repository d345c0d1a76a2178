"""Pure: each criterion's running value during a run, from the health probes only: provisional, never the verdict.

The live console (gameday.console) shows, for the criteria whose figure the health probes already give
(P50/P95/P99 latency, error rate, availability), the value over the part of the criterion's window seen so
far, against its target. The verdict after the run differs on purpose: it ranks the load samples (every
arrival, dropped ones as failures), counts load and health requests together and judges error rates by their
confidence bounds (reports.measures); these running values read the GET /health probes only. Every other
metric (RTO, RPO, lost writes, detection, scaling, dropped requests...) needs the whole run: "judged after the
run". Windows are placed as reports.findings places them, with what is known so far:

    baseline  [measured start, first fault begun)     fault  [t0, last recovery) (to now while one is open)
    after     [later of the last recovery and the `after` phase, now]      overall  [measured start, now]
    recovery, spike: placed by the RTO and the load profile after the run: judged after the run
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from gameday.base.metrics import Metric, Window
from gameday.base.models import Criterion
from reports.samples import percentile_minimum

__all__ = ["LIVE_METRICS", "SOURCE", "HealthRead", "live_windows", "running_criteria"]

#: (at_s, ok, latency_ms or None): one health probe
HealthRead = tuple[float, bool, float | None]

LIVE_METRICS = {Metric.p50_ms: 50, Metric.p95_ms: 95, Metric.p99_ms: 99, Metric.error_rate: None,
                Metric.availability: None}
SOURCE = ("provisional: the health probes (GET /health through the entry point) so far, not the load samples; "
          "the verdict is computed after the run")
WITHIN, BREACHING, NOT_YET, AFTER_RUN = "within", "breaching", "not yet measurable", "judged after the run"


def live_windows(faults: Sequence[dict], phase_started: dict[str, float], now_s: float,
                 disasters: Iterable[str] = ()) -> dict[str, tuple[float, float] | str]:
    """Pure: each window's bounds so far (start, end), or why it is not placed yet. `faults`: this run's ledger
    windows (gameday.console.run_faults: kind, begun_s, start_s, end_s); `phase_started`: when each phase began
    (the `baseline` phase starts the measured run); `disasters`: the kinds that make `t0` (gameday.base.catalogue)."""
    start = phase_started.get("baseline")
    if start is None:
        return {w.value: "the measured run has not started (warm-up)" for w in Window}
    out: dict[str, tuple[float, float] | str] = {"overall": (start, now_s)}
    placed = [f for f in faults if f.get("start_s") is not None]
    first_begun = min((f.get("begun_s") or f["start_s"] for f in placed), default=None)
    out["baseline"] = (start, min(first_begun, now_s) if first_begun is not None else now_s)
    kinds = set(disasters)
    t0_fault = next((f for f in placed if f["kind"] in kinds), placed[0] if placed else None)
    ends = [f.get("end_s") for f in placed]
    last_recovery = max(ends) if placed and None not in ends else None
    out["fault"] = ((t0_fault["start_s"], last_recovery if last_recovery is not None else now_s)
                    if t0_fault is not None else "no fault injected yet")
    after_phase = phase_started.get("after")
    if after_phase is None:
        out["after"] = "the after window has not begun"
    else:
        out["after"] = (max(after_phase, last_recovery or after_phase), now_s)
    out["recovery"] = "placed by the RTO (service recovered), known after the run"
    out["spike"] = "placed by the load profile's peak stage, known after the run"
    return out


def _nearest_rank(ok_latencies: list[float], failures: int, q: int) -> float:
    """Exact nearest-rank P`q` with each failure ranked above every success (+inf when the rank is a failure)."""
    n = len(ok_latencies) + failures
    k = max(1, math.ceil(q / 100 * n))
    return sorted(ok_latencies)[k - 1] if k <= len(ok_latencies) else math.inf


def _row(c: Criterion, state: str, value: float | None = None, note: str = "", samples: int = 0) -> dict:
    return {"name": c.name, "metric": c.metric.value, "window": c.window.value, "target": f"{c.op} {c.target:g}",
            "unit": c.unit, "value": value, "state": state, "samples": samples, "note": note}


def running_criteria(criteria: Sequence[Criterion], reads: Sequence[HealthRead],
                     windows: dict[str, tuple[float, float] | str]) -> list[dict]:
    """Pure: one row per criterion, in the experiment's order: name, target, running value (None when there is
    none), state (within | breaching | not yet measurable | judged after the run), the probes it rests on and a
    note saying why there is no value. Within/breaching compare the point value with the target (no confidence
    bound: provisional); a percentile needs the analysis' minimum of probes (reports.samples.percentile_minimum)."""
    rows = []
    for c in criteria:
        if c.metric not in LIVE_METRICS:
            rows.append(_row(c, AFTER_RUN, note="needs the whole run's evidence"))
            continue
        bounds = windows.get(c.window.value, "not placed")
        if isinstance(bounds, str):
            rows.append(_row(c, AFTER_RUN if "after the run" in bounds else NOT_YET, note=bounds))
            continue
        a, b = bounds
        inside = [r for r in reads if a <= r[0] < b or (c.window is not Window.baseline and r[0] == b)]
        failures = sum(1 for r in inside if not r[1])
        q = LIVE_METRICS[c.metric]
        if q is None:
            if not inside:
                rows.append(_row(c, NOT_YET, note="no health probe in the window yet"))
                continue
            rate = failures / len(inside)
            value = rate if c.metric is Metric.error_rate else 1 - rate
            rows.append(_row(c, WITHIN if c.holds(value) else BREACHING, value, samples=len(inside),
                             note=f"{failures} of {len(inside)} health probes failed"))
            continue
        ok = [r[2] for r in inside if r[1] and r[2] is not None]
        ranked = len(ok) + failures
        need = percentile_minimum(q)
        if ranked < need:
            rows.append(_row(c, NOT_YET, samples=ranked, note=f"{ranked} of the {need} health probes a P{q} needs"))
            continue
        value = _nearest_rank(ok, failures, q)
        note = f"exact nearest-rank P{q} of {ranked} health probes, {failures} failed (ranked slowest)"
        if value == math.inf:
            rows.append(_row(c, BREACHING if c.op in ("<", "<=", "==") else WITHIN, None, samples=ranked,
                             note=f"more than {100 - q} % of the health probes failed: the P{q} is no served latency"))
            continue
        rows.append(_row(c, WITHIN if c.holds(value) else BREACHING, value, note=note, samples=ranked))
    return rows
