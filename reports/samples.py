"""Pure analysis of raw load samples: exact nearest-rank percentiles, per-second table, RPS, errors, drops."""

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


def summary(samples: pd.DataFrame) -> dict:
    """Totals over the whole run: sent requests, errors, dropped, RPS, error rate, exact P50/P95/P99/max (ms)."""
    sent = samples[~samples["dropped"]]
    latencies = sent["latency_ms"].to_numpy()
    n = len(sent)
    span = float((sent["t_s"] + sent["latency_ms"] / 1000).max() - sent["t_s"].min()) if n else 0.0
    errors = int((~sent["ok"]).sum())
    out = {"requests": n, "errors": errors, "dropped": int(samples["dropped"].sum()),
           "duration_s": span, "rps": n / span if span > 0 else 0.0, "error_rate": errors / n if n else 0.0}
    out.update({f"p{q}_ms": nearest_rank(latencies, q) for q in PERCENTILES})
    out["max_ms"] = float(latencies.max()) if n else math.nan
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
        latencies = sent["latency_ms"].to_numpy()
        errors = int((~sent["ok"]).sum())
        row = {"second": int(sec), "requests": len(sent), "errors": errors, "dropped": int(group["dropped"].sum()),
               "error_rate": errors / len(sent) if len(sent) else 0.0}
        row.update({f"p{q}_ms": nearest_rank(latencies, q) for q in PERCENTILES})
        row["max_ms"] = float(latencies.max()) if len(sent) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
