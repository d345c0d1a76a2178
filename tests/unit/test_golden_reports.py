"""Golden tests: the Markdown a team pastes into a pull request or a CI job summary, byte for byte.

A deliberate change of a report's wording or layout is accepted by re-running with GAMEDAY_UPDATE_GOLDEN=1 and
reviewing the diff of tests/data/golden/ like any other change.
"""

from __future__ import annotations

import os
from pathlib import Path

from gameday.base.models import load_experiment
from reports.certificate import StepResult, certificate, markdown
from reports.certify import certify
from reports.findings import analyse
from reports.render import write_reports
from reports.run_files import read_run
from tests.unit.test_certificate import FACTS, P95, RTO, _crit, _summary
from tests.unit.test_render import write_run

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("GAMEDAY_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.is_file(), f"{path} is missing; create it with GAMEDAY_UPDATE_GOLDEN=1"
    expected = path.read_text()
    assert text == expected, (f"{name} differs from {path}; "
                              "if the change is intended, re-run with GAMEDAY_UPDATE_GOLDEN=1")


def test_the_run_report_markdown_matches_its_golden_file(tmp_path):
    run_dir = write_run(tmp_path / "run")
    spec = load_experiment(run_dir / "experiment.yaml").gameday
    findings = analyse(read_run(run_dir), spec)
    meta = read_run(run_dir).run
    write_reports(run_dir, findings, certify(findings, spec.criteria), meta)
    _check("report.md", (run_dir / "report.md").read_text())


def test_the_certificate_markdown_matches_its_golden_file():
    old = {"run_id": "20260101T000000Z-region-failover", "start": "2026-01-01T00:00:00Z", "verdict": "PASS",
           "rto_read_s": 1.9, "rto_write_s": 3.2, "rpo_s": 0.0, "p95_ms": 41.5, "error_rate": 0.0}
    new = {**old, "run_id": "20260108T000000Z-region-failover", "start": "2026-01-08T00:00:00Z", "rto_write_s": 9.7}
    steps = [StepResult("region-failover", False, "01-region-failover", "01-region-failover/report.html", 0,
                        _summary("PASS", [_crit("rto_write_s <= 900", 9.7, "PASS")]), (old, new), new),
             StepResult("cache-outage", True, "02-cache-outage", "02-cache-outage/report.html", 1,
                        _summary("FAIL", [_crit("p95_ms < 150 in fault", 212.4, "FAIL", "ms")]))]
    _check("certificate.md", markdown(certificate(FACTS, [RTO, P95], steps)))
