"""Chaos Toolkit action that warms the cache: every item read once through the public entry point.

A cold cache doubles a read's round trips (miss, database, fill), so a scenario that judges latency under load
(spike-10x) warms it first; the sweep runs on a few connections so it adds no load spike of its own.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from gameday.base import run_clock
from infra.targets import driver_from
from scenarios.journeys import ITEM_IDS

__all__ = ["warm_cache"]


def warm_cache(connections: int = 4, configuration: dict = None, secrets: dict = None) -> dict:
    """Read every item (`GET /items/<id>`) once through the entry point; counts of cache hits, misses, failures."""
    target = driver_from(configuration)
    first, last = ITEM_IDS
    ids = list(range(first, last + 1))
    started = run_clock.now()

    def sweep(part: list[int]) -> Counter:
        counts = Counter({"hit": 0, "miss": 0, "other": 0, "failed": 0})
        with httpx.Client(base_url=target.entry_url, timeout=5) as client:
            for item in part:
                try:
                    response = client.get(f"/items/{item}")
                except httpx.HTTPError:
                    counts["failed"] += 1
                    continue
                if response.status_code != 200:
                    counts["failed"] += 1
                else:
                    state = response.headers.get("X-Cache", "").lower()
                    counts[state if state in ("hit", "miss") else "other"] += 1
        return counts

    workers = max(1, int(connections))
    with ThreadPoolExecutor(workers) as pool:
        counts = sum(pool.map(sweep, [ids[n::workers] for n in range(workers)]), Counter())
    return {"items": len(ids), "hit": counts["hit"], "miss": counts["miss"], "other": counts["other"],
            "failed": counts["failed"], "duration_s": round(run_clock.now() - started, 3)}
