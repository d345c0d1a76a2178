"""Chaos Toolkit actions that inject faults, each written to the fault ledger before it is made.

What each fault is (the driver call that makes it, the one that undoes it, whether it starts the RTO clock) is
the fault catalogue's (gameday.base.catalogue); the write-ahead protocol is gameday.base.write_ahead. Rollbacks,
`gameday recover` and the start of every `gameday run` replay the recoveries of entries left open. The driver
comes from the `gameday_*` configuration keys or the GAMEDAY_* environment (the run engine sets both for its
child); its ledger from `infra.targets.ledger_for` (a stable path per local stack, or per AWS profile and account).
"""

from __future__ import annotations

import os
import time

from gameday.base import write_ahead
from gameday.base.catalogue import fault_kind
from infra.targets import driver_from, ledger_for

__all__ = ["fail_region", "restore_region", "cut_link", "restore_link", "add_latency", "remove_latency",
           "limit_bandwidth", "remove_bandwidth_limit", "kill_db_writer", "flush_cache", "inject_http_error",
           "remove_http_error", "silence_alarm", "restore_alarm"]


def _inject(configuration: dict | None, kind: str, subject: str, **args) -> dict:
    """Make fault `kind` on `subject` through the driver call the catalogue names, written ahead."""
    target = driver_from(configuration)
    params = {key: value for key, value in args.items() if key not in ("region", "link")}
    params["run_id"] = os.environ.get("GAMEDAY_RUN_ID")
    call = fault_kind(kind).inject
    return write_ahead.record(target, ledger_for(target), kind, subject, params, args,
                              lambda t: getattr(t, call)(**args))


def _undo(configuration: dict | None, call: str, subject: str, **args) -> dict:
    """Undo the open faults on `subject` that `call` undoes, with their recorded recoveries; with none open, run
    `call(**args)` on a driver whose undo needs no saved state (the local stack), else nothing."""
    target = driver_from(configuration)
    done = write_ahead.undo(target, ledger_for(target), call, subject, args, fallback=target.replays_without_ledger)
    done.pop("undone", None)
    return done


def fail_region(region: str, mode: str = "partition", configuration: dict = None, secrets: dict = None) -> dict:
    """Cut `region` off (partition) or power it off (power_off); on aws: health_check, dns_record, fis (local modes
    map to fis); recorded in the fault ledger."""
    return _inject(configuration, "region_outage", region, region=region, mode=mode)


def restore_region(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Bring `region` back (links and processes; its database as a standby when another region writes)."""
    return _undo(configuration, "restore_region", region, region=region)


def cut_link(link: str, duration_s: float = 0.0, configuration: dict = None, secrets: dict = None) -> dict:
    """Disable fault-proxy `link` (on aws: `provider-<name>` kill switch on, `cache-<region>` ElastiCache test
    failover, `origin-<region>` S3 origin denies reads; infra/aws/README.md); with duration_s > 0 restore it after
    that long (the call blocks; a dry run does not wait)."""
    target = driver_from(configuration)
    details = write_ahead.record(target, ledger_for(target), "link_cut", link,
                                 {"duration_s": duration_s, "run_id": os.environ.get("GAMEDAY_RUN_ID")},
                                 {"link": link}, lambda t: t.cut_link(link))
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
    return _inject(configuration, "latency", link, link=link, ms=ms, jitter_ms=jitter_ms)


def remove_latency(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Remove the latency added to `link`."""
    return _undo(configuration, "remove_latency", link, link=link)


def limit_bandwidth(link: str, rate_kb_s: int, configuration: dict = None, secrets: dict = None) -> dict:
    """Cap the throughput of `link` at `rate_kb_s` KB/s (1 KB = 1000 bytes) in each direction."""
    return _inject(configuration, "bandwidth", link, link=link, rate_kb_s=int(rate_kb_s))


def remove_bandwidth_limit(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Remove the throughput cap of `link`."""
    return _undo(configuration, "remove_bandwidth_limit", link, link=link)


def inject_http_error(link: str, status: int, probability: float = 1.0, configuration: dict = None,
                      secrets: dict = None) -> dict:
    """Answer requests crossing HTTP `link` with `status` (e.g. 429, 503) with `probability` (0..1); on aws only
    429 on `provider-<name>` (its kill switch set to `throttle:<probability>`)."""
    return _inject(configuration, "http_error", link, link=link, status=int(status), probability=float(probability))


def remove_http_error(link: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Remove the HTTP error injected on `link`."""
    return _undo(configuration, "remove_http_error", link, link=link)


def kill_db_writer(restore_writer: bool = False, configuration: dict = None, secrets: dict = None) -> dict:
    """Take the writer database away (local: SIGKILL; aws: in-region cluster failover); undone by `restore_region`
    (aws: nothing to undo unless `restore_writer`, which fails back to the old writer instance: a second outage)."""
    target = driver_from(configuration)
    writers = target.writer_regions()
    region = writers[0] if writers else "unknown"
    return write_ahead.record(target, ledger_for(target), "db_writer_kill", region,
                              {"run_id": os.environ.get("GAMEDAY_RUN_ID")}, {"region": region},
                              lambda t: t.kill_db_writer(restore_writer=bool(restore_writer)))


def flush_cache(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Empty `region`'s Redis (a cold cache, like a replaced node; on aws an ElastiCache test failover); nothing to
    undo, the cache refills itself."""
    # Written ahead like every fault; there is nothing to undo, so the entry is closed as soon as it is made.
    target = driver_from(configuration)
    return write_ahead.record(target, ledger_for(target), "cache_flush", f"cache-{region}",
                              {"run_id": os.environ.get("GAMEDAY_RUN_ID")}, {"region": region},
                              lambda t: t.flush_cache(region))


def recover_open(target, log=lambda line: None) -> list[dict]:
    """Replay the recovery of every open ledger entry of `target` (newest first); returns what was done."""
    return write_ahead.recover_open(target, ledger_for(target), log)


def silence_alarm(alarm: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Stop monitoring alarm `alarm` (the local monitor no longer evaluates it: a deleted or never deployed alarm),
    to show that a GameDay catches the detection gap; recorded in the fault ledger."""
    return _inject(configuration, "alarm_silenced", alarm, alarm=alarm)


def restore_alarm(alarm: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Monitor alarm `alarm` again."""
    return _undo(configuration, "restore_alarm", alarm, alarm=alarm)
