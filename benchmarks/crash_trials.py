"""Crash safety, measured: GameDay runs ended at a random moment, then `gameday recover`; is the stack restored?

    .venv/bin/python benchmarks/crash_trials.py [--trials 30] [--experiment experiments/region-failover.yaml]
                                                [--seed N] [--max-at-s 40] [--modes M,...] [--at-s S]
                                                [--victim faultproxy|api]

Each trial runs `gameday run EXPERIMENT --quick` on a stack of its own (free ports, scratch directory) and ends
it after a random delay in one of five ways, in turn: SIGKILL of the run's whole process group (a lost host),
SIGKILL of the Chaos Toolkit child alone, SIGINT to the group (Ctrl-C), SIGTERM to the run, SIGKILL of a stack
component (the fault proxy or a region gateway). Then `gameday recover`, and the check: the reference topology
(every link enabled without toxics, every component healthy, exactly one writer and in the primary region, the
router serving the primary by health, a write through the entry point committed: LocalTarget.
reference_problems) and no acked canary write lost outside a fault's window (from probes.jsonl, the fault
ledger and the final writer's canary table). Prints one line a trial and a summary; the load average with it.
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
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gameday.base.ledger import fault_windows, read_entries
from gameday.base.settings import Settings
from infra.local import postgres
from infra.local.layout import StackLayout
from infra.local.processes import children_of
from infra.local.waiting import port_is_free
from infra.targets.local import LocalTarget, with_base_port

ROOT = Path(__file__).resolve().parents[1]
MODES = ("sigkill-group", "sigkill-chaos", "sigint", "sigterm", "sigkill-component")
WINDOW_SLACK_S = 1.0  # an acked write this close to a fault's start may be lost with it (async replication)


def free_base() -> int:
    for base in range(41000, 50000, 100):
        if all(port_is_free(p) for p in StackLayout.from_base(base).all_ports()):
            return base
    raise SystemExit("no free block of ports")


def descendants(pid: int) -> list[int]:
    out = []
    for child in children_of(pid):
        out += [child, *descendants(child)]
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def interrupt(mode: str, run: subprocess.Popen, target: LocalTarget, rng: random.Random,
              victim_kind: str | None = None) -> str:
    """End the run `mode`'s way; what was done."""
    if mode == "sigkill-group":
        os.killpg(run.pid, signal.SIGKILL)
        return "killpg SIGKILL"
    if mode == "sigint":
        os.killpg(run.pid, signal.SIGINT)
        return "killpg SIGINT"
    if mode == "sigterm":
        run.send_signal(signal.SIGTERM)
        return "SIGTERM to the run"
    if mode == "sigkill-chaos":
        chaos = [p for p in descendants(run.pid) if "chaos" in cmdline(p) and "run" in cmdline(p)]
        for pid in chaos:
            os.kill(pid, signal.SIGKILL)
        return f"SIGKILL chaos child {chaos or 'none running'}"
    kinds = (victim_kind,) if victim_kind else ("faultproxy", "api")
    victims = [c for c in target.stack.components() if c.kind in kinds and c.ref.alive()]
    victim = rng.choice(victims)
    for pid in [*descendants(victim.ref.pid), victim.ref.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return f"SIGKILL component {victim.name}"


def lost_outside_faults(run_dir: Path, target: LocalTarget, since_s: float) -> tuple[int, int]:
    """(acked canary writes, of them lost outside every fault window begun since `since_s`: this trial's)."""
    probes = run_dir / "probes.jsonl"
    if not probes.exists():
        return 0, 0
    acked = {}
    for line in probes.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("probe") == "canary" and record.get("outcome") == "acked":
            acked[record["seq"]] = record["acked_s"]
    if not acked:
        return 0, 0
    entries = read_entries(target.ledger_path)
    windows = [w for w in fault_windows(entries) if w["begun_s"] >= since_s]
    writers = target.writer_regions()
    if len(writers) != 1:
        return len(acked), len(acked)
    with psycopg.connect(postgres.dsn(target.layout.pg_port(writers[0])), autocommit=True) as conn:
        kept = {row[0] for row in conn.execute("SELECT seq FROM canary_writes WHERE seq >= %s", (min(acked),))}

    def in_a_window(at_s: float) -> bool:
        return any(w["begun_s"] - WINDOW_SLACK_S <= at_s <= (w["end_s"] or float("inf")) for w in windows)

    lost = [seq for seq, at_s in acked.items() if seq not in kept and not in_a_window(at_s)]
    return len(acked), len(lost)


def trial(n: int, mode: str, at_s: float, experiment: Path, target: LocalTarget, env: dict, scratch: Path,
          rng: random.Random, victim_kind: str | None = None) -> dict:
    run_dir = scratch / f"trial-{n:02d}"
    started_s = time.time()
    base = str(target.layout.router_port)
    run = subprocess.Popen([sys.executable, "-m", "gameday.cli", "run", str(experiment), "--quick", "--out",
                            str(run_dir), "--base-port", base], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + at_s
    while time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    done = interrupt(mode, run, target, rng, victim_kind) if run.poll() is None else "run ended before the interruption"
    try:
        run_code = run.wait(timeout=400)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run_code = run.wait()
    recover = subprocess.run([sys.executable, "-m", "gameday.cli", "recover", "--base-port", base], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=600)
    try:
        problems = target.reference_problems()
    except Exception as exc:  # the check itself failed: that is a finding, not the end of the benchmark
        problems = [f"reference check failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"]
    try:
        acked, lost = lost_outside_faults(run_dir, target, started_s)
    except Exception as exc:
        problems.append(f"lost-write check failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        acked = lost = 0
    return {"trial": n, "mode": mode, "at_s": round(at_s, 1), "did": done, "run_exit": run_code,
            "recover_exit": recover.returncode, "problems": problems, "acked": acked, "lost_outside_faults": lost,
            "recover_tail": recover.stdout.strip().splitlines()[-1:] + recover.stderr.strip().splitlines()[-2:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--experiment", type=Path, default=ROOT / "experiments/region-failover.yaml")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-at-s", type=float, default=40.0, help="interrupt between 1 s and this long in")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, taken in turn (default all: {','.join(MODES)})")
    parser.add_argument("--at-s", type=float, default=None, help="interrupt this long in (default: random)")
    parser.add_argument("--victim", choices=("faultproxy", "api"), default=None,
                        help="the component sigkill-component kills (default: either, at random)")
    args = parser.parse_args()
    modes = tuple(m for m in args.modes.split(",") if m)
    if unknown := [m for m in modes if m not in MODES]:
        parser.error(f"--modes: unknown {unknown}; valid: {', '.join(MODES)}")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    scratch = Path(tempfile.mkdtemp(prefix="gameday-crash-"))
    scratch.chmod(0o755)
    settings = with_base_port(Settings(stack_root=scratch / "stacks"), free_base())
    (scratch / "stacks").mkdir(mode=0o755)
    env = {**os.environ, "GAMEDAY_STACK_ROOT": str(settings.stack_root), "GAMEDAY_RUNS_DIR": str(scratch)}
    target = LocalTarget(settings)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # SIGTERM too takes the stack down (finally below)
    print(f"crash trials: {args.trials} of {args.experiment.name} --quick, seed {seed}, load average "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}, scratch {scratch}", flush=True)
    target.stack.up()
    results = []
    try:
        for n in range(args.trials):
            mode = modes[n % len(modes)]
            at_s = rng.uniform(1.0, args.max_at_s) if args.at_s is None else args.at_s
            result = trial(n, mode, at_s, args.experiment, target, env, scratch, rng, args.victim)
            results.append(result)
            ok = not result["problems"] and result["recover_exit"] == 0 and not result["lost_outside_faults"]
            print(f"{n:>3} {mode:<18} at {result['at_s']:>5.1f} s  run exit {result['run_exit']:>3}  recover exit "
                  f"{result['recover_exit']}  {'RESTORED' if ok else 'NOT RESTORED'}  acked {result['acked']}, "
                  f"lost outside faults {result['lost_outside_faults']}"
                  + ("" if ok else f"  problems: {result['problems']} {result['recover_tail']}"), flush=True)
            if result["problems"]:  # the next trial needs a sound stack: rebuild it, and count this one as failed
                target.stack.down()
                target.stack.up()
    finally:
        target.stack.down()
    restored = sum(1 for r in results if not r["problems"] and r["recover_exit"] == 0 and not r["lost_outside_faults"])
    print(f"\nrestored {restored} of {len(results)} trials (seed {seed}); by mode: " + ", ".join(
        f"{m} {sum(1 for r in results if r['mode'] == m and not r['problems'] and r['recover_exit'] == 0)}/"
        f"{sum(1 for r in results if r['mode'] == m)}" for m in modes))
    print(f"load average at the end {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    (scratch / "crash_trials.json").write_text(json.dumps(results, indent=2))
    return 0 if restored == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
