"""Local reference stack figures: cold start, router detection time, and the fault proxy's cost per hop.

    .venv/bin/python benchmarks/stack_bench.py [--requests 2000] [--detections 3]

Runs its own stack on a free block of ports in a scratch directory; prints a table; stops what it started.
Hops are measured side by side in one run (interleaved rounds), so the differences are fair on a noisy box.
"""

from __future__ import annotations

import argparse
import math
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gameday.base.settings import Settings
from infra.local import postgres
from infra.local.layout import PRIMARY_REGION, SECONDARY_REGION, StackLayout, cache_link, db_link, router_link
from infra.local.supervisor import LocalStack
from infra.local.toxiproxy_client import ToxiproxyClient
from infra.local.waiting import port_is_free
from infra.targets.local import stack_config, with_base_port


def free_base() -> int:
    for base in range(31000, 40000, 50):
        if all(port_is_free(p) for p in StackLayout.from_base(base).all_ports()):
            return base
    raise SystemExit("no free block of ports")


def pct(values: list[float], q: float) -> float:
    """Exact nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure_cold_start(root: Path, base: int, warm_runs: int) -> dict:
    settings = with_base_port(Settings(stack_root=root), base)
    stack = LocalStack(stack_config(settings))
    started = time.perf_counter()
    stack.up()
    scratch = time.perf_counter() - started
    stack.down()
    warm = []
    for _ in range(warm_runs):
        started = time.perf_counter()
        stack.up()
        warm.append(time.perf_counter() - started)
        stack.down()
    return {"scratch_s": scratch, "warm_s": warm}


def measure_detection(stack: LocalStack, runs: int) -> list[float]:
    toxi = ToxiproxyClient(stack.layout.toxiproxy_url)
    status_url = f"{stack.layout.router_url}/_router/status"
    out = []
    for _ in range(runs):
        cut = time.time()
        toxi.set_enabled(router_link(PRIMARY_REGION), False)
        while httpx.get(status_url).json()["served_region"] != SECONDARY_REGION:
            time.sleep(0.01)
        out.append(time.time() - cut)
        toxi.reset()
        while httpx.get(status_url).json()["served_region"] != PRIMARY_REGION:
            time.sleep(0.05)
        time.sleep(1.0)
    return out


def measure_hops(stack: LocalStack, n: int) -> dict[str, list[float]]:
    lay = stack.layout
    app_direct = httpx.Client(base_url=f"http://127.0.0.1:{lay.app_port(PRIMARY_REGION)}")
    app_proxied = httpx.Client(base_url=f"http://{lay.link(router_link(PRIMARY_REGION)).listen}")
    via_router = httpx.Client(base_url=lay.router_url)
    pg_direct = psycopg.connect(postgres.dsn(lay.pg_port(PRIMARY_REGION)), autocommit=True)
    pg_proxied = psycopg.connect(postgres.dsn(lay.link(db_link(PRIMARY_REGION)).listen_port), autocommit=True)
    redis_direct = redis.Redis(port=lay.redis_port(PRIMARY_REGION))
    redis_proxied = redis.Redis(port=lay.link(cache_link(PRIMARY_REGION)).listen_port)
    cases = {
        "http: client -> api": lambda: app_direct.get("/items/1"),
        "http: client -> proxy -> api": lambda: app_proxied.get("/items/1"),
        "http: client -> router -> proxy -> api": lambda: via_router.get("/items/1"),
        "pg: SELECT 1 direct": lambda: pg_direct.execute("SELECT 1").fetchone(),
        "pg: SELECT 1 via proxy": lambda: pg_proxied.execute("SELECT 1").fetchone(),
        "redis: PING direct": redis_direct.ping,
        "redis: PING via proxy": redis_proxied.ping,
    }
    for fn in cases.values():  # warm connections and caches
        timed(fn, 50)
    results: dict[str, list[float]] = {name: [] for name in cases}
    rounds = 10
    for _ in range(rounds):
        for name, fn in cases.items():
            results[name] += timed(fn, n // rounds)
    for c in (app_direct, app_proxied, via_router, pg_direct, pg_proxied, redis_direct, redis_proxied):
        c.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per hop case")
    parser.add_argument("--detections", type=int, default=3, help="router failovers to time")
    parser.add_argument("--warm-starts", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gameday-bench-"))
    root.chmod(0o755)
    base = free_base()
    stack = LocalStack(stack_config(with_base_port(Settings(stack_root=root), base)))
    try:
        print(f"machine: {socket.gethostname()}, python {sys.version.split()[0]}, stack base port {base}")
        cold = measure_cold_start(root, base, args.warm_starts)
        print(f"cold start, new data dirs (initdb + pg_basebackup): {cold['scratch_s']:.2f} s")
        print(f"cold start, data dirs reused: median {statistics.median(cold['warm_s']):.2f} s "
              f"(runs: {', '.join(f'{w:.2f}' for w in cold['warm_s'])})")
        stack.up()
        settings = stack.config
        detections = measure_detection(stack, args.detections)
        bound = settings.router_interval_s * settings.router_failure_threshold
        print(f"router detection (link cut -> router serves secondary), interval {settings.router_interval_s} s x "
              f"threshold {settings.router_failure_threshold} = {bound:.1f} s: "
              f"median {statistics.median(detections):.2f} s "
              f"(runs: {', '.join(f'{d:.2f}' for d in detections)})")
        hops = measure_hops(stack, args.requests)
        print(f"\n{'case':<42}{'median ms':>10}{'p99 ms':>10}{'n':>7}")
        for name, values in hops.items():
            print(f"{name:<42}{statistics.median(values):>10.3f}{pct(values, 99):>10.3f}{len(values):>7}")
        pairs = [("http: client -> proxy -> api", "http: client -> api", "fault proxy, HTTP hop"),
                 ("pg: SELECT 1 via proxy", "pg: SELECT 1 direct", "fault proxy, Postgres hop"),
                 ("redis: PING via proxy", "redis: PING direct", "fault proxy, Redis hop"),
                 ("http: client -> router -> proxy -> api", "http: client -> proxy -> api", "router hop")]
        print(f"\n{'added by':<30}{'median ms':>10}{'p99 ms':>10}")
        for with_hop, without, label in pairs:
            print(f"{label:<30}{statistics.median(hops[with_hop]) - statistics.median(hops[without]):>10.3f}"
                  f"{pct(hops[with_hop], 99) - pct(hops[without], 99):>10.3f}")
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
