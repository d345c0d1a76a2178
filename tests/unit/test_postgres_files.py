"""A killed postmaster its parent has not reaped yet (a zombie) must not keep Postgres from starting again: its
postmaster.pid is cleared; a live postmaster's never is (crash trials found the zombie, benchmarks/README.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from infra.local.postgres import clear_stale_pid_file
from infra.local.processes import state_of


def _pid_file(datadir: Path, pid: int) -> Path:
    datadir.mkdir(exist_ok=True)
    path = datadir / "postmaster.pid"
    path.write_text(f"{pid}\n{datadir}\n1796126036\n5432\n")
    return path


def test_the_lock_file_of_a_zombie_postmaster_is_cleared(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while state_of(child.pid) != "Z" and time.monotonic() < deadline:   # killed, not reaped: a zombie
            time.sleep(0.02)
        assert state_of(child.pid) == "Z"
        path = _pid_file(tmp_path / "pg", child.pid)
        assert clear_stale_pid_file(tmp_path / "pg") is True
        assert not path.exists()
    finally:
        child.wait()


def test_a_live_postmasters_lock_file_is_kept_and_a_missing_one_is_fine(tmp_path):
    path = _pid_file(tmp_path / "pg", os.getpid())
    assert clear_stale_pid_file(tmp_path / "pg") is False and path.exists()
    assert clear_stale_pid_file(tmp_path / "nothing") is False
