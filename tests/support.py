"""Helpers the integration tests share: free ports, starting a server module we own, stopping it by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path | None = None, timeout_s: float = 10.0) -> None:
    """Until GET `url` answers at all; fails the test if `proc` exits or time runs out."""
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
