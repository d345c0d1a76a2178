"""Chaos Toolkit actions for deployments: force a (bad) version live, watch for a regression, roll back.

A deployment is recorded in the fault ledger like a fault (kind `deployment`, recovery `rollback_deployment`),
so `gameday recover` and the run's safety net roll back a release a crashed run left live. The recovery is
idempotent: it rolls back only while the recorded version is still the region's active release.

On aws a release is a published Lambda version behind the region's alias (resources.deployments): deploying
moves the alias (the version carries its own fault: `error_rate` and `added_latency_ms` are local-only, and
there is no health gate to force past); the ledger entry is written ahead with the previous alias version, and
the rollback replays it. The regression watcher reads the release's watch url (default: the entry point).
"""

from __future__ import annotations

import math
import os
import time
from collections import deque

import httpx

from gameday.base import run_clock, write_ahead
from infra.targets import driver_from as target_from
from infra.targets import ledger_for

__all__ = ["deploy_version", "rollback_deployment", "rollback_on_regression"]

WATCH_INTERVAL_S = 0.05
WATCH_REQUEST_TIMEOUT_S = 2.0
MIN_WATCH_SAMPLES = 10


def deploy_version(region: str, version: str, error_rate: float = 0.0, added_latency_ms: float = 0.0,
                   force: bool = False, configuration: dict = None, secrets: dict = None) -> dict:
    """Deploy `version` to `region`'s idle slot through the region gateway (health gate; `force` skips it)."""
    target = target_from(configuration)
    params = {"version": version, "error_rate": error_rate, "added_latency_ms": added_latency_ms, "force": force,
              "run_id": os.environ.get("GAMEDAY_RUN_ID")}
    details = write_ahead.record(target, ledger_for(target), "deployment", region, params,
                                 {"region": region, "version": version},
                                 lambda t: t.deploy(region, version, error_rate, added_latency_ms, force))
    return {**details, "region": region, "at_s": run_clock.now()}


def rollback_deployment(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """Roll back every deployment to `region` still open in the fault ledger (none open: nothing to do)."""
    target = target_from(configuration)
    done = write_ahead.undo(target, ledger_for(target), "rollback_deployment", region, {}, fallback=False)
    undone = [d["details"] for d in done.get("undone", [])]
    return {"region": region, "rolled_back": len(undone), "details": undone, "at_s": run_clock.now()}


def _breached(window: deque, max_error_rate: float, max_p95_ms: float | None) -> tuple[bool, float, float]:
    """Pure: whether the watched requests break either bound; also their error share and P95 (nearest rank)."""
    errors = sum(1 for ok, _ in window if not ok)
    latencies = sorted(ms for _, ms in window)
    p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)]
    share = errors / len(window)
    return share > max_error_rate or (max_p95_ms is not None and p95 > max_p95_ms), share, p95


def rollback_on_regression(region: str, max_error_rate: float = 0.05, max_p95_ms: float | None = None,
                           window_s: float = 1.0, timeout_s: float = 30.0, configuration: dict = None,
                           secrets: dict = None) -> dict:
    """Watch `region`'s reads (an alarm stand-in); on a breach roll back, else give up after `timeout_s`."""
    target = target_from(configuration)
    url = target.release_watch_url(region)
    size = max(MIN_WATCH_SAMPLES, round(window_s / WATCH_INTERVAL_S))
    window: deque = deque(maxlen=size)
    started = run_clock.now()
    deadline = time.monotonic() + timeout_s
    n = 0
    with httpx.Client(timeout=WATCH_REQUEST_TIMEOUT_S) as client:
        while time.monotonic() < deadline:
            n += 1
            sent = time.perf_counter()
            try:
                ok = client.get(f"{url}/items/{n % 1000 + 1}").status_code < 500
            except httpx.HTTPError:
                ok = False
            window.append((ok, (time.perf_counter() - sent) * 1000))
            if len(window) >= MIN_WATCH_SAMPLES:
                breached, share, p95 = _breached(window, max_error_rate, max_p95_ms)
                if breached:
                    detected = run_clock.now()
                    rolled = rollback_deployment(region, configuration)
                    return {"region": region, "detected": True, "watch_started_s": started,
                            "detected_at_s": detected, "rolled_back_at_s": rolled["at_s"],
                            "error_rate": round(share, 4), "p95_ms": round(p95, 2), "watched": n,
                            "rollback": rolled}
            time.sleep(WATCH_INTERVAL_S)
    return {"region": region, "detected": False, "watch_started_s": started, "watched": n,
            "reason": f"no regression within {timeout_s:g} s", "at_s": run_clock.now()}
