"""Target tracking: within the caps always, out on load, in one step at a time after the cooldown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.scaling import Autoscaler, ScalingPolicy, desired_instances, policy_for

policies = st.builds(ScalingPolicy, min_instances=st.integers(1, 3), max_instances=st.integers(3, 8),
                     target_utilisation=st.floats(0.1, 1.0), concurrency_per_instance=st.integers(1, 20))


@given(policies, st.integers(1, 8), st.floats(0, 5))
def test_the_desired_count_never_leaves_the_caps(policy, current, utilisation):
    assert policy.min_instances <= desired_instances(policy, current, utilisation) <= policy.max_instances


@given(policies, st.lists(st.tuples(st.floats(0.01, 2), st.integers(0, 200)), max_size=60))
def test_the_autoscaler_never_runs_more_than_the_cap(policy, steps):
    scaler, now, current = Autoscaler(policy), 0.0, policy.min_instances
    for dt, in_flight in steps:
        now += dt
        scaler.observe(now, in_flight)
        current = scaler.decide(now, current)
        assert policy.min_instances <= current <= policy.max_instances


def test_a_load_step_scales_out_then_back_in_one_instance_per_cooldown():
    policy = ScalingPolicy(min_instances=1, max_instances=4, target_utilisation=0.5, concurrency_per_instance=10,
                           scale_out_cooldown_s=1, scale_in_cooldown_s=3, window_s=1)
    scaler = Autoscaler(policy)
    scaler.observe(0.0, 30)                    # 30 in flight on 1 x 10 slots: utilisation 3.0
    assert scaler.decide(0.0, 1) == 4          # ceil(1 * 3.0 / 0.5) = 6, capped at 4
    scaler.observe(5.0, 0)                     # load gone
    assert scaler.decide(5.0, 4) == 3
    assert scaler.decide(6.0, 3) == 3          # scale-in cooldown
    assert scaler.decide(8.0, 3) == 2
    assert scaler.decide(11.0, 2) == 1
    assert scaler.decide(20.0, 1) == 1         # never below the minimum


def test_utilisation_at_target_holds_the_count():
    policy = ScalingPolicy(target_utilisation=0.5, concurrency_per_instance=10)
    scaler = Autoscaler(policy)
    scaler.observe(0.0, 10)
    assert scaler.utilisation(2) == pytest.approx(0.5)
    assert scaler.decide(100.0, 2) == 2


def test_invalid_policies_and_environments_are_refused():
    with pytest.raises(ValueError, match="min_instances <= max_instances"):
        ScalingPolicy(min_instances=3, max_instances=2)
    with pytest.raises(ValueError, match="valid: dev, staging, prod"):
        policy_for("qa")
    assert policy_for("prod").min_instances == 2
