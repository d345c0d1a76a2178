"""CloudWatch's alarm semantics as the local monitor applies them: datapoints, M of N, missing data; and the
alarm files of every environment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gameday.base.errors import InvalidInput
from infra.local.alarm_rules import (
    ALARMS_DIR,
    AlarmFile,
    AlarmSpec,
    State,
    Statistic,
    alarm_names,
    alarms_file,
    datapoint,
    evaluate,
)
from infra.local.monitor import load_alarms


def spec(**changes) -> AlarmSpec:
    base = {"name": "a", "metric": "region_healthy", "statistic": "Minimum", "period_s": 2, "evaluation_periods": 3,
            "datapoints_to_alarm": 2, "threshold": 1, "comparison": "LessThanThreshold"}
    return AlarmSpec.model_validate(base | changes)


def test_a_datapoint_is_the_statistic_of_the_periods_samples_and_none_without_samples():
    assert datapoint([1, 0, 1], Statistic.Minimum) == 0
    assert datapoint([1, 3], Statistic.Average) == 2
    assert datapoint([1, 3], Statistic.Sum) == 4
    assert datapoint([], Statistic.Maximum) is None


@pytest.mark.parametrize(("points", "expected"), [
    ([1, 1, 1], State.OK),
    ([1, 0, 1], State.OK),          # one breaching datapoint of the 2 needed
    ([0, 1, 0], State.ALARM),       # 2 of 3, not consecutive: CloudWatch's M of N
    ([0, 0, 1, 1, 1], State.OK),    # only the last N count
])
def test_m_out_of_n_datapoints_alarm(points, expected):
    assert evaluate(points, spec(), State.OK) is expected


@pytest.mark.parametrize(("treat", "points", "current", "expected"), [
    ("missing", [None, None, None], State.OK, State.INSUFFICIENT_DATA),
    ("missing", [None, 0, 0], State.OK, State.ALARM),
    ("breaching", [None, None, 1], State.OK, State.ALARM),      # a region that stops answering is breaching
    ("notBreaching", [None, None, 0], State.OK, State.OK),     # no traffic is not an outage
    ("ignore", [None, None, 0], State.ALARM, State.ALARM),     # too few datapoints to decide: the state is kept
    ("ignore", [None, None, None], State.OK, State.OK),
])
def test_missing_data_is_treated_as_the_alarm_says(treat, points, current, expected):
    assert evaluate(points, spec(treat_missing_data=treat), current) is expected


@given(st.lists(st.one_of(st.none(), st.sampled_from([0.0, 1.0])), min_size=1, max_size=6),
       st.integers(min_value=0, max_value=5), st.sampled_from(["missing", "breaching", "notBreaching", "ignore"]))
def test_one_more_breaching_datapoint_never_clears_an_alarm(points, index, treat):
    alarm = spec(treat_missing_data=treat)
    before = evaluate(points, alarm, State.OK)
    worse = list(points)
    worse[index % len(worse)] = 0.0  # region_healthy 0 breaches `< 1`
    if before is State.ALARM:
        assert evaluate(worse, alarm, State.OK) is State.ALARM


def test_m_above_n_is_refused():
    with pytest.raises(ValueError, match="datapoints_to_alarm 4 exceeds evaluation_periods 3"):
        spec(datapoints_to_alarm=4)


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_environment_defines_the_same_alarms_mirroring_the_production_plan(environment):
    loaded = load_alarms(alarms_file(environment))
    assert isinstance(loaded, AlarmFile)
    assert sorted(a.name for a in loaded.alarms) == alarm_names()
    assert all(a.production for a in loaded.alarms)  # each says which production alarm it stands for


def test_an_environment_without_alarms_is_named_with_the_valid_ones():
    with pytest.raises(InvalidInput, match="valid: dev, prod, staging"):
        alarms_file("qa")
    assert ALARMS_DIR.name == "alarms"


def test_a_malformed_alarm_file_is_refused_naming_the_file_and_the_field(tmp_path):
    path = tmp_path / "qa.yaml"
    text = alarms_file("dev").read_text().replace("period_s:", "period_seconds:", 1)
    path.write_text(text)
    with pytest.raises(InvalidInput, match=r"qa\.yaml are invalid: alarms\.0\.period"):
        load_alarms(path)
    with pytest.raises(InvalidInput, match="reading of alarm definitions"):
        load_alarms(tmp_path / "missing.yaml")
