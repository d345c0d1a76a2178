"""Whether a run can still write its evidence: the run directory's file system is writable and has room.

A run that can no longer write (a full disk, a file system remounted read-only) aborts like a breached stop
condition: its rollbacks and the safety net run, and it ends with exit code 3 and one clear line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["DISK_ERRNOS", "disk_problem", "is_disk_error"]

# The errors that mean "this directory cannot be written any more", not a bug of the harness.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO})


def disk_problem(run_dir: Path, min_free_mb: float) -> str | None:
    """A sentence naming what stops `run_dir` taking more evidence, or None while it can."""
    try:
        stat = os.statvfs(run_dir)
    except OSError as exc:
        return f"run directory {run_dir} cannot be read: {exc.strerror}"
    if not os.access(run_dir, os.W_OK):  # as root too: access(2) answers EROFS on a read-only mount
        return f"run directory {run_dir} is not writable (read-only file system?)"
    free_mb = stat.f_bavail * stat.f_frsize / 1e6
    if free_mb < min_free_mb:
        return (f"disk nearly full: {free_mb:.1f} MB free under run directory {run_dir} "
                f"(a run needs {min_free_mb:g} MB; GAMEDAY_MIN_FREE_MB)")
    return None


def is_disk_error(exc: BaseException) -> bool:
    """Whether `exc` is an OSError that says the disk, not the harness, is at fault."""
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS
