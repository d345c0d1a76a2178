"""Autoscaling figures for a 10x load step at default settings: scale-out lag and scale-in lag.

    .venv/bin/python benchmarks/scaling_bench.py [--baseline-users 2] [--step-s 15] [--environment staging]

Runs its own stack on free ports; every request is slowed by 100 ms at the cache link (a Lambda-like duration,
so concurrency follows Little's law); closed-loop users hit one region's entry point directly.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gameday.base.settings import Settings
from infra.local.layout import PRIMARY_REGION, SPAN, StackLayout, cache_link
from infra.local.supervisor import LocalStack
from infra.local.toxiproxy_client import ToxiproxyClient
from infra.local.waiting import port_is_free
from infra.targets.local import stack_config, with_base_port


class Users:
    """`count` closed-loop users until stopped; counts statuses."""

    def __init__(self, url: str, count: int):
        self.url, self.stop_flag, self.statuses = url, threading.Event(), []
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(count)]
        for t in self.threads:
            t.start()

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop_flag.is_set():
                try:
                    status = client.get(f"{self.url}/items/{n % 50 + 1}").status_code
                except httpx.HTTPError:
                    status = 0
                self.statuses.append(status)
                if status == 429:
                    time.sleep(0.1)  # a throttled client backs off, as SDKs do, instead of spinning

    def stop(self) -> None:
        self.stop_flag.set()
        for t in self.threads:
            t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-users", type=int, default=2)
    parser.add_argument("--step-s", type=float, default=15.0, help="how long the 10x load lasts")
    parser.add_argument("--environment", default="staging", choices=["dev", "staging", "prod"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gameday-bench-"))
    root.chmod(0o755)
    base = next(b for b in range(41000, 50000, SPAN)
                if all(port_is_free(p) for p in StackLayout.from_base(b).all_ports()))
    stack = LocalStack(stack_config(with_base_port(Settings(stack_root=root, environment=args.environment), base)))
    try:
        stack.up()
        url = f"http://127.0.0.1:{stack.layout.app_port(PRIMARY_REGION)}"
        gateway = httpx.Client(base_url=url, timeout=10)
        policy = gateway.get("/_region/status").json()["policy"]
        ToxiproxyClient(stack.layout.toxiproxy_url).add_toxic(cache_link(PRIMARY_REGION), "latency", {"latency": 100})
        baseline = Users(url, args.baseline_users)
        time.sleep(5)
        step_at = time.time()
        spike = Users(url, args.baseline_users * 9)
        time.sleep(args.step_s)
        spike.stop()
        drop_at = time.time()
        deadline = time.monotonic() + 120
        while (time.monotonic() < deadline
               and gateway.get("/_region/status").json()["instances"] > policy["min_instances"]):
            time.sleep(0.25)
        baseline.stop()
        time.sleep(1.0)  # let the gateway record its next capacity sample
        samples = gateway.get("/_region/capacity", params={"since": step_at - 5}).json()["samples"]
        events = gateway.get("/_region/events").json()["events"]
        first_out = next((e["at_s"] for e in events if e["kind"] == "scale_out" and e["at_s"] >= step_at), None)
        peak = max(s["ready"] for s in samples if s["at_s"] <= drop_at)
        first_ready = next((s["at_s"] for s in samples if s["at_s"] >= step_at and s["ready"] > 1), None)
        out_at = next(s["at_s"] for s in samples if s["at_s"] >= step_at and s["ready"] >= peak)
        in_at = next((s["at_s"] for s in samples
                      if s["at_s"] >= drop_at and s["instances"] <= policy["min_instances"]), None)
        statuses = baseline.statuses + spike.statuses
        print(f"policy: {policy}")
        print(f"load: {args.baseline_users} -> {args.baseline_users * 10} users (10x) "
              f"for {args.step_s:.0f} s, 100 ms per request")
        print(f"scale-out decision (step -> first scale-out event): "
              f"{(first_out - step_at) if first_out else float('nan'):.2f} s")
        print(f"first added instance serving (step -> 2 ready): "
              f"{(first_ready - step_at) if first_ready else float('nan'):.2f} s")
        print(f"scale-out lag (step -> {peak} ready instances, the peak): {out_at - step_at:.2f} s")
        print(f"scale-in lag (load drop -> back at {policy['min_instances']} instance(s)): "
              f"{(in_at - drop_at) if in_at else float('nan'):.2f} s")
        print(f"max instances seen: {max(s['instances'] for s in samples)} (cap {policy['max_instances']})")
        print(f"requests: {len(statuses)}, throttled (429): {statuses.count(429)} "
              f"({statuses.count(429) / max(1, len(statuses)):.1%}), "
              f"errors: {sum(1 for s in statuses if s not in (200, 429))}")
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
