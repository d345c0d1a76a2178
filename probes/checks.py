"""Chaos Toolkit probes for steady-state hypotheses: single writer, writer region, entry-point health, canary write."""

from __future__ import annotations

import asyncio

import httpx

from gameday.base import run_clock
from gameday.base.errors import GameDayError
from probes.entry_point import canary_probe
from probes.pg import read_state

__all__ = ["canary_write", "entry_point_healthy", "single_writer", "writer_region"]

TIMEOUT_S = 1.0


def _writable_regions(pg_ports: dict) -> list[str]:
    states = [read_state(region, int(port)) for region, port in pg_ports.items()]
    return sorted(s.region for s in states if s is not None and s.writable)


def single_writer(pg_ports: dict, configuration: dict | None = None, secrets: dict | None = None) -> bool:
    """True when at most one region's database is writable (no split brain)."""
    return len(_writable_regions(pg_ports)) <= 1


def writer_region(pg_ports: dict, configuration: dict | None = None, secrets: dict | None = None) -> str | None:
    """The region whose database is writable, or None when none is (split brain raises)."""
    writers = _writable_regions(pg_ports)
    if len(writers) > 1:
        raise GameDayError(f"lookup of the writer region on target local failed: split brain, "
                           f"{' and '.join(writers)} are all writable",
                           hint="demote or stop all but one, then check probes.checks.single_writer")
    return writers[0] if writers else None


def entry_point_healthy(url: str, configuration: dict | None = None, secrets: dict | None = None) -> bool:
    """True when `GET {url}/health` answers 200 within a second."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False  # no answer is the observation "unhealthy"


def canary_write(url: str, seq: int, configuration: dict | None = None, secrets: dict | None = None) -> dict:
    """Write canary `seq` through `POST {url}/writes`; returns the sampler's canary record (acked|failed|uncertain)."""
    return asyncio.run(_canary_write(f"{url.rstrip('/')}/writes", int(seq)))


async def _canary_write(url: str, seq: int) -> dict:
    async with httpx.AsyncClient(timeout=TIMEOUT_S + 1) as client:
        return await canary_probe(client, url, seq, run_clock.now(), TIMEOUT_S)
