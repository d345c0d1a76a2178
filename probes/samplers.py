"""Continuous probe samplers: health, canary writes, routing, writers, replication lag and capacity into probes.jsonl.

    python -m probes.samplers --config sampler.json

Runs until SIGTERM/SIGINT or `duration_s`, then waits for in-flight requests (bounded by their timeouts),
flushes and exits 0. Health checks and canary writes follow an open model: each is its own task started
at a fixed intended time whatever the replies do, so an outage cannot slow the probes down and hide
itself. Routing and database samples are sequential polls (a slow answer delays the next poll).
Record formats: `probes.entry_point` (health, canary, routing) and `probes.pg` (writers, replication).
Capacity: each region gateway's own samples (`GET /_region/capacity?since=<newest seen>`, one every 0.5 s),
passed through as `{"probe": "capacity", "at_s": <gateway sample time>, "region", "instances", "ready",
"in_flight", "utilisation", "throttles_total", "requests_total", "max_instances", "min_instances", "slot"}`;
the poll interval only sets how late they arrive, not their resolution. An unreachable gateway is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import psycopg
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from gameday.base import run_clock
from gameday.base.probe_kinds import ProbeKind
from probes.entry_point import canary_probe, health_probe, routing_probe
from probes.jsonl import JsonlWriter
from probes.pg import STATE_SQL, DbState, conninfo, replication_records

MAX_LATE_S = 1.0  # a loop stalled longer than this skips the missed ticks instead of bursting them


class SamplerConfig(BaseModel):
    """The sampler's JSON config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out: Path
    entry_url: str
    health_interval_s: PositiveFloat = 0.1
    health_timeout_s: PositiveFloat = 1.0
    canary_rate_per_s: PositiveFloat = 20.0
    canary_timeout_s: PositiveFloat = 1.0
    canary_seq_start: int | None = Field(default=None, ge=0)  # None: epoch ms at start, so runs never collide
    routing_url: str | None = None
    routing_interval_s: PositiveFloat = 0.2
    routing_timeout_s: PositiveFloat = 0.5
    pg_ports: dict[str, int] = Field(default_factory=dict)
    replication_interval_s: PositiveFloat = 0.5
    capacity_urls: dict[str, str] = Field(default_factory=dict)  # region -> its gateway's base URL
    capacity_interval_s: PositiveFloat = 1.0
    capacity_timeout_s: PositiveFloat = 1.0
    duration_s: PositiveFloat | None = None
    flush_interval_s: PositiveFloat = 0.2
    canary_url: str | None = None  # where canary writes go (None: {entry_url}/writes)
    fresh_connections: bool = False  # a connection (a DNS lookup) per health and canary probe: no keep-alive


class Clock:
    """Maps the event loop's monotonic clock to epoch seconds, fixed once at start (no wall-clock jumps)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.start_mono = loop.time()
        self.start_epoch_s = run_clock.now()  # loop.time() is the same CLOCK_MONOTONIC

    def epoch(self, mono: float) -> float:
        return self.start_epoch_s + (mono - self.start_mono)

    def now(self) -> float:
        return self.epoch(self.loop.time())


async def every(interval_s: float, clock: Clock, stop: asyncio.Event,
                action: Callable[[int, float], Awaitable[None]], tasks: set[asyncio.Task] | None) -> None:
    """Call `action(tick, intended_epoch_s)` at fixed intended times until `stop`.

    With `tasks`, each call is its own task (open model); without, calls run one after another."""
    tick = 0
    while not stop.is_set():
        due = clock.start_mono + tick * interval_s
        delay = due - clock.loop.time()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return
            except TimeoutError:
                pass
        elif -delay > (MAX_LATE_S if tasks is not None else interval_s):  # polls skip what they missed
            tick += int(-delay / interval_s)
            continue
        if tasks is None:
            await action(tick, clock.epoch(due))
        else:
            task = asyncio.create_task(action(tick, clock.epoch(due)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        tick += 1


CAPACITY_FIELDS = ("instances", "ready", "in_flight", "utilisation", "throttles_total", "requests_total",
                   "max_instances", "min_instances", "slot")


def capacity_records(region: str, samples: list[dict], after_s: float) -> list[dict]:
    """Pure: the gateway's capacity samples newer than `after_s` as probe records, oldest first."""
    records = []
    for sample in sorted(samples, key=lambda s: s.get("at_s", 0.0)):
        if not isinstance(sample.get("at_s"), (int, float)) or sample["at_s"] <= after_s:
            continue
        record = {"probe": ProbeKind.capacity, "at_s": sample["at_s"], "region": region}
        record.update({key: sample[key] for key in CAPACITY_FIELDS if key in sample})
        records.append(record)
    return records


