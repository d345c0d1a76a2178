"""Chaos Toolkit probes on the target the run acts on (no addresses in the experiment file)."""

from __future__ import annotations

import httpx

from infra.targets import driver_from
from probes.impact import first_impact

__all__ = ["entry_point_healthy", "single_writer", "writer_region", "served_region", "region_capacity",
           "wait_for_impact"]

IMPACT_TIMEOUT_MARGIN_S = 10.0


def entry_point_healthy(configuration: dict = None, secrets: dict = None) -> bool:
    """True when `GET /health` through the public entry point answers 200."""
    target = driver_from(configuration)
    try:
        return httpx.get(f"{target.entry_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def single_writer(configuration: dict = None, secrets: dict = None) -> bool:
    """True when at most one database is writable (no split brain)."""
    return len(driver_from(configuration).writer_regions()) <= 1


def writer_region(configuration: dict = None, secrets: dict = None) -> str:
    """The region whose database is writable ("none" or "split-brain" otherwise)."""
    writers = driver_from(configuration).writer_regions()
    return writers[0] if len(writers) == 1 else ("none" if not writers else "split-brain")


def served_region(configuration: dict = None, secrets: dict = None) -> str:
    """The region the entry point's router sends traffic to now."""
    return driver_from(configuration).served_region()


def region_capacity(region: str, configuration: dict = None, secrets: dict = None) -> dict:
    """The region gateway's capacity now: instances, ready ones, in flight, its caps and throttles so far (on aws:
    the region's Lambda functions' peak concurrency, throttles and reserved concurrency from CloudWatch)."""
    return driver_from(configuration).region_capacity(region)


def wait_for_impact(region: str | None = None, timeout_s: float | None = None, configuration: dict = None,
                    secrets: dict = None) -> dict:
    """Block until the fault shows through the entry point (a failed health read, or an answer from another
    region than `region`); by default at most twice the target's reroute time + 10 s (probes.impact)."""
    target = driver_from(configuration)
    if timeout_s is None:
        timeout_s = 2 * target.detection_timing().reroute_s + IMPACT_TIMEOUT_MARGIN_S
    return first_impact(f"{target.entry_url}/health", region, float(timeout_s))
