"""The figures of a run as metrics other monitoring reads (pure): the headline results as labelled gauges (pushed
to a Prometheus Pushgateway, gameday.export), and the per-second figures as CloudWatch embedded metric format
(EMF) records with their own timestamps. Labels: run, experiment, target, quick."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

__all__ = ["Gauge", "headline_gauges", "emf_records", "METRIC_NAMES", "EMF_NAMESPACE"]

EMF_NAMESPACE = "GameDay"
VERDICT_VALUE = {"PASS": 1.0, "FAIL": 0.0, "INCONCLUSIVE": 0.5}
#: Every headline metric name, with its help text (the Grafana dashboard queries these).
METRIC_NAMES = {
    "gameday_verdict": "the run's verdict: 1 PASS, 0.5 INCONCLUSIVE, 0 FAIL",
    "gameday_rto_seconds": "RTO by kind (read, write); absent when not measured",
    "gameday_rpo_seconds": "RPO; absent when unknown",
    "gameday_lost_writes": "acknowledged canary writes lost",
    "gameday_criterion_passed": "1 when the criterion passed, 0.5 inconclusive, 0 failed",
    "gameday_criterion_measured": "the criterion's measured value in its unit",
    "gameday_run_duration_seconds": "how long the run took",
}


@dataclass(frozen=True)
class Gauge:
    name: str
    value: float
    labels: dict[str, str]


def run_labels(summary: dict) -> dict[str, str]:
    return {"run": str(summary.get("run_id")), "experiment": PurePath(str(summary.get("experiment"))).stem,
            "target": str(summary.get("target")), "quick": str(bool(summary.get("quick"))).lower()}


def finite_number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else None


def headline_gauges(summary: dict) -> list[Gauge]:
    """Pure: the run's headline results; a figure that is unknown is left out, never exported as 0."""
    base = run_labels(summary)
    gauges = [Gauge("gameday_verdict", VERDICT_VALUE.get(summary.get("verdict"), 0.5), base)]
    rto, rpo = summary.get("rto") or {}, summary.get("rpo") or {}
    for kind in ("read", "write"):
        if (value := finite_number(rto.get(f"{kind}_s"))) is not None:
            gauges.append(Gauge("gameday_rto_seconds", value, {**base, "kind": kind}))
    if rpo.get("writer_known", True) and (value := finite_number(rpo.get("s"))) is not None:
        gauges.append(Gauge("gameday_rpo_seconds", value, base))
    if (value := finite_number(rpo.get("lost_writes"))) is not None:
        gauges.append(Gauge("gameday_lost_writes", value, base))
    if (value := finite_number(summary.get("duration_s"))) is not None:
        gauges.append(Gauge("gameday_run_duration_seconds", value, base))
    for criterion in summary.get("criteria", []):
        labels = {**base, "criterion": criterion["name"], "unit": str(criterion.get("unit", ""))}
        gauges.append(Gauge("gameday_criterion_passed", VERDICT_VALUE.get(criterion["verdict"], 0.5), labels))
        if (value := finite_number(criterion.get("measured"))) is not None:
            gauges.append(Gauge("gameday_criterion_measured", value, labels))
    return gauges


def emf_records(summary: dict, per_second: list[dict]) -> list[str]:
    """Pure: one EMF JSON line a second of the run (requests, errors, dropped, P50/P95/P99 in ms), timestamped at
    that second (the summary's t0 + second_since_t0), dimensions experiment and target; the run id rides along as
    a property. No t0 (no fault): none."""
    if not summary.get("t0"):
        return []
    t0_s = datetime.fromisoformat(str(summary["t0"]).replace("Z", "+00:00")).timestamp()
    labels = run_labels(summary)
    metrics = [{"Name": "Requests", "Unit": "Count"}, {"Name": "Errors", "Unit": "Count"},
               {"Name": "Dropped", "Unit": "Count"}, {"Name": "P50", "Unit": "Milliseconds"},
               {"Name": "P95", "Unit": "Milliseconds"}, {"Name": "P99", "Unit": "Milliseconds"}]
    lines = []
    for row in per_second:
        values = {"Requests": row["requests"], "Errors": row["errors"], "Dropped": row["dropped"],
                  "P50": row["p50_ms"], "P95": row["p95_ms"], "P99": row["p99_ms"]}
        values = {k: n for k, v in values.items() if (n := finite_number(csv_number(v))) is not None}
        record = {"_aws": {"Timestamp": int((t0_s + int(row["second_since_t0"])) * 1000), "CloudWatchMetrics": [
            {"Namespace": EMF_NAMESPACE, "Dimensions": [["experiment", "target"]],
             "Metrics": [m for m in metrics if m["Name"] in values]}]},
                  "experiment": labels["experiment"], "target": labels["target"], "run": labels["run"], **values}
        lines.append(json.dumps(record, separators=(",", ":")))
    return lines


def csv_number(value):
    """A CSV cell as a number (an empty cell: None)."""
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else None
        except ValueError:
            return None
    return value
