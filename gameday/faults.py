"""Chaos Toolkit actions that inject faults, each written to the fault ledger before it is made.

Every fault names its recovery (a driver call with arguments); rollbacks, `gameday recover` and the start
of every `gameday run` replay the recoveries of entries left open. The driver comes from the `gameday_*`
configuration keys or the GAMEDAY_* environment (the run engine sets both for its child); its ledger from
`infra.targets.ledger_for` (a stable path per local stack, or per AWS profile and account).

Write-ahead: a local fault's recovery is known before it is made. The AWS driver knows the exact recovery (the
previous values) only after its guard and its reads, so the entry is begun from its `write_ahead` callback, just
before the first change; the answer's `recovery` (e.g. the FIS experiment id) is recorded with `injected`.
"""

from __future__ import annotations

import json
import os
import time

from gameday.ledger import NOTHING, recovery_of
from infra.targets import driver_from, ledger_for

__all__ = ["fail_region", "restore_region", "cut_link", "restore_link", "add_latency", "remove_latency",
           "kill_db_writer", "flush_cache", "inject_http_error", "remove_http_error"]

#: Which recorded faults a rollback call undoes (matched with the fault's subject: region or link).
UNDOES = {"restore_region": ("region_outage", "db_writer_kill"), "restore_link": ("link_cut",),
          "remove_latency": ("latency",), "remove_http_error": ("http_error",)}


def _inject(target, kind: str, subject: str, params: dict, recovery: dict | None, act) -> dict:
    """Record fault `kind` on `subject` (fsync), make it with `act(target)`, record that it was made."""
    ledger = ledger_for(target)
    params = {**params, "run_id": os.environ.get("GAMEDAY_RUN_ID")}
    entry: str | None = None

    def begin(exact: dict | None) -> None:
        nonlocal entry
        if entry is None:
            entry = ledger.begin(kind, subject, params, exact or NOTHING)

    write_ahead = getattr(target, "write_ahead", None)
    try:
        if write_ahead is None:
            begin(recovery)
            details = act(target)
        else:
            with write_ahead(begin):
                details = act(target)
    except BaseException as exc:
        if entry is not None:
            ledger.failed(entry, exc)
        raise
    if entry is None:  # the driver changed nothing (e.g. a promotion to the region that already writes)
        return details
    ledger.injected(entry, details)
    if recovery_of(ledger.entries(), entry) == NOTHING:
        ledger.recovered(entry, {"nothing_to_undo": True, "at_s": time.time()})
    return details


def _replay(target, ledger, entries: list[dict], log=lambda line: None) -> list[dict]:
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
            details = {"nothing_to_undo": True, "at_s": time.time()} if call == NOTHING["call"] \
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


def recover_open(target, log=lambda line: None) -> list[dict]:
    """Replay the recovery of every open ledger entry of `target` (newest first); returns what was done."""
    ledger = ledger_for(target)
    return _replay(target, ledger, list(reversed(ledger.open_entries())), log)


def _undo(configuration: dict | None, call: str, subject: str, **args) -> dict:
    """Undo the open faults on `subject` that `call` undoes, with their recorded recoveries. With none open, the
    local driver runs `call(**args)` anyway (idempotent); the AWS driver does nothing, since only the ledger
    knows the previous values."""
    target = driver_from(configuration)
    ledger = ledger_for(target)
    matching = [e for e in reversed(ledger.open_entries()) if e["kind"] in UNDOES[call] and e["target"] == subject]
    if matching:
        done = _replay(target, ledger, matching)
        return {**done[-1]["details"], "ledger_entries_closed": len(done)}
    if target.name == "aws":
        return {"skipped": True, "reason": f"no open fault on {subject} in the ledger", "ledger_entries_closed": 0,
                "at_s": time.time()}
    return {**getattr(target, call)(**args), "ledger_entries_closed": 0}


def fail_region(region: str, mode: str = "partition", configuration: dict = None, secrets: dict = None) -> dict:
    """Cut `region` off (partition) or power it off (power_off); on aws: health_check, dns_record, fis (local modes
    map to fis); recorded in the fault ledger."""
    target = driver_from(configuration)
    return _inject(target, "region_outage", region, {"mode": mode},
                   {"call": "restore_region", "args": {"region": region}}, lambda t: t.fail_region(region, mode))


def restore_region(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Bring `region` back (links and processes; its database as a standby when another region writes)."""
    return _undo(configuration, "restore_region", region, region=region)


def cut_link(link: str, duration_s: float = 0.0, configuration: dict = None, secrets: dict = None) -> dict:
    """Disable fault-proxy `link` (on aws: `provider-<name>` kill switch on, `cache-<region>` ElastiCache test
    failover, `origin-<region>` S3 origin denies reads; infra/aws/README.md); with duration_s > 0 restore it after that long (the call blocks; a dry run does not wait)."""
    target = driver_from(configuration)
    details = _inject(target, "link_cut", link, {"duration_s": duration_s},
                      {"call": "restore_link", "args": {"link": link}}, lambda t: t.cut_link(link))
    if duration_s > 0:
        if not target.dry_run:
            time.sleep(duration_s)
        restored = _undo(configuration, "restore_link", link, link=link)
        details["restored_at_s"] = restored["at_s"]
    return details


def restore_link(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Enable fault-proxy `link` again (on aws: the recorded previous values; a cache failover has none)."""
    return _undo(configuration, "restore_link", link, link=link)


def add_latency(link: str, ms: float, jitter_ms: float = 0.0, configuration: dict = None,
                secrets: dict = None) -> dict:
    """Add `ms` ± `jitter_ms` of latency to every chunk crossing `link`."""
    target = driver_from(configuration)
    return _inject(target, "latency", link, {"ms": ms, "jitter_ms": jitter_ms},
                   {"call": "remove_latency", "args": {"link": link}}, lambda t: t.add_latency(link, ms, jitter_ms))


def remove_latency(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Remove the latency added to `link`."""
    return _undo(configuration, "remove_latency", link, link=link)


def inject_http_error(link: str, status: int, probability: float = 1.0, configuration: dict = None,
                      secrets: dict = None) -> dict:
    """Answer requests crossing HTTP `link` with `status` (e.g. 429, 503) with `probability` (0..1); on aws only
    429 on `provider-<name>` (its kill switch set to `throttle:<probability>`)."""
    status, probability = int(status), float(probability)
    target = driver_from(configuration)
    return _inject(target, "http_error", link, {"status": status, "probability": probability},
                   {"call": "remove_http_error", "args": {"link": link}},
                   lambda t: t.inject_http_error(link, status, probability))


def remove_http_error(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Remove the HTTP error injected on `link`."""
    return _undo(configuration, "remove_http_error", link, link=link)


def kill_db_writer(configuration: dict = None, secrets: dict = None) -> dict:
    """Take the writer database away (local: SIGKILL; aws: cluster failover); undone by `restore_region`."""
    target = driver_from(configuration)
    writers = target.writer_regions()
    region = writers[0] if writers else "unknown"
    return _inject(target, "db_writer_kill", region, {}, {"call": "restore_region", "args": {"region": region}},
                   lambda t: t.kill_db_writer())


def flush_cache(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Empty `region`'s Redis (a cold cache, like a replaced node; on aws an ElastiCache test failover); nothing to
    undo, the cache refills itself."""
    target = driver_from(configuration)
    # Written ahead like every fault; there is nothing to undo, so the entry is closed as soon as it is made.
    return _inject(target, "cache_flush", f"cache-{region}", {}, None, lambda t: t.flush_cache(region))
