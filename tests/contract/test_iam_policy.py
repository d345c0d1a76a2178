"""The GameDay role grants exactly the AWS actions the driver declares, changes only under the GameDay tag (or,
for Route 53, only the named zone and health checks), and every declared action is a real API operation."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from cfnlint.decode import decode

from infra.targets.aws_actions import ACTIONS, CLIENT_NAMES, IAM_ACTIONS, READ_ACTIONS, UNPERMISSIONED, WRITE_ACTIONS

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
    prefix, operation = action.split(":")
    service = CLIENT_NAMES.get(prefix, prefix)
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


# --- offline IAM checks: policy_sentry's IAM database and parliament's linter -----------------------------------
# No account is reachable: the policies are resolved with example parameter values and checked against the IAM
# action database (each action's resource ARN formats and the condition keys each resource type supports).
import fnmatch  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

PARAMETERS = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::Region": "eu-central-1",
              "PrimaryRegion": "eu-central-1", "SecondaryRegion": "eu-west-1", "KillSwitchPath": "gameday/providers",
              "HostedZoneId": "Z0123456789", "FailoverRecordName": "api.example.com",
              "PrimaryHealthCheckId": "hc-primary", "SecondaryHealthCheckId": "hc-secondary",
              "PrimaryOriginBucket": "static-primary", "SecondaryOriginBucket": "static-secondary",
              "TagValue": "allowed", "TagKey": "gameday", "ScheduleGroup": "default",
              "LedgerTableName": "gameday-ledger", "LambdaFaultConfigBucket": "gameday-fis-config"}
#: Condition keys every action supports (AWS global condition context keys the policies use).
GLOBAL_KEYS = {"aws:RequestedRegion"}
FIS = ROLE.parent / "fis-templates.yaml"
#: Parliament findings above LOW that are reviewed and accepted, with the reason.
ACCEPTED = {
    # fail_origin must write the origin bucket's policy (a Deny s3:GetObject statement); limited to the two named
    # origin buckets, and the driver refuses a bucket without the GameDay tag.
    ("gameday-change-tagged", "RESOURCE_POLICY_PRIVILEGE_ESCALATION"),
    # The expiry role puts the origin bucket's previous policy back (the same two named buckets), run by Scheduler.
    ("gameday-expiry-restores", "RESOURCE_POLICY_PRIVILEGE_ESCALATION"),
    # fis:StartExperiment acts on the template (its tag) and creates the experiment (the request's tag): two
    # statements with different conditions, each naming one resource type; parliament checks them one by one.
    ("gameday-change-tagged", "RESOURCE_MISMATCH"),
    # ec2:CreateNetworkAcl acts on the VPC and creates the ACL (which must carry managedByFIS=true): two statements,
    # as in AWS's own AWSFaultInjectionSimulatorNetworkAccess policy.
    ("gameday-fis-actions", "RESOURCE_MISMATCH"),
}


def resolve(node):
    """The CloudFormation value with !Sub and !Ref replaced by the example parameters."""
    if isinstance(node, dict):
        if "Fn::Sub" in node:
            return re.sub(r"\$\{([^}]+)\}", lambda m: PARAMETERS[m.group(1)], node["Fn::Sub"])
        if "Ref" in node:
            return PARAMETERS[node["Ref"]]
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


def policies(path: Path, resource: str) -> dict[str, dict]:
    template, problems = decode(str(path))
    assert not problems, problems
    return {p["PolicyName"]: resolve(p["PolicyDocument"]) for p in template["Resources"][resource]["Properties"]
            ["Policies"]}


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def _pattern(arn_format: str) -> str:
    return re.sub(r"\$\{[^}]+\}", "*", arn_format)


def _overlap(arn: str, arn_format: str) -> bool:
    """Whether the policy's `arn` (its `*` matches any run of characters, colons included) and the database's
    `arn_format` (each `${...}` one value, no colon) match a common ARN."""
    fmt = re.sub(r"\$\{[^}]+\}", "\0", arn_format)
    if ":action/" in arn_format and ":action/" in arn:  # an FIS action's id holds colons (aws:lambda:...)
        arn = arn.split(":action/")[0] + ":action/" + arn.split(":action/")[1].replace(":", "_")

    @functools.cache
    def go(i: int, j: int) -> bool:
        if i == len(arn):
            return fmt[j:].strip("\0") == ""
        if j == len(fmt):
            return arn[i:].strip("*") == ""
        if arn[i] == "*":
            return go(i + 1, j) or go(i, j + 1)
        if fmt[j] == "\0":
            return go(i, j + 1) or (arn[i] != ":" and go(i + 1, j))
        return arn[i] == fmt[j] and go(i + 1, j + 1)
    return go(0, 0)


def _condition_keys(statement: dict) -> set[str]:
    return {key for test in statement.get("Condition", {}).values() for key in test}


def _supported(key: str, supported: list[str]) -> bool:
    return key in GLOBAL_KEYS or any(fnmatch.fnmatchcase(key, _pattern(s)) for s in supported)


@pytest.mark.parametrize("action", sorted(IAM_ACTIONS))
def test_every_driver_action_is_granted_on_a_resource_it_supports_with_condition_keys_it_supports(action):
    from policy_sentry.querying.actions import get_action_data
    service, name = action.split(":")
    rows = get_action_data(service, name)[service]
    assert rows, f"{action} is not in policy_sentry's IAM database"
    granting = [s for doc in policies(ROLE, "GameDayRole").values() for s in doc["Statement"]
                if action in _as_list(s["Action"])]
    assert granting, f"{action} is not granted"
    for s in granting:
        matched = [r for r in rows for arn in _as_list(s["Resource"])
                   if (arn == "*" and r["resource_arn_format"] == "*")
                   or (arn != "*" and r["resource_arn_format"] != "*"
                       and _overlap(arn, r["resource_arn_format"]))]
        assert matched, (f"{s['Sid']}: {action} is granted on {s['Resource']}, none of its resource types "
                         f"{[r['resource_arn_format'] for r in rows]}")
        if s["Resource"] == "*":
            assert all(r["resource_arn_format"] == "*" for r in rows), \
                f"{s['Sid']}: {action} supports resource ARNs; grant it on them, not on *"
        supported = [k for r in matched for k in r["condition_keys"]]
        for key in _condition_keys(s):
            assert _supported(key, supported), f"{s['Sid']}: {action} does not support condition key {key}"


def test_changes_condition_on_the_gameday_tag_of_the_profile():
    """The tag key in the conditions is the template's TagKey (its only allowed value: IAM keys are literal)."""
    template, _ = decode(str(ROLE))
    assert template["Parameters"]["TagKey"]["AllowedValues"] == [TAG_CONDITION.split("/")[1]]


