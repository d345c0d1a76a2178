"""Measurement truth, measured: random ground-truth trials on the local stack; do the error bars hold the truth?

    .venv/bin/python benchmarks/measurement_bench.py [--trials 20] [--seed N] [--busy both|idle|busy] [--ui]

Each trial runs `gameday run` of a generated experiment on one stack of its own (free ports, scratch directory;
its router never fails over by itself, so only the experiment moves traffic) and compares the run's figures with
the fault ledger's times, the ground truth. Three kinds, in turn, each with random durations:
- outage: the entry link (router -> primary) cut for U(1, 5) s. Truth: the link came back between the end of
  the action's sleep (injected + duration) and the ledger's `recovered` time; RTO (reads and writes) must lie
  there, and its bracket [low_s, high_s] must overlap that interval.
- late-onset: a harmless fault first (1 ms latency on the replication link: t0), then after U(2, 6) s the entry
  cut for U(1, 4) s. The same truth for the RTO, measured from t0 (an RTO of 0 "because the SLO held in the
  first sustain window" is the defect this catches); the time to impact (the first failed probe, +- one probe
  interval) must meet the cut's call, between its ledger `begin` and `injected`.
- replication-cut: replication cut U(1, 4) s before the primary is powered off, then promotion. Truth: the RPO
  lies between t0 - (the cut's injected time) - one canary interval (the oldest lost write is acked within one
  interval after the cut) and t0 - (the cut's begin time); the RPO bracket [s, high_s] must overlap it.
With `--busy both` the trials run twice: idle, then with one core kept busy by a spinning process. Prints one
line a trial, then per condition the error distribution (reported minus truth, the truth's midpoint) and the
share of bars that contain the truth; the load average with them. Goal (issue #13): >= 95 % of bars contain the
truth in both conditions, RTO error P95 <= 0.15 s idle. With `--ui` the second condition runs every trial under the
live console (`gameday run --ui`) with a viewer reading its state every second: the console must cost the
measurements nothing (issue #17), i.e. the same figures within noise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gameday.base.ledger import read_entries
from gameday.base.settings import Settings
from infra.local.layout import StackLayout
from infra.local.waiting import port_is_free
from infra.targets.local import LocalTarget, with_base_port

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("outage", "late-onset", "replication-cut")
ENTRY = "router-eu-central-1"
ROUNDING_S = 0.0005  # summary.json gives seconds to 3 decimals


def free_base() -> int:
    for base in range(51000, 60000, 100):
        if all(port_is_free(p) for p in StackLayout.from_base(base).all_ports()):
            return base
    raise SystemExit("no free block of ports")


def _action(name: str, func: str, arguments: dict, after_s: float | None = None, module: str = "gameday.faults"):
    step = {"type": "action", "name": name, "provider": {"type": "python", "module": module, "func": func,
                                                          "arguments": arguments}}
    if after_s:
        step["pauses"] = {"after": round(after_s, 3)}
    return step


def experiment(kind: str, rng: random.Random) -> tuple[dict, dict]:
    """A Chaos Toolkit experiment of `kind` with random durations, and those durations."""
    windows = {"baseline_s": 2, "after_s": 4, "sustain_s": 1}
    if kind == "outage":
        drawn = {"outage_s": rng.uniform(1.0, 5.0)}
        method = [_action("cut-entry", "cut_link", {"link": ENTRY, "duration_s": round(drawn["outage_s"], 3)})]
        rollbacks = []
        criteria = ["rto_read_s <= 900", "rto_write_s <= 900"]
    elif kind == "late-onset":
        drawn = {"onset_s": rng.uniform(2.0, 6.0), "outage_s": rng.uniform(1.0, 4.0)}
        method = [_action("mark-t0", "add_latency", {"link": "replication", "ms": 1}, after_s=drawn["onset_s"]),
                  _action("cut-entry", "cut_link", {"link": ENTRY, "duration_s": round(drawn["outage_s"], 3)}),
                  _action("unmark", "remove_latency", {"link": "replication"})]
        rollbacks = [_action("unmark-rollback", "remove_latency", {"link": "replication"})]
        criteria = ["rto_read_s <= 900", "rto_write_s <= 900"]
    else:
        drawn = {"gap_s": rng.uniform(1.0, 4.0)}
        method = [_action("cut-replication", "cut_link", {"link": "replication"}, after_s=drawn["gap_s"]),
                  _action("power-off-primary", "fail_region", {"region": "eu-central-1", "mode": "power_off"}),
                  _action("promote-secondary", "promote_secondary", {}, after_s=1, module="remediations.failover")]
        rollbacks = [_action("restore-replication", "restore_link", {"link": "replication"}),
                     _action("restore-primary-region", "restore_region", {"region": "eu-central-1"}),
                     _action("failback", "failback", {}, module="remediations.failover")]
        windows = {"baseline_s": 2, "after_s": 2, "sustain_s": 1}
        criteria = ["rpo_s <= 60"]
    doc = {"title": f"measurement bench: {kind}", "description": json.dumps(drawn), "method": method,
           "rollbacks": rollbacks, "extensions": [{"name": "gameday", "windows": windows, "criteria": criteria}]}
    return doc, drawn


def _ledger(run_dir: Path) -> tuple[dict, dict, dict]:
    """begin, injected and recovered entries of the run's faults, by fault kind."""
    entries = read_entries(run_dir / "faults.jsonl")
    kind_of = {e["id"]: e["kind"] for e in entries if e["event"] == "begin"}
    by = {name: {kind_of[e["id"]]: e for e in entries if e["event"] == name and e["id"] in kind_of}
          for name in ("begin", "injected", "recovered")}
    return by["begin"], by["injected"], by["recovered"]


