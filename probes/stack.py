"""Chaos Toolkit probes on the target the run acts on (no addresses in the experiment file)."""

from __future__ import annotations

import httpx

from infra.targets import driver_from

__all__ = ["entry_point_healthy", "single_writer", "writer_region", "served_region", "region_capacity"]


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
