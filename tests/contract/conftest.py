"""Contract fixtures for the AWS driver: moto in-process (no servers), a seeded two-region world, its profile."""

from __future__ import annotations

import io
import zipfile

import boto3
import botocore.session
import pytest
from moto import mock_aws

from infra.targets.aws import AwsTarget
from infra.targets.profile import profile_from_dict

PRIMARY, SECONDARY = "eu-central-1", "eu-west-1"
MOTO_ACCOUNT = "123456789012"  # moto's default account
TAG = [{"Key": "gameday", "Value": "allowed"}]
ZONE_NAME = "example.com."
RECORD = "api.example.com."


_BOTOCORE = botocore.session.get_session()  # one loader: service models are parsed once, not once a test


_SESSION = boto3.Session(botocore_session=_BOTOCORE)  # one: each boto3 Session adds its S3 handlers to the loader


def session() -> boto3.Session:
    return _SESSION


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    """Dummy credentials, no real endpoint, no stray traffic."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", PRIMARY)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buf.getvalue()


def seed() -> dict:
    """Create the stack's resources in moto; returns the ids a profile needs."""
    aws = session()
    ids: dict = {}
    iam = aws.client("iam", region_name=PRIMARY)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for region in (PRIMARY, SECONDARY):
        lam = aws.client("lambda", region_name=region)
        for name, tags in (("api", {"gameday": "allowed"}), ("billing", {})):
            lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                                Code={"ZipFile": _zip()}, Tags=tags)
        ssm = aws.client("ssm", region_name=region)
        ssm.put_parameter(Name="/gameday/providers/bedrock/disabled", Value="off", Type="String", Tags=TAG)
        ssm.put_parameter(Name="/gameday/providers/google/disabled", Value="off", Type="String")  # untagged
    rds = aws.client("rds", region_name=PRIMARY)
    rds.create_db_cluster(DBClusterIdentifier="app-primary", Engine="aurora-postgresql", MasterUsername="app",
                          MasterUserPassword="secret-password", Tags=TAG)
    aws.client("rds", region_name=SECONDARY).create_db_cluster(  # a global secondary: no writer instance
        DBClusterIdentifier="app-secondary", Engine="aurora-postgresql", MasterUsername="app",
        MasterUserPassword="secret-password", Tags=TAG)
    for i in (1, 2):
        rds.create_db_instance(DBInstanceIdentifier=f"app-primary-{i}", DBClusterIdentifier="app-primary",
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    r53 = aws.client("route53", region_name=PRIMARY)
    zone = r53.create_hosted_zone(Name=ZONE_NAME, CallerReference="zone")["HostedZone"]["Id"].split("/")[-1]
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone, AddTags=TAG)
    checks = {}
    for region, role_, ip in ((PRIMARY, "PRIMARY", "192.0.2.10"), (SECONDARY, "SECONDARY", "192.0.2.20")):
        hc = r53.create_health_check(CallerReference=f"hc-{region}", HealthCheckConfig={
            "Type": "HTTPS", "FullyQualifiedDomainName": f"{region}.api.example.com", "ResourcePath": "/health",
            "RequestInterval": 30, "FailureThreshold": 3})["HealthCheck"]["Id"]
        r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=hc, AddTags=TAG)
        checks[region] = hc
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE",
            "ResourceRecordSet": {"Name": RECORD, "Type": "A", "SetIdentifier": region, "Failover": role_, "TTL": 30,
                                  "HealthCheckId": hc, "ResourceRecords": [{"Value": ip}]}}]})
    ids.update(zone=zone, checks=checks)
    return ids


def tag_global_cluster(ident: str) -> None:
    """Tag moto's global cluster `ident` (moto 5 can neither create nor add tags on a global cluster, and its
    DescribeGlobalClusters answers TagList from this attribute)."""
    from moto.rds.models import rds_backends
    for backend in rds_backends[MOTO_ACCOUNT].values():
        if ident in backend.global_clusters:
            backend.global_clusters[ident].tags = list(TAG)


def profile_dict(ids: dict, **overrides) -> dict:
    data = {
        "name": "contract", "account_id": MOTO_ACCOUNT, "environment": "staging",
        "accounts": {MOTO_ACCOUNT: "staging", "210987654321": "prod"},
        "regions": {"primary": PRIMARY, "secondary": SECONDARY},
        "resources": {
            "database": {"global_cluster_id": "app-global",
                         "clusters": {PRIMARY: "app-primary", SECONDARY: "app-secondary"}},
            "route53": {"hosted_zone_id": ids["zone"], "record_name": RECORD,
                        "set_identifiers": {PRIMARY: PRIMARY, SECONDARY: SECONDARY}, "health_checks": ids["checks"]},
            "functions": {PRIMARY: ["api"], SECONDARY: ["api"]},
            "cache": {"replication_group_id": "app-cache", "region": PRIMARY, "node_groups": ["0001"]},
            "kill_switches": {"bedrock": "/gameday/providers/bedrock/disabled",
                              "google": "/gameday/providers/google/disabled"},
            "fis_templates": {},
        },
        "endpoints": {"entry_url": "https://api.example.com"},
    }
    data.update(overrides)
    return data


@pytest.fixture
def world():
    with mock_aws():
        yield seed()


@pytest.fixture
def make_driver(world):
    """`make_driver(**profile_overrides, dry_run=..., confirm_account=...)` -> AwsTarget on the moto world."""
    def make(*, dry_run: bool = False, confirm_account: str | None = None, log=None, **overrides) -> AwsTarget:
        profile = profile_from_dict(profile_dict(world, **overrides))
        return AwsTarget(profile, session=session(), dry_run=dry_run, confirm_account=confirm_account, log=log)
    return make


@pytest.fixture
def driver(make_driver) -> AwsTarget:
    return make_driver()


ORIGINS = {PRIMARY: "static-primary", SECONDARY: "static-secondary"}  # the secondary origin is untagged
ORIGIN_POLICY = ('{"Version": "2012-10-17", "Statement": [{"Sid": "CloudFrontReads", "Effect": "Allow", "Principal": '
                 '{"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject", "Resource": '
                 '"arn:aws:s3:::static-primary/*"}]}')


def seed_release(region: str = PRIMARY, function: str = "api") -> dict:
    """Two published versions of `function` and alias `live` on the first; returns the profile's deployment."""
    lam = session().client("lambda", region_name=region)
    versions = []
    for release in ("v1", "v2-bad"):  # Lambda publishes a new version only when something changed
        lam.update_function_configuration(FunctionName=function, Description=release)
        versions.append(lam.publish_version(FunctionName=function, Description=release)["Version"])
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=versions[0])
    return {"function": function, "alias": "live", "versions": {"v2-bad": versions[1]}}


def seed_origins(policy: str | None = ORIGIN_POLICY) -> dict:
    """The static origins (the primary tagged, with `policy`; the secondary untagged); returns resources.origins."""
    for region, bucket in ORIGINS.items():
        s3 = session().client("s3", region_name=region)
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        if region == PRIMARY:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": TAG})
            if policy is not None:
                s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    return dict(ORIGINS)
