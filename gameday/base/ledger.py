"""The fault ledger (`faults.jsonl`): every injection is written and fsynced before it is made, with how to undo it.

One JSON object a line, appended with O_APPEND, one write() per line, under an exclusive flock, then fsync:

    {"v": 1, "event": "begin", "id": "3f9c2a7b1d04", "at": "2025-01-01T12:00:00.000000+00:00",
     "at_s": 1735732800.0, "pid": 4242, "kind": "region_outage", "target": "eu-central-1",
     "params": {...}, "recovery": {...}}
    {"v": 1, "event": "injected" | "recovered", "id": ..., "at": ..., "at_s": ..., "pid": ..., "details": {...}}
    {"v": 1, "event": "failed", "id": ..., "at": ..., "at_s": ..., "pid": ..., "error": "..."}

An entry is open from `begin` until `recovered`; `failed` (of an injection or of a recovery) leaves it open, since
a half-made fault may still be there. A line cut short by a crash is ignored when reading, and the next append
starts on a fresh line.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from gameday.base import run_clock
from gameday.base.errors import GameDayError, InvalidInput

__all__ = ["FaultLedger", "LedgerStore", "LEDGER_VERSION", "fault_windows", "open_from", "read_entries"]

LEDGER_VERSION = 1
EVENTS = ("begin", "injected", "recovered", "failed")

#: The recovery of a change that needs no undo (a cache flush, a failover that heals itself).
NOTHING = {"call": "nothing", "args": {}}


class LedgerStore(Protocol):
    """Where ledger lines live when not in the file: `append` returns once the line is durable (write-ahead)."""

    where: str                                   # for messages: e.g. dynamodb://table/key

    def append(self, line: dict) -> None: ...
    def read(self) -> list[dict]: ...            # every line, in append order


class FaultLedger:
    """Append-only record of faults of one run; safe to share between processes. Lines go to the file at `path`,
    or to `store` when given (the AWS account's table: infra/targets/aws_ledger.py)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = run_clock.now,
                 store: LedgerStore | None = None):
        self.path = Path(path)
        self.store = store
        self.where = store.where if store is not None else str(self.path)
        self._clock = clock

    def begin(self, kind: str, target: str, params: dict, recovery: dict) -> str:
        """Record a fault about to be injected and how to undo it; returns once it is on disk. Inject after this."""
        for field, value, kind_ in (("kind", kind, str), ("target", target, str), ("params", params, dict),
                                    ("recovery", recovery, dict)):
            if not isinstance(value, kind_) or (kind_ is str and not value):
                raise InvalidInput(f"recording of a fault in ledger {self.where} failed: `{field}` must be a "
                                   f"{'non-empty string' if kind_ is str else 'dict'}, not {value!r}")
        entry_id = uuid.uuid4().hex[:12]
        self._append({"event": "begin", "id": entry_id, "kind": kind, "target": target,
                      "params": params, "recovery": recovery})
        return entry_id

    def injected(self, entry_id: str, details: dict | None = None) -> None:
        """Record that the injection call returned (this is the fault time t0)."""
        self._append_to(entry_id, {"event": "injected", "details": details or {}})

    def recovered(self, entry_id: str, details: dict | None = None) -> None:
        """Record that the fault was undone; the entry is closed."""
        self._append_to(entry_id, {"event": "recovered", "details": details or {}})

    def failed(self, entry_id: str, error: str | BaseException) -> None:
        """Record that injecting or recovering failed; the entry stays open."""
        self._append_to(entry_id, {"event": "failed", "error": str(error)})

    def entries(self) -> list[dict]:
        """Every complete line, in file (or store) order."""
        return self.store.read() if self.store is not None else read_entries(self.path)

    def recovery_of(self, entry_id: str) -> dict:
        """The entry's recovery (see `recovery_of`)."""
        return recovery_of(self.entries(), entry_id)

    def open_entries(self) -> list[dict]:
        """Faults begun and not recovered: their begin lines plus `state` (begin, injected or failed)."""
        return open_from(self.entries())

    def _append_to(self, entry_id: str, record: dict) -> None:
        if not any(e["event"] == "begin" and e["id"] == entry_id for e in self.entries()):
            raise GameDayError(f"recording of fault {entry_id!r} in ledger {self.where} failed: no such entry",
                               hint="use the id that begin() returned for this ledger file")
        self._append({**record, "id": entry_id})

    def _append(self, record: dict) -> None:
        at_s = self._clock()
        line = {"v": LEDGER_VERSION, "event": record["event"], "id": record["id"],
                "at": datetime.fromtimestamp(at_s, UTC).isoformat(timespec="microseconds"),
                "at_s": at_s, "pid": os.getpid(), **record}
        try:
            data = (json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n").encode()
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"recording of fault {record['id']!r} in ledger {self.where} failed: "
                               f"not JSON-serialisable: {exc}", hint="pass plain dicts of str, numbers, lists")
        if self.store is not None:
            self.store.append(line)  # raises the store's own GameDayError, naming it
            return
        try:
            _append_line(self.path, data)
        except OSError as exc:
            raise GameDayError(f"recording of fault {record['id']!r} in ledger {self.path} failed: {exc}",
                               hint="check that the run directory exists, is writable and has space; "
                                    "nothing was injected") from exc


