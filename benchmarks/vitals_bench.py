"""Browser vitals figures: what one headless Chromium samples per second through the local edge, the typical vitals
of the local page, and what the live console's criteria ranking costs per refresh.

    .venv/bin/python benchmarks/vitals_bench.py [--seconds 15]

Starts two static origins and a router (the edge) on free loopback ports, runs the browser sampler
(probes/browser_vitals.py) back to back (interval 0.5 s: every load starts as soon as the previous one ends) with
and without the click, and prints loads per second and the median TTFB, FCP, LCP, CLS and INP; then times
gameday.live_criteria.running_criteria on an hour's and ten hours' health reads (10 a second). The load average
is printed first: above BUSY_LOAD the figures are not fit to be recorded. Stops what it started, by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameday.base.models import Criterion  # noqa: E402
from gameday.live_criteria import running_criteria  # noqa: E402

BUSY_LOAD = 0.5
HOST = "127.0.0.1"
REGIONS = ("eu-central-1", "eu-west-1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start(argv: list[str], ready_url: str, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready_url, timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{argv[1]} not ready: {log.read_text()[-2000:]}")


def sample(work: Path, url: str, seconds: float, interact: bool) -> list[dict]:
    out = work / f"vitals-{interact}.jsonl"
    config = work / f"vitals-{interact}.json"
    config.write_text(json.dumps({"out": str(out), "url": url, "interval_s": 0.5, "duration_s": seconds,
                                  "interact": interact}))
    subprocess.run([sys.executable, "-m", "probes.browser_vitals", "--config", str(config)], cwd=ROOT, check=True,
                   capture_output=True, timeout=seconds + 90)
    return [json.loads(line) for line in out.read_text().splitlines()]


def median(records: list[dict], field: str) -> str:
    values = [r[field] for r in records if r["ok"] and r[field] is not None]
    return f"{statistics.median(values):.4g}" if values else "n/a"


def ranking_cost() -> None:
    criteria = [Criterion.model_validate(text) for text in (
        "p95_ms < 200 in fault", "p99_ms < 500 in after", "error_rate < 0.01 in overall",
        "availability > 0.99 in baseline", "rto_write_s <= 30")]
    rng = random.Random(1)
    for hours in (1, 10):
        n = hours * 36_000
        reads = [(i * 0.1, rng.random() > 0.001, rng.uniform(5, 50)) for i in range(n)]
        end = n * 0.1
        windows = {"baseline": (0, end * 0.3), "fault": (end * 0.3, end * 0.6), "after": (end * 0.6, end),
                   "overall": (0, end)}
        took = []
        for _ in range(5):
            t = time.perf_counter()
            running_criteria(criteria, reads, windows)
            took.append(time.perf_counter() - t)
        print(f"console criteria ranking, {hours} h of health reads ({n:,}): {statistics.median(took) * 1000:.1f} ms "
              "per refresh (median of 5; once a second for all viewers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
          + (f": BUSY (> {BUSY_LOAD}): these figures are not fit to be recorded" if load[0] > BUSY_LOAD else ": quiet"),
          flush=True)
    started: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory(prefix="vitals-bench-") as tmp:
            work = Path(tmp)
            origins = []
            for region in REGIONS:
                port = free_port()
                started.append(start(["-m", "infra.local.origin", "--region", region, "--host", HOST, "--port",
                                      str(port)], f"http://{HOST}:{port}/health", work / f"origin-{region}.log"))
                origins.append((region, f"http://{HOST}:{port}"))
            port = free_port()
            argv = ["-m", "infra.local.router", "--interval-s", "0.5", "--host", HOST, "--port", str(port)]
            for region, url in origins:
                argv += ["--region", f"{region}={url}", "--origin", f"{region}={url}"]
            started.append(start(argv, f"http://{HOST}:{port}/_router/status", work / "router.log"))
            page = f"http://{HOST}:{port}/index.html"
            for interact in (True, False):
                records = sample(work, page, args.seconds, interact)
                ok = [r for r in records if r["ok"]]
                print(f"{'with' if interact else 'without'} the click: {len(ok) / args.seconds:.2f} loads/s "
                      f"({len(ok)} ok, {len(records) - len(ok)} failed in {args.seconds:g} s); median TTFB "
                      f"{median(ok, 'ttfb_ms')} ms, FCP {median(ok, 'fcp_ms')} ms, LCP {median(ok, 'lcp_ms')} ms, "
                      f"CLS {median(ok, 'cls')}, INP {median(ok, 'inp_ms')} ms, load {median(ok, 'load_ms')} ms",
                      flush=True)
    finally:
        for proc in started:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(10)
    ranking_cost()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
