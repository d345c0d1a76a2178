"""Load path figures: the harness (profile + journeys + raw-sample recorder) vs bare Locust FastHttpUser, and wrk.

    .venv/bin/python benchmarks/load_bench.py [--seconds 10] [--rounds 3] [--users 32] [--processes 1,2,4]

Side by side in one run: the same tiny target (a fixed-reply asyncio server pinned to CPU1) and the same
load-generator core (CPU0), interleaved rounds so VM noise hits both alike. wrk runs when installed
(`apt-get install -y wrk`). Also measures the recorder's memory per stored sample. Stops what it started.
With `--processes 1,2,4` both run as Locust's master + N workers (`--processes N`; the harness's workers ship
their raw samples to the master): the harness must keep >= 0.95x bare Locust at every count, and its samples must
equal Locust's request count. The load average is printed first; above BUSY_LOAD the figures are not fit to be
recorded (a busy box drowns a 5 % difference in noise) and the bench says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reports.sample_files import read_samples  # noqa: E402
from scenarios.recorder import SampleRecorder  # noqa: E402

WORKERS_FILE = "workers.json"  # scenarios/locustfile.py's (importing it would patch this process with gevent)
BUSY_LOAD = 0.5  # 1-minute load average above which a figure is not recorded
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Region: bench\r\nX-Cache: hit\r\n\r\nok"
BARE_LOCUSTFILE = '''
from locust import FastHttpUser, constant, task

class Bare(FastHttpUser):
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health", name="GET /health")
'''


class Reply(asyncio.Protocol):
    """Answers every request head with the same 200 (GETs only; enough for a load-generator benchmark)."""

    def connection_made(self, transport):
        self.transport, self.pending = transport, b""

    def data_received(self, data):
        self.pending += data
        count = self.pending.count(b"\r\n\r\n")
        if count:
            self.pending = self.pending[self.pending.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(REPLY * count)


def serve(port: int) -> None:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(Reply, "127.0.0.1", port, backlog=1024))
    loop.run_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if shutil.which("taskset") else cmd


def locust_rps(stats: list[dict]) -> float:
    """Requests / (last request - start), Locust's own RPS formula, from --json-file (its CSV is stale)."""
    count = sum(e["num_requests"] for e in stats)
    span = max(e["last_request_timestamp"] for e in stats) - min(e["start_time"] for e in stats)
    return count / span


def _processes(n: int) -> list[str]:
    return ["--processes", str(n)] if n > 1 else []


def run_bare(url: str, seconds: float, users: int, work: Path, processes: int = 1) -> float:
    locustfile = work / "bare_locustfile.py"
    locustfile.write_text(BARE_LOCUSTFILE)
    out = work / "bare"
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url, "-u", str(users),
           "-r", str(users), "-t", f"{int(seconds)}s", "--json-file", str(out), "--only-summary",
           "--loglevel", "WARNING", *_processes(processes)]
    subprocess.run(pinned(0, cmd), check=True, capture_output=True, timeout=seconds + 60)
    return locust_rps(json.loads(out.with_suffix(".json").read_text()))


def run_harness(url: str, seconds: float, users: int, work: Path, processes: int = 1,
                master: dict | None = None) -> tuple[float, int, int]:
    """(RPS, Locust's request count, samples on disk); with workers, `master` receives the master's own figures
    from load/workers.json (CPU seconds, bytes and samples shipped to it)."""
    profile = {"name": "bench", "mix": {"health": 1}, "stages": [{"duration_s": seconds, "users": users,
                                                                   "spawn_rate": users}]}
    out, samples = work / "harness", work / "samples"
    shutil.rmtree(samples, ignore_errors=True)
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "scenarios" / "locustfile.py"), "--headless",
           "--host", url, "--gameday-profile", json.dumps(profile), "--gameday-samples-dir", str(samples),
           "--json-file", str(out), "--only-summary", "--loglevel", "WARNING", *_processes(processes)]
    if processes > 1:
        cmd += ["--gameday-workers", str(processes)]
    subprocess.run(pinned(0, cmd), check=True, capture_output=True, timeout=seconds + 60)
    stats = json.loads(out.with_suffix(".json").read_text())
    if master is not None and processes > 1:
        master.update(json.loads((samples.parent / WORKERS_FILE).read_text()).get("master") or {})
    return (locust_rps(stats), sum(e["num_requests"] for e in stats),
            len(read_samples(samples)))


def run_wrk(url: str, seconds: float, users: int) -> float | None:
    if not shutil.which("wrk"):
        return None
    done = subprocess.run(pinned(0, ["wrk", "-t1", f"-c{users}", f"-d{int(seconds)}s", f"{url}/health"]),
                          capture_output=True, text=True, timeout=seconds + 30, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("Requests/sec:"))
    return float(line.split()[1])


