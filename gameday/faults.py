"""Chaos Toolkit actions that inject faults, each written to the fault ledger before it is made.

Every fault names its recovery (a driver call with arguments); rollbacks, `gameday recover` and the start
of every `gameday run` replay the recoveries of entries left open. The driver and the ledger come from the
`gameday_*` configuration keys or the GAMEDAY_* environment (the run engine sets both for its child).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

from gameday.ledger import FaultLedger
from infra.targets import driver_from
from infra.targets.local import LocalTarget

__all__ = ["fail_region", "restore_region", "cut_link", "restore_link", "add_latency", "remove_latency",
           "kill_db_writer", "flush_cache", "inject_http_error", "remove_http_error"]




def ledger_for(target: LocalTarget) -> FaultLedger:
    """The stack-level ledger: it outlives any run, so a crashed run's faults can still be recovered."""
    return FaultLedger(target.stack.dir / "faults.jsonl")


@contextmanager
def _recorded(target: LocalTarget, kind: str, subject: str, params: dict, recovery: dict):
    ledger = ledger_for(target)
    entry = ledger.begin(kind, subject, {**params, "run_id": os.environ.get("GAMEDAY_RUN_ID")}, recovery)
    try:
        details: dict = {}
        yield details
    except BaseException as exc:
        ledger.failed(entry, exc)
        raise
    ledger.injected(entry, details)


def _close(target: LocalTarget, recovery: dict, details: dict) -> int:
    """Mark every open entry whose recovery is `recovery` as recovered; returns how many."""
    ledger = ledger_for(target)
    closed = 0
    for entry in ledger.open_entries():
        if entry["recovery"] == recovery:
            ledger.recovered(entry["id"], details)
            closed += 1
    return closed


def _inject(configuration: dict | None, kind: str, subject: str, params: dict, call: str, args: dict,
            act) -> dict:
    """Record fault `kind` on `subject` (recovery: driver `call(**args)`), then make it with `act(target)`."""
    target = driver_from(configuration)
    with _recorded(target, kind, subject, params, {"call": call, "args": args}) as details:
        details.update(act(target))
    return details


def _undo(configuration: dict | None, call: str, **args) -> dict:
    """Run recovery `call` on the driver and close the ledger entries that named exactly this recovery."""
    target = driver_from(configuration)
    details = getattr(target, call)(**args)
    details["ledger_entries_closed"] = _close(target, {"call": call, "args": args}, details)
    return details


def recover_open(target: LocalTarget, log=lambda line: None) -> list[dict]:
    """Replay the recovery of every open ledger entry (newest first); returns what was done."""
    ledger = ledger_for(target)
    done = []
    for entry in reversed(ledger.open_entries()):
        call, args = entry["recovery"]["call"], entry["recovery"].get("args", {})
        log(f"recovering {entry['kind']} of {entry['target']} (begun {entry['at']}): {call}({args})")
        try:
            details = getattr(target, call)(**args)
        except Exception as exc:
            ledger.failed(entry["id"], f"recovery {call} failed: {exc}")
            raise
        _close(target, entry["recovery"], details)
        done.append({"id": entry["id"], "kind": entry["kind"], "target": entry["target"], "recovery": call})
    return done


def fail_region(region: str, mode: str = "partition", configuration: dict = None, secrets: dict = None) -> dict:
    """Cut `region` off (partition) or power it off (power_off); recorded in the fault ledger."""
    return _inject(configuration, "region_outage", region, {"mode": mode}, "restore_region", {"region": region},
                   lambda target: target.fail_region(region, mode))


def restore_region(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Bring `region` back (links and processes; its database as a standby when another region writes)."""
    return _undo(configuration, "restore_region", region=region)


def cut_link(link: str, duration_s: float = 0.0, configuration: dict = None, secrets: dict = None) -> dict:
    """Disable fault-proxy `link`; with duration_s > 0 restore it after that long (the call blocks)."""
    target = driver_from(configuration)
    recovery = {"call": "restore_link", "args": {"link": link}}
    with _recorded(target, "link_cut", link, {"duration_s": duration_s}, recovery) as details:
        details.update(target.cut_link(link))
    if duration_s > 0:
        time.sleep(duration_s)
        restored = target.restore_link(link)
        _close(target, recovery, restored)
        details["restored_at_s"] = restored["at_s"]
    return details


def restore_link(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Enable fault-proxy `link` again."""
    return _undo(configuration, "restore_link", link=link)


def add_latency(link: str, ms: float, jitter_ms: float = 0.0, configuration: dict = None,
                secrets: dict = None) -> dict:
    """Add `ms` ± `jitter_ms` of latency to every chunk crossing `link`."""
    return _inject(configuration, "latency", link, {"ms": ms, "jitter_ms": jitter_ms}, "remove_latency",
                   {"link": link}, lambda target: target.add_latency(link, ms, jitter_ms))


def remove_latency(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Remove the latency added to `link`."""
    return _undo(configuration, "remove_latency", link=link)


def inject_http_error(link: str, status: int, probability: float = 1.0, configuration: dict = None,
                      secrets: dict = None) -> dict:
    """Answer requests crossing HTTP `link` with `status` (e.g. 429, 503) with `probability` (0..1)."""
    status, probability = int(status), float(probability)
    return _inject(configuration, "http_error", link, {"status": status, "probability": probability},
                   "remove_http_error", {"link": link},
                   lambda target: target.inject_http_error(link, status, probability))


def remove_http_error(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Remove the HTTP error injected on `link`."""
    return _undo(configuration, "remove_http_error", link=link)


def kill_db_writer(configuration: dict = None, secrets: dict = None) -> dict:
    """SIGKILL the writable database (no region loss); its region is restored by `restore_region`."""
    target = driver_from(configuration)
    writers = target.writer_regions()
    region = writers[0] if writers else "unknown"
    with _recorded(target, "db_writer_kill", region, {}, {"call": "restore_region", "args": {"region": region}}) as details:
        details.update(target.kill_db_writer())
    return details


def flush_cache(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Empty `region`'s Redis (a cold cache, like a replaced node); nothing to undo, the cache refills itself."""
    target = driver_from(configuration)
    # Written ahead like every fault; there is nothing to undo, so the entry is closed as soon as it is made.
    with _recorded(target, "cache_flush", f"cache-{region}", {}, {"call": "restore_link",
                                                                   "args": {"link": f"cache-{region}"}}) as details:
        details.update(target.flush_cache(region))
    ledger = ledger_for(target)
    for entry in ledger.open_entries():
        if entry["kind"] == "cache_flush" and entry["target"] == f"cache-{region}":
            ledger.recovered(entry["id"], {"nothing_to_undo": True, "at_s": time.time()})
    return details