class CapacitySampler:
    """Polls each region gateway's capacity samples since the newest one seen (none lost between polls)."""

    def __init__(self, urls: dict[str, str], client: httpx.AsyncClient, since_s: float, timeout_s: float):
        self.urls = {region: url.rstrip("/") for region, url in urls.items()}
        self.client = client
        self.timeout_s = timeout_s
        self.newest = dict.fromkeys(urls, since_s)

    async def poll(self, region: str) -> list[dict]:
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.client.get(f"{self.urls[region]}/_region/capacity",
                                                  params={"since": repr(self.newest[region])})
            response.raise_for_status()
            samples = response.json().get("samples") or []
        except (TimeoutError, httpx.HTTPError, ValueError, AttributeError):
            return []  # a gateway that is down has no capacity to report; the next poll asks again
        records = capacity_records(region, samples, self.newest[region])
        if records:
            self.newest[region] = records[-1]["at_s"]  # the gateway's own clock: what its `since` means
        shift_s = run_clock.from_wall(0.0)  # the gateway stamps with its wall clock: onto the run's time base
        return [{**record, "at_s": record["at_s"] + shift_s} for record in records]

    async def sample(self) -> list[dict]:
        found = await asyncio.gather(*(self.poll(region) for region in self.urls))
        return [record for records in found for record in records]


class DbSampler:
    """Keeps one connection per region; a failed query closes it so the next sample connects afresh."""

    def __init__(self, pg_ports: dict[str, int], timeout_s: float):
        self.pg_ports = pg_ports
        self.timeout_s = timeout_s
        self.conns: dict[str, psycopg.AsyncConnection | None] = dict.fromkeys(pg_ports)

    async def state(self, region: str) -> DbState | None:
        try:
            async with asyncio.timeout(self.timeout_s):
                if self.conns[region] is None:
                    self.conns[region] = await psycopg.AsyncConnection.connect(
                        conninfo(self.pg_ports[region]), autocommit=True)
                cursor = await self.conns[region].execute(STATE_SQL)
                return DbState.from_row(region, await cursor.fetchone())
        except (psycopg.Error, OSError, TimeoutError):
            await self.drop(region)
            return None  # unreachable: not writable, no lag figure - that is the observation

    async def sample(self, at_s: float) -> list[dict]:
        states = await asyncio.gather(*(self.state(region) for region in self.pg_ports))
        return replication_records(at_s, [s for s in states if s is not None])

    async def drop(self, region: str) -> None:
        conn, self.conns[region] = self.conns[region], None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 0.5)
            except (psycopg.Error, OSError, TimeoutError):
                pass  # already broken; the next sample connects afresh

    async def close(self) -> None:
        for region in self.conns:
            await self.drop(region)


