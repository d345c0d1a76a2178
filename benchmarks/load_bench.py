"""Load path figures: the harness (profile + journeys + raw-sample recorder) vs bare Locust FastHttpUser.

    .venv/bin/python benchmarks/load_bench.py [--seconds 10] [--rounds 6] [--users 32] [--processes 1,2,4]

Side by side, literally: in every round the harness and bare Locust run at the same time, from the same instant
(benchmarks/locust_cpu_meter.py holds both at `init`), on the same core (CPU0; the fixed-reply target on CPU1), so
whatever the machine does in those seconds it does to both; the side started first alternates between rounds.
Each side's figure is its requests per CPU-second (the requests its processes sent / the CPU time they used, over
one common window that opens once every user is spawned and closes before either test ends): the throughput one
core gives it. Run one after the other instead, the same bare Locust scattered by -18 % to +7 % between rounds on
this VM (benchmarks/README.md), more than the difference to find; side by side, bare against bare agrees within
about 2 % a round (`--self-check`).
With `--processes 1,2,4` each side runs as Locust's master + N workers (`--processes N`; the harness's workers
ship their raw samples to the master): the harness must keep >= 0.95x bare Locust at every count, and its samples
must equal its requests. The harness runs as `gameday run` runs it, on a run clock (GAMEDAY_RUN_CLOCK). Also: the
recorder's memory per stored sample, the master's cost per 1,000 shipped samples, and wrk alone when installed
(`apt-get install -y wrk`). The load average is printed first; above BUSY_LOAD the figures are not fit to be
recorded and the bench says so. Stops what it started.

`--baseline DIR` runs the harness of another source tree (a checkout of an earlier commit: `git worktree add DIR
REF`) against this one's, side by side as above: what a change to the load path gains or costs, within the method's
resolution (`--self-check`).
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


METER = Path(__file__).with_name("locust_cpu_meter.py")
START_SLACK_S = 4.0  # the common start instant is this far ahead, plus 1.5 s a worker: every side imported by then
WARM_UP_S = 2.0  # the window opens this long after the start: every user spawned (spawn rate = users a second)
RUN_ON_S = 3.0  # both tests run this long past the window: how either ends is outside it


def locust_command(side: str, url: str, seconds: float, users: int, work: Path, processes: int,
                   tree: Path = ROOT) -> list[str]:
    """The Locust command line of one side ("bare", or "harness" from the source tree `tree`), with the CPU meter
    beside its locustfile."""
    run_s = WARM_UP_S + seconds + RUN_ON_S
    if side == "bare":
        locustfile = work / "bare_locustfile.py"
        locustfile.write_text(BARE_LOCUSTFILE)
        cmd = ["-f", f"{locustfile},{METER}", "-u", str(users), "-r", str(users), "-t", f"{int(run_s)}s"]
    else:
        profile = {"name": "bench", "mix": {"health": 1}, "stages": [{"duration_s": run_s, "users": users,
                                                                       "spawn_rate": users}]}
        cmd = ["-f", f"{tree / 'scenarios' / 'locustfile.py'},{METER}", "--gameday-profile", json.dumps(profile),
               "--gameday-samples-dir", str(work / f"{side}-samples")]
        if processes > 1:
            cmd += ["--gameday-workers", str(processes)]
    if processes > 1:  # each side its own master port: two masters side by side
        port = free_port()
        cmd += ["--processes", str(processes), "--master-bind-port", str(port), "--master-port", str(port)]
    return [sys.executable, "-m", "locust", *cmd, "--headless", "--host", url,
            "--json-file", str(work / side), "--only-summary", "--loglevel", "WARNING"]


def side_by_side(sides: tuple[str, str], url: str, seconds: float, users: int, processes: int,
                 work: Path, swap: bool = False, baseline: Path | None = None) -> dict[str, dict]:
    """Run both sides at once from one start instant; per side its requests per CPU-second over the common window,
    its requests in the whole test, and for the harness the samples on disk and its master's own figures
    (load/workers.json). The side "baseline" is the harness of the source tree `baseline`."""
    start_at = time.time() + START_SLACK_S + 1.5 * processes
    clock = f"{time.time()!r}@{time.monotonic()!r}"  # a run clock, as `gameday run` hands its children one
    running = []
    pairs = list(zip(("a", "b"), sides, strict=True))
    for tag, side in reversed(pairs) if swap else pairs:  # started in turn: every other round the other side first
        side_dir = work / tag
        shutil.rmtree(side_dir, ignore_errors=True)
        side_dir.mkdir(parents=True)
        env = {**os.environ, "LOAD_BENCH_START_AT": str(start_at), "LOAD_BENCH_CPU_FILE": str(side_dir / "cpu.jsonl"),
               "LOAD_BENCH_WINDOW": f"{WARM_UP_S},{WARM_UP_S + seconds}", "GAMEDAY_RUN_CLOCK": clock}
        tree = ROOT
        if side == "baseline":  # its own packages first on the path (this tree's may be installed)
            tree = baseline
            env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(baseline), os.environ.get("PYTHONPATH"))))
        log = open(side_dir / "locust.log", "w")  # closed below, once the process has ended
        command = locust_command(side, url, seconds, users, side_dir, processes, tree)
        proc = subprocess.Popen(pinned(0, command), env=env, stdout=log, stderr=subprocess.STDOUT)
        running.append((tag, side, side_dir, proc, log))
    results = {}
    try:
        for tag, side, side_dir, proc, log in sorted(running):
            code = proc.wait(timeout=seconds + 120)
            log.close()
            if code != 0:
                sys.exit(f"load_bench: the {side} side exited {code}:\n{(side_dir / 'locust.log').read_text()[-3000:]}")
            metered = [json.loads(line) for line in (side_dir / "cpu.jsonl").read_text().splitlines()]
            if len(metered) != processes + (processes > 1):
                sys.exit(f"load_bench: {len(metered)} of the {side} side's processes measured their window")
            in_window, cpu_s = sum(m["requests"] for m in metered), sum(m["cpu_s"] for m in metered)
            requests = sum(e["num_requests"] for e in json.loads((side_dir / f"{side}.json").read_text()))
            result = {"side": side, "requests": requests, "cpu_s": cpu_s, "per_cpu_s": in_window / cpu_s}
            if side != "bare":
                result["samples"] = len(read_samples(side_dir / f"{side}-samples"))
                if processes > 1:
                    workers = side_dir / WORKERS_FILE
                    if not workers.exists():
                        sys.exit(f"load_bench: the harness's master wrote no {WORKERS_FILE}:\n"
                                 f"{(side_dir / 'locust.log').read_text()[-3000:]}")
                    result["master"] = json.loads(workers.read_text()).get("master") or {}
            results[tag] = result
    finally:  # a side that failed leaves the other one running: stop it (only what this bench started)
        for _, _, _, proc, log in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    return results


def run_wrk(url: str, seconds: float, users: int) -> float | None:
    if not shutil.which("wrk"):
        return None
    done = subprocess.run(pinned(0, ["wrk", "-t1", f"-c{users}", f"-d{int(seconds)}s", f"{url}/health"]),
                          capture_output=True, text=True, timeout=seconds + 30, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("Requests/sec:"))
    return float(line.split()[1])


def listener_us(calls: int = 300_000) -> tuple[float, float]:
    """The raw-sample listener's own time a call, in isolation (warm caches: in a load generator it costs several
    times more), for a closed-model and an open-model request answered with FastHttpUser's header map."""
    import timeit

    from geventhttpclient.header import Headers  # a plain import: no gevent patching

    from gameday.base import run_clock
    from scenarios.recorder import raw_header_type

    run_clock.install((time.time(), time.monotonic()))  # on a run clock, as in `gameday run`
    headers = Headers()
    headers["Content-Length"], headers["X-Region"], headers["X-Cache"] = "2", "bench", "hit"
    answer = type("Answer", (), {"headers": headers, "status_code": 200})()
    figures = []
    for context in ({}, {"t_intended": time.time()}):
        recorder = SampleRecorder(raw_headers=raw_header_type(Headers))

        def one() -> None:
            recorder.on_request("GET", "GET /health", 0.5, response_length=2, response=answer, context=context,
                                exception=None, start_time=time.time(), url="http://127.0.0.1/health")
            if len(recorder.sealed) > 8:
                recorder.take()
        figures.append(min(timeit.repeat(one, number=calls, repeat=5)) / calls * 1e6)
    run_clock.install(None)
    return figures[0], figures[1]


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
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--users", type=int, default=32, help="users on each side")
    parser.add_argument("--processes", default="1", metavar="N,N,...",
                        help="worker processes per side, each count in turn (1: no master); e.g. 1,2,4")
    parser.add_argument("--self-check", action="store_true",
                        help="bare Locust against bare Locust: the method's own resolution (the ratio should be 1)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="the harness of another source tree (e.g. `git worktree add DIR REF`) against this one's")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    sides = ("bare", "bare") if args.self_check else ("baseline", "harness") if args.baseline else ("bare", "harness")
    if args.baseline and not (args.baseline / "scenarios" / "locustfile.py").is_file():
        parser.error(f"--baseline {args.baseline}: no scenarios/locustfile.py there (a source tree of this project)")
    try:
        counts = [int(n) for n in args.processes.split(",")]
    except ValueError:
        parser.error(f"--processes {args.processes!r}: worker counts separated by commas, e.g. 1,2,4")
    if any(n < 1 for n in counts):
        parser.error(f"--processes {args.processes!r}: every count is 1 or more")
    load = os.getloadavg()
    busy = load[0] > BUSY_LOAD
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
          + (f": BUSY (> {BUSY_LOAD}): these figures are not fit to be recorded" if busy else ": quiet"), flush=True)
    port = free_port()
    target = subprocess.Popen(pinned(1, [sys.executable, __file__, "--serve", str(port)]))
    url = f"http://127.0.0.1:{port}"
    rows: dict[int, list[dict]] = {n: [] for n in counts}
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
            for round_ in range(args.rounds):
                for n in counts:
                    result = side_by_side(sides, url, args.seconds, args.users, n, Path(tmp), swap=round_ % 2 == 1,
                                          baseline=args.baseline.resolve() if args.baseline else None)
                    rows[n].append(result)
                    a, b = result["a"], result["b"]
                    print(f"round {round_ + 1}, {n} process(es): {a['side']} {a['per_cpu_s']:.0f}, {b['side']} "
                          f"{b['per_cpu_s']:.0f} requests per CPU-second: {b['per_cpu_s'] / a['per_cpu_s']:.1%}"
                          + (f" ({b['samples']} samples for {b['requests']} requests)" if "samples" in b else ""),
                          flush=True)
            wrk = run_wrk(url, args.seconds, args.users)
    finally:
        target.terminate()
        target.wait(timeout=10)
    report(rows, sides)
    if wrk is not None:
        print(f"wrk -t1 -c{args.users} alone on CPU0 (a physical reference): {wrk:.0f} requests/s")
    closed_us, open_us = listener_us()
    print(f"raw-sample listener in isolation: {closed_us:.2f} us a closed-model call, {open_us:.2f} us an open-model "
          f"one (its time call included; a load generator pays several times that: colder caches)")
    held, peak = bytes_per_sample()
    print(f"memory per stored sample: {held:.2f} B buffered (target <= 16), "
          f"{peak:.3f} B/sample peak over 1M samples with chunk hand-over (bounded)")
    master_overhead({n: {"master": [r["b"].get("master", {}) for r in results]} for n, results in rows.items()})
    print(f"load average after: {os.getloadavg()[0]:.2f}" + (" (busy at the start: do not record)" if busy else ""))


