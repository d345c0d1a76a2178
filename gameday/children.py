"""The run's child processes: the probe samplers, the Locust load and the Chaos Toolkit experiment."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gameday.base.errors import InvalidInput
from gameday.base.models import GameDaySpec
from gameday.load import DEFAULT_MASTER_PORT, LoadSpec, locust_command
from scenarios.profiles import Profile, load_profile, scaled

ROOT = Path(__file__).resolve().parents[1]
PR_SET_PDEATHSIG = 1
LOAD_CEILING_S = 6 * 3600  # the load runs until the run stops it; this only bounds a forgotten child


def _terminate_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the runner dies, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the child's own time bound still ends it
        pass


def start(argv: list[str], log: Path, env: dict | None = None, die_with_runner: bool = False,
          pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """A child in its own session (terminal signals reach the runner only; it decides what to forward);
    `pass_fds` are inherited (the run lock's descriptor, for the Chaos Toolkit child).

    `die_with_runner`: for load and samplers, which measure nothing useful once the runner is gone (a killed
    run's Locust would otherwise load the stack for hours). Not for the Chaos Toolkit child: if the runner
    dies it still runs its rollbacks."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=ROOT, env=env, pass_fds=pass_fds,
                                preexec_fn=_terminate_with_parent if die_with_runner and sys.platform == "linux"
                                else None)


def stop_load(proc: subprocess.Popen | None, grace_s: float = 20.0) -> int | None:
    """Stop Locust through its master only, as Ctrl-C does (SIGINT: a master of `--processes` has no SIGTERM
    handler of its own): it quits its workers and waits for their final reports (their last raw samples,
    scenarios/locustfile.py); a signal to the whole group would stop the workers before they report. What is
    left after `grace_s` is killed with the group."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGINT)
            proc.wait(timeout=grace_s)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    return stop(proc, grace_s=2.0)


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, grace_s: float = 15.0) -> int | None:
    """Signal the child's process group, wait, then SIGKILL it; what is left of the group (e.g. Locust workers
    the master forked, once the master is gone) is killed too: the group is ours alone (start_new_session)."""
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
    code = proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return code


def sampler_argv(run_dir: Path, gd: GameDaySpec, router_url: str, pg_ports: dict[str, int], seq_start: int,
                 routing: bool = True, capacity_urls: dict[str, str] | None = None, canary_url: str | None = None,
                 fresh_connections: bool = False) -> list[str]:
    """The samplers' child; `routing=False` when the entry point has no router status (the AWS target);
    `capacity_urls` (region -> gateway URL) adds the capacity sampler; `canary_url` is where canary writes go
    (default: the entry point's /writes); `fresh_connections` opens a connection (a DNS lookup) per probe."""
    config = {"out": str(run_dir / "probes.jsonl"), "entry_url": router_url,
              "routing_url": f"{router_url}/_router/status" if routing else None,
              "pg_ports": pg_ports, "canary_seq_start": seq_start,
              "health_interval_s": gd.probes.health_interval_s, "canary_rate_per_s": gd.probes.canary_rate_per_s,
              "canary_timeout_s": gd.probes.canary_timeout_s, "routing_interval_s": gd.probes.routing_interval_s,
              "replication_interval_s": gd.probes.replication_interval_s,
              "capacity_urls": capacity_urls or {}, "capacity_interval_s": gd.probes.capacity_interval_s,
              "canary_url": canary_url, "fresh_connections": fresh_connections}
    path = run_dir / "sampler.json"
    path.write_text(json.dumps(config, indent=2))
    return [sys.executable, "-m", "probes.samplers", "--config", str(path)]


def vitals_argv(run_dir: Path, gd: GameDaySpec, edge_url: str, chromium: str | None) -> list[str] | None:
    """The browser sampler's child (probes.browser_vitals) opening `gd.vitals.path` on `edge_url` in `chromium`;
    None when the experiment samples no vitals."""
    if gd.vitals is None:
        return None
    config = {"out": str(run_dir / "vitals.jsonl"), "url": edge_url.rstrip("/") + gd.vitals.path,
              "interval_s": gd.vitals.interval_s, "timeout_s": gd.vitals.timeout_s, "interact": gd.vitals.interact,
              "chromium": chromium}
    path = run_dir / "vitals.json"
    path.write_text(json.dumps(config, indent=2))
    return [sys.executable, "-m", "probes.browser_vitals", "--config", str(path)]


PROFILE_FILE = "profile.json"  # in the load directory: the profile as applied (its stage timing places a spike)


def run_profile(gd: GameDaySpec, quick: bool = False) -> Profile | None:
    """The experiment's load profile as a run applies it: the rate/users overrides, and in quick mode scaled to
    `quick.load_duration_s`; None without load."""
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
    profile = profile.model_copy(update={"stages": updates})
    if quick and gd.quick.load_duration_s:
        profile = scaled(profile, gd.quick.load_duration_s)
    return profile


def until_stopped(profile: Profile) -> Profile:
    """The profile with its stages at their own times and the last one held up to LOAD_CEILING_S (the run stops
    the load; a single-stage profile just runs on)."""
    stages = list(profile.stages)
    rest = LOAD_CEILING_S - sum(stage.duration_s for stage in stages[:-1])
    stages[-1] = stages[-1].model_copy(update={"duration_s": max(stages[-1].duration_s, rest)})
    return profile.model_copy(update={"stages": stages})


def load_argv(run_dir: Path, gd: GameDaySpec, router_url: str, quick: bool = False,
              edge_url: str | None = None, workers: int | None = None, remote_workers: int = 0,
              master: tuple[str, int] | None = None, web_port: int | None = None) -> list[str] | None:
    """Locust for the experiment's load (None without one), run until stopped; writes the applied profile to
    load/profile.json (the analysis places a load spike by its stages). `workers` (else the load block's): a
    master and that many local worker processes, each shipping its raw samples to the master; `remote_workers`: a
    master on `master` (host, port) waiting for that many workers started elsewhere. `web_port` (a run with the
    console): Locust's web UI on 127.0.0.1:`web_port`, the load started at once and quit with the run as without it
    (`--autostart --autoquit 0` instead of `--headless`: on SIGINT it stops, quits its workers and writes its files)."""
    profile = run_profile(gd, quick)
    if profile is None:
        return None
    processes = 1 if remote_workers else (workers or gd.load.workers or 1)
    bind, port = master or ("127.0.0.1", DEFAULT_MASTER_PORT)
    spec = LoadSpec(profile=until_stopped(profile), target=router_url, out_dir=run_dir / "load", edge_url=edge_url,
                    processes=processes, workers=remote_workers, master_bind=bind, master_port=port)
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    (spec.out_dir / PROFILE_FILE).write_text(profile.model_dump_json(indent=2))
    cmd = locust_command(spec)
    if web_port is not None:
        at = cmd.index("--headless")
        cmd[at:at + 1] = ["--autostart", "--autoquit", "0", "--web-host", "127.0.0.1", "--web-port", str(web_port)]
    return cmd


def chaos_argv(run_dir: Path, experiment: Path, variables: dict[str, float], settings: Path) -> list[str]:
    chaos = Path(sys.executable).parent / "chaos"
    if not chaos.exists():
        found = shutil.which("chaos")
        if not found:
            raise InvalidInput("running the experiment failed: the `chaos` command (chaostoolkit) is not installed",
                               hint="run `make gameday` or pip install -e .")
        chaos = Path(found)
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
