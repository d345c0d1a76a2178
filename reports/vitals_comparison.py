"""Pure: Core Web Vitals of one window in two runs (release against release) and the improvement verdict.

Per vital (TTFB, FCP, LCP, INP, CLS) over the successful page loads that report it, in time order:
- the Hodges-Lehmann shift NEW - BASE with its Moses interval (reports.statistics.compare_latency: page loads in
  time order are serially dependent, as requests are);
- the relative change of the typical value, NEW / BASE - 1, with its interval: the same estimator on the
  logarithms (a shift of log values is a ratio), so the interval carries the uncertainty of both sides, not only
  NEW's; it needs values > 0 (a CLS of 0 has no ratio: unknown, the shift still shows);
- improvement = - relative change: 50 % means NEW's typical value is half of BASE's;
- the P75 of each side as the vitals criteria measure it (reports.vitals: failed loads ranked above successes);
- which release is better (`better`, and one `statement` over all vitals, no verdict): the lower side where the
  shift's interval excludes 0 (lower is better for every vital).
Fewer than MIN_SAMPLES measured loads on a side, or no finite interval: the vital is unknown with why, no number.
A finite interval needs more than the minimum in practice: below 36 loads a side the serial dependence is
estimated from 3 batches or fewer (t with <= 2 df), and of two sides of 24 independent loads 17 % give none (20:
53 %; 32, 36-38 and 40-59 loads: 4 batches, none seen in 400 simulated pairs).
Page-load failures: the proportions and the one-sided bounds of their difference (bursts allowed for).
An improvement requirement PASSes only when its interval's lower bound reaches the target, FAILs when the upper
bound is below it, and is INCONCLUSIVE otherwise, or when the comparison or the baseline run is missing.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from reports.statistics import CONFIDENCE, compare_error_series, compare_latency
from reports.vitals import VITALS, in_window, vital

__all__ = ["VITALS", "compare_vitals", "improvement_verdict", "improvement_row", "markdown", "pct_text", "statement",
           "value_text"]

LABELS = {"ttfb_p75_ms": "TTFB", "fcp_p75_ms": "FCP", "lcp_p75_ms": "LCP", "inp_p75_ms": "INP", "cls_p75": "CLS"}


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _loads(records, window: dict | None) -> list[dict]:
    """The page loads whose navigation start is in [start, end) of a summary window, in time order."""
    window = window or {}
    found = in_window(list(records or ()), _epoch(window.get("start")), _epoch(window.get("end")), closed=False)
    return sorted(found, key=lambda r: r["at_s"])


def _values(loads: list[dict], field: str) -> np.ndarray:
    return np.array([r[field] for r in loads if r.get("ok") and r.get(field) is not None], dtype=float)


def _side(loads: list[dict], metric: str, values: np.ndarray) -> dict:
    found = vital(loads, metric)   # a P75 of fewer loads than the vitals criteria judge is no number
    p75 = found.p75 if found.enough and found.p75 is not None and not math.isnan(found.p75) else None
    return {"measured": int(len(values)), "median": float(np.median(values)) if len(values) else None,
            "p75": p75}    # +inf: the P75 falls on a failed load


#: Page loads a side needs before a shift is computed. The interval allows for serial dependence with batch means
#: (reports.statistics: n // ceil(n ** 0.6) batches): below 40 loads that is 2-3 batches, t on 1-2 degrees of
#: freedom, and the interval was infinite in 53 % (20 loads), 17 % (24) and 7 % (30) of simulated independent
#: pairs, 0 % from 32 up; 40 always gives >= 4 batches. (A criterion's P75 needs 20: reports.vitals.MIN_LOADS.)
COMPARE_MIN_LOADS = 40


def compare_vital(metric: str, base_loads: list[dict], new_loads: list[dict], confidence: float = CONFIDENCE) -> dict:
    """Pure: one vital of two windows' page loads (each in time order)."""
    field, what, unit = VITALS[metric]
    xs, ys = _values(base_loads, field), _values(new_loads, field)
    row = {"metric": metric, "label": LABELS[metric], "what": what, "unit": unit,
           "base": _side(base_loads, metric, xs), "new": _side(new_loads, metric, ys),
           "shift": None, "low": None, "high": None, "relative_change": None, "relative_low": None,
           "relative_high": None, "improvement_pct": None, "improvement_low_pct": None,
           "improvement_high_pct": None, "better": None, "unknown": None}
    few = [f"{name} has {len(v)} page load(s) with {field}" for name, v in (("BASE", xs), ("NEW", ys))
           if len(v) < COMPARE_MIN_LOADS]
    if few:
        return {**row, "unknown": f"{' and '.join(few)}, fewer than {COMPARE_MIN_LOADS} (too few batches to bound "
                                  "the shift's serial dependence)"}
    shift = compare_latency(xs, ys, confidence)
    low, high = _finite(shift.ci_low), _finite(shift.ci_high)
    if low is None or high is None:
        why = shift.dependence.text() if shift.dependence is not None else "serial dependence allowed for"
        return {**row, "unknown": f"too few page loads for a finite interval ({why})"}
    row = {**row, "shift": _finite(shift.shift), "low": low, "high": high,
           "better": "NEW" if high < 0 else "BASE" if low > 0 else None}   # every vital: lower is better
    if min(xs.min(), ys.min()) <= 0:
        return {**row, "unknown": f"{field} has values of 0: no ratio (the shift is shown)"}
    logs = compare_latency(np.log(xs), np.log(ys), confidence)
    ratio = [_finite(v) for v in (logs.shift, logs.ci_low, logs.ci_high)]
    if any(v is None for v in ratio):
        return {**row, "unknown": "too few page loads for a finite interval of the ratio"}
    change = [math.expm1(v) for v in ratio]
    return {**row, "relative_change": change[0], "relative_low": change[1], "relative_high": change[2],
            "improvement_pct": -100 * change[0], "improvement_low_pct": -100 * change[2],
            "improvement_high_pct": -100 * change[1]}