async def run(config: SamplerConfig) -> int:
    """Sample until a signal or the duration ends; returns the process exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if config.duration_s is not None:
        loop.call_later(config.duration_s, stop.set)
    writer = JsonlWriter(config.out)
    in_flight: set[asyncio.Task] = set()
    base = config.entry_url.rstrip("/")
    # Separate pools: a stalled write path must not starve the health checks of connections.
    health_client = _client(config.health_interval_s, config.health_timeout_s, config.fresh_connections)
    canary_client = _client(1 / config.canary_rate_per_s, config.canary_timeout_s, config.fresh_connections)
    canary_url = config.canary_url or f"{base}/writes"
    routing_client = _client(config.routing_interval_s, config.routing_timeout_s)
    capacity_client = _client(config.capacity_interval_s, config.capacity_timeout_s)
    db = DbSampler(config.pg_ports, timeout_s=min(2.0, config.replication_interval_s * 2 + 1))
    clock = Clock(loop)  # after the clients: building them (TLS contexts) takes ~0.1 s that is no latency
    capacity = CapacitySampler(config.capacity_urls, capacity_client, clock.start_epoch_s, config.capacity_timeout_s)
    seq_start = config.canary_seq_start if config.canary_seq_start is not None else int(clock.start_epoch_s * 1000)

    async def health(tick: int, at_s: float) -> None:
        writer.append(await health_probe(health_client, f"{base}/health", at_s, config.health_timeout_s, clock.now))

    async def canary(tick: int, sent_s: float) -> None:
        writer.append(await canary_probe(canary_client, canary_url, seq_start + tick, sent_s,
                                         config.canary_timeout_s, clock.now))

    async def routing(tick: int, at_s: float) -> None:
        writer.append(await routing_probe(routing_client, config.routing_url, at_s, config.routing_timeout_s))

    async def databases(tick: int, at_s: float) -> None:
        writer.extend(await db.sample(at_s))

    async def capacities(tick: int, at_s: float) -> None:
        writer.extend(await capacity.sample())

    async def flush(tick: int, at_s: float) -> None:
        writer.flush()

    loops = [every(config.health_interval_s, clock, stop, health, in_flight),
             every(1 / config.canary_rate_per_s, clock, stop, canary, in_flight),
             every(config.flush_interval_s, clock, stop, flush, None)]
    if config.routing_url:
        loops.append(every(config.routing_interval_s, clock, stop, routing, None))
    if config.pg_ports:
        loops.append(every(config.replication_interval_s, clock, stop, databases, None))
    if config.capacity_urls:
        loops.append(every(config.capacity_interval_s, clock, stop, capacities, None))
    try:
        await asyncio.gather(*loops)
        if in_flight:  # each ends within its own timeout; the margin covers a slow loop
            await asyncio.wait(set(in_flight), timeout=max(config.health_timeout_s, config.canary_timeout_s) + 1)
        for task in list(in_flight):
            task.cancel()
        if config.capacity_urls:  # the gateways' samples up to the stop, so the last seconds are not lost
            writer.extend(await capacity.sample())
    finally:
        await db.close()
        for client in (health_client, canary_client, routing_client, capacity_client):
            await client.aclose()
        writer.close()
    return 0


def _client(interval_s: float, timeout_s: float, fresh: bool = False) -> httpx.AsyncClient:
    """Enough connections for every request that can be in flight at once, plus slack. `fresh`: none kept alive,
    so every probe resolves the name again (the resolver honours the record's TTL) and a DNS failover shows when
    it happens, not when an old connection to the old region's address breaks."""
    connections = int(timeout_s / interval_s) + 10
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s + 1.0),
                             limits=httpx.Limits(max_connections=connections,
                                                 max_keepalive_connections=0 if fresh else connections))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="JSON config (see SamplerConfig)")
    args = parser.parse_args(argv)
    try:
        config = SamplerConfig.model_validate_json(args.config.read_text())
    except (OSError, ValidationError) as exc:
        print(f"reading of sampler config {args.config} failed: {exc}\nhint: see probes.samplers.SamplerConfig",
              file=sys.stderr)
        return 2
    return asyncio.run(run(config))


if __name__ == "__main__":
    sys.exit(main())
