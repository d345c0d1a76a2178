"""The circuit breaker and the backoff schedule: pure, with time and randomness passed in."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.circuit import (
    BreakerState,
    CircuitBreaker,
    backoff_delay_s,
    backoff_schedule,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
ALLOWED_MOVES = {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED), (HALF_OPEN, OPEN)}

outcomes = st.lists(st.booleans(), max_size=60)  # True = success
thresholds = st.integers(min_value=1, max_value=8)


@given(outcomes, thresholds)
def test_it_opens_exactly_when_n_consecutive_failures_happened(results, threshold):
    breaker = CircuitBreaker("bedrock", failure_threshold=threshold, cool_down_s=1e9)
    streak = 0
    for i, ok in enumerate(results):
        was_open = breaker.state is OPEN
        if ok:
            breaker.record_success(float(i))
            streak = 0
        else:
            breaker.record_failure(float(i))
            streak += 1
        if not was_open:
            assert (breaker.state is OPEN) == (streak >= threshold)
    assert all(t.to_state is OPEN and t.from_state is CLOSED for t in breaker.history)
    assert len(breaker.history) <= 1  # no cool-down ever elapses, so it never leaves OPEN


events = st.lists(st.tuples(st.sampled_from(["call_ok", "call_fail", "wait"]),
                            st.floats(min_value=0.0, max_value=3.0)), max_size=80)


@given(events, thresholds, st.floats(min_value=0.1, max_value=2.0))
def test_every_transition_is_legal_and_never_opens_early(script, threshold, cool_down_s):
    breaker = CircuitBreaker("google", failure_threshold=threshold, cool_down_s=cool_down_s)
    now, streak = 0.0, 0
    for event, dt in script:
        now += dt
        if event == "wait":
            continue
        state_before_allow = breaker.state
        if not breaker.allow(now):
            assert breaker.state in (OPEN, HALF_OPEN)
            continue
        if event == "call_ok":
            breaker.record_success(now)
            streak = 0
        else:
            before = breaker.state
            breaker.record_failure(now)
            streak += 1
            if before is CLOSED and breaker.state is OPEN:
                assert streak >= threshold
        if state_before_allow is OPEN:
            assert breaker.history[-1].to_state in (CLOSED, OPEN)  # the probe's result decided
    history = list(breaker.history)
    for t in history:
        assert (t.from_state, t.to_state) in ALLOWED_MOVES
    for earlier, later in itertools.pairwise(history):
        assert earlier.to_state is later.from_state and earlier.at_s <= later.at_s
        if earlier.to_state is OPEN:
            assert later.at_s - earlier.at_s >= cool_down_s  # it stays open for the whole cool-down


def test_half_open_lets_one_probe_through_and_its_success_closes():
    breaker = CircuitBreaker("bedrock", failure_threshold=2, cool_down_s=5.0)
    for t in (0.0, 0.1):
        breaker.record_failure(t, "connect")
    assert breaker.state is OPEN and not breaker.allow(4.9)
    assert breaker.allow(5.1) and breaker.state is HALF_OPEN
    assert not breaker.allow(5.2), "only one probe at a time"
    breaker.record_success(5.3)
    assert breaker.state is CLOSED and breaker.allow(5.4)
    assert [(t.at_s, t.to_state) for t in breaker.history] == [(0.1, OPEN), (5.1, HALF_OPEN), (5.3, CLOSED)]
    assert "2 consecutive failures (last: connect)" in breaker.history[0].reason


def test_a_failed_probe_reopens_and_restarts_the_cool_down():
    breaker = CircuitBreaker("bedrock", failure_threshold=1, cool_down_s=2.0)
    breaker.record_failure(0.0, "429")
    assert breaker.allow(2.0)
    breaker.record_failure(2.5, "429")
    assert breaker.state is OPEN and breaker.opened_at_s == 2.5
    assert not breaker.allow(4.0) and breaker.allow(4.5)


def test_a_probe_that_never_reports_is_replaced_after_a_cool_down():
    breaker = CircuitBreaker("meta", failure_threshold=1, cool_down_s=1.0)
    breaker.record_failure(0.0)
    assert breaker.allow(1.0)          # the probe goes out and its caller is cancelled
    assert not breaker.allow(1.5)
    assert breaker.allow(2.0)          # a new probe: the breaker cannot stick half-open


def test_late_failures_of_calls_sent_before_it_opened_change_nothing():
    breaker = CircuitBreaker("bedrock", failure_threshold=1, cool_down_s=1.0)
    breaker.record_failure(0.0)
    breaker.record_failure(0.5)
    assert breaker.opened_at_s == 0.0 and len(breaker.history) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"failure_threshold": 0}, "failure_threshold must be an integer >= 1"),
    ({"failure_threshold": 2.5}, "failure_threshold must be an integer >= 1"),
    ({"cool_down_s": -1}, "cool_down_s must be >= 0"),
])
def test_invalid_settings_name_the_breaker(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        CircuitBreaker("bedrock", **kwargs)
    assert "'bedrock'" in str(info.value)


backoff_settings = st.fixed_dictionaries({
    "base_s": st.floats(min_value=0.0, max_value=5.0),
    "factor": st.floats(min_value=1.0, max_value=10.0),
    "cap_s": st.floats(min_value=0.0, max_value=30.0),
})


@given(backoff_settings, st.integers(min_value=0, max_value=200))
def test_backoff_is_monotonic_and_capped(settings, attempts):
    delays = backoff_schedule(attempts, **settings)
    assert len(delays) == attempts
    assert all(0.0 <= d <= settings["cap_s"] for d in delays)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    if delays:
        assert delays[0] == min(settings["base_s"], settings["cap_s"])


@given(backoff_settings, st.integers(min_value=0, max_value=2000), st.floats(min_value=0.0, max_value=1.0),
       st.integers(min_value=0, max_value=2**32))
def test_jitter_only_shortens_a_delay_and_is_reproducible(settings, attempt, jitter, seed):
    nominal = backoff_delay_s(attempt, **settings)
    drawn = backoff_delay_s(attempt, jitter=jitter, rng=random.Random(seed), **settings)
    assert (1.0 - jitter) * nominal - 1e-12 <= drawn <= nominal <= settings["cap_s"]
    assert drawn == backoff_delay_s(attempt, jitter=jitter, rng=random.Random(seed), **settings)


def test_backoff_doubles_from_the_base_up_to_the_cap():
    assert backoff_schedule(6, base_s=0.02, cap_s=0.2) == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.2, 0.2])
    assert backoff_delay_s(10_000, base_s=0.02, cap_s=0.2) == 0.2  # no overflow far past the cap


@pytest.mark.parametrize("kwargs, message", [
    ({"attempt": -1}, "attempt must be an integer >= 0"),
    ({"factor": 0.5}, "factor >= 1"),
    ({"jitter": 1.5}, "jitter must be a fraction from 0 to 1"),
    ({"jitter": 0.5}, "jitter needs an rng"),
])
def test_invalid_backoff_settings_say_what_is_valid(kwargs, message):
    args = {"attempt": 0, "base_s": 0.02, "cap_s": 0.2, **kwargs}
    with pytest.raises(ValueError, match=message):
        backoff_delay_s(args.pop("attempt"), **args)