def judge(kind: str, run_dir: Path, drawn: dict) -> list[dict]:
    """One row per figure: its truth interval (relative to t0), the reported value and bar, and the verdicts."""
    summary = json.loads((run_dir / "summary.json").read_text())
    begin, injected, recovered = _ledger(run_dir)
    # t0 as docs/measurement.md defines it: the first disaster's injection, else the first fault's.
    t0 = injected["region_outage"]["at_s"] if "region_outage" in injected else min(e["at_s"] for e in injected.values())
    rows = []
    if kind in ("outage", "late-onset"):
        cut = injected["link_cut"]
        truth = (cut["at_s"] + drawn["outage_s"] - t0, recovered["link_cut"]["at_s"] - t0)
        for side in ("read", "write"):
            value, bar = summary["rto"][f"{side}_s"], summary["rto"][side] or {}
            rows.append(_row(f"rto_{side}_s", truth, value, bar.get("low_s"), bar.get("high_s")))
            if kind == "late-onset":
                # Truth: the link went down during the cut's call, between its ledger `begin` and `injected`. The
                # figure is the intended time of the first failed probe: the impact came after the success one
                # interval before it, and before that probe was answered (a cut breaks probes in flight too), so
                # its resolution is one probe interval either way.
                step = summary["rto"][f"{side}_resolution_s"] or 0.0
                truth_impact = (begin["link_cut"]["at_s"] - t0, cut["at_s"] - t0)
                impact = bar.get("impact_s")
                rows.append(_row(f"impact_{side}_s", truth_impact, impact,
                                 None if impact is None else impact - step, None if impact is None else impact + step))
    else:
        # The oldest lost write was acked after the cut, at most one canary interval after it (the resolution).
        resolution = summary["rpo"]["resolution_s"] or 0.0
        truth = (t0 - injected["link_cut"]["at_s"] - resolution, t0 - begin["link_cut"]["at_s"])
        rows.append(_row("rpo_s", truth, summary["rpo"]["s"], summary["rpo"]["s"], summary["rpo"]["high_s"]))
    return rows


def _row(figure: str, truth: tuple[float, float], value, low, high) -> dict:
    if value is None:
        return {"figure": figure, "truth": truth, "value": None, "error_s": None, "contains": False}
    high = float("inf") if high is None else high
    contains = (low if low is not None else value) <= truth[1] + ROUNDING_S and high >= truth[0] - ROUNDING_S
    return {"figure": figure, "truth": truth, "value": value, "low": low, "high": high,
            "error_s": value - (truth[0] + truth[1]) / 2, "contains": contains}


