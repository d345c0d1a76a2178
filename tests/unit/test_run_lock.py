"""One run at a time per stack: a live holder refuses another run and is named; a dead holder holds nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.run_lock import LOCK_FILE, StackBusy, holder, holding

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
