"""Helpers the integration tests share: free ports, starting a server module we own, stopping it by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path | None = None, timeout_s: float = 60.0) -> None:
    """Until GET `url` answers at all; fails the test if `proc` exits or time runs out (generous: on a busy
    machine a server takes many seconds to import and bind, and an exit is caught at once anyway)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=0.5)
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            detail = log.read_text() if log is not None and log.exists() else f"exit code {proc.poll()}"
            stop_process(proc)
            pytest.fail(f"{url} did not answer: {detail}")
        time.sleep(0.05)


def start_module(module: str, *args: str, ready_url: str, log: Path | None = None) -> subprocess.Popen:
    """`python -m module args` from the repository root, returned once `ready_url` answers."""
    out = open(log, "ab") if log is not None else None
    try:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT if out else None)
    finally:
        if out is not None:
            out.close()
    wait_http(ready_url, proc, log)
    return proc


def stop_process(proc: subprocess.Popen) -> int:
    """SIGTERM the process we started (by PID), SIGKILL it after 5 s; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def running_stack(stack_root: Path, name: str, **overrides):
    """A local stack for tests, in its own directory under `stack_root`. By default its router never fails over
    by itself, so only an experiment's actions move traffic (and outages measure as injected); `overrides` are
    Settings fields (e.g. router_failure_threshold=3 for the router's own failover)."""
    from gameday.base.settings import Settings
    from infra.targets.local import LocalTarget, with_base_port
    from tests.conftest import free_base_port

    root = stack_root / name
    root.mkdir(mode=0o755)
    fields = {"router_interval_s": 0.2, "router_failure_threshold": 1000, **overrides}
    settings = with_base_port(Settings(stack_root=root, **fields), free_base_port())
    driver = LocalTarget(settings)
    driver.stack.up()
    try:
        yield driver
    finally:
        driver.stack.down()


def run_argv(target, experiment: Path, out: Path, *more: str) -> list[str]:
    """`gameday run` of `experiment` against `target`'s stack, writing to `out`."""
    return [sys.executable, "-m", "gameday.cli", "run", str(experiment), "--out", str(out),
            "--base-port", str(target.layout.router_port), *more]


def run_env(target, **extra: str) -> dict:
    return {**os.environ, "GAMEDAY_STACK_ROOT": str(target.settings.stack_root), **extra}


def partition_experiment(path: Path, hold_s: float = 1, edit=lambda doc: None) -> dict:
    """tests/data/experiments/hold-partition.yaml held `hold_s` instead, changed by `edit(doc)`, written to
    `path`; the document."""
    doc = yaml.safe_load((ROOT / "tests" / "data" / "experiments" / "hold-partition.yaml").read_text())
    doc["configuration"]["hold_s"] = hold_s
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return doc


def with_vitals(experiment: Path, tmp_path: Path, interval_s: float = 2.0) -> Path:
    """A copy of `experiment` in `tmp_path` with the browser sampler (`vitals:`) in its gameday block."""
    doc = yaml.safe_load(experiment.read_text())
    next(e for e in doc["extensions"] if e["name"] == "gameday")["vitals"] = {"interval_s": interval_s}
    path = tmp_path / experiment.name
    path.write_text(yaml.safe_dump(doc))
    return path


def plan_problems(path: Path) -> dict[str, str]:
    """Every problem loading the GameDay plan at `path` finds, by location (the plan must be refused)."""
    from gameday.plans import PlanInvalid, load_plan

    with pytest.raises(PlanInvalid) as info:
        load_plan(path)
    return {p.location: p.message for p in info.value.problems}


def journal_activity(run_dir: Path, name: str) -> dict:
    """The Chaos Toolkit journal's record of the activity called `name` in the run (its output, status, times)."""
    journal = json.loads((run_dir / "journal.json").read_text())
    return next(r for r in journal["run"] if r["activity"]["name"] == name)


def gameday_run(target, experiment: Path, out: Path, *more: str, timeout_s: float = 300, **env: str):
    """Run `gameday run` to the end; the CompletedProcess."""
    return subprocess.run(run_argv(target, experiment, out, *more), capture_output=True, text=True, cwd=ROOT,
                          env=run_env(target, **env), timeout=timeout_s)


class LoopbackHTTP:
    """A real HTTP server on loopback for tests: `answer(method, path, body) -> (status, headers)` decides each
    reply; every request is kept in `requests` as (method, path, body). A context manager (stops the server)."""

    def __init__(self, answer):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server, self.requests = self, []

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((self.command, self.path, body))
                status, headers = answer(self.command, self.path, body)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WebhookSink(LoopbackHTTP):
    """A Slack-compatible incoming webhook on loopback (the chat stand-in): keeps every JSON body posted to it in
    `received`; answers `status`."""

    def __init__(self, status: int = 200):
        super().__init__(lambda method, path, body: (status, {}))
        self.url += "/hooks/T000/B000/secret-token-xyz"

    @property
    def received(self) -> list:
        return [json.loads(body or b"{}") for method, _, body in self.requests if method == "POST"]