def bytes_per_sample(n: int = 1_000_000) -> tuple[float, float]:
    """(memory per stored sample while buffered, peak memory per sample when recording n with hand-overs)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    recorder = SampleRecorder(capacity=n + 1)  # all n held in the buffer (none sealed yet)
    for i in range(n):
        recorder.record_dropped(float(i), "GET /health")
    held = tracemalloc.get_traced_memory()[0] - base
    del recorder
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    recorder = SampleRecorder()
    for i in range(n):
        recorder.record_dropped(float(i), "GET /health")
        if i % 8192 == 0:
            recorder.take()
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    return held / n, peak / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--processes", default=None, metavar="N,N,...",
                        help="compare master + N workers at each count (e.g. 1,2,4) instead of the single-process run")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    load = os.getloadavg()
    busy = load[0] > BUSY_LOAD
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
          + (f": BUSY (> {BUSY_LOAD}): these figures are not fit to be recorded" if busy else ": quiet"), flush=True)
    if args.processes:
        return compare_processes(args, [int(n) for n in args.processes.split(",")], busy)

    port = free_port()
    target = subprocess.Popen(pinned(1, [sys.executable, __file__, "--serve", str(port)]))
    url = f"http://127.0.0.1:{port}"
    bare, harness, wrk, counts = [], [], [], []
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
            for round_ in range(args.rounds):
                bare.append(run_bare(url, args.seconds, args.users, Path(tmp)))
                rps, locust_count, sample_count = run_harness(url, args.seconds, args.users, Path(tmp))
                harness.append(rps)
                counts.append((locust_count, sample_count))
                if (w := run_wrk(url, args.seconds, args.users)) is not None:
                    wrk.append(w)
                print(f"round {round_ + 1}: bare {bare[-1]:.0f} RPS, harness {rps:.0f} RPS "
                      f"({sample_count} samples for {locust_count} requests)"
                      + (f", wrk {wrk[-1]:.0f} RPS" if wrk else ""), flush=True)
    finally:
        target.terminate()
        target.wait(timeout=10)
    held, peak = bytes_per_sample()
    ratios = [h / b for h, b in zip(harness, bare)]
    print(f"\n{'load path':<44}{'median RPS':>12}{'min-max':>18}")
    print(f"{'bare Locust FastHttpUser, no recorder':<44}{statistics.median(bare):>12.0f}"
          f"{f'{min(bare):.0f}-{max(bare):.0f}':>18}")
    print(f"{'harness (profile, journeys, recorder)':<44}{statistics.median(harness):>12.0f}"
          f"{f'{min(harness):.0f}-{max(harness):.0f}':>18}")
    if wrk:
        print(f"{'wrk -t1 (physical reference)':<44}{statistics.median(wrk):>12.0f}"
              f"{f'{min(wrk):.0f}-{max(wrk):.0f}':>18}")
    print(f"harness / bare per round: {', '.join(f'{r:.1%}' for r in ratios)}; "
          f"median {statistics.median(ratios):.1%} (target >= 95 %)")
    print(f"samples == Locust requests in every round: {all(a == b for a, b in counts)}")
    print(f"memory per stored sample: {held:.2f} B buffered (target <= 16), "
          f"{peak:.3f} B/sample peak over 1M samples with chunk hand-over (bounded)")


def compare_processes(args, counts: list[int], busy: bool) -> None:
    """Bare and harness side by side at each worker count, interleaved rounds; ratios and sample counts."""
    port = free_port()
    target = subprocess.Popen(pinned(1, [sys.executable, __file__, "--serve", str(port)]))
    url = f"http://127.0.0.1:{port}"
    rows = {n: {"bare": [], "harness": [], "equal": [], "master": []} for n in counts}
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
            for round_ in range(args.rounds):
                for n in counts:
                    bare = run_bare(url, args.seconds, args.users, Path(tmp), n)
                    master: dict = {}
                    rps, requests, samples = run_harness(url, args.seconds, args.users, Path(tmp), n, master)
                    rows[n]["master"].append(master)
                    rows[n]["bare"].append(bare)
                    rows[n]["harness"].append(rps)
                    rows[n]["equal"].append(requests == samples)
                    print(f"round {round_ + 1}, {n} process(es): bare {bare:.0f} RPS, harness {rps:.0f} RPS "
                          f"({samples} samples for {requests} requests)", flush=True)
    finally:
        target.terminate()
        target.wait(timeout=10)
    print(f"\n{'processes':<11}{'bare RPS':>10}{'harness RPS':>13}{'ratio (median)':>16}  samples == requests")
    for n, r in rows.items():
        ratio = statistics.median(h / b for h, b in zip(r["harness"], r["bare"], strict=True))
        print(f"{n:<11}{statistics.median(r['bare']):>10.0f}{statistics.median(r['harness']):>13.0f}"
              f"{ratio:>15.1%}   {all(r['equal'])}")
    master_overhead(rows)
    print(f"load average after: {os.getloadavg()[0]:.2f}" + (" (busy at the start: do not record)" if busy else ""))


def master_overhead(rows: dict) -> None:
    """The master's cost per 1,000 samples its workers ship (its whole CPU time, Locust's own stats work included,
    so an upper bound), and what one master needs for 100 workers at 10,000 requests/s in total."""
    measured = [m for r in rows.values() for m in r["master"] if m.get("shipped_samples")]
    if not measured:
        return
    cpu_per_k = max(m["cpu_s"] / m["shipped_samples"] * 1000 for m in measured)
    bytes_per_k = max(m["shipped_bytes"] / m["shipped_samples"] * 1000 for m in measured)
    print(f"\nmaster: {cpu_per_k * 1000:.2f} ms CPU and {bytes_per_k / 1024:.1f} KiB per 1,000 samples shipped "
          f"(worst of {len(measured)} runs; its whole CPU time, so an upper bound)")
    rate, workers, report_s = 10_000, 100, 3.0
    per_report = max(m["cpu_s"] / m["reports"] for m in measured if m.get("reports"))
    need = cpu_per_k * rate / 1000 + per_report * workers / report_s  # each term charges the master's whole CPU
    print(f"master: at most {per_report * 1000:.2f} ms CPU per worker report (the same CPU charged to reports)")
    print(f"one master, {workers} workers, {rate:,} req/s in total: at most {need:.1%} of one core "
          f"({cpu_per_k * rate / 1000:.1%} for the samples + {per_report * workers / report_s:.1%} for "
          f"{workers / report_s:.0f} reports/s) and {bytes_per_k * rate / 1000 / 1e6:.2f} MB/s of samples")


if __name__ == "__main__":
    main()
