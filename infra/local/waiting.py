"""Polling helpers for a stack coming up: a TCP port that accepts, an HTTP URL that answers."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx

from gameday.base.errors import StackError
from infra.local.layout import HOST


def port_accepts(port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            return True
        except OSError:
            return False


def http_json(url: str, timeout_s: float = 1.0) -> tuple[int, dict] | None:
    """(status, JSON body) of GET `url`, or None when it does not answer."""
    try:
        resp = httpx.get(url, timeout=timeout_s)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, {}
    except httpx.HTTPError:
        return None


def wait_until(check: Callable[[], bool], what: str, timeout_s: float, interval_s: float = 0.05,
               on_timeout: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    detail = on_timeout()
    raise StackError(f"start of {what} failed: not ready after {timeout_s:.0f} s" + (f": {detail}" if detail else ""))
