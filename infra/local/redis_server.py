"""Redis for the local stack: one cache per region (never the source of truth, so no persistence)."""

from __future__ import annotations

import shutil
from pathlib import Path

from gameday.base.errors import StackError
from infra.local.layout import HOST


def find_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"):
        if Path(candidate).exists():
            return candidate
    raise StackError("finding redis-server failed: not on PATH",
                     hint="install Redis (Debian: apt-get install -y redis-server) or run `make gameday`, which does")


def server_argv(binary: str, port: int, workdir: Path) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--daemonize", "no", "--protected-mode", "no",
            "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru", "--loglevel", "warning"]
