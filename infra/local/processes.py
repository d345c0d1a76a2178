"""Start, identify and stop the stack's child processes by PID (never by name or process group), through psutil.

psutil reads /proc on Linux and the kernel's process table on macOS, so the same code runs on both. A process is
identified by its PID plus its start time (`ProcessRef.start_ticks`): on Linux the kernel's start time in clock ticks
since boot (field 22 of /proc/PID/stat, as before psutil: state files of a running stack stay valid), elsewhere the
start time in microseconds since the epoch. Either way a recycled PID never passes for ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRef:
    """A PID plus its kernel start time, so a recycled PID is never mistaken for ours."""

    pid: int
    start_ticks: int

    def alive(self) -> bool:
        return start_ticks_of(self.pid) == self.start_ticks

    def as_dict(self) -> dict:
        return {"pid": self.pid, "start_ticks": self.start_ticks}


#: psutil's process states as the one-letter codes of ps(1) and /proc/PID/stat, which callers compare against.
STATE_LETTERS = {
    psutil.STATUS_RUNNING: "R", psutil.STATUS_SLEEPING: "S", psutil.STATUS_DISK_SLEEP: "D",
    psutil.STATUS_STOPPED: "T", psutil.STATUS_TRACING_STOP: "t", psutil.STATUS_ZOMBIE: "Z",
    psutil.STATUS_DEAD: "X", psutil.STATUS_WAKING: "W", psutil.STATUS_IDLE: "I",
    psutil.STATUS_PARKED: "P", psutil.STATUS_LOCKED: "L", psutil.STATUS_WAITING: "W",
}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if sys.platform == "linux" else 0


def state_of(pid: int) -> str | None:
    """The process state letter (R, S, T for stopped, Z for zombie, ...); None when gone."""
    try:
        return STATE_LETTERS.get(psutil.Process(pid).status(), "?")
    except psutil.ZombieProcess:  # macOS: a zombie answers nothing but that it is one
        return "Z"
    except psutil.Error:
        return None


def start_ticks_of(pid: int) -> int | None:
    """The start time of `pid` (see the module docstring for its unit), or None when no such live process."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # a zombie is not running; its parent just has not reaped it
            return None
        if not _CLOCK_TICKS:
            return round(proc.create_time() * 1_000_000)
        for attempt in range(3):
            # psutil adds the boot time (/proc/stat btime, whole seconds that NTP may nudge) to the ticks; taking
            # it off again is exact unless btime moved in between, which a second look detects.
            boot = psutil.boot_time()
            started = (proc if attempt == 0 else psutil.Process(pid)).create_time()  # create_time() is cached
            if psutil.boot_time() == boot:
                return round((started - boot) * _CLOCK_TICKS)
    except psutil.Error:
        return None
    return None


def cmdline_of(pid: int) -> list[str] | None:
    """The arguments `pid` was started with; None when gone or unreadable."""
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return None


def spawn(argv: list[str], log_path: Path, *, user: tuple[int, int] | None = None,
          env: dict[str, str] | None = None, cwd: Path | None = None) -> ProcessRef:
    """Start `argv` detached (own session, so Ctrl-C on the CLI does not reach it), logging to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        kwargs: dict = {}
        if user is not None:
            kwargs.update(user=user[0], group=user[1], extra_groups=[])
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, cwd=cwd, **kwargs)
    ticks = None
    for _ in range(100):
        ticks = start_ticks_of(proc.pid)
        if ticks is not None:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    return ProcessRef(proc.pid, ticks if ticks is not None else -1)


def children_of(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (Postgres backends each have their own session)."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def tagged_with(name: str, value: str, *, by_cwd: bool = True) -> list[ProcessRef]:
    """Live processes whose environment holds `name=value`, or (with `by_cwd`) whose working directory lies under
    `value` (Redis rewrites its environment for its process title, but lives in its --dir): the ones a crash kept
    out of the state file."""
    root = Path(value)
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            ours = proc.environ().get(name) == value
            ours = ours or (by_cwd and Path(proc.cwd()).is_relative_to(root))
        except psutil.Error:
            continue
        if ours:
            ticks = start_ticks_of(proc.pid)
            if ticks is not None:
                found.append(ProcessRef(proc.pid, ticks))
    return found


def naming_or_inside(directory: Path) -> list[int]:
    """PIDs (not ours) whose command line holds `directory` as one argument, or whose working directory is
    `directory` or lies under it."""
    needle = str(directory)
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if needle in proc.cmdline() or Path(proc.cwd()).is_relative_to(directory):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def stop(ref: ProcessRef, *, sig: int = signal.SIGTERM, timeout_s: float = 5.0) -> bool:
    """Send `sig`, wait, then SIGKILL the process and its children; True when it was running."""
    if not ref.alive():
        return False
    _signal(ref.pid, sig)
    if _wait_gone(ref, timeout_s):
        return True
    children = children_of(ref.pid)
    _signal(ref.pid, signal.SIGKILL)
    for child in children:
        _signal(child, signal.SIGKILL)
    _wait_gone(ref, 2.0)
    return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(ref: ProcessRef, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(ref.pid)
        if not ref.alive():
            return True
        time.sleep(0.02)
    _reap(ref.pid)
    return not ref.alive()


def _reap(pid: int) -> None:
    # Our own children (tests start the stack in-process) must be reaped or they linger as zombies.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
