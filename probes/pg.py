"""Which databases are writable and how far standbys lag: one query, shared by the samplers and the checks."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from gameday.base.probe_kinds import ProbeKind
from infra.local.postgres import dsn

CONNECT_TIMEOUT_S = 1
STATEMENT_TIMEOUT_MS = 1000

# Every function is evaluated only on the branch that applies: pg_current_wal_lsn() raises on a standby.
# lag_s is "seconds since the last replayed commit", but 0 when all received WAL is replayed: an idle
# primary is not lag. A cut replication link leaves receive == replay, so `behind_bytes` (from the
# writer's LSN) is the figure that shows it.
STATE_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()::text ELSE pg_current_wal_lsn()::text END,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END
"""


@dataclass(frozen=True)
class DbState:
    """One answer of STATE_SQL: the role of a region's database and, for a standby, its replication position."""

    region: str
    writable: bool
    lsn: str | None          # writer: current WAL position; standby: last received position
    replay_lsn: str | None   # standby only
    lag_s: float | None      # standby only

    @classmethod
    def from_row(cls, region: str, row: tuple) -> DbState:
        in_recovery, lsn, replay_lsn, lag_s = row
        return cls(region, not in_recovery, lsn, replay_lsn, None if lag_s is None else float(lag_s))


def lsn_bytes(lsn: str) -> int:
    """A textual LSN such as `16/B374D848` as a byte position."""
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def replication_records(at_s: float, states: list[DbState]) -> list[dict]:
    """The `writers` record and one `replication` record per standby, for states read at `at_s`."""
    writers = sorted(s.region for s in states if s.writable)
    writer_lsn = next((s.lsn for s in states if s.writable and s.lsn), None) if len(writers) == 1 else None
    out = [{"probe": ProbeKind.writers, "at_s": at_s, "writable": writers}]
    for s in states:
        if s.writable:
            continue
        behind = (max(0, lsn_bytes(writer_lsn) - lsn_bytes(s.replay_lsn))
                  if writer_lsn and s.replay_lsn else None)
        out.append({"probe": ProbeKind.replication, "at_s": at_s, "region": s.region, "lag_s": s.lag_s,
                    "receive_lsn": s.lsn, "replay_lsn": s.replay_lsn, "primary_lsn": writer_lsn,
                    "behind_bytes": behind})
    return out


def conninfo(port: int) -> str:
    """DSN for the probe connections: short connect and statement timeouts, so a dead region answers fast."""
    return f"{dsn(port, connect_timeout_s=CONNECT_TIMEOUT_S)} options='-c statement_timeout={STATEMENT_TIMEOUT_MS}'"


def read_state(region: str, port: int) -> DbState | None:
    """The state of `region`'s database, or None when it does not answer (down, cut off, or timing out)."""
    try:
        with psycopg.connect(conninfo(port), autocommit=True) as conn:
            return DbState.from_row(region, conn.execute(STATE_SQL).fetchone())
    except psycopg.Error:
        return None  # an unreachable database is a measurement here (not writable), not an error
