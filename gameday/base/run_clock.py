"""One time base per run: every recorder of a run stamps epoch seconds from the same anchor.

The runner fixes an anchor when a run starts (the wall clock once, and the system-wide CLOCK_MONOTONIC at that
moment) and hands it to its child processes (`GAMEDAY_RUN_CLOCK`). Every recorder (samplers, load generator,
fault ledger, Chaos Toolkit activities, the live monitor, the runner itself) reads `now()` = anchor wall +
monotonic seconds since the anchor. A wall-clock step during the run (NTP, a person) then moves no timestamp
against another, and durations between recorders stay exact. A process outside any run (no anchor installed or
inherited: a plain `chaos run`, a stack component, `gameday report`) reads the wall clock. Times another program
stamped with its wall clock (Locust's request start, a gateway's scaling events) are moved onto the run's base
with `from_wall` when they are read.
"""

from __future__ import annotations

import os
import time

__all__ = ["ENV", "anchor_env", "from_wall", "install", "now", "start"]

ENV = "GAMEDAY_RUN_CLOCK"  # "<wall epoch s>@<CLOCK_MONOTONIC s>"

_UNREAD = object()  # the environment not read yet: a child reads its inherited anchor once, not on every call
_anchor: tuple[float, float] | None | object = _UNREAD


def start() -> dict[str, str]:
    """Fix a new anchor for this process (a new run) and return the environment its children need."""
    install((time.time(), time.monotonic()))
    return anchor_env()


def install(anchor: tuple[float, float] | None) -> None:
    """Use `anchor` (wall s, monotonic s) from now on in this process (None: the wall clock, outside a run)."""
    global _anchor
    _anchor = None if anchor is None else (float(anchor[0]), float(anchor[1]))


def anchor_env() -> dict[str, str]:
    """The environment a child needs to share this process's time base ({} outside a run)."""
    anchor = _current()
    return {} if anchor is None else {ENV: f"{anchor[0]!r}@{anchor[1]!r}"}


def anchor() -> tuple[float, float] | None:
    """This process's anchor (wall s, monotonic s), None outside a run: for a hot path that moves a stamp per
    request onto the run's time base itself, as `from_wall` does, without three calls a stamp."""
    return _current()


def now() -> float:
    """Epoch seconds on the run's time base (the wall clock outside a run)."""
    anchor = _current()
    return time.time() if anchor is None else anchor[0] + (time.monotonic() - anchor[1])


def from_wall(wall_s: float) -> float:
    """A time another program stamped with the wall clock, moved onto the run's time base (by how far the wall
    clock has drifted or stepped from it by now; unchanged outside a run)."""
    return wall_s if _current() is None else wall_s + (now() - time.time())


def _current() -> tuple[float, float] | None:
    # Read once per process (a load generator stamps every request: an environment lookup and a parse each time
    # cost it about 4 % of its throughput, benchmarks/load_bench.py); `install` sets it explicitly.
    global _anchor
    if _anchor is _UNREAD:
        _anchor = _parse(os.environ.get(ENV))
    return _anchor


def _parse(text: str | None) -> tuple[float, float] | None:
    try:
        wall, mono = (text or "").split("@")
        return float(wall), float(mono)
    except ValueError:
        return None
