"""Blue, then green, in one GameDay: a plan runs one experiment twice under two labels, each step with its own
configuration, and an improvement requirement judges green's Core Web Vitals against blue's run of the same
GameDay; every wrong label or key is named with the plan file and its field (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from gameday.base.errors import InvalidInput
from gameday.base.settings import Settings
from gameday.baselines import explicit_baselines, improvement_rows
from gameday.cli import cli
from gameday.day import GameDay
from gameday.history import history_file, record_run
from gameday.plans import load_plan
from reports.certificate import GameDayFacts, StepResult, certificate, html, markdown
from tests.support import plan_problems, with_vitals

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "db-writer-failover.yaml"
START_S = 1796126400.0  # 2026-12-01T12:00:00Z
LCP_GREEN = {"name": "Green's LCP half of blue's", "experiment": "green", "metric": "lcp_p75_ms",
             "window": "after", "improvement_vs": "blue", "at_least_pct": 50}
RTO_GREEN = {"name": "Write RTO of green", "experiment": "green", "metric": "rto_write_s"}


def _with_vitals(tmp_path: Path) -> Path:
    """The shipped experiment with the browser sampler (`vitals:`), so its runs measure Core Web Vitals."""
    return with_vitals(EXPERIMENT, tmp_path)


def _plan(tmp_path: Path, steps: list[dict] | None = None, requirements: list[dict] | None = None) -> Path:
    experiment = str(_with_vitals(tmp_path))
    steps = steps if steps is not None else [{"label": "blue"}, {"label": "green", "configuration": {"hold_s": 20}}]
    doc = {"title": "Blue/green", "description": "D", "certificate": {"name": "C", "statement": "S"},
           "experiments": [{"experiment": experiment, **step} for step in steps],
           "requirements": requirements if requirements is not None else [RTO_GREEN, LCP_GREEN]}
    path = tmp_path / "blue-green.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


# --- the plan -----------------------------------------------------------------------------------------------------

def test_one_experiment_runs_twice_under_two_labels_each_with_its_configuration(tmp_path):
    loaded = load_plan(_plan(tmp_path))
    assert [(s.label, s.experiment.stem, s.configuration) for s in loaded.steps] == [
        ("blue", "db-writer-failover", {}), ("green", "db-writer-failover", {"hold_s": 20.0})]
    rto, lcp = loaded.plan.requirements
    assert loaded.step_of(rto).label == "green" and loaded.criterion_for(rto).metric.value == "rto_write_s"
    assert lcp.baseline_step == "blue" and loaded.step_of(lcp).label == "green"


def test_the_experiments_stem_still_names_a_step_when_one_step_runs_it(tmp_path):
    plan = _plan(tmp_path, steps=[{"label": "canary"}],
                 requirements=[{**RTO_GREEN, "experiment": "db-writer-failover"}])
    assert load_plan(plan).step_of(load_plan(plan).plan.requirements[0]).label == "canary"
    both = _plan(tmp_path, requirements=[{**RTO_GREEN, "experiment": "db-writer-failover"}])
    assert "runs in 2 steps: name one by its label; valid: blue, green" in \
        plan_problems(both)["requirements.0.experiment"]


@pytest.mark.parametrize(("steps", "field", "says"), [
    ([{}, {}], "experiments.1.label", "'db-writer-failover' is listed twice: give each step its own `label:`"),
    ([{"label": "blue"}, {"label": "blue"}], "experiments.1.label", "label 'blue' is taken by experiments.0"),
    ([{"label": "../blue"}, {"label": "green"}], "experiments.0.label", "names the run directory NN-<label>"),
    ([{"label": "blue"}, {"label": "green", "configuration": {"hold": 20}}], "experiments.1.configuration.hold",
     "not declared in the `configuration` of experiment"),
    ([{"label": "blue"}, {"label": "green", "configuration": {"hold_s": True}}], "experiments.1.configuration",
     "no number or string"),
    # the override is validated as the run will see it: the local stack has no region mars-1
    ([{"label": "blue"}, {"label": "green", "configuration": {"region": "mars-1"}}], "experiments.1.configuration",
     "with these values experiment"),
])
def test_a_wrong_step_is_named_with_its_field(tmp_path, steps, field, says):
    assert says in plan_problems(_plan(tmp_path, steps=steps))[field]


def test_an_overridden_value_the_target_refuses_is_located_in_the_experiment_too(tmp_path):
    plan = _plan(tmp_path, steps=[{"label": "blue"}, {"label": "green", "configuration": {"region": "mars-1"}}])
    problems = plan_problems(plan)
    found = [message for location, message in problems.items() if location.endswith("arguments.region")]
    assert found and "mars-1" in found[0] and "(from configuration.region)" in found[0]


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"improvement_vs": "red"}, "requirements.1.improvement_vs",
     "'red' is no step label of the plan; valid: baseline (a run from outside this GameDay), or an earlier step of "
     "the same experiment: blue"),
    ({"improvement_vs": "green"}, "requirements.1.improvement_vs", "is the requirement's own step"),
    ({"improvement_vs": "green", "experiment": "blue"}, "requirements.1.improvement_vs",
     "step 'green' does not run before step 'blue'"),
    ({"baseline": "runs/old"}, "requirements.1.baseline", "this requirement's baseline is step 'blue'"),
])
def test_a_wrong_baseline_step_exits_2_naming_the_file_and_field(tmp_path, monkeypatch, change, field, says):
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    path = _plan(tmp_path, requirements=[RTO_GREEN, {**LCP_GREEN, **change}])
    result = CliRunner().invoke(cli, ["day", str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and field in result.output and says in " ".join(result.output.split())
    assert not (tmp_path / "runs").exists()


def test_a_baseline_step_of_another_experiment_is_refused(tmp_path):
    other = ROOT / "experiments" / "cache-outage.yaml"
    plan = _plan(tmp_path, requirements=[RTO_GREEN, LCP_GREEN])
    doc = yaml.safe_load(plan.read_text())
    doc["experiments"][0]["experiment"] = str(other)
    plan.write_text(yaml.safe_dump(doc))
    problems = plan_problems(plan)
    assert "runs experiment cache-outage, not db-writer-failover" in problems["requirements.1.improvement_vs"]


def test_day_baseline_option_is_for_history_baselines_only(tmp_path):
    loaded = load_plan(_plan(tmp_path))
    blue = _run(tmp_path / "old", "r-old", _lcp(5, 60))
    with pytest.raises(InvalidInput, match="valid: none"):  # green's baseline is blue: nothing takes --baseline
        explicit_baselines(loaded, [blue])


# --- the GameDay's judgement from hand-written runs -----------------------------------------------------------------

def _lcp(seed: int, n: int) -> np.ndarray:
    """LCP of `n` page loads, ~2 s with a 10 % spread from load to load."""
    return np.random.default_rng(seed).gamma(100.0, 20.0, n)


def _records(lcp: np.ndarray, seed: int, start_s: float, span_s: float = 120.0) -> list[dict]:
    """Successful page loads as the browser sampler writes them (vitals.jsonl), evenly over `span_s`."""
    rng = np.random.default_rng(seed)
    return [{"probe": "vitals", "at_s": start_s + i * span_s / len(lcp), "url": "http://127.0.0.1/index.html",
             "ok": True, "ttfb_ms": float(rng.gamma(50.0, 1.0)), "fcp_ms": float(value) * 0.6, "lcp_ms": float(value),
             "cls": 0.0 if i % 3 else 0.05, "inp_ms": float(rng.gamma(20.0, 2.0)), "load_ms": float(value) + 100,
             "error": None} for i, value in enumerate(lcp)]


def _run(path: Path, run_id: str, lcp: np.ndarray | None, start_s: float = START_S, rto_s: float = 5.0) -> Path:
    """A finished run as `gameday run` leaves it: summary.json (with its write RTO) and, unless None, vitals."""
    path.mkdir(parents=True)
    start = np.datetime64(int(start_s), "s").astype(str) + "Z"
    end = np.datetime64(int(start_s) + 120, "s").astype(str) + "Z"
    summary = {"run_id": run_id, "experiment": "experiments/db-writer-failover.yaml", "target": "local",
               "quick": False, "start": start, "verdict": "PASS", "duration_s": 150.0, "reasons": [],
               "windows": {"after": {"start": start, "end": end}},
               "criteria": [{"name": "rto_write_s <= 60", "measured": rto_s, "verdict": "PASS", "unit": "s",
                             "evidence": f"write RTO {rto_s} s"}]}
    (path / "summary.json").write_text(json.dumps(summary))
    if lcp is not None:
        (path / "vitals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _records(lcp, 7, start_s=start_s)))
    return path


def _step(day_dir: Path, label: str, run_dir: Path | None, configuration: dict | None = None) -> StepResult:
    if run_dir is None:
        return StepResult("db-writer-failover", False, label=label, configuration=configuration or {})
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").is_file() else None
    return StepResult("db-writer-failover", False, run_dir.name, f"{run_dir.name}/report.html", 0, summary,
                      label=label, configuration=configuration or {})


def _facts() -> GameDayFacts:
    return GameDayFacts("gd-now", "blue-green", "T", "D", "C", "S", ("SRE lead",), "local", None, None)


@pytest.mark.parametrize(("factor", "verdict"), [(0.4, "PASS"), (0.9, "FAIL")])
def test_green_is_judged_against_blues_run_of_the_same_gameday_not_the_history(tmp_path, factor, verdict):
    loaded = load_plan(_plan(tmp_path))
    day_dir = tmp_path / "runs" / "gd-now"
    history = history_file(tmp_path / "runs")
    # A more recent passing run in the history with a far slower LCP: were it the baseline, green would PASS.
    older = _run(tmp_path / "runs" / "old", "r-history", _lcp(60, 60) * 5, START_S - 600)
    record_run(history, json.loads((older / "summary.json").read_text()), older, gameday_id="gd-old")
    blue = _run(day_dir / "01-blue", "r-blue", _lcp(61, 60), START_S, rto_s=30.0)
    green = _run(day_dir / "02-green", "r-green", _lcp(62, 60) * factor, START_S + 300, rto_s=4.0)
    steps = [_step(day_dir, "blue", blue), _step(day_dir, "green", green, {"hold_s": 20.0})]
    rows = improvement_rows(loaded, steps, day_dir, history, "local", "gd-now")
    assert [r["verdict"] for r in rows] == [verdict], rows[0]["evidence"]
    row = rows[0]
    assert row["baseline_step"] == "blue" and row["baseline_run"] == "r-blue" and row["new_run"] == "r-green"
    assert "step blue of this GameDay (run 01-blue)" in row["evidence"] and row["experiment"] == "green"

    requirements = GameDay(loaded, Settings())._requirements()   # the RTO requirement names step green
    doc = certificate(_facts(), requirements, steps, rows)
    assert doc["verdict"] == verdict
    assert doc["requirements"][0]["measured"] == 4.0   # green's run, not blue's (30 s)
    text = markdown(doc)
    assert "step `blue` of this GameDay: r-blue" in text and "This release against the baseline" in text
    assert "| db-writer-failover `green` (hold_s=20.0) |" in text and "| db-writer-failover `blue` |" in text
    assert "step <code>blue</code> of this GameDay" in html(doc)


@pytest.mark.parametrize(("blue", "says"), [
    ("not run", "the baseline step 'blue' did not run"),
    ("no vitals", "the baseline step 'blue' (run 01-blue) has no vitals.jsonl: it measured no vitals"),
    ("no summary", "the baseline step 'blue' wrote no summary (run 01-blue, exit code 0)"),
])
def test_without_blues_vitals_the_requirement_is_inconclusive_saying_why(tmp_path, blue, says):
    loaded = load_plan(_plan(tmp_path))
    day_dir = tmp_path / "runs" / "gd-now"
    green = _run(day_dir / "02-green", "r-green", _lcp(72, 60) * 0.1, START_S + 300)
    if blue == "not run":
        first = _step(day_dir, "blue", None)
    else:
        first_dir = _run(day_dir / "01-blue", "r-blue", None if blue == "no vitals" else _lcp(71, 60))
        if blue == "no summary":
            (first_dir / "summary.json").unlink()
        first = _step(day_dir, "blue", first_dir)
    rows = improvement_rows(loaded, [first, _step(day_dir, "green", green)], day_dir,
                            history_file(tmp_path / "runs"), "local", "gd-now")
    assert rows[0]["verdict"] == "INCONCLUSIVE" and rows[0]["evidence"] == says
    assert rows[0]["baseline_step"] == "blue"
    assert certificate(_facts(), [], [first, _step(day_dir, "green", green)], rows)["verdict"] != "PASS"
