"""Where a run or a GameDay writes (`--out`, else a new directory under the runs directory): checked before anything
is touched, so a misused option ends with exit code 2 and one clear line, never a traceback half-way through."""

from __future__ import annotations

import os
from pathlib import Path

from gameday.base.errors import InvalidInput
from gameday.disk_guard import disk_problem

__all__ = ["check_out"]


def check_out(out: Path | None, runs_dir: Path, what: str, min_free_mb: float = 0.0) -> None:
    """InvalidInput when `out` exists already or cannot be made, or (without `out`) when no directory can be made
    in `runs_dir`: a file in the way, no permission to write (as root: a read-only file system), or less than
    `min_free_mb` free on its file system."""
    if out is not None and out.exists():
        raise InvalidInput(f"{what} {out} exists already; a run never writes over another",
                           hint="choose a new --out, or remove that directory")
    shown, wanted = (out, out) if out is not None else (runs_dir, runs_dir / "new")
    existing = wanted.absolute().parent
    while not existing.is_dir():
        if existing.exists() or existing.parent == existing:
            raise InvalidInput(f"{what} {shown} cannot be made: {existing} is not a directory",
                               hint="choose another --out (or GAMEDAY_RUNS_DIR)")
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInput(f"{what} {shown} cannot be made: {existing} is not writable",
                           hint="choose another --out (or GAMEDAY_RUNS_DIR)")
    if problem := disk_problem(existing, min_free_mb):
        raise InvalidInput(f"{what} {shown} refused: {problem}",
                           hint="free some space, or choose another --out (or GAMEDAY_RUNS_DIR)")
