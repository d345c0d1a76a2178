"""Analysis at scale: `gameday report` of a synthetic one-hour region-failover run with 10 million load samples.

    .venv/bin/python benchmarks/analysis_bench.py [--samples 10000000] [--seconds 3600] [--keep DIR]

Writes a run directory in the files `gameday run` produces (raw samples in two worker files, probes.jsonl with
health at 10/s, canary writes at 20/s, routing and writer samples, the fault ledger, a Chaos Toolkit journal,
surviving canary seqs), then runs `gameday report` on it in a child process and prints the wall time, the
child's peak memory (ru_maxrss) and each report file's size. Targets (issue #7): under 30 s and under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["GET /items/[id]", "POST /writes", "GET /health", "POST /ai [bedrock]", "GET /static/[asset]"]
MIX = [0.55, 0.1, 0.1, 0.1, 0.15]
REGIONS = ["eu-central-1", "eu-west-1"]
CHUNK = 1_000_000
FAULT_AT, OUTAGE_S, FAILBACK_AT = 0.4, 3.0, 0.6  # fault at 40 % of the run, failback at 60 %


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def write_samples(directory: Path, n: int, start: float, seconds: float, rng: np.random.Generator) -> None:
    directory.mkdir(parents=True)
    fault, back = start + FAULT_AT * seconds, start + FAILBACK_AT * seconds
    for worker, count in enumerate((n // 2, n - n // 2)):
        stem = f"bench-{worker}"
        (directory / f"samples-{stem}.json").write_text(json.dumps({
            "format": "gameday-samples/1", "columns": [["t_s", "<f8"], ["latency_ms", "<f4"], ["status", "<u2"],
                                                        ["name", "u1"], ["flags", "u1"]],
            "names": NAMES, "regions": REGIONS, "stem": stem}))
        with open(directory / f"samples-{stem}.bin", "wb") as out:
            done = 0
            while done < count:
                m = min(CHUNK, count - done)
                t = np.sort(rng.uniform(start, start + seconds, m))
                name = rng.choice(len(NAMES), m, p=MIX).astype(np.uint8)
                latency = rng.lognormal(np.log(25), 0.5, m).astype(np.float32)
                down = (t >= fault) & (t < fault + OUTAGE_S)
                status = np.where(down, 503, np.where(name == 1, 201, 200)).astype(np.uint16)
                latency[down] = 1000.0
                ok = (~down).astype(np.uint8)
                cache = np.where(name == 0, np.where(rng.random(m) < 0.9, 1, 2), 0).astype(np.uint8)
                region = np.where((t >= fault + OUTAGE_S) & (t < back), 2, 1).astype(np.uint8)
                flags = ok | (cache << 2) | (region << 4)
                out.write(struct.pack("<Q", m))
                for column in (t.astype("<f8"), latency.astype("<f4"), status.astype("<u2"), name, flags):
                    out.write(column.tobytes())
                done += m


def write_probes(path: Path, start: float, seconds: float) -> list[int]:
    """Health, canary, routing and writer samples; returns the canary seqs that survived."""
    fault, back = start + FAULT_AT * seconds, start + FAILBACK_AT * seconds
    surviving = []
    with open(path, "w") as out:
        for i in range(int(seconds * 20)):
            t = start + i / 20
            down = fault <= t < fault + OUTAGE_S
            region = REGIONS[1] if fault + OUTAGE_S <= t < back else REGIONS[0]
            if i % 2 == 0:
                out.write(json.dumps({"probe": "health", "at_s": t, "latency_ms": 1000.0 if down else 12.5,
                                      "status": 503 if down else 200, "ok": not down, "region": region,
                                      "error": None}) + "\n")
            seq = 10_000_000 + i
            out.write(json.dumps({"probe": "canary", "seq": seq, "sent_s": t, "acked_s": None if down else t + 0.01,
                                  "outcome": "failed" if down else "acked", "status": 503 if down else 201,
                                  "region": region, "error": None}) + "\n")
            if not down:
                surviving.append(seq)
            if i % 4 == 0:
                out.write(json.dumps({"probe": "routing", "at_s": t, "served_region": region, "active_region": region,
                                      "last_switch_at_s": None, "switches": 0, "error": None}) + "\n")
            if i % 10 == 0:
                out.write(json.dumps({"probe": "writers", "at_s": t, "writable": [] if down else [region]}) + "\n")
    return surviving


def write_run(run_dir: Path, n: int, seconds: float, rng: np.random.Generator) -> None:
    start = time.time() - seconds - 60
    fault, back, end = start + FAULT_AT * seconds, start + FAILBACK_AT * seconds, start + seconds
    write_samples(run_dir / "load" / "samples", n, start, seconds, rng)
    surviving = write_probes(run_dir / "probes.jsonl", start, seconds)
    shutil.copy(ROOT / "experiments" / "region-failover.yaml", run_dir / "experiment.yaml")
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": run_dir.name, "experiment": "experiments/region-failover.yaml", "title": "Region failover (bench)",
        "target": "local", "started_s": start, "ended_s": end, "quick": False, "aborted": None, "chaos_exit_code": 0,
        "experiment_ended_s": back + 5}))
    ledger = [{"v": 1, "event": "begin", "id": "f1", "at_s": fault - 0.1, "kind": "region_outage",
               "target": REGIONS[0], "params": {"mode": "power_off", "run_id": run_dir.name},
               "recovery": {"call": "restore_region", "args": {"region": REGIONS[0]}}},
              {"v": 1, "event": "injected", "id": "f1", "at_s": fault, "details": {}},
              {"v": 1, "event": "recovered", "id": "f1", "at_s": back, "details": {}}]
    (run_dir / "faults.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ledger))

    def activity(name: str, t0: float, t1: float) -> dict:
        return {"activity": {"type": "action", "name": name}, "status": "succeeded", "start": _iso(t0),
                "end": _iso(t1), "duration": t1 - t0, "output": {}}

    (run_dir / "journal.json").write_text(json.dumps({
        "status": "completed", "deviated": False, "start": _iso(fault - 1), "end": _iso(back + 5),
        "steady_states": {"before": {"steady_state_met": True}, "after": {"steady_state_met": True}},
        "run": [activity("fail-primary-region", fault - 0.1, fault),
                activity("promote-secondary", fault + 1, fault + 2),
                activity("failback", back - 2, back)], "rollbacks": []}))
    (run_dir / "surviving_seqs.json").write_text(json.dumps({"seqs": surviving, "writer_region": REGIONS[0]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--keep", type=Path, help="write the run directory here and keep it")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="gameday-analysis-bench-"))
    run_dir = base / "20260101T000000Z-region-failover-bench"
    run_dir.mkdir(parents=True)
    t = time.perf_counter()
    write_run(run_dir, args.samples, args.seconds, np.random.default_rng(7))
    print(f"wrote {args.samples:,} samples over {args.seconds:g} s in {time.perf_counter() - t:.1f} s "
          f"({sum(f.stat().st_size for f in run_dir.rglob('*') if f.is_file()) / 1e6:,.0f} MB) -> {run_dir}")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gameday.cli", "report", str(run_dir)], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(done.stdout[-1500:] + done.stderr[-1500:])
    print(f"gameday report: {wall:.1f} s wall (target < 30 s), peak memory {peak_mb:,.0f} MB (target < 2,048 MB), "
          f"exit {done.returncode}")
    for name in ("summary.json", "report.md", "report.html", "junit.xml"):
        path = run_dir / name
        print(f"  {name}: {path.stat().st_size / 1e3:,.0f} kB" if path.exists() else f"  {name}: missing")
    if args.keep is None:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
