"""`gameday validate`: every problem named with its file and location; exit 0 when valid, 2 when not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.cli import cli
from gameday.validate import Problem, validate_files

DATA = Path(__file__).parent.parent / "data"
VALID = str(DATA / "valid-experiment.yaml")


def data(name: str) -> str:
    return str(DATA / name)


def write(tmp_path: Path, doc: dict, name: str = "exp.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def located(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.location, p.message) for p in problems]


def test_the_sample_experiment_is_valid():
    assert validate_files([VALID]) == []


def test_a_typo_in_the_gameday_block_and_in_an_inline_profile_are_both_located():
    problems = validate_files([data("typo-gameday-field.yaml")])
    assert {p.file for p in problems} == {data("typo-gameday-field.yaml")}
    assert set(located(problems)) == {
        ("extensions.0.windows.after_sec",
         "unknown field; valid fields: baseline_s, after_s, sustain_s, sustain_success_ratio, warmup_s, "
             "detection_holds"),
        ("extensions.0.load.profile.stages.1.duraton_s",
         "unknown field; valid fields: duration_s, users, rate_per_s, spawn_rate, mix"),
        ("extensions.0.load.profile.stages.1.duration_s", "Field required")}


def test_an_unknown_metric_lists_the_valid_ones():
    [problem] = validate_files([data("unknown-metric.yaml")])
    assert problem.location == "extensions.0.criteria.1.metric"
    assert "(got 'rto_s')" in problem.message and "'rto_write_s'" in problem.message


def test_a_yaml_syntax_error_is_located():
    assert located(validate_files([data("yaml-syntax-error.yaml")])) == [
        ("line 5, column 11", "YAML syntax error: expected ',' or '}', but got ':' (while parsing a flow mapping)")]


def test_an_inline_secret_is_a_problem_and_an_env_secret_is_not():
    [problem] = validate_files([data("inline-secret.yaml")])
    assert problem.location == "secrets.aws.aws_secret_access_key"
    assert "journal" in problem.message and "{type: env, key:" in problem.message
    assert "S3CR3T" not in problem.message


def test_chaos_toolkit_errors_name_the_activity():
    assert located(validate_files([data("missing-module.yaml")])) == [
        ("method.0", "could not find Python module 'gameday_no_such_module' in activity "
                     "'fail-a-region-that-cannot-be-imported'"),
        ("method.1", "activity 'wrong-argument': required argument 'path' is missing from activity 'exists'")]


def test_an_activity_chaoslib_cannot_inspect_is_a_problem_not_a_crash(tmp_path):
    doc = {"title": "t", "description": "d", "method": [
        {"type": "action", "name": "nap", "provider": {"type": "python", "module": "time", "func": "sleep",
                                                       "arguments": {"secs": 0}}}]}
    [problem] = validate_files([write(tmp_path, doc)])
    assert problem.location == "method.0" and problem.message.startswith("activity 'nap': ValueError: no signature")


def test_an_experiment_level_chaos_toolkit_error_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("GAMEDAY_TEST_UNSET_VARIABLE", raising=False)
    doc = {"title": "t", "description": "d", "method": [],
           "secrets": {"aws": {"key": {"type": "env", "key": "GAMEDAY_TEST_UNSET_VARIABLE"}}}}
    assert located(validate_files([write(tmp_path, doc)])) == [
        ("experiment", "Chaos Toolkit validation failed: Secrets make reference to an environment key that does "
                       "not exist: GAMEDAY_TEST_UNSET_VARIABLE")]


def test_vault_secrets_are_not_fetched(tmp_path):
    doc = {"title": "t", "description": "d", "method": [],
           "configuration": {"vault_addr": "http://127.0.0.1:9"},
           "secrets": {"db": {"password": {"type": "vault", "path": "secret/db"}}}}
    assert validate_files([write(tmp_path, doc)]) == []


def test_a_control_module_that_does_not_import_is_a_problem(tmp_path):
    doc = {"title": "t", "description": "d", "method": [],
           "controls": [{"name": "safeguards", "provider": {"type": "python", "module": "no_such.safeguards"}}]}
    [problem] = validate_files([write(tmp_path, doc)])
    assert problem.location == "controls.0" and "'no_such.safeguards' cannot be imported" in problem.message


def test_an_unknown_profile_lists_the_shipped_ones(tmp_path):
    doc = {"title": "t", "description": "d", "method": [], "extensions": [{"name": "gameday",
                                                                           "load": {"profile": "spike-100x"}}]}
    [problem] = validate_files([write(tmp_path, doc)])
    assert problem.location == "extensions.0.load.profile"
    assert "unknown load profile 'spike-100x'; valid profiles:" in problem.message and "failover" in problem.message


@pytest.mark.parametrize("name, message", [("missing.yaml", "reading of experiment failed: no such file"),
                                           ("exp.toml", "unsupported extension '.toml'; valid: .yaml, .yml, .json")])
def test_unreadable_files(tmp_path, name, message):
    (tmp_path / "exp.toml").write_text("title = 't'")
    path = str(tmp_path / name)
    assert validate_files([path]) == [Problem(path, "file", message)]


def test_cli_exits_0_and_says_ok_per_file(tmp_path):
    other = write(tmp_path, {"title": "t", "description": "d", "method": []})
    result = CliRunner().invoke(cli, ["validate", VALID, other])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{VALID}: ok", f"{other}: ok"]


def test_cli_exits_2_naming_file_location_and_message():
    result = CliRunner().invoke(cli, ["validate", VALID, data("typo-gameday-field.yaml"), data("unknown-metric.yaml")])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert (f"{data('typo-gameday-field.yaml')}: extensions.0.windows.after_sec: unknown field; valid fields: "
            "baseline_s, after_s, sustain_s, sustain_success_ratio, warmup_s, detection_holds") in lines
    assert any(line.startswith(f"{data('unknown-metric.yaml')}: extensions.0.criteria.1.metric: Input should be")
               for line in lines)
    assert f"{VALID}: ok" in lines


def test_cli_without_files_is_invalid_input():
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2 and "no file given" in result.output
