"""Start, identify and stop the stack's child processes by PID (never by name or process group)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRef:
    """A PID plus its kernel start time, so a recycled PID is never mistaken for ours."""

    pid: int
    start_ticks: int

    def alive(self) -> bool:
        return start_ticks_of(self.pid) == self.start_ticks

    def as_dict(self) -> dict:
        return {"pid": self.pid, "start_ticks": self.start_ticks}


def state_of(pid: int) -> str | None:
    """The process state letter of /proc/PID/stat (R, S, T for stopped, Z for zombie, ...); None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def start_ticks_of(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None when no such live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie is not running; its parent just has not reaped it
        return None
    return int(fields[19])


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
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def tagged_with(name: str, value: str, *, by_cwd: bool = True) -> list[ProcessRef]:
    """Live processes whose environment holds `name=value`, or (with `by_cwd`) whose working directory lies under
    `value` (Redis rewrites its environment for its process title, but lives in its --dir): the ones a crash kept
    out of the state file."""
    needle = f"{name}={value}".encode()
    root = Path(value)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            ours = needle in (entry / "environ").read_bytes().split(b"\0")
            ours = ours or (by_cwd and Path(os.readlink(entry / "cwd")).is_relative_to(root))
        except OSError:
            continue
        if ours:
            ticks = start_ticks_of(int(entry.name))
            if ticks is not None:
                found.append(ProcessRef(int(entry.name), ticks))
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
