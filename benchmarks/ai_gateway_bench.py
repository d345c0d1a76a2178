"""Added latency of the AI gateway when its first provider is down (link disabled or 429) vs healthy.

    .venv/bin/python benchmarks/ai_gateway_bench.py [--requests 50] [--seed 7]

Starts the provider stubs (default latencies) and the fault proxy as child processes on free loopback
ports, calls `AIGateway.generate` sequentially, and prints per scenario the median and P95 (nearest
rank) of the end-to-end time and of the gateway overhead (end-to-end minus the answering provider's
own drawn latency). Stops only the processes it started, by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.local.ai_gateway import AIGateway  # noqa: E402
from infra.local.toxiproxy_client import ToxiproxyClient  # noqa: E402

HOST = "127.0.0.1"
PROVIDERS = ("bedrock", "google", "meta")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def nearest_rank(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@contextlib.contextmanager
def child(argv: list[str], ready_url: str, log: Path):
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", *argv], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(ready_url, timeout=0.5)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"start of {argv[0]} failed: {log.read_text()}") from None
                time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def run_scenario(links: dict[str, str], requests: int, **gateway_kwargs) -> dict:
    gateway = AIGateway([(n, links[n]) for n in PROVIDERS], **gateway_kwargs)
    total_ms, overhead_ms, answered = [], [], {}
    try:
        for i in range(requests):
            started = time.perf_counter()
            status, body, headers = await gateway.generate(f"benchmark question {i}")
            elapsed_ms = (time.perf_counter() - started) * 1000
            assert status == 200, (status, body)
            total_ms.append(elapsed_ms)
            overhead_ms.append(elapsed_ms - body.get("latency_ms", 0.0))
            answered[headers["X-AI-Provider"]] = answered.get(headers["X-AI-Provider"], 0) + 1
    finally:
        await gateway.close()

    def summary(values: list[float]) -> dict:
        return {"median_ms": round(nearest_rank(values, 0.5), 1), "p95_ms": round(nearest_rank(values, 0.95), 1)}

    return {"total": summary(total_ms), "overhead": summary(overhead_ms), "answered_by": answered,
            "breakers": gateway.breaker_states()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    ports = {n: free_port() for n in PROVIDERS}
    links = {n: free_port() for n in PROVIDERS}
    api_port = free_port()
    with tempfile.TemporaryDirectory(prefix="ai-bench-") as tmp:
        config = Path(tmp) / "proxies.json"
        config.write_text(json.dumps([{"name": f"ai-{n}", "listen": f"{HOST}:{links[n]}",
                                       "upstream": f"{HOST}:{ports[n]}", "enabled": True, "protocol": "http"}
                                      for n in PROVIDERS]))
        provider_argv = ["infra.local.providers", "--host", HOST, "--seed", str(args.seed)]
        for n in PROVIDERS:
            provider_argv += ["--provider", f"{n}={ports[n]}"]
        with child(provider_argv, f"http://{HOST}:{ports['meta']}/health", Path(tmp) / "providers.log"), \
                child(["infra.local.faultproxy", "--host", HOST, "--port", str(api_port), "--config", str(config)],
                      f"http://{HOST}:{api_port}/version", Path(tmp) / "faultproxy.log"), \
                ToxiproxyClient(f"http://{HOST}:{api_port}") as toxiproxy:
            urls = {n: f"http://{HOST}:{links[n]}" for n in PROVIDERS}
            results = {"healthy": asyncio.run(run_scenario(urls, args.requests))}
            toxiproxy.set_enabled("ai-bedrock", False)
            results["bedrock link disabled"] = asyncio.run(run_scenario(urls, args.requests))
            results["bedrock link disabled, breaker never opens"] = asyncio.run(
                run_scenario(urls, args.requests, failure_threshold=10**9))
            toxiproxy.reset()
            toxiproxy.add_toxic("ai-bedrock", "http_error", {"status": 429}, stream="upstream")
            results["bedrock answers 429"] = asyncio.run(run_scenario(urls, args.requests))
            results["bedrock answers 429, breaker never opens"] = asyncio.run(
                run_scenario(urls, args.requests, failure_threshold=10**9))
            toxiproxy.reset()
    print(f"{'scenario':45} {'total median/P95 ms':>22} {'overhead median/P95 ms':>24}  answered by")
    for name, r in results.items():
        t, o = r["total"], r["overhead"]
        print(f"{name:45} {t['median_ms']:>10} / {t['p95_ms']:<9} {o['median_ms']:>10} / {o['p95_ms']:<11}  "
              f"{r['answered_by']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
