"""Core Web Vitals release against release: an injected LCP difference is found with an interval that contains
it, too few page loads stay unknown, and an improvement requirement against a baseline run from the history is
PASS, FAIL or INCONCLUSIVE as its interval says (never PASS without a baseline), in the plan and the certificate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from gameday.baselines import improvement_rows
from gameday.cli import cli
from gameday.history import history_file, record_run
from gameday.plans import PlanInvalid, load_plan
from reports.certificate import GameDayFacts, StepResult, certificate, html, markdown
from reports.vitals_comparison import compare_vitals, improvement_verdict
from reports.vitals_comparison import markdown as vitals_markdown
from tests.support import with_vitals
from tests.unit.test_render import write_run

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "db-writer-failover.yaml"
START_S = 1796126400.0  # 2026-12-01T12:00:00Z
WINDOWS = {"after": {"start": "2026-12-01T12:00:00Z", "end": "2026-12-01T12:02:00Z"}}
LCP_SHAPE, LCP_SCALE = 100.0, 20.0   # LCP ~ 2 s with a 10 % spread from load to load


def _records(lcp: np.ndarray, seed: int, start_s: float = START_S, span_s: float = 120.0,
             failed: int = 0) -> list[dict]:
    """Page loads as the browser sampler writes them, evenly over `span_s`; the first `failed` loads failed."""
    rng = np.random.default_rng(seed)
    out = []
    for i, value in enumerate(lcp):
        ok = i >= failed
        ttfb = float(rng.gamma(50.0, 1.0))
        out.append({"probe": "vitals", "at_s": start_s + i * span_s / len(lcp), "url": "http://127.0.0.1/index.html",
                    "ok": ok, "ttfb_ms": ttfb if ok else None, "fcp_ms": float(value) * 0.6 if ok else None,
                    "lcp_ms": float(value) if ok else None, "cls": (0.0 if i % 3 else 0.05) if ok else None,
                    "inp_ms": float(rng.gamma(20.0, 2.0)) if ok else None,
                    "load_ms": float(value) + 100 if ok else None,
                    "error": None if ok else "net::ERR_CONNECTION_REFUSED"})
    return out


def _lcp(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).gamma(LCP_SHAPE, LCP_SCALE, n)


def _compare(base_lcp: np.ndarray, new_lcp: np.ndarray, **new_kwargs) -> dict:
    return compare_vitals({"run_id": "base", "vitals": _records(base_lcp, 1), "windows": WINDOWS},
                          {"run_id": "new", "vitals": _records(new_lcp, 2, **new_kwargs), "windows": WINDOWS}, "after")


def _lcp_row(result: dict) -> dict:
    return next(v for v in result["vitals"] if v["metric"] == "lcp_p75_ms")


def test_an_injected_300_ms_lcp_improvement_is_found_with_intervals_that_contain_it():
    result = _compare(_lcp(12, 60), _lcp(13, 60) - 300.0)   # 98 % of 300 seeds cover it (measured)
    lcp = _lcp_row(result)
    assert lcp["unknown"] is None and lcp["low"] <= -300.0 <= lcp["high"] < 0   # shift NEW - BASE
    injected_pct = 100 * 300.0 / stats.gamma(LCP_SHAPE, scale=LCP_SCALE).median()   # ~15 % of the typical LCP
    assert lcp["improvement_low_pct"] <= injected_pct <= lcp["improvement_high_pct"]
    assert lcp["improvement_low_pct"] > 0 and lcp["base"]["p75"] > lcp["new"]["p75"]
    ttfb = next(v for v in result["vitals"] if v["metric"] == "ttfb_p75_ms")   # unchanged: the interval holds 0
    assert ttfb["improvement_low_pct"] <= 0 <= ttfb["improvement_high_pct"]
    assert "| LCP |" in vitals_markdown(result)


def test_a_halved_lcp_is_a_50_percent_improvement_and_a_cls_of_zero_has_no_ratio():
    result = _compare(_lcp(20, 60), _lcp(21, 60) * 0.5)
    lcp = _lcp_row(result)
    assert lcp["improvement_low_pct"] <= 50.0 <= lcp["improvement_high_pct"]
    cls = next(v for v in result["vitals"] if v["metric"] == "cls_p75")
    assert cls["improvement_pct"] is None and "values of 0" in cls["unknown"] and cls["shift"] is not None


def test_too_few_page_loads_are_unknown_with_why_never_a_number():
    result = _compare(_lcp(30, 60), _lcp(31, 12) * 0.5)
    lcp = _lcp_row(result)
    assert lcp["improvement_pct"] is None and lcp["shift"] is None and lcp["low"] is None
    assert lcp["new"]["p75"] is None and lcp["base"]["p75"] is not None   # no P75 of 12 loads either
    assert lcp["unknown"].startswith("NEW has 12 page load(s) with lcp_ms, fewer than 40 (too few batches")
    verdict, evidence = improvement_verdict(lcp, 50.0)
    assert verdict == "INCONCLUSIVE" and "fewer than 40" in evidence
    # 39 a side: still unknown (2-3 batches would leave the interval to chance); 40: a number
    assert _lcp_row(_compare(_lcp(32, 60), _lcp(33, 39) * 0.5))["shift"] is None
    assert _lcp_row(_compare(_lcp(32, 60), _lcp(33, 40) * 0.5))["shift"] is not None


def test_failed_page_loads_are_no_measurements_and_their_proportion_is_compared():
    result = _compare(_lcp(40, 60), _lcp(41, 60), failed=30)
    assert result["new"]["failed"] == 30 and result["new"]["failure_rate"] == 0.5
    assert result["failures"]["difference_lower"] > 0   # one burst of failures: wide, still above 0
    assert _lcp_row(result)["new"]["measured"] == 30
    assert _lcp_row(result)["new"]["p75"] == float("inf")   # P75 rank falls on a failed load: no served value


@pytest.mark.parametrize(("factor", "n", "verdict"), [(0.4, 60, "PASS"), (0.9, 60, "FAIL"), (0.5, 60, "INCONCLUSIVE")])
def test_the_improvement_verdict_follows_the_interval(factor, n, verdict):
    found, evidence = improvement_verdict(_lcp_row(_compare(_lcp(50, n), _lcp(51, n) * factor)), 50.0)
    assert found == verdict, evidence


# --- the plan requirement, the GameDay history and the certificate ---------------------------------------------

def _with_vitals(tmp_path: Path) -> Path:
    """The shipped experiment with the browser sampler (`vitals:`) in its gameday block."""
    return with_vitals(EXPERIMENT, tmp_path)


def _plan(tmp_path: Path, requirement: dict, experiment: Path | None = None) -> Path:
    doc = {"title": "T", "description": "D", "certificate": {"name": "C", "statement": "S"},
           "experiments": [{"experiment": str(experiment or _with_vitals(tmp_path))}],
           "requirements": [{"name": "write RTO", "experiment": "db-writer-failover", "metric": "rto_write_s"},
                            {"name": "LCP 50 % better", "experiment": "db-writer-failover", **requirement}]}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


IMPROVEMENT = {"metric": "lcp_p75_ms", "window": "after", "improvement_vs": "baseline", "at_least_pct": 50}


def _run_dir(path: Path, run_id: str, start: str, lcp: np.ndarray, start_s: float, verdict: str = "PASS") -> Path:
    path.mkdir(parents=True)
    end = f"{start[:14]}{int(start[14:16]) + 2:02d}{start[16:]}"
    summary = {"run_id": run_id, "experiment": "experiments/db-writer-failover.yaml", "target": "local",
               "quick": False, "start": start, "verdict": verdict, "windows": {"after": {"start": start, "end": end}}}
    (path / "summary.json").write_text(json.dumps(summary))
    (path / "vitals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _records(lcp, 3, start_s=start_s)))
    return path


def _facts() -> GameDayFacts:
    return GameDayFacts("gd-now", "plan", "T", "D", "C", "S", ("SRE lead",), "local", "2026-12-01T13:00:00Z", None)


@pytest.mark.parametrize(("factor", "verdict"), [(0.4, "PASS"), (0.9, "FAIL"), (0.5, "INCONCLUSIVE")])
def test_an_improvement_requirement_is_judged_against_the_last_passing_run_in_the_history(tmp_path, factor, verdict):
    loaded = load_plan(_plan(tmp_path, IMPROVEMENT))
    history = history_file(tmp_path / "runs")
    older = _run_dir(tmp_path / "runs" / "old", "r-old", "2026-11-01T12:00:00Z", _lcp(60, 60) * 3, START_S - 30 * 86400)
    baseline = _run_dir(tmp_path / "runs" / "base", "r-base", "2026-11-20T12:00:00Z", _lcp(61, 60),
                        START_S - 11 * 86400)
    failed = _run_dir(tmp_path / "runs" / "failed", "r-failed", "2026-11-25T12:00:00Z", _lcp(62, 60) * 3,
                      START_S - 6 * 86400, verdict="FAIL")
    for run_dir in (older, baseline, failed):  # only r-base is the most recent *passing* run
        record_run(history, json.loads((run_dir / "summary.json").read_text()), run_dir, gameday_id="gd-old")
    day_dir = tmp_path / "runs" / "gd-now"
    new = _run_dir(day_dir / "01-db-writer-failover", "r-new", "2026-12-01T12:00:00Z", _lcp(63, 60) * factor, START_S)
    record_run(history, json.loads((new / "summary.json").read_text()), new, gameday_id="gd-now")
    step = StepResult("db-writer-failover", False, new.name, f"{new.name}/report.html", 0,
                      json.loads((new / "summary.json").read_text()))
    rows = improvement_rows(loaded, [step], day_dir, history, "local", "gd-now")
    assert [r["verdict"] for r in rows] == [verdict], rows[0]["evidence"]
    assert rows[0]["baseline_run"] == "r-base" and rows[0]["baseline_start"] == "2026-11-20T12:00:00Z"
    doc = certificate(_facts(), [], [step], rows)
    assert doc["verdict"] == verdict   # the experiment passed; the improvement requirement decides
    assert doc["baseline_comparisons"][0]["measured_text"] in markdown(doc)
    assert "This release against the baseline" in markdown(doc) and 'id="baseline"' in html(doc)
    assert json.loads(json.dumps(doc, allow_nan=False))["baseline_comparisons"][0]["verdict"] == verdict


def test_without_a_baseline_run_in_the_history_the_requirement_is_inconclusive_never_pass(tmp_path):
    loaded = load_plan(_plan(tmp_path, IMPROVEMENT))
    day_dir = tmp_path / "runs" / "gd-now"
    new = _run_dir(day_dir / "01-db-writer-failover", "r-new", "2026-12-01T12:00:00Z", _lcp(70, 60) * 0.1, START_S)
    step = StepResult("db-writer-failover", False, new.name, None, 0, json.loads((new / "summary.json").read_text()))
    rows = improvement_rows(loaded, [step], day_dir, history_file(tmp_path / "runs"), "local", "gd-now")
    assert rows[0]["verdict"] == "INCONCLUSIVE"
    assert "no baseline run of db-writer-failover in the history" in rows[0]["evidence"]
    assert certificate(_facts(), [], [step], rows)["verdict"] != "PASS"


def test_a_baseline_given_in_the_plan_is_used_and_checked_at_load(tmp_path):
    _run_dir(tmp_path / "runs" / "base", "r-base", "2026-11-20T12:00:00Z", _lcp(80, 60), START_S - 11 * 86400)
    loaded = load_plan(_plan(tmp_path, {**IMPROVEMENT, "baseline": "runs/base"}))
    day_dir = tmp_path / "runs" / "gd-now"
    new = _run_dir(day_dir / "01-db-writer-failover", "r-new", "2026-12-01T12:00:00Z", _lcp(81, 60) * 0.4, START_S)
    step = StepResult("db-writer-failover", False, new.name, None, 0, json.loads((new / "summary.json").read_text()))
    rows = improvement_rows(loaded, [step], day_dir, history_file(tmp_path / "runs"), "local", "gd-now")
    assert rows[0]["verdict"] == "PASS" and "given in the plan" in rows[0]["evidence"]
    with pytest.raises(PlanInvalid) as info:
        load_plan(_plan(tmp_path, {**IMPROVEMENT, "baseline": "runs/none"}))
    assert "no run directory" in {p.location: p.message for p in info.value.problems}["requirements.1.baseline"]


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"at_least_pc": 50}, "requirements.1.at_least_pc", "unknown field"),
    ({"improvement_vs": "blue"}, "requirements.1.improvement_vs", "valid: baseline"),
    ({"metric": "p95_ms"}, "requirements.1.metric", "valid: ttfb_p75_ms"),
    ({"at_least_pct": None}, "requirements.1.at_least_pct", "needs its target"),
    ({"improvement_vs": None}, "requirements.1.at_least_pct", "improvement_vs: baseline"),
])
def test_a_wrong_improvement_field_exits_2_naming_the_file_and_field(tmp_path, monkeypatch, change, field, says):
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    requirement = {k: v for k, v in {**IMPROVEMENT, **change}.items() if v is not None}
    path = _plan(tmp_path, requirement)
    result = CliRunner().invoke(cli, ["day", str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and field in result.output and says in result.output
    assert not (tmp_path / "runs").exists()


def test_an_improvement_of_an_experiment_without_the_browser_sampler_is_refused_at_load(tmp_path):
    with pytest.raises(PlanInvalid) as info:
        load_plan(_plan(tmp_path, IMPROVEMENT, experiment=EXPERIMENT))
    assert "has no `vitals:` block" in {p.location: p.message for p in info.value.problems}["requirements.1.experiment"]


def test_a_baseline_option_that_is_no_run_of_an_improvement_experiment_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    path = _plan(tmp_path, IMPROVEMENT)
    empty = CliRunner().invoke(cli, ["day", str(path), "--baseline", str(tmp_path)])
    assert empty.exit_code == 2 and "has no summary.json" in empty.output
    other = _run_dir(tmp_path / "other", "r-other", "2026-11-20T12:00:00Z", _lcp(85, 30), START_S)
    summary = json.loads((other / "summary.json").read_text())
    (other / "summary.json").write_text(json.dumps({**summary, "experiment": "region-failover"}))
    wrong = CliRunner().invoke(cli, ["day", str(path), "--baseline", str(other)])
    assert wrong.exit_code == 2 and "'region-failover'" in wrong.output and "valid: db-writer-failover" in wrong.output
    assert not (tmp_path / "runs").exists()


def test_the_compare_command_writes_an_html_report_with_the_vitals_table(tmp_path):
    base, new = write_run(tmp_path / "base"), write_run(tmp_path / "new")
    for run_dir, lcp in ((base, _lcp(90, 40)), (new, _lcp(91, 40) * 0.5)):
        assert CliRunner().invoke(cli, ["report", str(run_dir)]).exit_code in (0, 1)
        overall = json.loads((run_dir / "summary.json").read_text())["windows"]["overall"]
        start_s = np.datetime64(overall["start"].replace("Z", "")).astype("datetime64[ms]").astype(float) / 1000
        (run_dir / "vitals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in
                                                      _records(lcp, 4, start_s=start_s + 0.5, span_s=5.0)))
    page, text = tmp_path / "comparison.html", tmp_path / "comparison.md"
    result = CliRunner().invoke(cli, ["compare", str(base), str(new), "--window", "overall", "--html", str(page),
                                      "--out", str(text), "--json"])
    assert result.exit_code == 0, result.output
    lcp = _lcp_row(json.loads(result.stdout)["vitals"])
    assert lcp["improvement_low_pct"] <= 50.0 <= lcp["improvement_high_pct"]
    shown = page.read_text()
    assert shown.startswith("<!DOCTYPE html>") and 'id="vitals"' in shown and "<th title=\"largest" in shown
    assert "<link" not in shown and "<script src" not in shown        # self-contained
    assert "## Core Web Vitals, window `overall`" in text.read_text()
    (new / "vitals.jsonl").unlink()
    one_sided = CliRunner().invoke(cli, ["compare", str(base), str(new), "--window", "overall"])
    assert one_sided.exit_code == 0 and "NEW has no vitals.jsonl" in one_sided.output
    unwritable = CliRunner().invoke(cli, ["compare", str(base), str(new), "--html", str(tmp_path / "no" / "x.html")])
    assert unwritable.exit_code == 2 and "--html" in unwritable.output