def report(rows: dict[int, list[dict]], sides: tuple[str, str]) -> None:
    """Per worker count: each side's median requests per CPU-second, the per-round ratios and their median."""
    name = f"{sides[1]} / {sides[0]}"
    print(f"\n{'processes':<11}{sides[0] + ' req/CPU-s':>18}{sides[1] + ' req/CPU-s':>21}  {name} per round"
          f"{'median':>28}  samples == requests")
    for n, results in rows.items():
        ratios = [r["b"]["per_cpu_s"] / r["a"]["per_cpu_s"] for r in results]
        equal = all(r[tag].get("samples", r[tag]["requests"]) == r[tag]["requests"] for r in results for tag in "ab")
        print(f"{n:<11}{statistics.median(r['a']['per_cpu_s'] for r in results):>18.0f}"
              f"{statistics.median(r['b']['per_cpu_s'] for r in results):>21.0f}  "
              f"{', '.join(f'{x:.1%}' for x in ratios):<40}{statistics.median(ratios):>8.1%}  {equal}")
    if sides[0] == "baseline":
        print("(this tree's harness against the baseline's: a ratio within the method's resolution, --self-check, is "
              "no difference)")
        return
    print("(target: the harness >= 95 % of bare Locust at every count; each side had half of CPU0: its RPS is about "
          "half the per-CPU-second figure)")


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
