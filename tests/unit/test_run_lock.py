"""One run at a time per stack: a live holder refuses another run and is named; a dead holder holds nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.run_lock import LOCK_FILE, StackBusy, holder, holding, wait_for_orphan

ROOT = Path(__file__).resolve().parents[2]
HOLD = ("import sys, time\nfrom pathlib import Path\nfrom gameday.run_lock import holding\n"
        "with holding(Path(sys.argv[1]), sys.argv[2]):\n    print('held', flush=True)\n    time.sleep(300)\n")


@pytest.fixture
def other_run(tmp_path):
    """Another process that holds the lock of the stack in tmp_path as run `other-run`; stopped by its PID."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "other-run"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def test_a_live_holder_refuses_another_run_and_is_named(tmp_path, other_run):
    with pytest.raises(StackBusy) as refused, holding(tmp_path, "this-run"):
        pytest.fail("the lock was taken from a live holder")
    assert "this-run" in str(refused.value) and "other-run" in str(refused.value)
    assert f"pid {other_run.pid}" in str(refused.value)
    assert refused.value.holder == holder(tmp_path)
    assert (refused.value.holder.pid, refused.value.holder.run_id) == (other_run.pid, "other-run")


def test_a_holder_killed_with_sigkill_holds_nothing_and_its_lock_is_taken_over(tmp_path, other_run):
    os.kill(other_run.pid, signal.SIGKILL)
    other_run.wait()
    assert holder(tmp_path) is None
    with holding(tmp_path, "this-run"):
        assert (holder(tmp_path).pid, holder(tmp_path).run_id) == (os.getpid(), "this-run")


def test_a_stale_lock_file_naming_a_dead_run_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 2**22 + 1, "run_id": "crashed", "started_at": "then"}))
    assert holder(tmp_path) is None
    with holding(tmp_path, "this-run"):
        assert holder(tmp_path).run_id == "this-run"


def test_the_lock_is_released_at_the_end_of_the_block_even_on_an_error(tmp_path):
    with pytest.raises(RuntimeError), holding(tmp_path, "this-run"):
        raise RuntimeError("the run failed")
    assert holder(tmp_path) is None
    with holding(tmp_path, "next-run"):
        pass


def test_a_run_inside_a_gameday_reuses_its_hold(tmp_path):
    with holding(tmp_path, "the-gameday", action="GameDay"):
        with holding(tmp_path, "its-run", reuse=True):
            assert holder(tmp_path).run_id == "the-gameday"
        with pytest.raises(StackBusy):  # a second hold in the same process is refused like any other
            with holding(tmp_path, "stray-run"):
                pass


# A run whose child (the Chaos Toolkit one) inherits the lock: the child sleeps `sys.argv[3]` s (its rollbacks).
HOLD_WITH_CHILD = ("import subprocess, sys, time\nfrom pathlib import Path\n"
                   "from gameday.run_lock import held_fd, holding\n"
                   "with holding(Path(sys.argv[1]), sys.argv[2]):\n"
                   "    fd = held_fd(Path(sys.argv[1]))\n"
                   "    child = subprocess.Popen([sys.executable, '-c', f'import time; time.sleep({sys.argv[3]})'],\n"
                   "                             pass_fds=(fd,), start_new_session=True)\n"
                   "    print(child.pid, flush=True)\n    time.sleep(300)\n")


def test_a_killed_runs_child_keeps_the_stack_locked_until_its_rollbacks_end_and_recover_waits_for_it(tmp_path):
    runner = subprocess.Popen([sys.executable, "-c", HOLD_WITH_CHILD, str(tmp_path), "killed-run", "2"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    child = int(runner.stdout.readline())
    os.kill(runner.pid, signal.SIGKILL)        # the runner dies; its child carries on with the lock
    runner.wait()
    runner.stdout.close()
    busy = holder(tmp_path)
    assert busy is not None and busy.run_id == "killed-run" and busy.pid == runner.pid
    with pytest.raises(StackBusy):
        with holding(tmp_path, "next-run"):
            pytest.fail("a new run took the stack while the killed run's rollbacks were running")
    said = []
    assert wait_for_orphan(tmp_path, timeout_s=30, progress=said.append) is None   # free once the child ended
    assert said and "still holds the stack" in said[0]
    state = Path(f"/proc/{child}/stat")
    assert not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # it has ended


def test_recover_does_not_wait_for_a_live_run(tmp_path, other_run):
    got = wait_for_orphan(tmp_path, timeout_s=30)
    assert got is not None and got.pid == other_run.pid        # a live holder is answered at once, not waited for
