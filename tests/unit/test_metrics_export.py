"""Metrics export: the headline results as Prometheus gauges pushed to a Pushgateway (an in-process receiver on
loopback, parsed with prometheus_client's own parser), the per-second figures as CloudWatch EMF, and the Grafana
dashboard queries only what is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from gameday.base.settings import Settings
from gameday.export import export_run
from reports.metrics_export import METRIC_NAMES, emf_records, headline_gauges
from tests.support import LoopbackHTTP

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = {"run_id": "20261201T120000Z-region-failover", "experiment": "experiments/region-failover.yaml",
           "target": "local", "quick": True, "verdict": "PASS", "duration_s": 61.5, "t0": "2026-12-01T12:00:20Z",
           "rto": {"read_s": 2.67, "write_s": None}, "rpo": {"s": 0.0, "writer_known": True, "lost_writes": 0},
           "criteria": [{"name": "rto_read_s <= 900", "verdict": "PASS", "measured": 2.67, "unit": "s"},
                        {"name": "p95_ms < 200 in after", "verdict": "INCONCLUSIVE", "measured": None, "unit": "ms"}]}
PER_SECOND = [{"second_since_t0": "-1", "requests": "50", "errors": "0", "dropped": "0", "p50_ms": "1.5",
               "p95_ms": "4.0", "p99_ms": "6.0"},
              {"second_since_t0": "0", "requests": "50", "errors": "12", "dropped": "3", "p50_ms": "2.0",
               "p95_ms": "900.0", "p99_ms": ""}]


class Pushgateway(LoopbackHTTP):
    """The Pushgateway stand-in: takes every push."""

    def __init__(self):
        super().__init__(lambda method, path, body: (200, {}))

    @property
    def pushes(self) -> list[tuple[str, str]]:
        return [(path, body.decode()) for method, path, body in self.requests if method == "PUT"]


def test_an_unknown_figure_is_left_out_never_exported_as_zero():
    names = [(g.name, g.labels.get("kind"), g.labels.get("criterion")) for g in headline_gauges(SUMMARY)]
    assert ("gameday_rto_seconds", "read", None) in names and ("gameday_rto_seconds", "write", None) not in names
    assert ("gameday_criterion_measured", None, "p95_ms < 200 in after") not in names
    assert ("gameday_criterion_passed", None, "p95_ms < 200 in after") in names
    unknown_rpo = {**SUMMARY, "rpo": {"s": 0.0, "writer_known": False}}
    assert "gameday_rpo_seconds" not in [g.name for g in headline_gauges(unknown_rpo)]


def test_the_headline_results_are_pushed_to_the_pushgateway_with_run_labels(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(SUMMARY))
    gateway = Pushgateway()
    try:
        done = export_run(tmp_path, Settings(prometheus_pushgateway=gateway.url), echo=lambda line: None)
    finally:
        gateway.close()
    assert done == [f"pushed {SUMMARY['run_id']} to {gateway.url}"]
    [(path, body)] = gateway.pushes
    assert path == f"/metrics/job/gameday/run/{SUMMARY['run_id']}"
    samples = {(s.name, s.labels.get("kind"), s.labels.get("criterion")): s
               for family in text_string_to_metric_families(body) for s in family.samples}
    rto = samples[("gameday_rto_seconds", "read", None)]
    assert rto.value == 2.67 and rto.labels["experiment"] == "region-failover" and rto.labels["quick"] == "true"
    assert samples[("gameday_verdict", None, None)].value == 1.0
    assert samples[("gameday_criterion_passed", None, "p95_ms < 200 in after")].value == 0.5


def test_the_per_second_figures_are_cloudwatch_emf_at_their_own_seconds():
    first, second = (json.loads(line) for line in emf_records(SUMMARY, PER_SECOND))
    assert first["_aws"]["Timestamp"] == 1796126419000 and second["_aws"]["Timestamp"] == 1796126420000
    [directive] = second["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "GameDay" and directive["Dimensions"] == [["experiment", "target"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"Requests", "Errors", "Dropped", "P50", "P95"}  # no P99
    assert (second["Errors"], second["P95"], second["experiment"], second["run"]) == (
        12.0, 900.0, "region-failover", SUMMARY["run_id"])
    assert emf_records({**SUMMARY, "t0": None}, PER_SECOND) == []


def test_the_run_is_sent_to_an_otlp_collector_with_each_second_at_its_own_time(tmp_path):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    (tmp_path / "summary.json").write_text(json.dumps({**SUMMARY, "end": "2026-12-01T12:01:00Z"}))
    (tmp_path / "per_second.csv").write_text("second_since_t0,requests,errors,dropped,p50_ms,p95_ms,p99_ms\n"
                                             + "".join(",".join(r.values()) + "\n" for r in PER_SECOND))
    collector = LoopbackHTTP(lambda method, path, body: (200, {}))
    try:
        done = export_run(tmp_path, Settings(otlp_endpoint=collector.url + "/"), echo=lambda line: None)
    finally:
        collector.close()
    assert done == [f"sent {SUMMARY['run_id']} to {collector.url}/v1/metrics (OTLP)"]
    [(method, path, body)] = collector.requests
    assert (method, path) == ("POST", "/v1/metrics")
    request = ExportMetricsServiceRequest.FromString(body)
    [resource] = request.resource_metrics
    assert {a.key: a.value.string_value for a in resource.resource.attributes} == {"service.name": "gameday-harness"}
    metrics = {m.name: m for m in resource.scope_metrics[0].metrics}
    p95 = metrics["gameday.latency.p95"]
    assert p95.unit == "ms" and [(d.time_unix_nano, d.as_double) for d in p95.gauge.data_points] == [
        (1796126419 * 10**9, 4.0), (1796126420 * 10**9, 900.0)]
    assert len(metrics["gameday.latency.p99"].gauge.data_points) == 1  # the empty cell is left out, not 0
    attributes = {a.key: a.value.string_value for a in p95.gauge.data_points[0].attributes}
    assert attributes == {"run": SUMMARY["run_id"], "experiment": "region-failover", "target": "local",
                          "quick": "true"}
    rto = list(metrics["gameday_rto_seconds"].gauge.data_points)
    assert [(d.as_double, d.time_unix_nano) for d in rto] == [(2.67, 1796126460 * 10**9)]  # at the run's end


def test_a_collector_that_does_not_answer_is_said_and_the_run_stands(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(SUMMARY))
    lines: list[str] = []
    done = export_run(tmp_path, Settings(otlp_endpoint="http://127.0.0.1:9"), echo=lines.append)
    assert done == [] and lines[0].startswith("export: OTLP to http://127.0.0.1:9/v1/metrics failed")


def test_the_grafana_dashboard_queries_only_exported_metrics():
    dashboard = json.loads((ROOT / "infra" / "grafana" / "gameday-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(gameday_[a-z_]+)\b", e)}
    assert used and used <= set(METRIC_NAMES), used - set(METRIC_NAMES)
    assert {"gameday_rto_seconds", "gameday_rpo_seconds", "gameday_verdict"} <= used
