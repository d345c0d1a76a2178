"""The command line: help for every command, exit code 2 on bad arguments, clear status when down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.cli import cli

COMMANDS = [[], ["stack"], ["stack", "up"], ["stack", "down"], ["stack", "status"], ["run"], ["day"],
            ["report"], ["validate"], ["recover"], ["list"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "gameday")
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_a_base_port_out_of_range_is_invalid_input():
    result = CliRunner().invoke(cli, ["stack", "up", "--base-port", "80"])
    assert result.exit_code == 2
    assert "--base-port" in result.output


def test_status_of_a_stack_that_is_not_running(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(tmp_path))
    result = CliRunner().invoke(cli, ["stack", "status", "--base-port", "29000"])
    assert result.exit_code == 1
    assert "not running" in result.output


def test_day_with_a_missing_plan_is_invalid_input_and_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    result = CliRunner().invoke(cli, ["day", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output and "no such file" in result.output
    assert not (tmp_path / "runs").exists()


def test_list_shows_every_experiment_with_its_title():
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0
    assert "region-failover" in result.output and "primary region is lost" in result.output


def test_list_of_an_empty_directory_is_invalid_input(tmp_path):
    result = CliRunner().invoke(cli, ["list", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "no experiment" in result.output


# --- misuse of an option: exit 2, one clear line, no traceback, nothing touched --------------------------------
ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "tests" / "data" / "valid-experiment.yaml"


def _plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({
        "title": "T", "description": "D", "certificate": {"name": "C", "statement": "S"},
        "experiments": [{"experiment": str(EXPERIMENT)}],
        "requirements": [{"name": "write RTO", "experiment": EXPERIMENT.stem, "metric": "rto_write_s"}]}))
    return path


def _refused(result, *words: str) -> str:
    """Exit 2 from a clean SystemExit, no traceback, one `error:` line naming every word."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1 and all(word in errors[0] for word in words), result.output
    return errors[0]


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """Runs and stacks under tmp_path: a refused command must leave both empty."""
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(tmp_path / "stacks"))
    return tmp_path


def _untouched(tmp_path: Path) -> None:
    assert not (tmp_path / "runs").exists()
    assert not any((tmp_path / "stacks").glob("*/state.json"))


@pytest.mark.parametrize("command", ["run", "day"])
def test_an_existing_out_directory_is_refused(isolated, command):
    out = isolated / "done-before"
    out.mkdir()
    (out / "report.md").write_text("an earlier run's evidence")
    source = str(EXPERIMENT) if command == "run" else str(_plan(isolated))
    _refused(CliRunner().invoke(cli, [command, source, "--out", str(out)]), str(out), "exists already")
    assert [p.name for p in out.iterdir()] == ["report.md"]
    _untouched(isolated)


@pytest.mark.parametrize("command", ["run", "day"])
def test_an_out_directory_that_cannot_be_made_is_refused(isolated, command):
    (isolated / "a-file").write_text("")
    out = isolated / "a-file" / "run"
    source = str(EXPERIMENT) if command == "run" else str(_plan(isolated))
    _refused(CliRunner().invoke(cli, [command, source, "--out", str(out)]), str(out), "not a directory")
    _untouched(isolated)


@pytest.mark.parametrize("command", ["run", "day", "validate", "recover"])
def test_a_missing_profile_file_is_refused(isolated, command):
    args = {"run": [str(EXPERIMENT)], "day": [str(_plan(isolated))], "validate": [str(EXPERIMENT)], "recover": []}
    result = CliRunner().invoke(cli, [command, *args[command], "--target", "aws", "--profile", "nope.yaml"])
    _refused(result, "--profile", "nope.yaml")
    _untouched(isolated)


@pytest.mark.parametrize("port", ["80", "65536", "eighty"])
@pytest.mark.parametrize("command", ["run", "day", "stack down", "recover"])
def test_a_bad_base_port_is_refused(isolated, command, port):
    args = {"run": ["run", str(EXPERIMENT)], "day": ["day", str(_plan(isolated))], "stack down": ["stack", "down"],
            "recover": ["recover"]}
    _refused(CliRunner().invoke(cli, [*args[command], "--base-port", port]), "--base-port")
    _untouched(isolated)


# --- runs cannot collide ---------------------------------------------------------------------------------------
def test_a_run_a_gameday_stack_down_and_recover_are_refused_while_a_run_holds_the_stack(isolated):
    from gameday.base.settings import Settings
    from gameday.run_lock import holding

    stack_dir = Settings().stack_dir
    with holding(stack_dir, "20250101T120000Z-region-failover"):
        for args in (["run", str(EXPERIMENT), "--out", str(isolated / "second")], ["day", str(_plan(isolated))],
                     ["stack", "down"], ["recover"]):
            line = _refused(CliRunner().invoke(cli, args), "20250101T120000Z-region-failover", "refused")
            assert f"pid {os.getpid()}" in line
        assert not (isolated / "second").exists()
        forced = CliRunner().invoke(cli, ["stack", "down", "--force"])
        assert forced.exit_code == 0 and "nothing was running" in forced.output
    _untouched(isolated)


def test_the_browser_is_found_on_path_or_as_ubuntus_snap_and_its_absence_says_what_to_install(monkeypatch, tmp_path):
    import gameday.pdf as pdf
    from gameday.base.errors import InvalidInput

    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on PATH
    monkeypatch.setattr(pdf, "SNAP_CHROMIUM", tmp_path / "absent")
    with pytest.raises(InvalidInput, match="snap install chromium"):
        pdf.browser()
    snap = tmp_path / "snap-chromium"
    snap.write_text("#!/bin/sh\n")
    snap.chmod(0o755)
    monkeypatch.setattr(pdf, "SNAP_CHROMIUM", snap)
    assert pdf.browser() == str(snap)
