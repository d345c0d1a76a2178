"""Where the local stack's PostgreSQL and Redis binaries are, and which OS user runs Postgres.

Looked for on PATH, `pg_config --bindir`, Debian's /usr/lib/postgresql/<v>/bin and Homebrew's prefixes (Apple silicon
/opt/homebrew, Intel /usr/local, `brew --prefix`). The choice is pure (`postgres_search_order`, `choose_postgres`,
`redis_search_order`, `choose_redis`): the platform, the user id and the candidates that exist in, a choice or a
StackError naming what to install out. `find_postgres` and `find_redis` gather those facts from this machine.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.base.errors import StackError

__all__ = ["HOMEBREW_PREFIXES", "POSTGRES_TOOLS", "PostgresChoice", "choose_postgres", "choose_redis",
           "find_postgres", "find_redis", "install_hint", "postgres_account", "postgres_search_order",
           "redis_search_order"]

POSTGRES_TOOLS = ("postgres", "initdb", "pg_basebackup")
HOMEBREW_PREFIXES = ("/opt/homebrew", "/usr/local")  # Apple silicon, then Intel
HOMEBREW_POSTGRES = ("postgresql@17", "postgresql@16", "postgresql@15", "postgresql@14", "postgresql")
PG_SUPERUSER_ACCOUNT = "postgres"  # the OS account Postgres runs as when we are root (it refuses root)


@dataclass(frozen=True)
class PostgresChoice:
    """The directory holding the server binaries, and the OS account to run them as (None: our own user)."""

    bindir: Path
    run_as: str | None


def _is_mac(platform: str) -> bool:
    return platform == "darwin"


def install_hint(platform: str, missing: str = "postgresql redis") -> str:
    """What to install on `platform` for the local stack (`missing`: 'postgresql', 'redis' or both)."""
    if _is_mac(platform):
        formulae = missing.replace("postgresql", "postgresql@16")
        return (f"brew install {formulae} (Homebrew's formulae are found under /opt/homebrew/opt or "
                f"/usr/local/opt without being linked onto PATH)")
    packages = missing.replace("redis", "redis-server")
    return f"apt-get install -y {packages} (as root; other distributions: their PostgreSQL server and Redis " \
           f"packages), or run `make gameday`, which does"


def postgres_search_order(platform: str, *, on_path: Path | None, pg_config_bindir: Path | None,
                          debian_bindirs: Sequence[Path] = (), brew_prefix: Path | None = None) -> list[Path]:
    """Pure: where to look for the server binaries, best first. `on_path`: the directory of the `initdb` on PATH;
    `pg_config_bindir`: what `pg_config --bindir` said; `debian_bindirs`: /usr/lib/postgresql/<v>/bin, newest
    first; `brew_prefix`: what `brew --prefix postgresql@16` said (macOS, when brew is installed)."""
    order = [d for d in (on_path, pg_config_bindir) if d is not None]
    homebrew = ([brew_prefix / "bin"] if brew_prefix is not None else []) + [
        Path(prefix) / "opt" / formula / "bin" for prefix in HOMEBREW_PREFIXES for formula in HOMEBREW_POSTGRES]
    if _is_mac(platform):
        order += homebrew + [Path(prefix) / "bin" for prefix in HOMEBREW_PREFIXES]
    else:
        order += list(debian_bindirs) + [Path("/usr/local/pgsql/bin"), Path("/usr/local/bin")] + homebrew
    return list(dict.fromkeys(order))


def choose_postgres(platform: str, uid: int, candidates: Sequence[Path],
                    usable: Callable[[Path], bool]) -> PostgresChoice:
    """Pure: the first of `candidates` that is `usable` (holds every one of POSTGRES_TOOLS), run as the `postgres`
    account when we are root on Linux (Postgres refuses to run as root), else as ourselves (macOS: the engineer's own
    user; there is no `runuser` and no `postgres` account there)."""
    run_as = postgres_account(platform, uid)
    bindir = next((d for d in candidates if usable(d)), None)
    if bindir is None:
        looked = ", ".join(str(d) for d in candidates) or "nowhere"
        raise StackError(f"finding the PostgreSQL server binaries ({', '.join(POSTGRES_TOOLS)}) failed: none on PATH "
                         f"or in {looked}", hint=install_hint(platform, "postgresql"))
    return PostgresChoice(bindir, run_as)


def postgres_account(platform: str, uid: int) -> str | None:
    """Pure: the OS account to run Postgres as: `postgres` when we are root on Linux, None (ourselves) otherwise;
    root on macOS is refused (no `postgres` account there, and Homebrew's Postgres is meant to run as the user)."""
    if uid != 0:
        return None
    if _is_mac(platform):
        raise StackError("start of PostgreSQL as root on macOS refused: Postgres refuses to run as root and macOS has "
                         "no `postgres` account to switch to",
                         hint="run `gameday` as your own user (not with sudo); Homebrew's Postgres runs as you")
    return PG_SUPERUSER_ACCOUNT


def redis_search_order(platform: str, *, on_path: Path | None) -> list[Path]:
    """Pure: where to look for `redis-server`, best first."""
    homebrew = [Path(prefix) / sub / "redis-server" for prefix in HOMEBREW_PREFIXES for sub in ("opt/redis/bin", "bin")]
    system = [Path("/usr/bin/redis-server"), Path("/usr/local/bin/redis-server")]
    order = [on_path] if on_path is not None else []
    order += homebrew + system if _is_mac(platform) else system + homebrew
    return list(dict.fromkeys(order))


def choose_redis(platform: str, candidates: Sequence[Path], usable: Callable[[Path], bool]) -> Path:
    """Pure: the first of `candidates` that is `usable`, or a StackError saying what to install."""
    found = next((c for c in candidates if usable(c)), None)
    if found is None:
        raise StackError(f"finding redis-server failed: not on PATH nor in {', '.join(str(c) for c in candidates)}",
                         hint=install_hint(platform, "redis"))
    return found


# ---- gathering the facts of this machine (I/O) -------------------------------------------------------------------
def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if not pg_config:
        return None
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _brew_prefix(formula: str) -> Path | None:
    brew = shutil.which("brew")
    if not brew:
        return None
    try:
        out = subprocess.run([brew, "--prefix", formula], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _debian_bindirs() -> list[Path]:
    found = glob.glob("/usr/lib/postgresql/*/bin")
    versioned = [p for p in found if p.split("/")[-2].isdigit()]
    return [Path(p) for p in sorted(versioned, key=lambda p: int(p.split("/")[-2]), reverse=True)]


def _holds_postgres(directory: Path) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in POSTGRES_TOOLS)


def find_postgres() -> PostgresChoice:
    """The server binaries on this machine and whom to run them as (StackError with what to install if none)."""
    initdb = shutil.which("initdb")
    facts = {"on_path": Path(initdb).resolve().parent if initdb else None,
             "pg_config_bindir": _pg_config_bindir(), "debian_bindirs": _debian_bindirs()}
    order = postgres_search_order(sys.platform, **facts)
    if sys.platform == "darwin" and not any(_holds_postgres(d) for d in order):
        # `brew --prefix` takes a moment: asked only when the usual places hold nothing (a custom Homebrew prefix)
        order = postgres_search_order(sys.platform, **facts, brew_prefix=_brew_prefix("postgresql@16"))
    return choose_postgres(sys.platform, os.geteuid(), order, _holds_postgres)


def find_redis() -> Path:
    """The `redis-server` of this machine (StackError with what to install if none)."""
    on_path = shutil.which("redis-server")
    order = redis_search_order(sys.platform, on_path=Path(on_path) if on_path else None)
    return choose_redis(sys.platform, order, lambda p: os.access(p, os.X_OK))
