"""Wait until a fault shows through the public entry point: the first failed health read, or the first answer
from another region than the one that served before. On AWS a fault bites later than its call returns (Route 53
needs interval x threshold to mark a region unhealthy, resolvers keep answers for a TTL); holding a fault "for
10 s" from the call would measure nothing. The hold starts when the impact is seen.

Every read opens a new connection (a new DNS lookup), so a DNS failover is seen, not connection reuse.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from gameday.base import run_clock

__all__ = ["first_impact"]


def first_impact(health_url: str, served_region: str | None, timeout_s: float, interval_s: float = 0.2,
                 read_timeout_s: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Read `health_url` every `interval_s` until it fails or names a region other than `served_region` (None:
    failures only), at most `timeout_s`. Returns `observed`, `how`, `after_s` (from the call), `at_s` (run clock),
    `reads`; `observed: False` when the timeout passed without impact (the fault did not bite: the run shows it)."""
    started = time.monotonic()
    reads = 0
    while True:
        reads += 1
        how = _impact_of(health_url, served_region, read_timeout_s)
        elapsed = time.monotonic() - started
        if how is not None or elapsed >= timeout_s:
            return {"observed": how is not None, "how": how or f"no impact within {timeout_s:g} s",
                    "after_s": round(elapsed, 3), "at_s": run_clock.now(), "reads": reads, "timeout_s": timeout_s}
        sleep(min(interval_s, max(0.0, timeout_s - elapsed)))


def _impact_of(url: str, served_region: str | None, timeout_s: float) -> str | None:
    try:
        answer = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    region = answer.headers.get("X-Region")
    if served_region is not None and region is not None and region != served_region:
        return f"answered by {region} instead of {served_region}"
    return None
