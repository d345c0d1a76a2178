"""The GameDay history: every run's headline figures and every GameDay's verdict in a local SQLite file.

It lives beside the runs (`<runs dir>/history.sqlite`, GAMEDAY_RUNS_DIR moves it). Re-analysing a run
(`gameday report`) replaces its row, so a run is never counted twice.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from reports.trends import FIGURES, headline

FILE_NAME = "history.sqlite"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, experiment TEXT, target TEXT, quick INTEGER, start TEXT, verdict TEXT,
    {", ".join(f"{f} REAL" for f in FIGURES)}, window TEXT, gameday_id TEXT, run_dir TEXT);
CREATE TABLE IF NOT EXISTS gamedays (
    gameday_id TEXT PRIMARY KEY, plan TEXT, target TEXT, start TEXT, verdict TEXT, certificate TEXT);
"""
RUN_COLUMNS = ("run_id", "experiment", "target", "quick", "start", "verdict", *FIGURES, "window", "gameday_id",
               "run_dir")


def history_file(runs_dir: Path) -> Path:
    return Path(runs_dir) / FILE_NAME


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.executescript(SCHEMA)
    have = {row["name"] for row in conn.execute("PRAGMA table_info(runs)")}
    for figure in FIGURES:  # a history written before a figure existed gains its column (empty for old runs)
        if figure not in have:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {figure} REAL")
    return conn


def record_run(path: Path, summary: dict, run_dir: Path, gameday_id: str | None = None) -> dict:
    """Insert (or replace) one run's headline figures; returns them."""
    row = {**headline(summary), "gameday_id": gameday_id, "run_dir": str(Path(run_dir).resolve())}
    with closing(_connect(path)) as conn, conn:
        if gameday_id is None:  # re-analysing a GameDay's run keeps it in its GameDay
            old = conn.execute("SELECT gameday_id FROM runs WHERE run_id = ?", (row["run_id"],)).fetchone()
            row["gameday_id"] = old["gameday_id"] if old else None
        conn.execute(f"INSERT OR REPLACE INTO runs ({', '.join(RUN_COLUMNS)}) VALUES "
                     f"({', '.join('?' for _ in RUN_COLUMNS)})", [row[c] for c in RUN_COLUMNS])
    return row


def record_gameday(path: Path, gameday_id: str, plan: str, target: str, start: str, verdict: str,
                   certificate: Path) -> None:
    with closing(_connect(path)) as conn, conn:
        conn.execute("INSERT OR REPLACE INTO gamedays VALUES (?, ?, ?, ?, ?, ?)",
                     (gameday_id, plan, target, start, verdict, str(certificate)))


def runs_of(path: Path, experiment: str, target: str, quick: bool) -> list[dict]:
    """Every recorded run of one experiment on one target in one mode, oldest first."""
    if not Path(path).is_file():
        return []
    with closing(_connect(path)) as conn:
        rows = conn.execute("SELECT * FROM runs WHERE experiment = ? AND target = ? AND quick = ? ORDER BY start",
                            (experiment, target, int(quick))).fetchall()
    return [{**dict(r), "quick": bool(r["quick"])} for r in rows]


def gamedays_of(path: Path, plan: str) -> list[dict]:
    """Every recorded GameDay of one plan, oldest first."""
    if not Path(path).is_file():
        return []
    with closing(_connect(path)) as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM gamedays WHERE plan = ? ORDER BY start", (plan,))]


def all_runs(path: Path) -> list[dict]:
    """Every recorded run, oldest first (the history site)."""
    if not Path(path).is_file():
        return []
    with closing(_connect(path)) as conn:
        rows = conn.execute("SELECT * FROM runs ORDER BY start").fetchall()
    return [{**dict(r), "quick": bool(r["quick"])} for r in rows]


def all_gamedays(path: Path) -> list[dict]:
    """Every recorded GameDay, oldest first (the history site)."""
    if not Path(path).is_file():
        return []
    with closing(_connect(path)) as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM gamedays ORDER BY start")]