def _with_viewer(argv: list[str], env: dict) -> subprocess.CompletedProcess:
    """The run with `--ui` and a viewer attached: the console's state read every second (as its page does)."""
    import threading

    import httpx

    proc = subprocess.Popen([*argv, "--ui"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    stop = threading.Event()

    def view(url: str) -> None:
        with httpx.Client(timeout=2) as client:
            while not stop.wait(1.0):
                try:
                    client.get(url + "state")
                except httpx.HTTPError:
                    pass

    viewer = None
    for line in proc.stdout:
        lines.append(line)
        if viewer is None and line.startswith("console: "):
            viewer = threading.Thread(target=view, args=(line.split()[1],), daemon=True)
            viewer.start()
    proc.wait(timeout=600)
    stop.set()
    return subprocess.CompletedProcess(argv, proc.returncode, "".join(lines), "")


def trial(n: int, kind: str, rng: random.Random, target: LocalTarget, env: dict, scratch: Path, label: str) -> dict:
    doc, drawn = experiment(kind, rng)
    path = scratch / f"{label}-{n:02d}-{kind}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run_dir = scratch / f"{label}-{n:02d}-{kind}"
    argv = [sys.executable, "-m", "gameday.cli", "run", str(path), "--out", str(run_dir),
            "--base-port", str(target.layout.router_port)]
    run = (_with_viewer(argv, env) if label == "ui" else
           subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600))
    if not (run_dir / "summary.json").exists():
        return {"n": n, "kind": kind, "drawn": drawn, "exit": run.returncode, "rows": [],
                "error": (run.stdout + run.stderr)[-600:]}
    return {"n": n, "kind": kind, "drawn": drawn, "exit": run.returncode, "rows": judge(kind, run_dir, drawn)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * q // 100) - 1)] if ordered else float("nan")


def report(label: str, results: list[dict]) -> dict:
    rows = [r for t in results for r in t["rows"]]
    failed = [t for t in results if not t["rows"]]
    out = {"condition": label, "trials": len(results), "runs_without_summary": len(failed)}
    for prefix in ("rto", "impact", "rpo"):
        mine = [r for r in rows if r["figure"].startswith(prefix)]
        if not mine:
            continue
        errors = [abs(r["error_s"]) for r in mine if r["error_s"] is not None]
        out[prefix] = {"figures": len(mine), "bar_contains_truth": sum(r["contains"] for r in mine),
                       "abs_error_p50_s": round(percentile(errors, 50), 3),
                       "abs_error_p95_s": round(percentile(errors, 95), 3),
                       "abs_error_max_s": round(max(errors), 3) if errors else None}
        print(f"  {label:<5} {prefix:<6}: bar contains the truth in {out[prefix]['bar_contains_truth']}/{len(mine)}"
              f" ({out[prefix]['bar_contains_truth'] / len(mine):.0%}); |error| P50 "
              f"{out[prefix]['abs_error_p50_s']} s, P95 {out[prefix]['abs_error_p95_s']} s, max "
              f"{out[prefix]['abs_error_max_s']} s", flush=True)
    return out


def run_condition(label: str, trials: int, rng: random.Random, target: LocalTarget, env: dict,
                  scratch: Path) -> list[dict]:
    results = []
    for n in range(trials):
        kind = KINDS[n % len(KINDS)]
        result = trial(n, kind, rng, target, env, scratch, label)
        results.append(result)
        shown = "; ".join(f"{r['figure']} {r['value']} truth [{r['truth'][0]:.3f}, {r['truth'][1]:.3f}] "
                          f"{'in bar' if r['contains'] else 'OUTSIDE BAR'}" for r in result["rows"])
        print(f"{label:<5} {n:>3} {kind:<16} {json.dumps({k: round(v, 2) for k, v in result['drawn'].items()})}"
              f"  exit {result['exit']}  {shown or result.get('error')}", flush=True)
        if target.reference_problems():
            target.restore_reference()
    return results


def rejudge(scratch: Path) -> int:
    """Judge the run directories of an earlier bench again (after a change of the judging, not of the runs)."""
    summaries = []
    for label in ("idle", "busy", "ui"):
        results = []
        for run_dir in sorted(d for d in scratch.glob(f"{label}-*") if d.is_dir()):
            n, kind = int(run_dir.name.split("-")[1]), run_dir.name.split("-", 2)[2]
            drawn = json.loads(yaml.safe_load((run_dir.parent / f"{run_dir.name}.yaml").read_text())["description"])
            rows = judge(kind, run_dir, drawn) if (run_dir / "summary.json").exists() else []
            results.append({"n": n, "kind": kind, "drawn": drawn, "rows": rows})
        if results:
            summaries.append(report(label, results))
    print(json.dumps({"scratch": str(scratch), "conditions": summaries}, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per condition")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--busy", choices=("both", "idle", "busy"), default="both")
    parser.add_argument("--ui", action="store_true",
                        help="compare idle runs with runs under the live console (--ui) with a viewer attached")
    parser.add_argument("--judge-only", type=Path, default=None, metavar="SCRATCH",
                        help="judge the runs an earlier bench left in SCRATCH again (no stack, no runs)")
    args = parser.parse_args()
    if args.judge_only is not None:
        return rejudge(args.judge_only)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    scratch = Path(tempfile.mkdtemp(prefix="gameday-measure-"))
    scratch.chmod(0o755)
    (scratch / "stacks").mkdir(mode=0o755)
    settings = with_base_port(Settings(stack_root=scratch / "stacks", router_interval_s=0.2,
                                       router_failure_threshold=1000), free_base())
    env = {**os.environ, "GAMEDAY_STACK_ROOT": str(settings.stack_root), "GAMEDAY_RUNS_DIR": str(scratch),
           "GAMEDAY_ROUTER_INTERVAL_S": "0.2", "GAMEDAY_ROUTER_FAILURE_THRESHOLD": "1000"}
    target = LocalTarget(settings)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # SIGTERM too takes the stack down (finally below)
    print(f"measurement bench: {args.trials} trials per condition ({', '.join(KINDS)} in turn), seed {seed}, "
          f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}, scratch {scratch}", flush=True)
    target.stack.up()
    conditions = ("idle", "ui") if args.ui else ("idle", "busy") if args.busy == "both" else (args.busy,)
    summaries = []
    try:
        for label in conditions:
            spinner = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if label == "busy" else None)
            try:
                results = run_condition(label, args.trials, rng, target, env, scratch)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            print(f"{label}: load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
            summaries.append(report(label, results))
            (scratch / f"measurement_{label}.json").write_text(json.dumps(results, indent=2, default=str))
    finally:
        target.stack.down()
    print(json.dumps({"seed": seed, "conditions": summaries}, indent=2))
    contained = all(s[p]["bar_contains_truth"] >= 0.95 * s[p]["figures"] for s in summaries
                    for p in ("rto", "rpo", "impact") if p in s)
    return 0 if contained else 1


if __name__ == "__main__":
    sys.exit(main())
