"""Blue/green releases: the health gate's verdict and the validation of deploy requests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.slots import Release, gate_verdict, other_slot

latencies = st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=50)


@given(latencies, st.integers(0, 50))
def test_the_gate_is_monotonic_in_its_thresholds(values, errors):
    errors = min(errors, len(values))
    strict = gate_verdict(values, errors, expected=len(values), max_error_rate=0.01, max_p95_ms=50)
    lenient = gate_verdict(values, errors, expected=len(values), max_error_rate=0.5, max_p95_ms=500)
    assert not strict["passed"] or lenient["passed"]


def test_the_gate_fails_on_errors_on_latency_and_on_missing_probes():
    fast = [5.0] * 20
    assert gate_verdict(fast, 0, expected=20)["passed"]
    assert not gate_verdict(fast, 2, expected=20)["passed"]              # 10 % errors
    assert not gate_verdict([5.0] * 18 + [900.0] * 2, 0, expected=20)["passed"]  # P95 = 900 ms
    assert not gate_verdict(fast[:5], 0, expected=20)["passed"]          # instances never answered
    assert not gate_verdict([], 0, expected=20)["passed"]


def test_deploy_requests_are_validated_with_a_clear_message():
    assert Release.from_request({"version": "v2", "error_rate": 0.2}).error_rate == 0.2
    with pytest.raises(ValueError, match='"version": "v2"'):
        Release.from_request({"error_rate": 0.2})
    with pytest.raises(ValueError, match="error_rate must be within 0..1"):
        Release.from_request({"version": "v2", "error_rate": 2})
    with pytest.raises(ValueError, match="valid slots: blue, green"):
        other_slot("red")
    assert other_slot("blue") == "green" and other_slot("green") == "blue"
