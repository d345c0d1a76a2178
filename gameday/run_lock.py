"""One run at a time per stack: a lock file in the stack's state directory that names the run holding it.

    <state dir>/run.lock     {"pid": 4242, "run_id": "20250101T120000Z-region-failover", "started_at": "..."}

The lock is an exclusive `flock` on that file, held by the process of the run (or of the GameDay, whose runs reuse
its hold) from before anything is touched until it ends. The kernel drops it when the process dies, so a crashed run
(even SIGKILL) holds nothing: its stale file is simply taken over. The run's Chaos Toolkit child inherits the lock's
descriptor (`held_fd`): when the runner is killed, the child still runs the experiment's rollbacks, and the stack
stays locked until it has (`gameday recover` waits for it, `wait_for_orphan`). The file's content only names the
holder for the refusal message. The state directory is the one of the target's fault ledger (for the local stack,
the stack's own directory), so every driver gets a lock without knowing about it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from gameday.base.errors import InvalidInput

__all__ = ["LOCK_FILE", "Holder", "StackBusy", "held_fd", "holder", "holding", "lock_dir", "wait_for_orphan"]

_held: dict[Path, int] = {}  # lock directory -> this process's descriptor holding its lock

LOCK_FILE = "run.lock"
RETRY_S = 0.5  # a `holder` probe takes the lock for an instant: a second look tells it from a real holder
PID_REUSE_SLACK_S = 2.0  # `started_at` is whole seconds (truncated): a holder started up to then is the one named


@dataclass(frozen=True)
class Holder:
    """The run that holds a stack's lock."""

    pid: int
    run_id: str
    started_at: str

    def __str__(self) -> str:
        return f"run {self.run_id} (pid {self.pid}, started {self.started_at})"


class StackBusy(InvalidInput):
    """Another live run holds the stack's lock (exit code 2: nothing was touched)."""

    def __init__(self, message: str, holder: Holder):
        super().__init__(message, hint="wait for that run to end (a crashed run holds nothing: its lock dies with "
                                       "its process), or use another stack (--base-port)")
        self.holder = holder


def lock_dir(target) -> Path:
    """The state directory of a target driver: where its fault ledger lives."""
    return Path(target.ledger_path).parent


def _read(fd: int) -> Holder:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return Holder(int(data["pid"]), str(data["run_id"]), str(data["started_at"]))
    except (ValueError, KeyError, TypeError):  # a holder between taking the lock and naming itself
        return Holder(0, "(unnamed)", "just now")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def holder(directory: Path) -> Holder | None:
    """Who holds the lock of the stack in `directory` now; None when no live process does. Touches nothing but
    the lock (taken and dropped at once when free)."""
    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if _try_lock(fd):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        return _read(fd)
    finally:
        os.close(fd)


def held_fd(directory: Path) -> int | None:
    """This process's descriptor holding the lock of the stack in `directory` (to hand to a child), if any."""
    return _held.get(Path(directory).resolve())


def _alive(busy: Holder) -> bool:
    """The holder's process still runs: its PID exists and was not given to a process started after the holder took
    the lock (a recycled PID). An unnamed holder is taking the lock right now."""
    if busy.pid <= 0:
        return True
    try:
        started = psutil.Process(busy.pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # not ours to inspect: it exists
        return True
    try:
        took = datetime.fromisoformat(busy.started_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True
    return started <= took + PID_REUSE_SLACK_S


def wait_for_orphan(directory: Path, timeout_s: float, progress=lambda line: None) -> Holder | None:
    """When the run named in the lock is dead but the lock is still held (its Chaos Toolkit child is running the
    experiment's rollbacks), wait up to `timeout_s` for it to let go. Returns the holder still there (a live run,
    or an orphan past the timeout), None when the stack is free."""
    busy = holder(directory)
    deadline = time.monotonic() + timeout_s
    said = False
    while busy is not None and not _alive(busy) and time.monotonic() < deadline:
        if not said:
            progress(f"{busy} is gone, but its Chaos Toolkit child still holds the stack (running the rollbacks): "
                     f"waiting up to {timeout_s:.0f} s for it")
            said = True
        time.sleep(0.5)
        busy = holder(directory)
    return busy


@contextmanager
def holding(directory: Path, run_id: str, *, action: str = "run", reuse: bool = False) -> Iterator[None]:
    """Hold the lock of the stack in `directory` for the block; StackBusy (naming the holder) when another live
    process holds it. `reuse`: the caller already holds it (a run inside a GameDay), so nothing is done."""
    if reuse:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + RETRY_S
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                busy = _read(fd)
                raise StackBusy(f"{action} {run_id} refused: the stack in {directory} is in use by {busy}", busy)
            time.sleep(0.05)
        started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "run_id": run_id, "started_at": started}).encode(), 0)
        _held[directory.resolve()] = fd
        try:
            yield
        finally:
            _held.pop(directory.resolve(), None)
            os.ftruncate(fd, 0)  # still held: nobody reads a half-cleared name
    finally:
        os.close(fd)  # drops the lock