@pytest.mark.parametrize("path, resource", [(ROLE, "GameDayRole"), (ROLE, "ExpiryRole"), (FIS, "FisRole")],
                         ids=["gameday", "expiry", "fis"])
def test_parliament_finds_nothing_above_low_that_is_not_justified(path, resource):
    from parliament import analyze_policy_string, config
    found = []
    for name, doc in policies(path, resource).items():
        for finding in analyze_policy_string(json.dumps(doc)).findings:
            severity = config.get(finding.issue, {}).get("severity", "")
            if severity not in ("LOW", "INFO", "MUTE") and (name, finding.issue) not in ACCEPTED:
                found.append((name, finding.issue, severity, finding.detail))
    assert found == []


def test_the_fis_role_changes_only_network_acls_that_fis_created():
    """As AWS's own FIS policy: DeleteNetworkAcl and CreateNetworkAclEntry only with managedByFIS=true."""
    for s in policies(FIS, "FisRole")["gameday-fis-actions"]["Statement"]:
        actions = set(_as_list(s["Action"]))
        if actions & {"ec2:DeleteNetworkAcl", "ec2:CreateNetworkAclEntry"}:
            assert s["Condition"]["StringEquals"]["ec2:ResourceTag/managedByFIS"] == "true", s["Sid"]
        assert s["Resource"] != "*" or actions <= {"ec2:DescribeSubnets", "ec2:DescribeNetworkAcls",
                                                   "ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries",
                                                   "rds:DescribeDBClusters", "tag:GetResources"}, s["Sid"]


def test_the_expiry_role_can_only_put_back_what_the_gameday_role_may_change():
    """What EventBridge Scheduler runs as (aws_expiry.py) restores and nothing else: a subset of the GameDay role's
    changes, on a subset of its resources."""
    changes = policies(ROLE, "GameDayRole")["gameday-change-tagged"]["Statement"]
    gameday = {a for s in changes for a in _as_list(s["Action"])}
    expiry = [s for doc in policies(ROLE, "ExpiryRole").values() for s in doc["Statement"]]
    assert {a for s in expiry for a in _as_list(s["Action"])} <= gameday
    assert all(s["Resource"] != "*" for s in expiry)
    template, _ = decode(str(ROLE))
    trust = template["Resources"]["ExpiryRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [t["Principal"] for t in trust] == [{"Service": "scheduler.amazonaws.com"}]
