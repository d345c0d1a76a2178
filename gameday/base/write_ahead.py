"""The one write-ahead protocol for every change a run makes to a target: record, act, confirm; and replay.

`record` writes the fault ledger's entry (fsync) before the change is made and confirms it after; `replay` runs
the recorded recoveries and closes the entries; `undo` replays the open entries a rollback action names. The
fault actions (gameday.faults) and the deployment actions (remediations.deploy) both use it, so a crashed run's
faults and releases are undone alike by `gameday recover` and by the next run's start.

The driver decides when the entry is begun: inside `target.write_ahead(begin)` it calls `begin(recovery)` after
its guard and reads and before its first change. `recovery` is the exact undo (e.g. AWS previous values), None
for "nothing to undo", or DEFAULT_RECOVERY for the catalogue's undo (what a driver that needs no saved state,
like the local stack, passes at once).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from gameday.base import run_clock
from gameday.base.catalogue import fault_kind, undone_by
from gameday.base.ledger import NOTHING, FaultLedger, recovery_of

#: Passed to a write-ahead callback: "the catalogue's recovery for this fault" (infra.targets.base re-exports it).
DEFAULT_RECOVERY: dict = {"call": "<catalogue>", "args": {}}


def record(target, ledger: FaultLedger, kind: str, subject: str, params: dict, args: dict,
           act: Callable[[object], dict]) -> dict:
    """Make fault `kind` on `subject` with `act(target)`, its entry written ahead (the recovery from the
    catalogue with `args`, unless the driver gives a more exact one) and confirmed after. An answer with
    `changed: False` (nothing went live, e.g. a refusing health gate) closes the entry at once."""
    default = fault_kind(kind).recovery(args)
    entry: str | None = None

    def begin(recovery: dict | None) -> None:
        nonlocal entry
        if entry is None:
            chosen = default if recovery is DEFAULT_RECOVERY else recovery
            entry = ledger.begin(kind, subject, params, chosen or NOTHING)

    try:
        with target.write_ahead(begin):
            details = act(target)
    except BaseException as exc:
        if entry is not None:
            ledger.failed(entry, exc)
        raise
    if entry is None:  # the driver changed nothing (e.g. a promotion to the region that already writes)
        return details
    ledger.injected(entry, details)
    if details.get("changed") is False or recovery_of(ledger.entries(), entry) == NOTHING:
        ledger.recovered(entry, {"nothing_to_undo": True, "at_s": run_clock.now()})
    return details


def replay(target, ledger: FaultLedger, entries: list[dict], log: Callable[[str], None] = lambda line: None
           ) -> list[dict]:
    """Run each distinct recovery of `entries` once (in the order given) and close the entries; returns them."""
    lines = ledger.entries()
    done = []
    closed: set[str] = set()
    for entry in entries:
        if entry["id"] in closed:
            continue
        recovery = recovery_of(lines, entry["id"])
        same = [e for e in entries if e["id"] not in closed and recovery_of(lines, e["id"]) == recovery]
        call, args = recovery["call"], recovery.get("args", {})
        log(f"recovering {entry['kind']} of {entry['target']} (begun {entry['at']}): {call}({json.dumps(args)})")
        try:
            details = {"nothing_to_undo": True, "at_s": run_clock.now()} if call == NOTHING["call"] \
                else getattr(target, call)(**args)
        except Exception as exc:
            for e in same:
                ledger.failed(e["id"], f"recovery {call} failed: {exc}")
            raise
        for e in same:
            ledger.recovered(e["id"], details)
            closed.add(e["id"])
            done.append({"id": e["id"], "kind": e["kind"], "target": e["target"], "recovery": call,
                         "details": details})
    return done


def recover_open(target, ledger: FaultLedger, log: Callable[[str], None] = lambda line: None) -> list[dict]:
    """Replay the recovery of every open entry of `ledger` on `target` (newest first); returns what was done."""
    return replay(target, ledger, list(reversed(ledger.open_entries())), log)


def undo(target, ledger: FaultLedger, call: str, subject: str, args: dict, fallback: bool) -> dict:
    """Undo the open faults on `subject` whose catalogue recovery is `call`, with their recorded recoveries. With
    none open, `call(**args)` runs anyway when `fallback` (a driver whose undo needs no saved state); else nothing."""
    kinds = undone_by(call)
    matching = [e for e in reversed(ledger.open_entries()) if e["kind"] in kinds and e["target"] == subject]
    if matching:
        done = replay(target, ledger, matching)
        return {**done[-1]["details"], "ledger_entries_closed": len(done), "undone": done}
    if fallback:
        return {**getattr(target, call)(**args), "ledger_entries_closed": 0}
    return {"skipped": True, "reason": f"no open fault on {subject} in the ledger", "ledger_entries_closed": 0,
            "at_s": run_clock.now()}
