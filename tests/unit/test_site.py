"""The history site: every recorded run and GameDay with its verdict and link, trends per experiment, written as
static files (`gameday report RUNS_DIR --site OUT`) and served on loopback (`gameday ui`)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from gameday.cli import cli
from gameday.history import history_file, record_gameday, record_run
from reports.site import site_index, trend_chart
from reports.trends import FIGURES, LABELS

ROOT = Path(__file__).resolve().parents[2]


def summary(run_id: str, start: str, verdict: str, rto: float, detect: float | None = None) -> dict:
    return {"run_id": run_id, "experiment": "experiments/region-failover.yaml", "target": "local", "quick": True,
            "start": start, "verdict": verdict, "rto": {"read_s": rto, "write_s": rto + 1}, "rpo": {"s": 0.0},
            "windows": {"after": {"requests": 100, "p95_ms": 8.0, "error_rate": 0.0}},
            "detection": {"time_to_detect_s": detect}}


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return make_runs_dir(tmp_path)


def make_runs_dir(tmp_path: Path) -> Path:
    """A runs directory with three recorded runs of one experiment (PASS, FAIL, PASS) and one GameDay."""
    runs = tmp_path / "runs"
    for i, (verdict, rto) in enumerate([("PASS", 2.0), ("FAIL", 9.0), ("PASS", 2.5)]):
        run_dir = runs / f"r{i}"
        run_dir.mkdir(parents=True)
        (run_dir / "report.html").write_text(f"<html><body>report of r{i}</body></html>")
        record_run(history_file(runs), summary(f"r{i}", f"2026-12-0{i + 1}T00:00:00Z", verdict, rto, 4.0 + i),
                   run_dir)
    certificate = runs / "day" / "certificate.html"
    certificate.parent.mkdir()
    certificate.write_text("<html>certificate</html>")
    record_gameday(history_file(runs), "g1", "ci-gate", "local", "2026-12-03T00:00:00Z", "PASS", certificate)
    return runs


def test_the_index_lists_every_run_newest_first_with_its_verdict_figures_and_link():
    runs = [{"run_id": "a", "experiment": "x", "target": "local", "quick": False, "start": "1", "verdict": "PASS",
             "link": "runs/a/report.html", **dict.fromkeys(FIGURES, 1.5)},
            {"run_id": "b", "experiment": "x", "target": "local", "quick": False, "start": "2", "verdict": "FAIL",
             "link": None, **dict.fromkeys(FIGURES)}]
    html = site_index(runs, [], {f: LABELS[f] for f in FIGURES}, "now")
    rows = re.findall(r"<tr><td>(\d)</td>", html)
    assert rows == ["2", "1"]
    assert 'href="runs/a/report.html"' in html and "not found" in html
    assert html.count('<img class="trend"') == 1 and "Time to detect (s)" in html


def test_no_figure_no_chart():
    assert trend_chart([{"verdict": "PASS", "rto_read_s": None}], {"rto_read_s": "RTO"}) is None


def test_report_site_writes_a_static_site_with_the_reports_and_certificates_copied(runs_dir, tmp_path):
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["report", str(runs_dir), "--site", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    index = (out / "index.html").read_text()
    assert all(f'href="runs/r{i}/report.html"' in index for i in range(3))
    assert (out / "runs" / "r1" / "report.html").read_text() == "<html><body>report of r1</body></html>"
    assert 'href="gamedays/g1/certificate.html"' in index and (out / "gamedays" / "g1" / "certificate.html").is_file()


def test_a_runs_directory_without_history_is_refused_with_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path), "--site", str(tmp_path / "site")])
    assert result.exit_code == 2 and "no history database" in result.output


def test_gameday_ui_serves_the_site_on_loopback(runs_dir):
    proc = subprocess.Popen([sys.executable, "-m", "gameday.cli", "ui", str(runs_dir)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "gameday ui ended"
            if line.startswith("history: "):
                url = line.split()[1]
        assert url and url.startswith("http://127.0.0.1:")
        assert "GameDay history" in httpx.get(url).text
        assert httpx.get(url + "runs/r2/report.html").text == "<html><body>report of r2</body></html>"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
