"""The GameDay role grants exactly the AWS actions the driver declares, changes only under the GameDay tag (or,
for Route 53, only the named zone and health checks), and every declared action is a real API operation."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from cfnlint.decode import decode

from infra.targets.aws_actions import ACTIONS, IAM_ACTIONS, READ_ACTIONS, UNPERMISSIONED, WRITE_ACTIONS

ROLE = Path(__file__).resolve().parents[2] / "infra" / "aws" / "gameday-role.yaml"
TAG_CONDITION = "aws:ResourceTag/gameday"


def statements() -> list[dict]:
    template, problems = decode(str(ROLE))
    assert not problems, problems
    role = template["Resources"]["GameDayRole"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_role_grants_exactly_the_actions_the_driver_uses():
    granted = set().union(*(actions_of(s) for s in statements()))
    assert sorted(granted - IAM_ACTIONS) == [], "granted but never used"
    assert sorted(IAM_ACTIONS - granted) == [], "used by the driver but not granted"


def test_no_wildcards_and_no_deny_needed():
    for s in statements():
        assert s["Effect"] == "Allow"
        assert all("*" not in a for a in actions_of(s)), s["Sid"]


def test_every_change_is_limited_by_the_gameday_tag_or_a_named_resource():
    for s in statements():
        if not actions_of(s) & WRITE_ACTIONS:
            continue
        tagged = TAG_CONDITION in s.get("Condition", {}).get("StringEquals", {})
        named = s["Resource"] != "*"
        assert tagged or named, f"{s['Sid']} changes resources without the GameDay tag condition"
        assert not actions_of(s) & READ_ACTIONS, f"{s['Sid']} mixes reads into a change statement"


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_declared_action_is_an_operation_of_the_real_api(action):
    service, operation = action.split(":")
    model = boto3.Session().get_available_services()
    assert service in model
    from botocore.session import get_session
    assert operation in get_session().get_service_model(service).operation_names


def test_the_driver_calls_only_declared_actions_in_the_contract_suite(driver):
    """The recorder refuses undeclared actions at call time; here a fault and its recovery go through it."""
    done = driver.throttle_function("api", "eu-central-1")
    getattr(driver, done["recovery"]["call"])(**done["recovery"]["args"])
    used = {c["action"] for c in driver.recorder.calls}
    assert used <= ACTIONS and used - UNPERMISSIONED <= IAM_ACTIONS
