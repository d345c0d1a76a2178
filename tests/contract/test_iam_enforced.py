"""The GameDay role's own policy, enforced: moto's IAM access control (switched on after the world is seeded)
authorises every request the driver sends under the role's credentials, so a call the role does not grant fails as
it would on AWS. moto checks actions only (every request's resource is "*" and conditions go unevaluated), so the
statements are loaded with `Resource: "*"` and no conditions; resources and condition keys are checked offline
(tests/contract/test_iam_policy.py). moto's access control works for SSM, RDS, S3, ElastiCache, IAM and STS;
for Route 53, Lambda, FIS and CloudWatch it refuses even a principal allowed "*" (signature or action naming,
measured with moto 5), so those calls are covered by the offline checks and the recorder's declared actions."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin

from infra.targets.aws import AwsTarget
from infra.targets.profile import profile_from_dict
from tests.contract.conftest import PRIMARY, profile_dict, seed_origins, session
from tests.contract.test_iam_policy import statements

KILL_SWITCH = "/gameday/providers/bedrock/disabled"


def _actions_only(without: str | None = None) -> str:
    granted = []
    for statement in statements():
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])
        actions = [a for a in actions if a != without]
        if actions:
            granted.append({"Effect": statement["Effect"], "Action": actions, "Resource": "*"})
    return json.dumps({"Version": "2012-10-17", "Statement": granted})


@pytest.fixture
def enforced(world, monkeypatch):
    """`enforced(without=None)` -> an AwsTarget acting with the GameDay role's credentials (its policy less
    `without`), every request from here on checked by moto's IAM."""
    iam = session().client("iam", region_name=PRIMARY)
    runner_arn = "arn:aws:iam::123456789012:user/runner"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": runner_arn}, "Action": "sts:AssumeRole"}]})
    iam.create_user(UserName="runner")
    iam.put_user_policy(UserName="runner", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="runner")["AccessKey"]

    def make(without: str | None = None) -> AwsTarget:
        name = f"gameday-{len(iam.list_roles()['Roles'])}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName="gameday", PolicyDocument=_actions_only(without))
        runner = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                               region_name=PRIMARY)
        monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", ActionAuthenticatorMixin.request_count)
        creds = runner.client("sts").assume_role(RoleArn=f"arn:aws:iam::123456789012:role/{name}",
                                                 RoleSessionName="gameday")["Credentials"]
        as_role = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"])
        profile = profile_from_dict(profile_dict(world, resources={**profile_dict(world)["resources"],
                                                                   "origins": origins}))
        return AwsTarget(profile, session=as_role)
    origins = seed_origins()
    return make


def test_the_role_allows_a_kill_switch_a_writer_failover_and_an_origin_outage_and_their_undos(enforced):
    driver = enforced()
    switch = driver.set_provider_kill_switch("bedrock", on=True)
    getattr(driver, switch["recovery"]["call"])(**switch["recovery"]["args"])
    failover = driver.failover_cluster(PRIMARY)
    driver.failover_cluster(**failover["recovery"]["args"])
    assert driver.writer_instance(PRIMARY) == "app-primary-1"
    origin = driver.cut_link(f"origin-{PRIMARY}")
    getattr(driver, origin["recovery"]["call"])(**origin["recovery"]["args"])
    # Enforcement is on: the seeding credentials, which IAM does not know, are refused from here on.
    with pytest.raises(ClientError, match="InvalidClientTokenId|security token"):
        session().client("ssm", region_name=PRIMARY).get_parameter(Name=KILL_SWITCH)


@pytest.mark.parametrize(("missing", "call"), [
    ("ssm:PutParameter", lambda d: d.set_provider_kill_switch("bedrock", on=True)),
    ("ssm:ListTagsForResource", lambda d: d.set_provider_kill_switch("bedrock", on=True)),  # the guard's read
    ("rds:FailoverDBCluster", lambda d: d.failover_cluster(PRIMARY)),
    ("s3:PutBucketPolicy", lambda d: d.cut_link(f"origin-{PRIMARY}")),
])
def test_a_call_the_role_does_not_grant_is_refused_by_iam(enforced, missing, call):
    with pytest.raises(ClientError, match=f"AccessDenied.*{missing.split(':')[1]}|not authorized.*{missing}"):
        call(enforced(without=missing))
