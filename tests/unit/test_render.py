"""Run files in, reports out: read_run on a hand-written run directory, summary.json/report.md/junit.xml, the CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.base.errors import InvalidInput
from gameday.base.ledger import FaultLedger
from gameday.base.models import GameDaySpec
from gameday.cli import cli
from reports.certify import certify
from reports.findings import analyse
from reports.render import show, write_reports
from reports.run_files import read_run
from scenarios.recorder import FileSink, SampleRecorder
from tests.unit.test_findings import END, RECOVERED, START, T0, canary, health, journal, surviving, writers

CRITERIA = ["rto_read_s <= 900", "rto_write_s <= 900", "rpo_s <= 60", "split_brain_events == 0",
            "failback_ok == 1", "p95_ms < 200 in baseline", "error_rate < 0.01 in baseline", "p95_ms < 200 in after"]
SUMMARY_KEYS = {"schema", "experiment", "title", "target", "start", "end", "verdict", "criteria", "rto", "rpo",
                "fault_windows", "windows", "split_brain_events", "journal", "aborted"}


class Response:
    def __init__(self, status_code: int, region: str):
        self.status_code, self.headers = status_code, {"x-region": region}


def write_samples(directory: Path, rate: float = 20) -> int:
    """Open-model load in the recorder's own file format: 503s during the first 3 s of the fault."""
    recorder = SampleRecorder(capacity=256)
    n = round((END - START) * rate)
    for i in range(n):
        t = START + i / rate
        bad = T0 <= t < T0 + 3
        recorder.on_request("GET", "GET /items/[id]", 400.0 if bad else 8.0,
                            response=Response(503 if bad else 200, "eu-west-1"), context={"t_intended": t},
                            exception=RuntimeError("503") if bad else None, start_time=t)
    recorder.record_dropped(T0 + 1, "GET /items/[id]")
    FileSink(directory, recorder.stem).write(recorder.take(), recorder.meta())
    return n


