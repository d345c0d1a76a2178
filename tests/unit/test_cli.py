"""The command line: help for every command, exit code 2 on bad arguments, clear status when down."""

from __future__ import annotations

import pytest
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
