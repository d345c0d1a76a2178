"""Faults expire on AWS (infra/targets/aws_expiry.py), on moto's EventBridge Scheduler: a fault is armed with a
one-time schedule per region that puts the exact previous value back at start + the run's maximum fault
duration, through a universal target running as the profile's expiry role; a normal recovery, a recovery from
the ledger after a crash, and a restore conflict each delete it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gameday.faults import cut_link, recover_open
from infra.targets import using
from infra.targets.aws_cas import RestoreConflict
from infra.targets.aws_expiry import schedule_expression, target_arn
from tests.contract.conftest import PRIMARY, SECONDARY, session

EXPIRY_ROLE = "arn:aws:iam::123456789012:role/gameday-expiry"
BEDROCK = "/gameday/providers/bedrock/disabled"
START_S = datetime(2026, 12, 1, 12, 0, 0, 250000, tzinfo=UTC).timestamp()


def schedules(region: str) -> list[dict]:
    scheduler = session().client("scheduler", region_name=region)
    return [scheduler.get_schedule(Name=s["Name"], GroupName=s["GroupName"])
            for s in scheduler.list_schedules()["Schedules"]]


@pytest.fixture
def expiring(make_driver, tmp_path, monkeypatch):
    """A driver whose faults expire after 900 s, on a fixed clock, with its ledger under `tmp_path`."""
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(tmp_path))

    def make(**overrides):
        driver = make_driver(safety={"expiry_role_arn": EXPIRY_ROLE}, **overrides)
        driver.fault_max_s, driver._clock = 900.0, lambda: START_S
        return driver
    return make


def test_a_kill_switch_is_armed_in_every_region_with_its_exact_restore_and_the_recovery_disarms_it(expiring):
    session().client("ssm", region_name=SECONDARY).put_parameter(Name=BEDROCK, Value="degraded", Type="String",
                                                                 Overwrite=True)
    driver = expiring()
    done = driver.set_provider_kill_switch("bedrock", on=True)
    armed = {r: schedules(r) for r in (PRIMARY, SECONDARY)}
    for region, previous in ((PRIMARY, "off"), (SECONDARY, "degraded")):
        [schedule] = armed[region]
        assert schedule["ScheduleExpression"] == "at(2026-12-01T12:15:01)"  # 12:00:00.25 + 900 s, rounded up
        assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:ssm:putParameter"
        assert schedule["Target"]["RoleArn"] == EXPIRY_ROLE and schedule["ActionAfterCompletion"] == "DELETE"
        assert json.loads(schedule["Target"]["Input"]) == {"Name": BEDROCK, "Value": previous, "Type": "String",
                                                           "Overwrite": True}
    assert [e["name"] for e in done["recovery"]["args"]["expiry"]] == [armed[PRIMARY][0]["Name"],
                                                                        armed[SECONDARY][0]["Name"]]
    restored = getattr(driver, done["recovery"]["call"])(**done["recovery"]["args"])
    assert sorted(restored["expiry_deleted"]) == sorted(s[0]["Name"] for s in armed.values())
    assert schedules(PRIMARY) == schedules(SECONDARY) == []


def test_a_throttle_with_no_previous_reservation_expires_into_its_deletion(expiring):
    driver = expiring()
    driver.throttle_function("api", SECONDARY)
    [schedule] = schedules(SECONDARY)
    assert schedule["Target"]["Arn"] == target_arn("lambda", "DeleteFunctionConcurrency")
    assert json.loads(schedule["Target"]["Input"]) == {"FunctionName": "api"}


def test_a_crashed_runs_fault_is_disarmed_by_the_recovery_from_the_ledger(expiring):
    with using(expiring()):
        cut_link("provider-bedrock")  # the run dies here: no rollback
    assert len(schedules(PRIMARY)) == 1
    done = recover_open(expiring())   # another process: the ledger names the schedules
    assert [d["recovery"] for d in done] == ["restore_provider_kill_switch"]
    assert schedules(PRIMARY) == schedules(SECONDARY) == []


def test_a_restore_conflict_cancels_the_expiry_so_it_cannot_overwrite_the_persons_change(expiring):
    driver = expiring()
    done = driver.set_provider_kill_switch("bedrock", on=True)
    session().client("ssm", region_name=PRIMARY).put_parameter(Name=BEDROCK, Value="on-for-incident-42",
                                                               Type="String", Overwrite=True)
    with pytest.raises(RestoreConflict, match=r"its AWS-side expiry \(gameday-set_provider_kill_switch-.*\) was "
                                              r"cancelled"):
        getattr(driver, done["recovery"]["call"])(**done["recovery"]["args"])
    assert schedules(PRIMARY) == schedules(SECONDARY) == []


def test_without_an_expiry_role_nothing_is_scheduled(make_driver):
    make_driver().set_provider_kill_switch("bedrock", on=True)
    assert schedules(PRIMARY) == []


@pytest.mark.parametrize(("start", "max_s", "expected"), [
    (datetime(2026, 1, 1, 23, 59, 0, tzinfo=UTC), 60, "at(2026-01-02T00:00:00)"),
    (datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), 0.5, "at(2026-01-01T00:00:01)"),
])
def test_the_expiry_time_is_never_earlier_than_start_plus_the_maximum(start, max_s, expected):
    assert schedule_expression(start.timestamp(), max_s) == expected


def test_the_run_hands_its_faults_maximum_to_the_driver_in_its_child(world, tmp_path, monkeypatch):
    import yaml

    from gameday.base.settings import Settings
    from infra.targets.aws import AwsTarget
    from tests.contract.conftest import profile_dict
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(profile_dict(world, safety={"expiry_role_arn": EXPIRY_ROLE})))
    monkeypatch.setenv("GAMEDAY_FAULT_MAX_S", "1234.5")  # what gameday.runner puts in the child's environment
    driver = AwsTarget.from_environment(Settings(), {"gameday_target_profile": str(profile)})
    assert driver.fault_max_s == 1234.5 and driver.profile.safety.expiry_role_arn == EXPIRY_ROLE
