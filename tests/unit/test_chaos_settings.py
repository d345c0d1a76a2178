"""gameday.chaos_settings: the user's Chaos Toolkit settings are merged into the run's, not replaced; the run's
rollback strategy wins; tokens stay out of the run directory."""

from __future__ import annotations

import stat

import pytest
import yaml

from gameday.base.errors import InvalidInput
from gameday.chaos_settings import merged, user_settings, write_for_run

USER = {"controls": {"tracing": {"provider": {"type": "python", "module": "chaostracing.control"}}},
        "auths": {"hooks.slack.com": {"type": "bearer", "value": "xoxb-SECRET"}},
        "runtime": {"hypothesis": {"strategy": "default"}, "rollbacks": {"strategy": "default"}}}


def test_the_users_settings_are_kept_and_rollbacks_always_run():
    settings = merged(USER)
    assert settings["controls"] == USER["controls"] and settings["auths"] == USER["auths"]
    assert settings["runtime"] == {"hypothesis": {"strategy": "default"}, "rollbacks": {"strategy": "always"}}
    assert merged(None) == {"runtime": {"rollbacks": {"strategy": "always"}}}


def test_the_merged_file_is_private_and_the_run_directory_keeps_no_token(tmp_path):
    user = tmp_path / "settings.yaml"
    user.write_text(yaml.safe_dump(USER))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    private = write_for_run(run_dir, user_settings(user))
    try:
        assert stat.S_IMODE(private.stat().st_mode) == 0o600 and run_dir not in private.parents
        assert yaml.safe_load(private.read_text())["auths"] == USER["auths"]
        note = (run_dir / "chaos-settings.yaml").read_text()
        assert "SECRET" not in note
        assert yaml.safe_load(note) == {"runtime": {"hypothesis": {"strategy": "default"},
                                                    "rollbacks": {"strategy": "always"}},
                                        "merged_from": str(user), "merged_keys": ["auths", "controls"],
                                        "controls": ["tracing"]}
    finally:
        private.unlink()


def test_a_named_settings_file_that_is_missing_or_not_a_mapping_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        user_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(InvalidInput, match=f"settings {bad} failed: a mapping is expected, not list"):
        user_settings(bad)


def test_a_run_with_a_bad_settings_file_exits_2_before_anything_is_touched(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gameday.cli import cli
    monkeypatch.setenv("GAMEDAY_CHAOS_SETTINGS", str(tmp_path / "missing.yaml"))
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(tmp_path / "stacks"))
    result = CliRunner().invoke(cli, ["run", "experiments/cache-outage.yaml", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "Chaos Toolkit settings" in result.output and "no such file" in result.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "stacks").exists()  # no stack started, no run dir
