"""Redis for the local stack: one cache per region (never the source of truth, so no persistence)."""

from __future__ import annotations

from pathlib import Path

from infra.local.binaries import find_redis
from infra.local.layout import HOST


def find_binary() -> str:
    """`redis-server` on PATH, in Debian's or Homebrew's folders (infra/local/binaries.py)."""
    return str(find_redis())


def server_argv(binary: str, port: int, workdir: Path) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--daemonize", "no", "--protected-mode", "no",
            "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru", "--loglevel", "warning"]