def _append_line(path: Path, data: bytes) -> None:
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # the last writer crashed mid-line: never glue onto its fragment
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)  # also releases the lock
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # so the new file itself survives a crash
        finally:
            os.close(dir_fd)


def read_entries(path: str | Path) -> list[dict]:
    """Every complete, well-formed line of a ledger file (none if it does not exist); fragments are skipped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    entries = []
    for raw in data.split(b"\n")[:-1]:  # whatever follows the last newline is a fragment
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") in EVENTS and isinstance(entry.get("id"), str):
            entries.append(entry)
    return entries


def recovery_of(entries: list[dict], entry_id: str) -> dict:
    """Pure: the entry's recovery: the one its injection answered with (exact ids, previous values), else the one
    written ahead; NOTHING when neither names one."""
    recovery = NOTHING
    for line in entries:
        if line["id"] != entry_id:
            continue
        if line["event"] == "begin":
            recovery = line["recovery"]
        elif line["event"] == "injected" and isinstance((line.get("details") or {}).get("recovery"), dict):
            recovery = line["details"]["recovery"]
    return recovery


def open_from(entries: list[dict]) -> list[dict]:
    """Pure: begin lines of the entries never recovered, in begin order, each with its latest `state`."""
    begun: dict[str, dict] = {}
    state: dict[str, str] = {}
    for entry in entries:
        entry_id = entry["id"]
        if entry["event"] == "begin":
            begun.setdefault(entry_id, entry)
        if entry_id in begun and state.get(entry_id) != "recovered":  # recovered is final
            state[entry_id] = entry["event"]
    return [{**begin, "state": state[i]} for i, begin in begun.items() if state[i] != "recovered"]


def fault_windows(entries: list[dict]) -> list[dict]:
    """Pure: one window per injected fault: kind, target, begun_s (about to inject), start_s (injected: the
    fault time), end_s (recovered, or None)."""
    begun: dict[str, dict] = {}
    windows: dict[str, dict] = {}
    for entry in entries:
        entry_id, event = entry["id"], entry["event"]
        if event == "begin":
            begun.setdefault(entry_id, entry)
        elif event == "injected" and entry_id in begun and entry_id not in windows:
            begin = begun[entry_id]
            windows[entry_id] = {"id": entry_id, "kind": begin["kind"], "target": begin["target"],
                                 "begun_s": begin["at_s"], "start_s": entry["at_s"], "end_s": None}
        elif event == "recovered" and entry_id in windows and windows[entry_id]["end_s"] is None:
            windows[entry_id]["end_s"] = entry["at_s"]
    return sorted(windows.values(), key=lambda w: w["start_s"])



def stale_from(entries: list[dict], now_s: float, max_age_s: float) -> list[dict]:
    """Pure: the open entries begun more than `max_age_s` before `now_s` (oldest first)."""
    return [e for e in open_from(entries) if e["at_s"] < now_s - max_age_s]
