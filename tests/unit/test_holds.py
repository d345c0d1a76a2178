"""gameday.holds: a hold named as a detection hold is raised to the target's reroute time, never lowered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gameday.holds import AWS_WAITS_S, fault_max_s, raise_holds
from infra.targets.base import DetectionTiming

ROUTE53 = DetectionTiming(10.0, 3, 60.0, "Route 53")   # 90 s


def test_a_short_hold_is_raised_to_the_whole_second_above_the_reroute_time():
    timing = DetectionTiming(0.5, 3, 0.2, "router")       # 1.7 s
    variables, changes = raise_holds({"hold_s": 1}, {}, ["hold_s"], timing)
    assert variables == {"hold_s": 2}
    assert (changes[0].declared_s, changes[0].used_s) == (1.0, 2.0)


def test_the_quick_override_is_what_gets_raised_and_other_keys_stay():
    variables, changes = raise_holds({"hold_s": 100, "delay_s": 1}, {"hold_s": 4, "delay_s": 2}, ["hold_s"], ROUTE53)
    assert variables == {"hold_s": 90, "delay_s": 2} and changes[0].declared_s == 4


def test_a_hold_from_the_environment_is_left_alone():
    configuration = {"hold_s": {"type": "env", "key": "HOLD_S"}}
    assert raise_holds(configuration, {}, ["hold_s"], ROUTE53) == ({}, [])


@given(hold=st.floats(0, 1000, allow_nan=False), interval=st.floats(0.1, 60), threshold=st.integers(1, 10),
       ttl=st.floats(0, 300))
def test_a_raised_hold_is_never_shorter_than_declared_nor_than_the_reroute_time(hold, interval, threshold, ttl):
    timing = DetectionTiming(interval, threshold, ttl, "any")
    variables, changes = raise_holds({"hold_s": hold}, {}, ["hold_s"], timing)
    used = variables.get("hold_s", hold)
    assert used >= hold and used >= timing.reroute_s
    assert bool(changes) == (hold < used)


def test_a_faults_maximum_is_every_pause_plus_the_aws_waits_unless_the_experiment_states_it():
    raw = {"configuration": {"hold_s": 10, "delay_s": 3, "from_env": {"type": "env", "key": "X"}},
           "method": [{"name": "a", "pauses": {"before": 1, "after": "${delay_s}"}},
                      {"name": "b", "pauses": {"after": "${hold_s}"}},
                      {"name": "c", "pauses": {"after": "${from_env}"}}],
           "rollbacks": [{"name": "r", "pauses": {"after": 2}}]}
    assert fault_max_s(raw, {}, None) == 1 + 3 + 10 + 2 + AWS_WAITS_S
    assert fault_max_s(raw, {"hold_s": 150.0}, None) == 1 + 3 + 150 + 2 + AWS_WAITS_S  # a raised hold counts
    assert fault_max_s(raw, {}, 600) == 600