def write_run(run_dir: Path, *, load: bool = True, criteria: list[str] = CRITERIA, aborted: dict | None = None,
              journal_doc: dict | None = None) -> Path:
    """A complete run directory as the runner writes it (the ledger through the real FaultLedger)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    experiment = {"title": "Region failover", "description": "test run",
                  "method": [{"type": "action", "name": "fail-primary-region",
                              "provider": {"type": "python", "module": "json", "func": "dumps"}}],
                  "extensions": [{"name": "gameday", "criteria": criteria, "windows": {"sustain_s": 5}}]}
    (run_dir / "experiment.yaml").write_text(yaml.safe_dump(experiment))
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": "20231114T221310Z-region-failover", "experiment": "region-failover", "title": "Region failover",
        "target": "local", "started_s": START, "ended_s": END, "quick": False, "aborted": aborted,
        "chaos_exit_code": 0}))
    records = canary()
    probes = health() + records + writers()
    (run_dir / "probes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in probes))
    times = iter([T0 - 0.01, T0, RECOVERED])
    ledger = FaultLedger(run_dir / "faults.jsonl", clock=lambda: next(times))
    fault = ledger.begin("region_outage", "eu-central-1", {"mode": "power_off"}, {"action": "restore_region"})
    ledger.injected(fault)
    ledger.recovered(fault)
    (run_dir / "journal.json").write_text(json.dumps(journal_doc or journal()))
    (run_dir / "surviving_seqs.json").write_text(json.dumps({"seqs": sorted(surviving(records)),
                                                             "writer_region": "eu-central-1"}))
    (run_dir / "remediations.jsonl").write_text(json.dumps({"kind": "promotion", "start_s": T0 + 2,
                                                            "end_s": T0 + 2.2}) + "\n")
    if load:
        write_samples(run_dir / "load" / "samples")
    return run_dir


def reports_of(run_dir: Path, spec: GameDaySpec | None = None) -> dict:
    inputs = read_run(run_dir)
    spec = spec or GameDaySpec.model_validate({"criteria": CRITERIA, "windows": {"sustain_s": 5}})
    findings = analyse(inputs, spec)
    paths = write_reports(run_dir, findings, certify(findings, spec.criteria), inputs.run)
    return {name: path.read_text() for name, path in paths.items()}


def test_read_run_parses_every_file_of_the_run(tmp_path):
    inputs = read_run(write_run(tmp_path / "run"))
    assert len(inputs.samples) == 801 and int(inputs.samples["dropped"].sum()) == 1
    assert {r["probe"] for r in inputs.probes} == {"health", "canary", "writers"}
    assert [e["event"] for e in inputs.ledger] == ["begin", "injected", "recovered"]
    assert inputs.writer_region == "eu-central-1" and len(inputs.remediations) == 1
    assert inputs.journal["status"] == "completed" and inputs.run["target"] == "local"


def test_summary_json_holds_the_documented_keys_and_no_nan(tmp_path):
    doc = json.loads(reports_of(write_run(tmp_path / "run"))["summary"],
                     parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))
    assert SUMMARY_KEYS <= doc.keys() and doc["schema"] == "gameday-summary/1"
    assert doc["verdict"] == "PASS" and doc["start"] == "2023-11-14T22:13:10.000Z"
    assert {"name", "metric", "op", "target", "unit", "window", "measured", "verdict", "evidence"} == \
        doc["criteria"][0].keys()
    assert {"read_s", "write_s", "phases", "resolution_s"} <= doc["rto"].keys()
    assert doc["rto"]["read_s"] == 3.0 and doc["rto"]["write_s"] == 4.0
    assert set(doc["rto"]["phases"]) == {"impact", "detection", "routing_switch", "promotion",
                                           "client_recovery"}
    assert {"s", "acked_writes", "lost_writes", "uncertain_writes", "resolution_s"} <= doc["rpo"].keys()
    assert doc["rpo"]["lost_writes"] == 40 and doc["rpo"]["resolution_s"] == 0.05
    assert doc["fault_windows"][0]["start"] == "2023-11-14T22:13:20.000Z"
    assert doc["fault_windows"][0]["duration_s"] == 15.0
    assert set(doc["windows"]) == {"baseline", "fault", "recovery", "after", "overall"}
    # 20 % of the fault's arrivals failed: they rank above every success, so its P95 is no served latency (null)
    assert doc["windows"]["fault"]["dropped_requests"] == 1 and doc["windows"]["fault"]["p95_ms"] is None
    assert doc["journal"]["ok"] is True and doc["aborted"] is None


def test_report_md_puts_the_verdict_first_with_criteria_error_bars_and_timeline(tmp_path):
    text = reports_of(write_run(tmp_path / "run"))["report"]
    lines = text.splitlines()
    assert lines[0] == "# GameDay report: Region failover"
    assert lines[2].startswith("**Verdict: PASS")
    assert "| rto_write_s <= 900 | rto_write_s <= 900 s | 4.00 s | **PASS** | write RTO from 600" in text
    assert "| 3.00 s | 2.90 .. 3.00 s | recovered; impact at +0.00 s |" in text
    assert "| 1.99 s | 1.99 .. 2.04 s |" in text
    assert "| region_outage | eu-central-1 | 2023-11-14 22:13:20.000Z | 2023-11-14 22:13:35.000Z | 15.00 s |" in text
    assert "| fault |" in text and "400.0 ms" in text


def test_junit_has_one_case_per_criterion_plus_the_journal(tmp_path):
    spec = GameDaySpec.model_validate({"criteria": ["rto_read_s <= 1", "p95_ms < 200 in recovery",
                                                    "dropped_requests == 0 in fault"], "windows": {"sustain_s": 5}})
    run_dir = write_run(tmp_path / "run", load=False)
    root = ET.fromstring(reports_of(run_dir, spec)["junit"].split("\n", 1)[1])
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == ["rto_read_s <= 1", "p95_ms < 200 in recovery", "dropped_requests == 0 in fault", "journal"]
    assert cases["rto_read_s <= 1"].find("failure").get("type") == "fail"
    assert cases["p95_ms < 200 in recovery"].find("failure") is None  # health-probe latency, 100 reads
    assert cases["dropped_requests == 0 in fault"].find("failure").get("type") == "inconclusive"
    assert cases["journal"].find("failure") is None
    assert root.get("tests") == "4" and root.get("failures") == "2"


def test_without_load_samples_latencies_come_from_health_probes_and_missing_figures_read_n_a(tmp_path):
    run_dir = write_run(tmp_path / "run", load=False)
    (run_dir / "surviving_seqs.json").unlink()
    reports = reports_of(run_dir)
    doc = json.loads(reports["summary"])
    assert doc["windows"]["baseline"]["latency_source"] == "health probes"
    assert doc["rpo"]["s"] is None and doc["verdict"] == "INCONCLUSIVE"
    assert "| RPO (data loss window) | n/a | n/a |" in reports["report"]


def test_show_rounds_and_writes_n_a():
    assert (show(None), show(float("nan")), show(1234.5678, 2, "ms"), show(3), show(True)) == \
        ("n/a", "n/a", "1,234.57 ms", "3", "yes")


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "run.json").unlink(), "run.json failed: no such file"),
    (lambda d: (d / "run.json").write_text("{\n  oops"), "run.json failed: JSON syntax error at line 2"),
    (lambda d: (d / "probes.jsonl").write_text('{"probe": "health"}\nnot json\n{}\n'), "probes.jsonl failed: line 2"),
    (lambda d: (d / "surviving_seqs.json").write_text('{"seqs": ["a"]}'), "surviving_seqs.json failed"),
])
def test_a_damaged_run_directory_names_the_file(tmp_path, damage, message):
    run_dir = write_run(tmp_path / "run", load=False)
    damage(run_dir)
    with pytest.raises(InvalidInput, match=message):
        read_run(run_dir)


def test_a_torn_last_probe_line_is_skipped(tmp_path):
    run_dir = write_run(tmp_path / "run", load=False)
    with open(run_dir / "probes.jsonl", "a") as f:
        f.write('{"probe": "health", "at_')
    assert len(read_run(run_dir).probes) == len(health()) + len(canary()) + len(writers())


def test_cli_report_exit_codes_and_summary(tmp_path):
    runner = CliRunner()
    passing = runner.invoke(cli, ["report", str(write_run(tmp_path / "pass"))])
    assert passing.exit_code == 0, passing.output
    assert passing.output.startswith("verdict: PASS") and "rto_write_s <= 900" in passing.output
    assert SUMMARY_KEYS <= json.loads((tmp_path / "pass" / "summary.json").read_text()).keys()
    assert (tmp_path / "pass" / "report.md").is_file() and (tmp_path / "pass" / "junit.xml").is_file()

    failing = runner.invoke(cli, ["report", str(write_run(tmp_path / "fail", criteria=["rto_write_s <= 1"]))])
    assert failing.exit_code == 1 and "FAIL" in failing.output
    bad_journal = write_run(tmp_path / "journal", journal_doc=journal(failed_rollbacks=("failback",)))
    result = runner.invoke(cli, ["report", str(bad_journal)])
    assert result.exit_code == 1 and "rollback failed: failback" in result.output
    aborted = write_run(tmp_path / "aborted", aborted={"reason": "stop condition: error_rate > 0.5", "at_s": T0 + 5})
    assert runner.invoke(cli, ["report", str(aborted)]).exit_code == 3

    missing = runner.invoke(cli, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "nope" in missing.output and "no such directory" in missing.output
    (tmp_path / "pass" / "experiment.yaml").unlink()
    no_experiment = runner.invoke(cli, ["report", str(tmp_path / "pass")])
    assert no_experiment.exit_code == 2 and "experiment.yaml" in no_experiment.output