def compare_vitals(base: dict, new: dict, window: str, confidence: float = CONFIDENCE) -> dict:
    """Pure: `base`/`new` are {"run_id", "vitals" (vitals.jsonl records), "windows" (as summary.json has them)}."""
    loads_b, loads_n = (_loads(r["vitals"], (r.get("windows") or {}).get(window)) for r in (base, new))
    fail_b, fail_n = (np.array([not r.get("ok") for r in loads], dtype=bool) for loads in (loads_b, loads_n))
    errors = compare_error_series(fail_b, fail_n, confidence)

    def side(run: dict, loads: list[dict], failed: np.ndarray) -> dict:
        return {"run_id": run.get("run_id"), "start": run.get("start"), "loads": len(loads),
                "failed": int(failed.sum()), "failure_rate": float(failed.mean()) if len(failed) else None}

    return {"window": window, "confidence": confidence, "base": side(base, loads_b, fail_b),
            "new": side(new, loads_n, fail_n),
            "vitals": (rows := [compare_vital(m, loads_b, loads_n, confidence) for m in LABELS]),
            "statement": statement(rows, base.get("run_id"), new.get("run_id")),
            "failures": {"difference_lower": errors.diff_lower, "difference_upper": errors.diff_upper,
                         "p_higher": errors.p_higher}}


def statement(rows: list[dict], base_id: str | None, new_id: str | None) -> str:
    """Pure: which release is better in which vital, no verdict: a vital counts where its shift interval excludes 0
    (lower is better for every vital), e.g. `NEW (r2) is better in TTFB, LCP; no difference shown in INP`."""
    parts = []
    for side, run_id in (("NEW", new_id), ("BASE", base_id)):
        if found := [r["label"] for r in rows if r["better"] == side]:
            parts.append(f"{side} ({run_id}) is better in {', '.join(found)}")
    for why, found in (("no difference shown in", [r["label"] for r in rows if r["shift"] is not None
                                                    and r["better"] is None]),
                       ("unknown", [r["label"] for r in rows if r["shift"] is None])):
        if found:
            parts.append(f"{why} {', '.join(found)}")
    return "; ".join(parts)


def improvement_verdict(row: dict, at_least_pct: float) -> tuple[str, str]:
    """Pure: (verdict, evidence) of `improvement >= at_least_pct` from one vital's comparison row."""
    if row["unknown"] is not None:
        return "INCONCLUSIVE", f"{row['label']} improvement unknown: {row['unknown']}"
    low, high = row["improvement_low_pct"], row["improvement_high_pct"]
    interval = f"{pct_text(row)} ({row['base']['measured']} BASE, {row['new']['measured']} NEW page loads)"
    if low >= at_least_pct:
        return "PASS", f"{interval}: the whole interval is >= {at_least_pct:g} %"
    if high < at_least_pct:
        return "FAIL", f"{interval}: the whole interval is below {at_least_pct:g} %"
    return "INCONCLUSIVE", f"{interval}: the interval contains {at_least_pct:g} %; more page loads would decide"


