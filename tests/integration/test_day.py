"""`gameday day`: a plan's experiments run in order on the local stack and the certificate states the evidence."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, WebhookSink, run_env, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.scenario]


@pytest.fixture(scope="module")
def target(stack_root: Path):
    with running_stack(stack_root, "day") as driver:
        yield driver


def _plan(tmp_path: Path) -> Path:
    doc = {"title": "Writer loss", "description": "The database writer is killed under load.",
           "certificate": {"name": "Writer Loss", "statement": "A writer loss is survived.", "sign_off": ["DBA"]},
           "quick": True,
           "experiments": [{"experiment": str(ROOT / "experiments" / "db-writer-failover.yaml")}],
           "requirements": [{"name": "Write RTO", "experiment": "db-writer-failover", "metric": "rto_write_s"},
                            {"name": "No split brain", "experiment": "db-writer-failover",
                             "metric": "split_brain_events"}]}
    path = tmp_path / "writer-loss.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _day(target, plan: Path, out: Path, *more: str, **env: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "gameday.cli", "day", str(plan), "--out", str(out),
            "--base-port", str(target.layout.router_port), *more]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=run_env(target, **env), timeout=300)


def test_a_gameday_certifies_from_its_runs_and_keeps_a_history_with_trends(target, tmp_path):
    plan = _plan(tmp_path)
    with WebhookSink() as sink:  # the team's chat hears of the start and of the verdict, once each
        first = _day(target, plan, tmp_path / "days" / "first", "--pdf", GAMEDAY_NOTIFY_WEBHOOK_URL=sink.url)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    texts = [m["text"] for m in sink.received]
    assert len(texts) == 2 and " started on target local: " in texts[0]
    assert texts[1].endswith(f": PASS; certificate: {tmp_path / 'days' / 'first' / 'certificate.html'}")
    cert = json.loads((tmp_path / "days" / "first" / "certificate.json").read_text())
    assert cert["verdict"] == "PASS" and cert["plan"] == "writer-loss"
    rto = cert["requirements"][0]
    assert rto["verdict"] == "PASS" and 0 < rto["measured"] <= 60
    report = tmp_path / "days" / "first" / rto["link"]
    assert report.is_file(), rto["link"]  # the evidence link leads to the run's report
    run_dir = report.parent
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["criteria"][0]["measured"] == rto["measured"]
    assert json.loads((run_dir / "run.json").read_text())["provenance"]["experiment_sha256"]
    assert "**Verdict: PASS" in (tmp_path / "days" / "first" / "certificate.md").read_text()
    assert "certificate.html" in first.stdout
    printed = subprocess.run(["pdftotext", "-raw", str(tmp_path / "days" / "first" / "certificate.pdf"), "-"],
                             capture_output=True, text=True, check=True).stdout
    assert "PASS" in printed and rto["name"] in " ".join(printed.split())  # the certificate, printed
    assert (run_dir / "report.pdf").read_bytes()[:5] == b"%PDF-"

    second = _day(target, plan, tmp_path / "days" / "second")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    cert = json.loads((tmp_path / "days" / "second" / "certificate.json").read_text())
    runs = cert["trends"][0]["runs"]
    assert len(runs) == 2 and [r["current"] for r in runs] == [False, True]
    with sqlite3.connect(tmp_path / "days" / "history.sqlite") as db:
        assert db.execute("SELECT count(*) FROM gamedays WHERE plan = 'writer-loss'").fetchone()[0] == 2
        assert db.execute("SELECT count(DISTINCT gameday_id) FROM runs").fetchone()[0] == 2


def test_blue_then_green_in_one_gameday_judges_green_against_blues_run(target, tmp_path):
    """A release compared with the one before it in the same GameDay: blue's page is 300 ms slower at its origin
    (ground truth), green's is not; green's LCP improvement over blue is judged by its interval, and the
    certificate names blue's run as the baseline."""
    injected_ms = 300
    experiment = str(ROOT / "tests" / "data" / "experiments" / "release-page.yaml")
    doc = {"title": "Release", "description": "Blue, then green.", "quick": False,
           "certificate": {"name": "Release", "statement": "Green's page is faster.", "sign_off": ["SRE"]},
           "experiments": [{"experiment": experiment, "label": "blue",
                            "configuration": {"release_latency_ms": injected_ms}},
                           {"experiment": experiment, "label": "green", "configuration": {"release_latency_ms": 1}}],
           "requirements": [{"name": "Green's LCP at least 50 % better than blue's", "experiment": "green",
                             "metric": "lcp_p75_ms", "window": "fault", "improvement_vs": "blue",
                             "at_least_pct": 50}]}
    plan = tmp_path / "release.yaml"
    plan.write_text(yaml.safe_dump(doc))
    out = tmp_path / "day"
    done = _day(target, plan, out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    cert = json.loads((out / "certificate.json").read_text())
    row = cert["baseline_comparisons"][0]
    assert row["verdict"] == "PASS" and row["baseline_step"] == "blue", row
    medians = {}
    for label in ("blue", "green"):
        run_dir = next(out.glob(f"*-{label}"))
        fault = json.loads((run_dir / "summary.json").read_text())["windows"]["fault"]
        loads = [json.loads(line) for line in (run_dir / "vitals.jsonl").read_text().splitlines()]
        start, end = (datetime.fromisoformat(fault[k].replace("Z", "+00:00")).timestamp() for k in ("start", "end"))
        ok = [r for r in loads if r["ok"] and start <= r["at_s"] < end]
        assert len(ok) >= 20, (label, len(ok))
        medians[label] = {k: sorted(r[k] for r in ok)[len(ok) // 2] for k in ("ttfb_ms", "lcp_ms")}
    # The document crosses the slowed link once: its first byte moves by the latency (the sampler's +-75 ms), and
    # the paint cannot come sooner than the byte (the two runs ran at different moments of a shared machine).
    assert abs(medians["blue"]["ttfb_ms"] - medians["green"]["ttfb_ms"] - injected_ms) <= 75, medians
    assert medians["blue"]["lcp_ms"] - medians["green"]["lcp_ms"] >= injected_ms - 75, medians
    assert "step `blue` of this GameDay" in (out / "certificate.md").read_text()
