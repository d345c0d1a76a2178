"""`--json` on every command that reports: one JSON document on stdout, progress on stderr (scripts and CI read
stdout)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gameday.cli import cli
from tests.unit.test_render import write_run

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def _json(*args: str) -> tuple[int, object, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_list_json_names_every_experiment_with_its_title():
    code, found, _ = _json("list", "--json")
    assert code == 0
    assert {"name": "region-failover", "file": "experiments/region-failover.yaml", "problem": None,
            "title": "Region failover - the primary region is lost and the secondary takes over"} in found


def test_validate_json_gives_each_file_its_problems_with_their_locations():
    good, bad = "experiments/cache-outage.yaml", str(DATA / "typo-gameday-field.yaml")
    code, found, _ = _json("validate", good, bad, "--json")
    assert code == 2
    assert found[0] == {"file": good, "ok": True, "problems": []}
    assert found[1]["ok"] is False and {"location": "extensions.0.windows.after_sec",
                                        "message": "unknown field; valid fields: baseline_s, after_s, sustain_s, "
                                                   "sustain_success_ratio, warmup_s, detection_holds"} \
        in found[1]["problems"]


def test_report_json_prints_the_summary_and_sends_progress_to_stderr(tmp_path):
    run_dir = write_run(tmp_path / "run")
    code, found, stderr = _json("report", str(run_dir), "--json")
    assert found["exit_code"] == code and found["summary"]["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
    assert found["summary"] == json.loads((run_dir / "summary.json").read_text())
    assert f"verdict: {found['summary']['verdict']}" in stderr and "reports: " in stderr  # progress: stderr


def test_a_dry_run_with_json_prints_one_document_and_no_run_directory():
    code, found, stderr = _json("run", "experiments/region-failover.yaml", "--dry-run", "--json")
    assert code == 0 and found == {"exit_code": 0, "run_dir": None, "dry_run": True, "summary": None}
    assert "dry run of experiments/region-failover.yaml" in stderr