def pct_text(row: dict) -> str:
    """An improvement with its interval: `+52.1 % [47.0, 57.3] %`; n/a when unknown."""
    if row.get("improvement_pct") is None:
        return "n/a"
    return f"{row['improvement_pct']:+.1f} % [{row['improvement_low_pct']:+.1f}, {row['improvement_high_pct']:+.1f}] %"


def improvement_row(req: dict, comparison: dict | None, why: str | None = None) -> dict:
    """Pure: a certificate row of an improvement requirement; `req` has name, experiment, metric, window,
    at_least_pct, link; `comparison` is compare_vitals' result (None: no comparison, `why`)."""
    target = f"improvement of {req['metric']} in {req['window']} >= {req['at_least_pct']:g} % vs the baseline"
    row = {"name": req["name"], "experiment": req["experiment"], "metric": req["metric"], "window": req["window"],
           "target": target, "at_least_pct": req["at_least_pct"], "link": req.get("link"),
           "baseline_run": None, "baseline_start": None, "baseline_source": req.get("baseline_source"),
           "new_run": None, "measured": None, "low": None, "high": None, "measured_text": "n/a",
           "verdict": "INCONCLUSIVE", "evidence": why or "no comparison"}
    if comparison is None:
        return row
    found = next(v for v in comparison["vitals"] if v["metric"] == req["metric"])
    verdict, evidence = improvement_verdict(found, req["at_least_pct"])
    return {**row, "baseline_run": comparison["base"]["run_id"], "baseline_start": comparison["base"]["start"],
            "new_run": comparison["new"]["run_id"], "measured": found["improvement_pct"],
            "low": found["improvement_low_pct"], "high": found["improvement_high_pct"],
            "measured_text": pct_text(found), "verdict": verdict,
            "evidence": f"{evidence}; baseline run {comparison['base']['run_id']} "
                        f"({row['baseline_source'] or 'given'})"}


def value_text(value: float | None, unit: str, signed: bool = False) -> str:
    """A vital for people: `1,234.5 ms`, `0.052`; n/a unknown, `failed` when a P75 falls on a failed load."""
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "failed"
    sign = "+" if signed else ""
    return f"{value:{sign},.1f} ms" if unit == "ms" else f"{value:{sign}.3g}"


def markdown(result: dict) -> str:
    """The vitals comparison as a markdown section."""
    b, n, f = result["base"], result["new"], result["failures"]
    level = f"{result['confidence'] * 100:.0f} %"
    rows = [f"## Core Web Vitals, window `{result['window']}`", "",
            f"Page loads: BASE {b['loads']} ({b['failed']} failed), NEW {n['loads']} ({n['failed']} failed); "
            f"failure rate NEW - BASE between {_pp(f['difference_lower'])} and {_pp(f['difference_upper'])} "
            f"(one-sided {level} bounds).", "", f"**{result['statement']}** ({level} intervals of the shift).", "",
            "| Vital | BASE P75 | NEW P75 | BASE loads | NEW loads | shift NEW - BASE [interval] | "
            f"improvement [{level} interval] |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for v in result["vitals"]:
        shift = ("n/a" if v["shift"] is None else
                 f"{value_text(v['shift'], v['unit'], True)} [{value_text(v['low'], v['unit'], True)}, "
                 f"{value_text(v['high'], v['unit'], True)}]")
        improvement = pct_text(v) if v["improvement_pct"] is not None else f"unknown: {v['unknown']}"
        p75 = [value_text(side["p75"], v["unit"]) for side in (v["base"], v["new"])]
        rows.append(f"| {v['label']} | {p75[0]} | {p75[1]} | {v['base']['measured']} | {v['new']['measured']} "
                    f"| {shift} | {improvement} |")
    rows += ["", "Improvement = 1 - NEW / BASE of the typical value (Hodges-Lehmann on log values; 50 % = NEW's "
                 "typical value is half of BASE's). P75: exact nearest rank, failed loads ranked above successes."]
    return "\n".join(rows) + "\n"


def _pp(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} %"
