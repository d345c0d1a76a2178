"""Settings from `gameday.toml` and `[tool.gameday]` in `pyproject.toml` (the working directory), beside the
GAMEDAY_* environment, which wins; a bad value exits 2 naming the field."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gameday.base.settings import Settings
from gameday.cli import cli


def test_gameday_toml_then_pyproject_then_defaults_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("GAMEDAY_RUNS_DIR", "GAMEDAY_MIN_FREE_MB", "GAMEDAY_MAX_REPLAY_AGE_S"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.gameday]\nruns_dir = "from-pyproject"\n'
                                             'min_free_mb = 256\nmax_replay_age_s = 60\n')
    assert (Settings().runs_dir, Settings().min_free_mb) == (Path("from-pyproject"), 256)
    (tmp_path / "gameday.toml").write_text('runs_dir = "from-gameday-toml"\n')
    settings = Settings()
    assert (settings.runs_dir, settings.min_free_mb, settings.max_replay_age_s) == (Path("from-gameday-toml"), 256, 60)
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", "from-env")
    assert Settings().runs_dir == Path("from-env")


def test_a_bad_value_in_a_settings_file_exits_2_naming_the_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gameday.toml").write_text("min_free_mb = -5\n")
    result = CliRunner().invoke(cli, ["recover"])
    assert result.exit_code == 2
    assert "reading of settings failed: min_free_mb: Input should be greater than or equal to 0 (got -5)" in \
        result.output


def test_a_child_process_sees_the_settings_its_parent_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAMEDAY_MIN_FREE_MB", raising=False)
    (tmp_path / "gameday.toml").write_text("min_free_mb = 512\ndetection_holds = false\n")
    parent = Settings()
    monkeypatch.chdir("/")  # the child runs elsewhere (the runner starts its children in the project root)
    for key, value in parent.as_env().items():
        monkeypatch.setenv(key, value)
    assert Settings() == parent and Settings().min_free_mb == 512 and Settings().detection_holds is False
