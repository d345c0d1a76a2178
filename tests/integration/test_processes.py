"""The stack's processes through psutil: known by PID and start time (a recycled PID is not ours), children found by
parent PID, stopped and zombie states, orphans found by tag or working directory, and a run lock naming a recycled
PID taken for the dead run it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.run_lock import LOCK_FILE, wait_for_orphan
from infra.local.processes import (
    ProcessRef,
    children_of,
    cmdline_of,
    naming_or_inside,
    spawn,
    start_ticks_of,
    state_of,
    stop,
    tagged_with,
)

pytestmark = pytest.mark.integration
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def started():
    """Start processes for a test (subprocess.Popen keyword arguments); each is killed by its PID afterwards."""
    procs: list[subprocess.Popen] = []

    def start(argv=SLEEP, **kwargs) -> subprocess.Popen:
        procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kwargs))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_for(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def test_a_process_is_ours_by_pid_and_start_time_and_stop_ends_it(tmp_path):
    ref = spawn(SLEEP, tmp_path / "sleeper.log")
    try:
        assert ref.alive() and ref.start_ticks == start_ticks_of(ref.pid)
        assert not ProcessRef(ref.pid, ref.start_ticks + 1).alive()    # the same PID, started at another time
        assert cmdline_of(ref.pid) == SLEEP
        if Path("/proc/self/stat").exists():                            # Linux: the number state files always held
            stat = Path(f"/proc/{ref.pid}/stat").read_text()
            assert ref.start_ticks == int(stat[stat.rindex(")") + 2:].split()[19])
        assert stop(ref) is True
        assert not ref.alive() and state_of(ref.pid) is None
        assert stop(ref) is False                                       # stopping a gone process is a no-op
    finally:
        if ref.alive():
            os.kill(ref.pid, signal.SIGKILL)


def test_children_are_found_by_parent_pid_even_in_their_own_sessions(started):
    parent = started([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)"
        " for _ in range(2)]\n"
        "print(' '.join(str(k.pid) for k in kids), flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    kids = [int(pid) for pid in parent.stdout.readline().split()]
    try:
        assert sorted(children_of(parent.pid)) == sorted(kids)
        assert children_of(kids[0]) == [] and children_of(2**22 + 1) == []
    finally:
        for pid in kids:
            os.kill(pid, signal.SIGKILL)
        parent.stdout.close()


def test_a_stopped_process_reads_t_and_a_killed_unreaped_one_z_and_then_none(started):
    proc = started()
    os.kill(proc.pid, signal.SIGSTOP)
    assert _wait_for(lambda: state_of(proc.pid) == "T")
    assert start_ticks_of(proc.pid) is not None                         # stopped is still alive
    os.kill(proc.pid, signal.SIGKILL)
    assert _wait_for(lambda: state_of(proc.pid) == "Z")
    assert start_ticks_of(proc.pid) is None                             # a zombie is not running
    proc.wait()
    assert state_of(proc.pid) is None


def test_orphans_are_found_by_their_tag_or_working_directory_and_nothing_else(started, tmp_path):
    stack = tmp_path / "stack"
    (stack / "redis").mkdir(parents=True)
    tagged = started(env={**os.environ, "GAMEDAY_TEST_TAG": str(stack)})
    inside = started(cwd=stack / "redis")
    started(cwd=tmp_path)                                               # neither: not found
    named = started([*SLEEP, str(stack / "redis")])
    assert {r.pid for r in tagged_with("GAMEDAY_TEST_TAG", str(stack))} == {tagged.pid, inside.pid}
    assert {r.pid for r in tagged_with("GAMEDAY_TEST_TAG", str(stack), by_cwd=False)} == {tagged.pid}
    assert sorted(naming_or_inside(stack / "redis")) == sorted([inside.pid, named.pid])


def _lock_naming(directory: Path, pid: int, started_at: str, started) -> None:
    """Another process holds the stack's lock, its file naming `pid` as started at `started_at`."""
    directory.mkdir(parents=True, exist_ok=True)
    holder = started([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, sys.argv[2].encode(), 0)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"), str(directory / LOCK_FILE),
        json.dumps({"pid": pid, "run_id": "crashed-run", "started_at": started_at})], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.stdout.close()


def test_a_lock_naming_a_recycled_pid_is_waited_for_as_an_orphan_and_a_live_run_is_not(started, tmp_path):
    newcomer = started()                                                # took the PID after the run's start
    _lock_naming(tmp_path / "old", newcomer.pid, "2001-01-01T00:00:00Z", started)
    said: list[str] = []
    busy = wait_for_orphan(tmp_path / "old", timeout_s=0.6, progress=said.append)
    assert busy is not None and busy.run_id == "crashed-run" and said and "is gone" in said[0]

    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    live = started()
    _lock_naming(tmp_path / "live", live.pid, now, started)
    said.clear()
    assert wait_for_orphan(tmp_path / "live", timeout_s=5.0, progress=said.append).pid == live.pid
    assert said == []                                                   # a live run: refused at once, no wait
