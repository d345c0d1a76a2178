"""Pure tests of the failover routing state: thresholds, decision, fail-open, TTL cache, history."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.layout import PRIMARY_REGION, REGIONS, SECONDARY_REGION
from infra.local.routing import RoutingTable, decide

THIRD = "us-east-1"
ALL = (*REGIONS, THIRD)

checks = st.tuples(st.sampled_from(ALL), st.booleans())
overrides = st.tuples(st.just("override"), st.none() | st.sampled_from(ALL))
events = st.lists(st.one_of(checks, checks, checks, overrides), max_size=60)
thresholds = st.integers(min_value=1, max_value=5)


def replay(table: RoutingTable, evs, start_s: float = 1_000.0, step_s: float = 0.5) -> list[str]:
    """Apply `evs` one per `step_s`; returns the active region after each."""
    out = []
    for i, (what, value) in enumerate(evs):
        at_s = start_s + i * step_s
        if what == "override":
            table.set_override(value, at_s)
        else:
            table.record_check(what, value, at_s, status=200 if value else 503)
        out.append(table.active_region)
    return out


@given(events, thresholds, thresholds)
def test_the_decision_is_always_a_known_region(evs, k, r):
    table = RoutingTable(ALL, failure_threshold=k, recovery_threshold=r, ttl_s=1.0)
    for i, active in enumerate(replay(table, evs)):
        assert active in ALL
        assert table.served_region(1_000.0 + i) in ALL


@given(events, thresholds, thresholds)
def test_a_healthy_primary_without_override_is_always_chosen(evs, k, r):
    table = RoutingTable(ALL, failure_threshold=k, recovery_threshold=r)
    replay(table, evs)
    if table.override is None and table.health[PRIMARY_REGION].healthy:
        assert table.active_region == PRIMARY_REGION
    if table.override is not None:
        assert table.active_region == table.override


@given(st.lists(st.booleans(), max_size=80), thresholds)
def test_fewer_than_k_consecutive_failures_never_switch(results, k):
    # Break every run of failures before it reaches k.
    capped, run = [], 0
    for ok in results:
        run = 0 if ok else run + 1
        capped.append(ok if run < k else True)
        if run >= k:
            run = 0
    table = RoutingTable(REGIONS, failure_threshold=k)
    replay(table, [(PRIMARY_REGION, ok) for ok in capped])
    assert table.active_region == PRIMARY_REGION
    assert table.health[PRIMARY_REGION].healthy
    assert list(table.switches) == []


@given(thresholds, thresholds)
def test_k_failures_switch_to_the_secondary_and_r_successes_switch_back(k, r):
    table = RoutingTable(REGIONS, failure_threshold=k, recovery_threshold=r)
    replay(table, [(PRIMARY_REGION, False)] * (k - 1))
    assert table.active_region == PRIMARY_REGION
    switch = table.record_check(PRIMARY_REGION, False, 2_000.0, error="ConnectionRefused")
    assert switch is not None and (switch.from_region, switch.to_region) == (PRIMARY_REGION, SECONDARY_REGION)
    assert "ConnectionRefused" in switch.reason
    replay(table, [(PRIMARY_REGION, True)] * (r - 1), start_s=2_001.0)
    assert table.active_region == SECONDARY_REGION
    switch = table.record_check(PRIMARY_REGION, True, 3_000.0)
    assert switch is not None and switch.to_region == PRIMARY_REGION
    assert [s.to_region for s in table.switches] == [SECONDARY_REGION, PRIMARY_REGION]


@given(events, thresholds, thresholds)
def test_switches_chain_and_agree_with_the_decision(evs, k, r):
    table = RoutingTable(ALL, failure_threshold=k, recovery_threshold=r)
    replay(table, evs)
    current = PRIMARY_REGION
    for switch in table.switches:
        assert switch.from_region == current != switch.to_region
        current = switch.to_region
    assert current == table.active_region
    healthy = {name: h.healthy for name, h in table.health.items()}
    assert table.active_region == decide(ALL, healthy, table.override)


def test_all_unhealthy_fails_open_to_the_primary():
    table = RoutingTable(REGIONS, failure_threshold=1)
    table.record_check(PRIMARY_REGION, False, 1.0)
    assert table.active_region == SECONDARY_REGION
    table.record_check(SECONDARY_REGION, False, 2.0)
    assert table.active_region == PRIMARY_REGION
    assert not any(h.healthy for h in table.health.values())


def test_secondaries_are_tried_in_order():
    table = RoutingTable(ALL, failure_threshold=1)
    table.record_check(SECONDARY_REGION, False, 1.0)
    table.record_check(PRIMARY_REGION, False, 2.0)
    assert table.active_region == THIRD


@given(st.lists(st.tuples(st.floats(0.0, 3.0), st.booleans()), max_size=60),
       st.sampled_from([0.0, 0.5, 1.0, 2.5]))
def test_the_served_region_lags_by_at_most_the_ttl(steps, ttl_s):
    table = RoutingTable(REGIONS, failure_threshold=1, recovery_threshold=1, ttl_s=ttl_s)
    now_s, refreshed_at_s = 100.0, None
    served = table.served_region(now_s)
    refreshed_at_s = now_s
    for gap_s, ok in steps:
        now_s += gap_s
        table.record_check(PRIMARY_REGION, ok, now_s)
        before = served
        served = table.served_region(now_s)
        if ttl_s == 0:
            assert served == table.active_region
        elif now_s - refreshed_at_s >= ttl_s:
            assert served == table.active_region  # the cache expired: a fresh answer
            refreshed_at_s = now_s
        else:
            assert served == before  # still cached, even when the decision changed


def test_status_and_history():
    table = RoutingTable(REGIONS, failure_threshold=2, ttl_s=5.0, history_size=3)
    for i in range(5):
        table.record_check(PRIMARY_REGION, False, 10.0 + i, status=None, error="timed out", latency_ms=1.5)
    assert len(table.checks) == 3
    assert [c.at_s for c in table.checks_since(13.0)] == [13.0, 14.0]
    status = table.status(20.0)
    assert status["active_region"] == SECONDARY_REGION and status["served_region"] == SECONDARY_REGION
    assert status["regions"][PRIMARY_REGION]["consecutive_failures"] == 5
    assert status["regions"][PRIMARY_REGION]["last_check_at"] == 14.0
    assert status["regions"][PRIMARY_REGION]["last_ok_at"] is None
    assert status["switches"][0]["from"] == PRIMARY_REGION and status["switches"][0]["at"].endswith("+00:00")
    check = table.checks[-1].as_dict()
    assert check["error"] == "timed out" and check["at"].startswith("1970-01-01T00:00:14")


@pytest.mark.parametrize("call", [
    lambda t: t.record_check("mars-1", True, 1.0),
    lambda t: t.set_override("mars-1", 1.0),
    lambda t: t.set_override(["mars-1"], 1.0),
])
def test_unknown_regions_are_refused_with_the_valid_ones(call):
    table = RoutingTable(REGIONS)
    with pytest.raises(ValueError, match=f"mars-1.*{PRIMARY_REGION}, {SECONDARY_REGION}"):
        call(table)


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"recovery_threshold": 0}, {"ttl_s": -1}])
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        RoutingTable(REGIONS, **kwargs)


@settings(max_examples=50)
@given(st.sampled_from(REGIONS), st.floats(0, 1e9))
def test_override_wins_and_clearing_restores_automatic_routing(region, at_s):
    table = RoutingTable(REGIONS)
    table.set_override(region, at_s)
    assert table.active_region == region
    table.set_override(None, at_s + 1)
    assert table.active_region == PRIMARY_REGION and table.override is None
