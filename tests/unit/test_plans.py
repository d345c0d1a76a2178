"""GameDay plans: the shipped ones load; every problem in a plan is named with its file and field, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.cli import cli
from gameday.plans import load_plan
from tests.support import plan_problems

ROOT = Path(__file__).resolve().parents[2]
PLANS = sorted((ROOT / "experiments" / "gamedays").glob("*.yaml"))
EXPERIMENT = ROOT / "experiments" / "db-writer-failover.yaml"


def _plan(tmp_path: Path, **changes) -> Path:
    doc = {"title": "T", "description": "D", "certificate": {"name": "C", "statement": "S"},
           "experiments": [{"experiment": str(EXPERIMENT)}],
           "requirements": [{"name": "write RTO", "experiment": "db-writer-failover", "metric": "rto_write_s"}]}
    doc.update(changes)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_shipped_plans_include_the_four_certificates():
    assert {p.stem for p in PLANS} >= {"performance-excellence", "scalability-ai", "disaster-recovery", "ci-gate"}


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.stem)
def test_every_shipped_plan_loads_and_each_requirement_names_one_criterion(plan):
    loaded = load_plan(plan)
    for req in loaded.plan.requirements:
        if req.is_improvement:  # judged against a baseline run, not by a criterion of the experiment
            spec = loaded.step_of(req).spec
            assert spec.gameday.vitals is not None and req.at_least_pct is not None, req
            continue
        assert loaded.criterion_for(req).metric is req.metric


def test_the_ci_gate_runs_quick_variants_only():
    assert all(step.quick for step in load_plan(ROOT / "experiments/gamedays/ci-gate.yaml").steps)


def test_force_quick_overrides_the_plan(tmp_path):
    assert all(step.quick for step in load_plan(_plan(tmp_path), force_quick=True).steps)
    assert not any(step.quick for step in load_plan(_plan(tmp_path)).steps)


def test_a_requirement_without_a_matching_criterion_is_located(tmp_path):
    path = _plan(tmp_path, requirements=[{"name": "x", "experiment": "db-writer-failover", "metric": "edge_hit_rate"}])
    problems = plan_problems(path)
    assert "no criterion" in problems["requirements.0.metric"]
    assert "rto_write_s <= 60" in problems["requirements.0.metric"]  # lists the experiment's criteria


def test_a_requirement_naming_an_experiment_not_in_the_plan_lists_the_valid_ones(tmp_path):
    path = _plan(tmp_path, requirements=[{"name": "x", "experiment": "region-failover", "metric": "rpo_s"}])
    assert "valid: db-writer-failover" in plan_problems(path)["requirements.0.experiment"]


def test_a_typo_in_a_step_lists_the_valid_fields(tmp_path):
    path = _plan(tmp_path, experiments=[{"experiment": "missing.yaml", "quik": True}])
    problems = plan_problems(path)
    assert "unknown field" in problems["experiments.0.quik"] and "quick" in problems["experiments.0.quik"]


def test_a_missing_experiment_file_is_named(tmp_path):
    path = _plan(tmp_path, experiments=[{"experiment": "missing.yaml"}])
    problems = plan_problems(path)
    assert "missing.yaml" in problems["experiments.0.experiment"]


def test_an_unknown_metric_lists_the_valid_choices(tmp_path):
    path = _plan(tmp_path, requirements=[{"name": "x", "experiment": "db-writer-failover", "metric": "rto_minutes"}])
    assert "rto_write_s" in plan_problems(path)["requirements.0.metric"]


def test_yaml_syntax_errors_carry_their_line(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("title: [unclosed\n")
    assert any(loc.startswith("line ") for loc in plan_problems(path))


def test_cli_day_of_an_invalid_plan_exits_2_names_file_and_field_and_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    path = _plan(tmp_path, requirements=[{"name": "x", "experiment": "db-writer-failover", "metric": "edge_hit_rate"}])
    result = CliRunner().invoke(cli, ["day", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output and "requirements.0.metric" in result.output
    assert not (tmp_path / "runs").exists()


def test_the_ci_workflows_run_shipped_plans_and_keep_their_evidence():
    workflows = ROOT / ".github" / "workflows"
    gate = yaml.safe_load((workflows / "pre-release-gate.yml").read_text())
    steps = gate["jobs"]["gameday-gate"]["steps"]
    commands = " ".join(s.get("run", "") for s in steps)
    assert "gameday day experiments/gamedays/ci-gate.yaml" in commands and "GITHUB_STEP_SUMMARY" in commands
    assert any(s.get("uses", "").startswith("actions/upload-artifact") and s.get("if") == "always()" for s in steps)
    weekly = yaml.safe_load((workflows / "weekly-gameday.yml").read_text())
    assert "schedule" in weekly[True]  # YAML 1.1 reads the key `on` as True
    for plan in weekly["jobs"]["gameday"]["strategy"]["matrix"]["plan"]:
        load_plan(ROOT / "experiments" / "gamedays" / f"{plan}.yaml")


def test_an_aws_gameday_needs_a_profile_and_refuses_plans_the_profile_cannot_carry_out(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    plan = str(ROOT / "experiments/gamedays/performance-excellence.yaml")
    no_profile = CliRunner().invoke(cli, ["day", plan, "--target", "aws"])
    assert no_profile.exit_code == 2 and "--profile" in no_profile.output
    profile = yaml.safe_load((ROOT / "examples/targets/staging.yaml").read_text())
    del profile["resources"]["cache"]  # cache-outage then has no AWS meaning
    no_cache = tmp_path / "no-cache.yaml"
    no_cache.write_text(yaml.safe_dump(profile))
    refused = CliRunner().invoke(cli, ["day", plan, "--target", "aws", "--profile", str(no_cache)])
    assert refused.exit_code == 2 and "cache-outage.yaml is not a valid experiment on target aws" in refused.output
    assert not (tmp_path / "runs").exists()


def test_validate_checks_a_plan_and_the_experiments_it_names_and_names_the_plans_field(tmp_path):
    good = CliRunner().invoke(cli, ["validate", str(_plan(tmp_path))])
    assert good.exit_code == 0 and good.output.endswith("plan.yaml: ok\n"), good.output
    bad = _plan(tmp_path, requirements=[{"name": "x", "experiment": "db-writer-failover", "metric": "rto_s"}])
    done = CliRunner().invoke(cli, ["validate", str(bad)])
    assert done.exit_code == 2, done.output
    assert f"{bad}: requirements.0.metric:" in done.output and "rto_write_s" in done.output
