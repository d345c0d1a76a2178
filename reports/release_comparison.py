"""Release against release (`gameday compare BASE NEW`), pure: the same window of two runs compared with the
project's statistics, not two point estimates. Latency: the Hodges-Lehmann shift NEW - BASE with its Moses interval
(serial dependence allowed for, reports.statistics.compare_latency), and the relative change of the median with
the interval divided by BASE's median; errors: the difference of the error proportions with its bounds.
A dropped request is a failure; its latency is not a measurement (it never left)."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports import vitals_comparison
from reports.formatting import TEMPLATES
from reports.statistics import CONFIDENCE, compare_error_series, compare_latency

__all__ = ["window_of", "compare_releases", "markdown", "html", "RESOLUTION_MS"]

#: Latencies are stored as float32 milliseconds: a shift within this is no shift (rounding, not a release).
RESOLUTION_MS = 0.01


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def window_of(samples: pd.DataFrame, window: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Pure: (latencies in ms of the requests that were sent, failure flags of all) in `window` (summary form,
    ISO start/end), in time order."""
    if window is None or samples is None or samples.empty or not window.get("start") or not window.get("end"):
        return np.array([], dtype=float), np.array([], dtype=bool)
    inside = samples[(samples["t_s"] >= _epoch(window["start"])) & (samples["t_s"] < _epoch(window["end"]))]
    dropped = inside["dropped"].to_numpy(dtype=bool)
    failed = ~inside["ok"].to_numpy(dtype=bool) | dropped
    return inside["latency_ms"].to_numpy(dtype=float)[~dropped], failed


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def compare_releases(base: dict, new: dict, window: str, confidence: float = CONFIDENCE) -> dict:
    """Pure: `base`/`new` are {"run_id", "samples", "windows"} (windows as summary.json has them)."""
    (lat_b, fail_b), (lat_n, fail_n) = (window_of(r["samples"], r["windows"].get(window)) for r in (base, new))
    shift = compare_latency(lat_b, lat_n, confidence)
    errors = compare_error_series(fail_b, fail_n, confidence)
    median = shift.median_baseline
    relative = [None if v is None or not median else v / median for v in
                (_finite(shift.shift), _finite(shift.ci_low), _finite(shift.ci_high))]
    low, high = _finite(shift.ci_low), _finite(shift.ci_high)
    if not len(fail_b) and not len(fail_n):
        latency_verdict = "no load in either run"  # e.g. a browser-only run: its vitals are compared below
    elif low is None or high is None:
        latency_verdict = "not enough requests to compare"
    elif high < -RESOLUTION_MS:
        latency_verdict = "NEW is faster"
    elif low > RESOLUTION_MS:
        latency_verdict = "NEW is slower"
    else:
        latency_verdict = "no difference shown"
    return {"window": window, "confidence": confidence,
            "base": {"run_id": base["run_id"], "requests": int(len(fail_b)), "median_ms": median,
                     "p95_ms": float(np.percentile(lat_b, 95, method="inverted_cdf")) if len(lat_b) else None,
                     "error_rate": float(fail_b.mean()) if len(fail_b) else None},
            "new": {"run_id": new["run_id"], "requests": int(len(fail_n)), "median_ms": shift.median_window,
                    "p95_ms": float(np.percentile(lat_n, 95, method="inverted_cdf")) if len(lat_n) else None,
                    "error_rate": float(fail_n.mean()) if len(fail_n) else None},
            "latency": {"shift_ms": _finite(shift.shift), "low_ms": low, "high_ms": high,
                        "relative_change": relative[0], "relative_low": relative[1], "relative_high": relative[2],
                        "verdict": latency_verdict},
            "errors": {"difference_lower": errors.diff_lower, "difference_upper": errors.diff_upper,
                       "p_higher": errors.p_higher}}


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} ms"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} %"


def markdown(result: dict) -> str:
    """The comparison as markdown (a pull-request comment or a job summary)."""
    b, n, lat, err = result["base"], result["new"], result["latency"], result["errors"]
    level = f"{result['confidence'] * 100:.0f} %"
    rows = [f"# Release comparison, window `{result['window']}`", "",
            f"**{lat['verdict']}**: median shift {_ms(lat['shift_ms'])} "
            f"[{_ms(lat['low_ms'])}, {_ms(lat['high_ms'])}] ({level} interval), relative to BASE's median "
            f"{_pct(lat['relative_change'])} [{_pct(lat['relative_low'])}, {_pct(lat['relative_high'])}]", "",
            "| | run | requests | median | P95 | error rate |", "| --- | --- | --- | --- | --- | --- |"]
    for name, side in (("BASE", b), ("NEW", n)):
        median = "n/a" if side["median_ms"] is None else f"{side['median_ms']:.1f} ms"
        p95 = "n/a" if side["p95_ms"] is None else f"{side['p95_ms']:.1f} ms"
        rate = "n/a" if side["error_rate"] is None else f"{side['error_rate'] * 100:.2f} %"
        rows.append(f"| {name} | {side['run_id']} | {side['requests']} | {median} | {p95} | {rate} |")
    rows += ["", f"Error rate NEW - BASE: between {_pct(err['difference_lower'])} and {_pct(err['difference_upper'])} "
                 f"(one-sided {level} bounds; bursts of errors allowed for)."]
    if result.get("vitals"):  # both runs had the browser sampler (reports.vitals_comparison)
        rows += ["", vitals_comparison.markdown(result["vitals"]).rstrip("\n")]
    elif result.get("vitals_missing"):
        rows += ["", f"Core Web Vitals not compared: {result['vitals_missing']}."]
    return "\n".join(rows) + "\n"


def html(result: dict) -> str:
    """The comparison as a self-contained HTML page (inline CSS, no external asset)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, autoescape=select_autoescape(enabled_extensions=("html.j2",)))
    env.filters.update(ms=_ms, pct=_pct, value=vitals_comparison.value_text, improvement=vitals_comparison.pct_text)
    return env.get_template("comparison.html.j2").render(r=result)
