"""Runs Locust headless as a child process (never imported here): profile in; raw samples and Locust's JSON out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gameday.base import run_clock
from gameday.base.errors import InvalidInput
from scenarios.profiles import Profile, to_json, total_s

LOCUSTFILE = Path(__file__).resolve().parents[1] / "scenarios" / "locustfile.py"
DEFAULT_MASTER_PORT = 5557
STOP_GRACE_S = 10.0
TIMEOUT_MARGIN_S = 60.0
WORKER_WAIT_S = 30


@dataclass(frozen=True)
class LoadSpec:
    """One load run. `processes` > 1 forks local workers; `workers` > 0 waits for that many remote ones."""

    profile: Profile
    target: str
    out_dir: Path
    processes: int = 1
    workers: int = 0
    master_bind: str = "127.0.0.1"
    master_port: int = DEFAULT_MASTER_PORT
    timeout_s: float | None = None
    edge_url: str | None = None  # where the static and index journeys go (a CDN); None: `target`

    def __post_init__(self) -> None:
        if not self.target.startswith(("http://", "https://")):
            raise InvalidInput(f"load target {self.target!r} is not an http(s) URL",
                               hint="e.g. --target http://127.0.0.1:8080 (the local stack's router)")
        if self.edge_url is not None and not self.edge_url.startswith(("http://", "https://")):
            raise InvalidInput(f"edge URL {self.edge_url!r} is not an http(s) URL",
                               hint="e.g. --edge-url https://d111111abcdef8.cloudfront.net")
        if self.processes > 1 and self.workers > 0:
            raise InvalidInput("a load run takes --processes (local workers) or --workers (remote), not both")

    @property
    def samples_dir(self) -> Path:
        return self.out_dir / "samples"

    @property
    def deadline_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else total_s(self.profile) + TIMEOUT_MARGIN_S


@dataclass(frozen=True)
class LoadResult:
    out_dir: Path
    samples_dir: Path
    exit_code: int
    timed_out: bool
    locust_requests: int | None  # from --json-file; None when Locust wrote none


def locust_command(spec: LoadSpec) -> list[str]:
    out = spec.out_dir
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", spec.target,
           "--gameday-profile", to_json(spec.profile), "--gameday-samples-dir", str(spec.samples_dir),
           "--json-file", str(out / "locust"), "--csv", str(out / "locust"), "--logfile", str(out / "locust.log"),
           "--exit-code-on-error", "0", "--only-summary"]
    if spec.edge_url:
        cmd += ["--gameday-edge-url", spec.edge_url]
    if spec.processes > 1:
        cmd += ["--processes", str(spec.processes), "--gameday-workers", str(spec.processes)]
    if spec.workers > 0:
        cmd += ["--master", "--master-bind-host", spec.master_bind, "--master-bind-port", str(spec.master_port),
                "--expect-workers", str(spec.workers), "--expect-workers-max-wait", str(WORKER_WAIT_S),
                "--gameday-workers", str(spec.workers)]
    return cmd


def worker_command(master_host: str, master_port: int = DEFAULT_MASTER_PORT, processes: int = 1) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", master_host,
           "--master-port", str(master_port)]
    return cmd + (["--processes", str(processes)] if processes > 1 else [])


def run_child(cmd: list[str], log_path: Path, timeout_s: float) -> tuple[int, bool]:
    """Run `cmd` in its own session; on timeout or Ctrl-C stop its process group (its PID): TERM, then KILL."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        # The child stamps on this process's time base (a run's, when a run started this one).
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **run_clock.anchor_env()})
        try:
            return proc.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            return stop_group(proc), True
        except BaseException:
            stop_group(proc)
            raise


def stop_group(proc: subprocess.Popen) -> int:
    """Stop the child and everything it forked (its process group, numbered by its PID)."""
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def locust_request_count(json_path: Path) -> int | None:
    """Requests Locust counted (sum over its per-endpoint entries); its `_stats.csv` is stale at exit."""
    if not json_path.exists():
        return None
    return sum(int(entry["num_requests"]) for entry in json.loads(json_path.read_text()))


def run_load(spec: LoadSpec) -> LoadResult:
    """Run the profile against the target and return where the evidence is; blocks until done or timed out."""
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    (spec.out_dir / "profile.json").write_text(spec.profile.model_dump_json(indent=2))
    started = run_clock.now()
    exit_code, timed_out = run_child(locust_command(spec), spec.out_dir / "locust.out", spec.deadline_s)
    (spec.out_dir / "run.json").write_text(json.dumps(
        {"target": spec.target, "profile": spec.profile.name, "processes": spec.processes, "workers": spec.workers,
         "started_at": started, "ended_at": run_clock.now(), "exit_code": exit_code, "timed_out": timed_out}))
    return LoadResult(out_dir=spec.out_dir, samples_dir=spec.samples_dir, exit_code=exit_code, timed_out=timed_out,
                      locust_requests=locust_request_count(spec.out_dir / "locust.json"))


def run_worker(master_host: str, master_port: int, processes: int, log_path: Path, timeout_s: float) -> int:
    """A Locust worker (or N) for a remote master; its samples travel to the master with its stats reports."""
    exit_code, _ = run_child(worker_command(master_host, master_port, processes), log_path, timeout_s)
    return exit_code
