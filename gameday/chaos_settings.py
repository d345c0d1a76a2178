"""The Chaos Toolkit settings of a run: the user's own (controls such as notifications or OpenTelemetry tracing,
auths, discovery hooks) with the run's one requirement on top, rollbacks always (Chaos Toolkit's default skips
them on Ctrl-C). The user's file is `GAMEDAY_CHAOS_SETTINGS`, else Chaos Toolkit's `~/.chaostoolkit/settings.yaml`.

Settings often hold tokens: the merged file goes to a private temporary file (mode 0600) for the chaos child and is
removed after it; the run directory keeps `chaos-settings.yaml` with where they came from and which keys and
controls were merged, never their values.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from gameday.base.errors import InvalidInput

__all__ = ["merged", "user_settings", "write_for_run", "USER_SETTINGS", "RUNTIME"]

USER_SETTINGS = Path("~/.chaostoolkit/settings.yaml")
RUNTIME = {"rollbacks": {"strategy": "always"}}


def merged(user: dict | None) -> dict:
    """Pure: `user`'s settings with `runtime.rollbacks.strategy: always` (their other runtime keys kept)."""
    settings = dict(user or {})
    runtime = dict(settings.get("runtime") or {})
    runtime["rollbacks"] = {**(runtime.get("rollbacks") or {}), **RUNTIME["rollbacks"]}
    settings["runtime"] = runtime
    return settings


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"reading of Chaos Toolkit settings {path} failed: {exc}",
                           hint="fix the file, or point GAMEDAY_CHAOS_SETTINGS at another one") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"reading of Chaos Toolkit settings {path} failed: a mapping is expected, not "
                           f"{type(data).__name__}", hint="fix the file, or point GAMEDAY_CHAOS_SETTINGS elsewhere")
    return data


def user_settings(user_path: Path | None) -> tuple[Path, dict | None]:
    """The user's settings file and what it holds (None: there is none); InvalidInput for a file that was named
    but is missing, or that is not a YAML mapping. Read before anything is touched."""
    path = (user_path or USER_SETTINGS).expanduser()
    if user_path is not None and not path.is_file():
        raise InvalidInput(f"reading of Chaos Toolkit settings {path} failed: no such file",
                           hint="GAMEDAY_CHAOS_SETTINGS names the settings file to merge; unset it for the default")
    return path, _read(path) if path.is_file() else None


def write_for_run(run_dir: Path, found: tuple[Path, dict | None]) -> Path:
    """The settings file to pass to `chaos run` (private, temporary: the caller removes it) from `found`
    (`user_settings`), and the provenance note `run_dir/chaos-settings.yaml`."""
    path, user = found
    settings = merged(user)
    fd, private = tempfile.mkstemp(prefix="gameday-chaos-settings-", suffix=".yaml")
    with os.fdopen(fd, "w") as out:  # mkstemp: mode 0600, only this user reads the tokens
        yaml.safe_dump(settings, out, sort_keys=False)
    note = {"runtime": settings["runtime"], "merged_from": str(path) if user is not None else None,
            "merged_keys": sorted(k for k in (user or {}) if k != "runtime"),
            "controls": sorted((user or {}).get("controls") or {})}
    (run_dir / "chaos-settings.yaml").write_text(yaml.safe_dump(note, sort_keys=False))
    return Path(private)
