"""Pure analysis of raw load samples: exact nearest-rank percentiles, per-second table, RPS, errors, drops.

How failures enter latency percentiles (docs/measurement.md): in a criterion's window (reports.findings) every
arrival counts and a failed or never-sent (dropped) one ranks above every success, as +inf
(`nearest_rank_with_failures`), so a fast failure (a 503 in 2 ms) never lowers a percentile and a drop is
charged as never served (the wrk2 model taken to its limit: it was given up, so it has no finite latency).
The per-second table and the run summary are diagnostics: their percentiles are over the successful sent
requests only, with errors and drops counted beside them; neither lets a fast failure lower a percentile."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PERCENTILES = (50, 95, 99)


def nearest_rank(values: np.ndarray, q: float) -> float:
    """Exact nearest-rank percentile: the smallest observed value with at least q % of values <= it."""
    values = np.asarray(values)
    n = len(values)
    if n == 0:
        return math.nan
    k = max(1, math.ceil(q / 100 * n))
    return float(np.partition(values, k - 1)[k - 1])


def nearest_rank_with_failures(successes: np.ndarray, failures: int, q: float) -> float:
    """Exact nearest-rank percentile of `successes` plus `failures` values ranked above all of them (+inf):
    +inf when the rank falls on a failure, NaN when there is nothing at all."""
    n_ok = len(successes)
    n = n_ok + failures
    if n == 0:
        return math.nan
    k = max(1, math.ceil(q / 100 * n))
    if k > n_ok:
        return math.inf
    return float(np.partition(np.asarray(successes), k - 1)[k - 1])


def percentile_minimum(q: float, confidence: float = 0.95) -> int:
    """Pure: the fewest samples for which a P`q` criterion is judged: the smallest n with (q/100)^n <= 1 -
    confidence, i.e. the largest of n samples is a one-sided `confidence` upper bound of the q-quantile, so
    the nearest-rank estimate sits below a bounded order statistic (P50: 5, P95: 59, P99: 299); never < 20."""
    return max(20, math.ceil(math.log(1 - confidence) / math.log(q / 100)))


def summary(samples: pd.DataFrame) -> dict:
    """Totals over the whole run: sent requests, errors, dropped, RPS, error rate, exact P50/P95/P99/max (ms)."""
    sent = samples[~samples["dropped"]]
    latencies = sent["latency_ms"].to_numpy()[sent["ok"].to_numpy(dtype=bool)]   # successes only
    n = len(sent)
    span = float((sent["t_s"] + sent["latency_ms"] / 1000).max() - sent["t_s"].min()) if n else 0.0
    errors = int((~sent["ok"]).sum())
    out = {"requests": n, "errors": errors, "dropped": int(samples["dropped"].sum()),
           "duration_s": span, "rps": n / span if span > 0 else 0.0, "error_rate": errors / n if n else 0.0}
    out.update({f"p{q}_ms": nearest_rank(latencies, q) for q in PERCENTILES})
    out["max_ms"] = float(latencies.max()) if len(latencies) else math.nan
    return out


def per_second(samples: pd.DataFrame, t0: float | None = None) -> pd.DataFrame:
    """One row per second of intended start since `t0` (default: the first sample): counts and exact percentiles."""
    if samples.empty:
        return pd.DataFrame(columns=["second", "requests", "errors", "dropped", "error_rate",
                                     *[f"p{q}_ms" for q in PERCENTILES], "max_ms"])
    start = samples["t_s"].min() if t0 is None else t0
    second = np.floor(samples["t_s"].to_numpy() - start).astype(np.int64)
    frame = samples.assign(second=second)
    rows = []
    for sec, group in frame.groupby("second", sort=True):
        sent = group[~group["dropped"]]
        latencies = sent["latency_ms"].to_numpy()[sent["ok"].to_numpy(dtype=bool)]   # successes only
        errors = int((~sent["ok"]).sum())
        row = {"second": int(sec), "requests": len(sent), "errors": errors, "dropped": int(group["dropped"].sum()),
               "error_rate": errors / len(sent) if len(sent) else 0.0}
        row.update({f"p{q}_ms": nearest_rank(latencies, q) for q in PERCENTILES})
        row["max_ms"] = float(latencies.max()) if len(latencies) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
