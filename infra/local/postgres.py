"""PostgreSQL for the local stack: its binaries, a non-root OS user, a primary and a streaming standby."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from gameday.base.errors import StackError
from infra.local.binaries import find_postgres, postgres_account
from infra.local.layout import HOST
from infra.local.processes import children_of, naming_or_inside, state_of

DB_NAME = "gameday"
DB_USER = "postgres"
OS_USER_FALLBACK = "gameday-pg"

PRIMARY_CONF = """
# --- gameday reference stack ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 80
shared_buffers = 32MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_receiver_timeout = 5s
wal_sender_timeout = 5s
wal_retrieve_retry_interval = 500ms
# Faults here are process kills, never OS crashes: page-cache durability is real durability.
fsync = off
full_page_writes = off
log_min_messages = warning
log_connections = off
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id integer PRIMARY KEY,
    name text NOT NULL,
    price_cents integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO items (id, name, price_cents)
    SELECT g, 'item-' || g, g * 10 FROM generate_series(1, 1000) AS g
    ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS canary_writes (
    seq bigint PRIMARY KEY,
    region text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload text
);
"""

def find_bindir() -> Path:
    """The directory holding `postgres`, `initdb` and `pg_basebackup`: PATH, pg_config, Debian's and Homebrew's
    folders (infra/local/binaries.py)."""
    return find_postgres().bindir


def os_user() -> tuple[int, int] | None:
    """(uid, gid) to run Postgres as: None when we are not root (macOS: always the engineer's own user); as root on
    Linux `postgres`, or a system user created as a fallback."""
    account = postgres_account(sys.platform, os.geteuid())
    if account is None:
        return None
    for name in (account, OS_USER_FALLBACK):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER_FALLBACK],
                   check=True, capture_output=True)
    entry = pwd.getpwnam(OS_USER_FALLBACK)
    return entry.pw_uid, entry.pw_gid


def prepare_dir(path: Path, user: tuple[int, int] | None) -> None:
    """Create `path` owned by the Postgres OS user (Postgres refuses data directories it does not own)."""
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(path, *user)


def _run(argv: list[str], user: tuple[int, int] | None, what: str) -> None:
    kwargs: dict = {}
    if user is not None:
        kwargs.update(user=user[0], group=user[1], extra_groups=[])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/", **kwargs)
    if proc.returncode != 0:
        raise StackError(f"{what} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}")


def initdb(bindir: Path, datadir: Path, user: tuple[int, int] | None) -> None:
    """Create a primary's data directory with the stack's replication-ready configuration."""
    prepare_dir(datadir.parent, user)
    _run([str(bindir / "initdb"), "-D", str(datadir), "-U", DB_USER, "--auth=trust", "-E", "UTF8",
          "--no-instructions"], user, f"initdb of {datadir}")
    with open(datadir / "postgresql.conf", "a") as conf:
        conf.write(PRIMARY_CONF)


def base_backup(bindir: Path, datadir: Path, source_port: int, user: tuple[int, int] | None) -> None:
    """Clone the primary reachable on `source_port` into a streaming standby (`-R`: it follows that port)."""
    if datadir.exists():
        # A clone or a server an interrupted run left behind may still write into the directory: stop them first.
        kill_users_of(datadir)
        shutil.rmtree(datadir, onerror=_gone_is_fine)
    prepare_dir(datadir.parent, user)
    _run([str(bindir / "pg_basebackup"), "-h", HOST, "-p", str(source_port), "-U", DB_USER, "-D", str(datadir),
          "-R", "-X", "stream", "-c", "fast"], user, f"pg_basebackup into {datadir} from port {source_port}")


def kill_users_of(datadir: Path, timeout_s: float = 5.0) -> list[int]:
    """SIGKILL every process whose command line names `datadir` (a postmaster and its children, a pg_basebackup)
    or that lives in it (every Postgres process works in its data directory: a checkpointer orphaned by a killed
    postmaster would otherwise write its stats file into the directory being replaced). Only this stack's own
    processes name or live in its data directories. Returns their PIDs once they are gone."""
    victims = naming_or_inside(datadir)
    for pid in victims:
        for child in children_of(pid):
            _kill(child)
        _kill(pid)
    deadline = time.monotonic() + timeout_s
    while any(state_of(pid) not in (None, "Z", "X", "x") for pid in victims) and time.monotonic() < deadline:
        time.sleep(0.02)
    return victims


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _gone_is_fine(function, path, excinfo) -> None:
    """rmtree's error handler: a file that vanished meanwhile is what removing wanted anyway."""
    if not isinstance(excinfo[1], FileNotFoundError):
        raise excinfo[1]


def clear_stale_pid_file(datadir: Path) -> bool:
    """Remove `datadir`'s postmaster.pid when the postmaster it names is gone or a zombie (killed, not yet reaped
    by its parent): Postgres would refuse to start, taking the zombie for a running postmaster. True if removed."""
    pid_file = datadir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    if state_of(pid) not in (None, "Z", "X", "x"):
        return False
    pid_file.unlink(missing_ok=True)
    return True


def is_standby_dir(datadir: Path) -> bool:
    return (datadir / "standby.signal").exists()


def is_initialised(datadir: Path) -> bool:
    return (datadir / "PG_VERSION").exists()


def server_argv(bindir: Path, datadir: Path, port: int) -> list[str]:
    return [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port), "-c", f"listen_addresses={HOST}",
            "-c", "unix_socket_directories="]


def dsn(port: int, dbname: str = DB_NAME, connect_timeout_s: int = 2) -> str:
    return f"host={HOST} port={port} user={DB_USER} dbname={dbname} connect_timeout={connect_timeout_s}"


def wait_ready(port: int, timeout_s: float, dbname: str = "postgres") -> None:
    """Block until the server on `port` accepts queries."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn(port, dbname, 1), autocommit=True) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.Error as exc:
            last = str(exc).strip()
        time.sleep(0.05)
    raise StackError(f"start of PostgreSQL on port {port} failed: "
                     f"not accepting queries after {timeout_s:.0f} s: {last}")


def ensure_schema(port: int) -> None:
    """Create the `gameday` database and its tables on the primary (idempotent)."""
    with psycopg.connect(dsn(port, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(dsn(port), autocommit=True) as conn:
        conn.execute(SCHEMA)


def in_recovery(port: int) -> bool | None:
    """True for a standby, False for a writable primary, None when unreachable."""
    try:
        with psycopg.connect(dsn(port, "postgres", 1), autocommit=True) as conn:
            return bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])
    except psycopg.Error:
        return None
