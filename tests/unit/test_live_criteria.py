"""The criteria's running values on the console (gameday.live_criteria): windows placed as the analysis places
them with what is known so far, values from the health probes equal to the analysis' health-only figures, and
honest states: within, breaching, not yet measurable, judged after the run."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from gameday.base.models import Criterion
from gameday.live_criteria import AFTER_RUN, BREACHING, NOT_YET, WITHIN, live_windows, running_criteria
from reports.findings import window_stats

PHASES = {"warm-up": 0.0, "baseline": 10.0, "experiment": 20.0}
PARTITION = {"kind": "region_outage", "target": "eu-central-1", "begun_s": 19.9, "start_s": 20.0, "end_s": None}


def _reads(start: float, n: int, every_s: float = 0.1, failed_every: int = 0, latency=lambda i: 1.0 + i % 40):
    return [(start + i * every_s, not (failed_every and i % failed_every == 0), latency(i)) for i in range(n)]


def _row(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["name"] == name)


def test_windows_are_placed_with_what_is_known_so_far():
    assert all(isinstance(v, str) for v in live_windows([], {"warm-up": 0.0}, 5.0).values())
    before = live_windows([], PHASES, 15.0)
    assert before["baseline"] == (10.0, 15.0) and before["overall"] == (10.0, 15.0)
    assert before["fault"] == "no fault injected yet" and "not begun" in before["after"]
    during = live_windows([PARTITION], PHASES, 30.0, disasters=["region_outage"])
    assert during["baseline"] == (10.0, 19.9)             # ends when the first injection began
    assert during["fault"] == (20.0, 30.0)                # open: up to now
    assert "after the run" in during["recovery"] and "after the run" in during["spike"]
    cut = {"kind": "replication_cut", "target": "db", "begun_s": 14.9, "start_s": 15.0, "end_s": 41.0}
    recovered = {**PARTITION, "end_s": 40.0}
    after = live_windows([cut, recovered], {**PHASES, "after": 42.0}, 50.0, disasters=["region_outage"])
    assert after["baseline"] == (10.0, 14.9) and after["fault"] == (20.0, 41.0)   # t0: the disaster
    assert after["after"] == (42.0, 50.0)


def test_running_values_equal_the_analysis_health_only_figures():
    reads = _reads(10.0, 300, failed_every=100)
    criteria = [Criterion.model_validate(c) for c in ("p50_ms < 100", "p95_ms < 30", "p99_ms < 100",
                                                      "error_rate < 0.01", "availability >= 0.99")]
    rows = running_criteria(criteria, reads, live_windows([], PHASES, 40.0))
    health = [{"probe": "health", "at_s": t, "ok": ok, "latency_ms": lat} for t, ok, lat in reads]
    stats = window_stats("overall", 10.0, 40.0, True, health, None)
    assert stats.latency_source == "health probes"
    assert [r["value"] for r in rows] == [stats.p50_ms, stats.p95_ms, stats.p99_ms, stats.error_rate,
                                          stats.availability]
    assert [r["state"] for r in rows] == [WITHIN, BREACHING, WITHIN, BREACHING, WITHIN]
    assert rows[3]["note"] == "3 of 300 health probes failed" and rows[0]["target"] == "< 100"


def test_what_cannot_be_measured_yet_or_live_says_so():
    criteria = [Criterion.model_validate(c) for c in (
        "rto_read_s <= 900", "dropped_requests == 0", "p95_ms < 200 in fault", "p99_ms < 200",
        "p95_ms < 200 in recovery", "error_rate < 0.01 in after")]
    rows = running_criteria(criteria, _reads(10.0, 100), live_windows([], PHASES, 25.0))
    assert [r["state"] for r in rows] == [AFTER_RUN, AFTER_RUN, NOT_YET, NOT_YET, AFTER_RUN, NOT_YET]
    assert _row(rows, "p99_ms < 200")["note"] == "100 of the 299 health probes a P99 needs"
    assert all(r["value"] is None for r in rows)


def test_a_percentile_that_falls_on_failures_is_breaching_not_a_latency():
    reads = _reads(10.0, 100, failed_every=1)          # every probe failed
    rows = running_criteria([Criterion.model_validate("p95_ms < 200")], reads, live_windows([], PHASES, 30.0))
    assert rows[0]["state"] == BREACHING and rows[0]["value"] is None and "no served latency" in rows[0]["note"]


@given(st.lists(st.booleans(), min_size=1, max_size=300), st.floats(0.0, 1.0))
def test_one_more_failure_never_turns_breaching_into_within(oks, target):
    reads = [(10.0 + i * 0.01, ok, 5.0) for i, ok in enumerate(oks)]
    criterion = Criterion.model_validate({"metric": "error_rate", "op": "<", "target": target})
    windows = live_windows([], PHASES, 40.0)
    before = running_criteria([criterion], reads, windows)[0]
    worse = running_criteria([criterion], reads + [(13.5, False, None)], windows)[0]
    assert not (before["state"] == BREACHING and worse["state"] == WITHIN)
    assert worse["value"] >= before["value"] - 1e-12 and not math.isnan(worse["value"])
