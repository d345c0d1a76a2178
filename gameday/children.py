"""The run's child processes: the probe samplers, the Locust load and the Chaos Toolkit experiment."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gameday.errors import InvalidInput
from gameday.load import LoadSpec, locust_command
from gameday.models import GameDaySpec
from scenarios.profiles import load_profile, scaled

ROOT = Path(__file__).resolve().parents[1]
LOAD_CEILING_S = 6 * 3600  # the load runs until the run stops it; this only bounds a forgotten child


def start(argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """A child in its own session (terminal signals reach the runner only; it decides what to forward)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=ROOT, env=env)


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, grace_s: float = 15.0) -> int | None:
    """Signal the child's process group, wait, then SIGKILL it."""
    if proc is None:
        return None
    for signum, wait_s in ((sig, grace_s), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def sampler_argv(run_dir: Path, gd: GameDaySpec, router_url: str, pg_ports: dict[str, int], seq_start: int) -> list[str]:
    config = {"out": str(run_dir / "probes.jsonl"), "entry_url": router_url,
              "routing_url": f"{router_url}/_router/status",
              "pg_ports": pg_ports, "canary_seq_start": seq_start,
              "health_interval_s": gd.probes.health_interval_s, "canary_rate_per_s": gd.probes.canary_rate_per_s,
              "canary_timeout_s": gd.probes.canary_timeout_s, "routing_interval_s": gd.probes.routing_interval_s,
              "replication_interval_s": gd.probes.replication_interval_s}
    path = run_dir / "sampler.json"
    path.write_text(json.dumps(config, indent=2))
    return [sys.executable, "-m", "probes.samplers", "--config", str(path)]


def load_argv(run_dir: Path, gd: GameDaySpec, router_url: str) -> list[str] | None:
    """Locust for the experiment's load (None without one), run until stopped."""
    if gd.load is None:
        return None
    ref = gd.load.profile
    profile = load_profile(json.dumps(ref) if isinstance(ref, dict) else ref)
    updates = []
    for stage in profile.stages:
        change = {}
        if gd.load.rate_per_s and getattr(stage, "rate_per_s", None):
            change["rate_per_s"] = gd.load.rate_per_s
        if gd.load.users and getattr(stage, "users", None):
            change["users"] = gd.load.users
        updates.append(stage.model_copy(update=change))
    profile = scaled(profile.model_copy(update={"stages": updates}), LOAD_CEILING_S)
    spec = LoadSpec(profile=profile, target=router_url, out_dir=run_dir / "load")
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    return locust_command(spec)


def chaos_argv(run_dir: Path, experiment: Path, variables: dict[str, float]) -> list[str]:
    chaos = Path(sys.executable).parent / "chaos"
    if not chaos.exists():
        found = shutil.which("chaos")
        if not found:
            raise InvalidInput("running the experiment failed: the `chaos` command (chaostoolkit) is not installed",
                               hint="run `make gameday` or pip install -e .")
        chaos = Path(found)
    settings = run_dir / "chaos-settings.yaml"
    settings.write_text("runtime:\n  rollbacks:\n    strategy: always\n")
    argv = [str(chaos), "--no-version-check", "--log-file", str(run_dir / "chaos.log"), "--settings", str(settings),
            "run", "--rollback-strategy", "always", "--journal-path", str(run_dir / "journal.json")]
    for key, value in variables.items():
        argv += ["--var", f"{key}:float={value}" if isinstance(value, float) else f"{key}={value}"]
    return argv + [str(experiment)]


def wait_or_abort(seconds: float, aborted) -> bool:
    """Sleep `seconds` unless `aborted()` turns true first; returns whether it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if aborted():
            return True
        time.sleep(0.05)
    return aborted()
