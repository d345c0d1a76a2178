"""The figures of a run as OpenTelemetry metrics (pure): one OTLP ExportMetricsServiceRequest (protobuf) holding
the headline results (reports.metrics_export.headline_gauges) as gauges at the run's end, and the per-second
figures (requests, errors, dropped, P50/P95/P99) as gauges with one data point a second at that second's own time,
so a collector gets the run's timeline, not the moment it was sent. Attributes: run, experiment, target, quick
(and the headline gauges' own labels); resource `service.name` gameday-harness."""

from __future__ import annotations

from datetime import datetime

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from reports.metrics_export import METRIC_NAMES, csv_number, finite_number, headline_gauges, run_labels

__all__ = ["otlp_request", "PER_SECOND", "SERVICE_NAME"]

SERVICE_NAME = "gameday-harness"
#: per_second.csv column -> (metric name, unit, description)
PER_SECOND = {"requests": ("gameday.requests", "{request}", "requests in the second (load and health probes)"),
              "errors": ("gameday.errors", "{request}", "failed requests in the second"),
              "dropped": ("gameday.dropped", "{request}", "open-model arrivals never sent in the second"),
              "p50_ms": ("gameday.latency.p50", "ms", "exact P50 of the second's requests"),
              "p95_ms": ("gameday.latency.p95", "ms", "exact P95 of the second's requests"),
              "p99_ms": ("gameday.latency.p99", "ms", "exact P99 of the second's requests")}


def _attributes(labels: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=str(v))) for k, v in sorted(labels.items())]


def _epoch(text: str | None) -> float | None:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() if text else None


def otlp_request(summary: dict, per_second: list[dict]) -> ExportMetricsServiceRequest:
    """Pure: the run's metrics as one OTLP request (serialise with `.SerializeToString()`)."""
    labels = run_labels(summary)
    end_s = _epoch(summary.get("end")) or _epoch(summary.get("start")) or 0.0
    metrics: dict[str, Metric] = {}
    for g in headline_gauges(summary):
        metric = metrics.setdefault(g.name, Metric(name=g.name, description=METRIC_NAMES[g.name], gauge=Gauge()))
        metric.gauge.data_points.append(NumberDataPoint(time_unix_nano=int(end_s * 1e9), as_double=g.value,
                                                        attributes=_attributes(g.labels)))
    t0_s = _epoch(summary.get("t0"))
    for column, (name, unit, description) in PER_SECOND.items() if t0_s is not None else ():
        metric = Metric(name=name, unit=unit, description=description, gauge=Gauge())
        for row in per_second:
            value = finite_number(csv_number(row.get(column)))
            if value is not None:
                at = t0_s + int(row["second_since_t0"])
                metric.gauge.data_points.append(NumberDataPoint(time_unix_nano=int(at * 1e9), as_double=value,
                                                                attributes=_attributes(labels)))
        if metric.gauge.data_points:
            metrics[name] = metric
    scope = ScopeMetrics(scope=InstrumentationScope(name="gameday"), metrics=list(metrics.values()))
    resource = Resource(attributes=_attributes({"service.name": SERVICE_NAME}))
    return ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[scope])])
