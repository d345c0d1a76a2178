"""Detection on AWS: the profile's CloudWatch alarms, their periods (DescribeAlarms, moto) and their state changes
(DescribeAlarmHistory, which moto lacks: a behaviour layer answers it, validated against the real model)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from gameday.base.errors import InvalidInput
from infra.targets.aws import AwsTarget
from infra.targets.profile import profile_from_dict
from tests.contract.aws_behaviour import _Behaviour
from tests.contract.conftest import PRIMARY, profile_dict, session

ALARM = f"region-health-{PRIMARY}"
T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


@dataclass
class AlarmHistory(_Behaviour):
    service = "cloudwatch"

    def __post_init__(self) -> None:
        self.calls = []

    def _DescribeAlarmHistory(self, region, params):
        def item(old: str, new: str, second: int) -> dict:
            return {"AlarmName": params["AlarmName"], "AlarmType": "MetricAlarm", "HistoryItemType": "StateUpdate",
                    "Timestamp": T0.replace(second=second), "HistorySummary": f"Alarm updated from {old} to {new}",
                    "HistoryData": json.dumps({"version": "1.0", "oldState": {"stateValue": old},
                                               "newState": {"stateValue": new, "stateReason": "Threshold Crossed"}})}
        return {"AlarmHistoryItems": [item("OK", "ALARM", 30), item("ALARM", "OK", 50)]}


@pytest.fixture
def driver(world):
    session().client("cloudwatch", region_name=PRIMARY).put_metric_alarm(
        AlarmName=ALARM, MetricName="HealthCheckStatus", Namespace="AWS/Route53", Statistic="Minimum", Period=60,
        EvaluationPeriods=2, DatapointsToAlarm=2, Threshold=1, ComparisonOperator="LessThanThreshold")
    data = profile_dict(world)
    data["resources"]["alarms"] = {PRIMARY: [ALARM]}
    found = AwsTarget(profile_from_dict(data), session=session())
    AlarmHistory().attach(found.client("cloudwatch", PRIMARY), PRIMARY)
    return found


def test_the_alarm_history_gives_state_changes_with_cloudwatchs_period_and_no_observable_notifications(driver):
    record = driver.alarm_record(T0.timestamp())
    assert record["alarms"][ALARM]["period_s"] == 60 and record["alarms"][ALARM]["datapoints_to_alarm"] == 2
    assert [(c["to"], c["at_s"] - T0.timestamp(), c["period_s"]) for c in record["changes"]] == [
        ("ALARM", 30.0, 60.0), ("OK", 50.0, 60.0)]
    assert record["deliveries"] is None  # SNS and chat deliveries are not in CloudWatch: time to notify unmeasured
    assert {c["action"] for c in driver.recorder.calls} == {"cloudwatch:DescribeAlarms",
                                                            "cloudwatch:DescribeAlarmHistory"}


def test_a_profile_without_alarms_has_no_record(world):
    assert AwsTarget(profile_from_dict(profile_dict(world)), session=session()).alarm_record(0.0) is None


def test_silencing_an_accounts_alarm_is_refused(driver):
    with pytest.raises(InvalidInput, match="would silence a real incident too"):
        driver.silence_alarm(ALARM)
