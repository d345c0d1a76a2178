"""Where a run came from: the harness's git commit, the experiment file's hash and the tool versions."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

TOOLS = ("gameday-harness", "chaostoolkit-lib", "chaostoolkit", "locust", "boto3", "pandas")


def git_sha(directory: Path | None = None) -> str | None:
    """The commit checked out at `directory` (default: the harness's own checkout); None outside git."""
    where = directory or Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools a run depends on (missing ones are left out)."""
    found = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def provenance(experiment: Path) -> dict:
    """The `provenance` block of run.json."""
    return {"git_sha": git_sha(), "experiment_sha256": file_sha256(experiment), "tools": tool_versions()}
