"""History and trends: headline figures per run, the SQLite history, regressions against the last passing run."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gameday.history import gamedays_of, record_gameday, record_run, runs_of
from reports.trends import TOLERANCE, headline, regressions


def _summary(run_id: str, start: str, verdict: str = "PASS", rto: float = 3.0, rpo: float = 0.0, p95: float = 40.0,
             err: float = 0.0, quick: bool = False, after_requests: int = 100) -> dict:
    return {"run_id": run_id, "experiment": "experiments/region-failover.yaml", "target": "local", "quick": quick,
            "start": start, "verdict": verdict, "rto": {"read_s": rto - 1, "write_s": rto}, "rpo": {"s": rpo},
            "windows": {"after": {"requests": after_requests, "p95_ms": p95, "error_rate": err},
                        "overall": {"requests": 1000, "p95_ms": 999.0, "error_rate": 0.5}}}


def test_headline_takes_p95_and_errors_from_the_after_window_when_it_has_requests():
    h = headline(_summary("r1", "2026-01-01T00:00:00Z", p95=42.0))
    assert (h["experiment"], h["p95_ms"], h["window"], h["rto_write_s"]) == ("region-failover", 42.0, "after", 3.0)
    assert headline(_summary("r1", "2026-01-01T00:00:00Z", after_requests=0))["p95_ms"] == 999.0


def test_a_slower_rto_than_the_last_passing_run_is_flagged_beyond_its_tolerance():
    history = [headline(_summary("r1", "2026-01-01T00:00:00Z", rto=3.0)),
               headline(_summary("r2", "2026-01-02T00:00:00Z", verdict="FAIL", rto=30.0))]
    slower = headline(_summary("r3", "2026-01-03T00:00:00Z", rto=5.0))
    flagged = regressions(slower, [*history, slower])
    assert {r.figure for r in flagged} == {"rto_read_s", "rto_write_s"}
    assert all(r.previous_run == "r1" for r in flagged)  # the failed run r2 is not the reference
    within = headline(_summary("r4", "2026-01-03T00:00:00Z", rto=3.4))
    assert regressions(within, history) == []


def test_no_passing_run_before_means_nothing_to_regress_against():
    first = headline(_summary("r1", "2026-01-01T00:00:00Z", rto=100.0))
    assert regressions(first, [first]) == []


def test_lost_writes_after_a_zero_rpo_pass_are_flagged():
    history = [headline(_summary("r1", "2026-01-01T00:00:00Z", rpo=0.0))]
    worse_rpo = headline(_summary("r2", "2026-01-02T00:00:00Z", rpo=2.0))
    assert [r.figure for r in regressions(worse_rpo, history)] == ["rpo_s"]


@given(previous=st.floats(0, 1000), worse_by=st.floats(0, 1000))
def test_flagging_is_monotonic_in_how_much_worse_a_figure_is(previous, worse_by):
    base = headline(_summary("r1", "2026-01-01T00:00:00Z", p95=previous))
    now = headline(_summary("r2", "2026-01-02T00:00:00Z", p95=previous + worse_by))
    more = headline(_summary("r3", "2026-01-02T00:00:00Z", p95=previous + worse_by * 2 + 1))
    flagged = any(r.figure == "p95_ms" for r in regressions(now, [base]))
    assert flagged <= any(r.figure == "p95_ms" for r in regressions(more, [base]))
    rel, floor = TOLERANCE["p95_ms"]
    assert flagged == (worse_by > max(rel * previous, floor))


def test_history_records_runs_replaces_a_reanalysed_one_and_keeps_modes_apart(tmp_path):
    db = tmp_path / "history.sqlite"
    record_run(db, _summary("r2", "2026-01-02T00:00:00Z"), tmp_path / "r2", gameday_id="g1")
    record_run(db, _summary("r1", "2026-01-01T00:00:00Z"), tmp_path / "r1")
    record_run(db, _summary("r2", "2026-01-02T00:00:00Z", rto=9.0), tmp_path / "r2")  # `gameday report` again
    record_run(db, _summary("q1", "2026-01-03T00:00:00Z", quick=True), tmp_path / "q1")
    rows = runs_of(db, "region-failover", "local", quick=False)
    assert [r["run_id"] for r in rows] == ["r1", "r2"]
    assert rows[1]["rto_write_s"] == 9.0 and rows[1]["gameday_id"] == "g1"
    assert [r["run_id"] for r in runs_of(db, "region-failover", "local", quick=True)] == ["q1"]
    assert runs_of(tmp_path / "absent.sqlite", "region-failover", "local", quick=False) == []


def test_history_records_gamedays(tmp_path):
    db = tmp_path / "history.sqlite"
    record_gameday(db, "g1", "ci-gate", "local", "2026-01-01T00:00:00Z", "PASS", tmp_path / "cert.html")
    record_gameday(db, "g2", "ci-gate", "local", "2026-01-02T00:00:00Z", "FAIL", tmp_path / "cert.html")
    assert [g["verdict"] for g in gamedays_of(db, "ci-gate")] == ["PASS", "FAIL"]
    assert gamedays_of(db, "other") == []


def test_a_history_from_before_the_time_to_detect_gains_it_and_a_slower_detection_is_flagged(tmp_path):
    import sqlite3
    db = tmp_path / "history.sqlite"
    with sqlite3.connect(db) as old:  # the schema of a history written before time_to_detect_s was a figure
        old.executescript("CREATE TABLE runs (run_id TEXT PRIMARY KEY, experiment TEXT, target TEXT, quick INTEGER, "
                          "start TEXT, verdict TEXT, rto_read_s REAL, rto_write_s REAL, rpo_s REAL, p95_ms REAL, "
                          "error_rate REAL, window TEXT, gameday_id TEXT, run_dir TEXT);")
        old.execute("INSERT INTO runs VALUES ('r0', 'region-failover', 'local', 0, '2025-12-31T00:00:00Z', 'PASS', "
                    "2, 3, 0, 40, 0, 'after', NULL, '/runs/r0')")
    first = {**_summary("r1", "2026-01-01T00:00:00Z"), "detection": {"time_to_detect_s": 4.0}}
    later = {**_summary("r2", "2026-01-02T00:00:00Z"), "detection": {"time_to_detect_s": 9.0}}
    record_run(db, first, tmp_path / "r1")
    record_run(db, later, tmp_path / "r2")
    rows = runs_of(db, "region-failover", "local", quick=False)
    assert [r["time_to_detect_s"] for r in rows] == [None, 4.0, 9.0]
    flagged = regressions(headline(later), rows)
    assert [r.figure for r in flagged] == ["time_to_detect_s"]  # 9 s vs 4 s: beyond 25 % and one period (2 s)
