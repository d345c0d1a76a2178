"""Metrics export after a run's analysis (reports.metrics_export builds them): the headline results pushed to a
Prometheus Pushgateway (`GAMEDAY_PROMETHEUS_PUSHGATEWAY`, e.g. http://pushgateway:9091; job `gameday`, grouped by
run), the headline results and the per-second figures to an OpenTelemetry collector (`GAMEDAY_OTLP_ENDPOINT`, e.g.
http://collector:4318: OTLP/HTTP protobuf, each second at its own time), and the per-second figures as CloudWatch
embedded metric format (`GAMEDAY_EXPORT_EMF=1`: `metrics.emf.jsonl` in the run directory, for the CloudWatch agent
or a log shipper). A failed export is said, never fatal."""

from __future__ import annotations

import csv
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

from gameday.base.settings import Settings
from reports.metrics_export import METRIC_NAMES, emf_records, headline_gauges
from reports.metrics_otlp import otlp_request

__all__ = ["export_run"]


def export_run(run_dir: Path, settings: Settings, echo: Callable[[str], None] = print) -> list[str]:
    """Export what the settings ask for; what was exported, one line each."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file() or not (settings.prometheus_pushgateway or settings.export_emf
                                          or settings.otlp_endpoint):
        return []
    summary, done = json.loads(summary_path.read_text()), []
    if settings.prometheus_pushgateway:
        try:
            _push(settings.prometheus_pushgateway, summary)
            done.append(f"pushed {summary.get('run_id')} to {settings.prometheus_pushgateway}")
        except OSError as exc:  # urllib's errors are OSErrors: the run's result stands
            echo(f"export: push to {settings.prometheus_pushgateway} failed: {exc}")
    per_second = run_dir / "per_second.csv"
    rows = list(csv.DictReader(per_second.open())) if per_second.is_file() else []
    if settings.otlp_endpoint:
        url = settings.otlp_endpoint.rstrip("/") + "/v1/metrics"
        try:
            _send_otlp(url, otlp_request(summary, rows).SerializeToString())
            done.append(f"sent {summary.get('run_id')} to {url} (OTLP)")
        except OSError as exc:
            echo(f"export: OTLP to {url} failed: {exc}")
    if settings.export_emf:
        (run_dir / "metrics.emf.jsonl").write_text("".join(line + "\n" for line in emf_records(summary, rows)))
        done.append(f"wrote {run_dir / 'metrics.emf.jsonl'}")
    for line in done:
        echo(f"export: {line}")
    return done


def _send_otlp(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def _push(url: str, summary: dict) -> None:
    from prometheus_client import CollectorRegistry, push_to_gateway
    from prometheus_client import Gauge as PromGauge

    registry = CollectorRegistry()
    gauges = headline_gauges(summary)
    families: dict[str, PromGauge] = {}
    for g in gauges:
        if g.name not in families:
            families[g.name] = PromGauge(g.name, METRIC_NAMES[g.name], sorted(g.labels), registry=registry)
        families[g.name].labels(**g.labels).set(g.value)
    push_to_gateway(url, job="gameday", grouping_key={"run": str(summary.get("run_id"))}, registry=registry,
                    timeout=10)
