"""Stop conditions: breached only when the metric holds past its threshold for the whole `for_s`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gameday.base.models import StopCondition
from gameday.guards import Guard


def _health(at: float, ok: bool, latency_ms: float = 5.0) -> dict:
    return {"probe": "health", "at_s": at, "ok": ok, "latency_ms": latency_ms}


def test_an_error_rate_guard_trips_after_for_s_and_not_before():
    guard = Guard(StopCondition(metric="error_rate", op=">", threshold=0.5, for_s=1.0, window_s=1.0))
    for i in range(30):
        guard.observe(_health(i * 0.1, ok=i < 10))
    assert not guard.breached(1.5)           # failing since 1.0 s, the window is half bad
    assert not guard.breached(2.0)           # threshold crossed, but not yet for 1 s
    assert guard.breached(3.0)
    assert "error_rate > 0.5 for 1 s" in guard.describe(3.0)


def test_a_probe_guard_only_reads_its_probe():
    guard = Guard(StopCondition(metric="probe", probe="canary", op=">", threshold=0.1))
    for i in range(10):
        guard.observe(_health(i * 0.1, ok=False))
    assert guard.value(1.0) is None and not guard.breached(1.0)
    guard.observe({"probe": "canary", "sent_s": 1.0, "outcome": "uncertain"})
    assert guard.breached(1.0)


@given(st.lists(st.booleans(), min_size=1, max_size=50), st.floats(0, 1))
def test_a_guard_never_trips_below_its_threshold(oks, threshold):
    guard = Guard(StopCondition(metric="error_rate", op=">", threshold=threshold, window_s=100))
    for i, ok in enumerate(oks):
        guard.observe(_health(float(i), ok))
    share = oks.count(False) / len(oks)
    assert guard.breached(float(len(oks))) == (share > threshold)
