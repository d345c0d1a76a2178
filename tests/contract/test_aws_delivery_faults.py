"""The AWS meanings of the cache, throttle, deploy, origin and capacity activities (infra/aws/README.md), on moto
in process: each fault applied and restored to the exact previous value through the experiment's own activity
functions and the fault ledger, an untagged resource refused with nothing changed, a dry run changing nothing
(checked on the moto side). ElastiCache test_failover (missing in moto) goes through botocore's Stubber."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from gameday import faults
from gameday.base.errors import InvalidInput
from gameday.base.ledger import read_entries
from infra.targets import using
from infra.targets.aws import AwsTarget
from infra.targets.aws_delivery import ORIGIN_DENY_SID
from infra.targets.aws_metrics import MetricMissing
from infra.targets.profile import profile_from_dict
from probes.stack import region_capacity
from remediations import deploy
from tests.contract.conftest import (
    ORIGIN_POLICY,
    ORIGINS,
    PRIMARY,
    SECONDARY,
    profile_dict,
    seed_origins,
    seed_release,
    session,
)
from tests.contract.test_aws_driver import _cache_stubs

BEDROCK = "/gameday/providers/bedrock/disabled"


def aws(service: str, region: str = PRIMARY):
    return session().client(service, region_name=region)


def kill_switch(region: str, name: str = BEDROCK) -> str:
    return aws("ssm", region).get_parameter(Name=name)["Parameter"]["Value"]


def alias_version(region: str = PRIMARY, function: str = "api") -> str:
    return aws("lambda", region).get_alias(FunctionName=function, Name="live")["FunctionVersion"]


def bucket_policy(region: str = PRIMARY) -> str | None:
    try:
        return aws("s3", region).get_bucket_policy(Bucket=ORIGINS[region])["Policy"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


@pytest.fixture
def on_driver(world, tmp_path):
    """`on_driver(dry_run=False, resources={...}, state=None)` -> an AwsTarget on the moto world whose profile has the
    extra `resources`, its ledger under tmp_path (`state` names the state root, e.g. to share a crashed ledger)."""
    def make(*, dry_run: bool = False, resources: dict | None = None, state: str = "state") -> AwsTarget:
        data = profile_dict(world)
        data["resources"].update(resources or {})
        return AwsTarget(profile_from_dict(data), session=session(), dry_run=dry_run, state_root=tmp_path / state)
    return make


def open_entries(driver) -> list[dict]:
    from gameday.base.ledger import FaultLedger
    return FaultLedger(driver.ledger_path).open_entries()


# --- ai-provider-throttle: the kill switch set to throttle:<p> ----------------------------------------
def test_a_provider_throttle_is_set_everywhere_and_restored_exactly(on_driver):
    aws("ssm", SECONDARY).put_parameter(Name=BEDROCK, Value="degraded", Type="String", Overwrite=True)
    driver = on_driver()
    with using(driver):
        done = faults.inject_http_error("provider-bedrock", 429, 0.5)
        assert [kill_switch(r) for r in (PRIMARY, SECONDARY)] == ["throttle:0.5", "throttle:0.5"]
        assert done["recovery"]["args"]["previous"] == {PRIMARY: "off", SECONDARY: "degraded"}
        assert len(open_entries(driver)) == 1
        faults.remove_http_error("provider-bedrock")
    assert [kill_switch(r) for r in (PRIMARY, SECONDARY)] == ["off", "degraded"]
    assert open_entries(driver) == []


def test_a_throttle_of_an_untagged_switch_or_another_status_is_refused(on_driver):
    driver = on_driver()
    with using(driver):
        with pytest.raises(InvalidInput, match="SSM parameter /gameday/providers/google/disabled.*GameDay tag"):
            faults.inject_http_error("provider-google", 429, 1.0)
        with pytest.raises(InvalidInput, match="HTTP error 503 .* has no AWS meaning"):
            faults.inject_http_error("provider-bedrock", 503, 1.0)
    assert kill_switch(PRIMARY, "/gameday/providers/google/disabled") == "off"
    assert driver.recorder.mutations() == [] and open_entries(driver) == []


# --- bad-deploy-rollback: a Lambda alias moved to the release's version --------------------------------
def test_a_release_moves_the_alias_and_the_rollback_restores_the_previous_version(on_driver):
    deployment = seed_release()
    before = alias_version()
    driver = on_driver(resources={"deployments": {PRIMARY: deployment}})
    with using(driver):
        done = deploy.deploy_version(PRIMARY, "v2-bad", error_rate=0.3, force=True)
        assert alias_version() == deployment["versions"]["v2-bad"] != before
        assert done["recovery"]["args"]["previous"] == before
        begun = [e for e in read_entries(driver.ledger_path) if e["event"] == "begin"]
        assert begun[0]["recovery"]["call"] == "rollback_release"  # written ahead, with the previous version
        assert begun[0]["recovery"]["args"]["previous"] == before
        rolled = deploy.rollback_deployment(PRIMARY)
    assert rolled["rolled_back"] == 1 and alias_version() == before
    assert open_entries(driver) == []
    again = driver.rollback_release(PRIMARY, deployment["versions"]["v2-bad"], before)  # idempotent
    assert again["skipped"] is True and alias_version() == before


def test_a_release_recorded_before_a_crash_is_rolled_back_by_recover(on_driver):
    deployment = seed_release()
    before = alias_version()
    crashed = on_driver(resources={"deployments": {PRIMARY: deployment}})
    with using(crashed):
        deploy.deploy_version(PRIMARY, "v2-bad")
    fresh = on_driver(resources={"deployments": {PRIMARY: deployment}})  # the same state root: the same ledger
    done = faults.recover_open(fresh)
    assert [d["recovery"] for d in done] == ["rollback_release"] and alias_version() == before


def test_a_release_of_an_untagged_function_is_refused(on_driver):
    deployment = seed_release(function="billing")
    before = alias_version(function="billing")
    driver = on_driver(resources={"deployments": {PRIMARY: deployment}})
    with using(driver), pytest.raises(InvalidInput, match=r"Lambda function billing \(eu-central-1\).*GameDay tag"):
        deploy.deploy_version(PRIMARY, "v2-bad")
    assert alias_version(function="billing") == before
    assert driver.recorder.mutations() == [] and read_entries(driver.ledger_path) == []


# --- edge-origin-failover: the S3 origin denies reads -----------------------------------------------------
@pytest.mark.parametrize("policy", [ORIGIN_POLICY, None], ids=["had-a-policy", "had-none"])
def test_an_origin_outage_denies_reads_and_restores_the_exact_policy(on_driver, policy):
    origins = seed_origins(policy)
    driver = on_driver(resources={"origins": origins})
    with using(driver):
        faults.cut_link("origin-eu-central-1")
        during = json.loads(bucket_policy())
        deny = [s for s in during["Statement"] if s.get("Sid") == ORIGIN_DENY_SID]
        assert deny == [{"Sid": ORIGIN_DENY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                         "Resource": "arn:aws:s3:::static-primary/*"}]
        assert len(during["Statement"]) == (2 if policy else 1)  # the other statements stay in force
        faults.restore_link("origin-eu-central-1")
    assert bucket_policy() == policy
    assert open_entries(driver) == []


def test_an_untagged_origin_is_refused(on_driver):
    driver = on_driver(resources={"origins": seed_origins()})
    with using(driver), pytest.raises(InvalidInput, match=r"S3 bucket static-secondary \(eu-west-1\).*GameDay tag"):
        faults.cut_link("origin-eu-west-1")
    assert bucket_policy(SECONDARY) is None and driver.recorder.mutations() == []


def test_an_origin_failed_already_is_refused_so_its_policy_is_not_lost(on_driver):
    driver = on_driver(resources={"origins": seed_origins()})
    driver.fail_origin(PRIMARY)
    with pytest.raises(InvalidInput, match="GameDayOriginOutage statement already"):
        driver.fail_origin(PRIMARY)


# --- cache-outage / spike-10x: ElastiCache test_failover (Stubber: moto lacks it) ---------------------------
def test_a_cache_cut_is_a_test_failover_with_nothing_to_undo(on_driver):
    driver = on_driver()
    with using(driver), Stubber(driver.client("elasticache", PRIMARY)) as ec:
        _cache_stubs(ec, failovers_used=0)
        ec.add_response("test_failover", {"ReplicationGroup": {"ReplicationGroupId": "app-cache"}},
                        {"ReplicationGroupId": "app-cache", "NodeGroupId": "0001"})
        ec.add_response("describe_replication_groups",  # the wait: available again (test_aws_async.py in depth)
                        {"ReplicationGroups": [{"ReplicationGroupId": "app-cache", "Status": "available"}]},
                        {"ReplicationGroupId": "app-cache"})
        done = faults.cut_link("cache-eu-central-1")
        ec.assert_no_pending_responses()
        assert done["recovery"] is None and done["link"] == "cache-eu-central-1"
        assert open_entries(driver) == []  # written ahead and closed: a failover has no undo
        restored = faults.restore_link("cache-eu-central-1")
    assert restored["skipped"] is True
    assert [e["event"] for e in read_entries(driver.ledger_path)] == ["begin", "injected", "recovered"]


def test_flushing_a_cache_outside_the_replication_groups_region_is_refused(on_driver):
    driver = on_driver()
    with using(driver), pytest.raises(InvalidInput, match="replication group is in eu-central-1"):
        faults.flush_cache(SECONDARY)
    assert driver.recorder.calls == []


def test_the_service_time_latency_adds_nothing_on_aws_and_opens_no_entry(on_driver):
    driver = on_driver()
    with using(driver):
        done = faults.add_latency("cache-eu-central-1", 100)
        assert done["applied"] is False and faults.remove_latency("cache-eu-central-1")["skipped"] is True
        with pytest.raises(InvalidInput, match="no fault proxy"):
            faults.add_latency("provider-bedrock", 100)
    assert driver.recorder.calls == [] and read_entries(driver.ledger_path) == []


# --- spike-10x: capacity from CloudWatch -----------------------------------------------------------------
def test_region_capacity_reads_cloudwatch_and_missing_data_is_an_error(on_driver):
    driver = on_driver()
    with using(driver), pytest.raises(MetricMissing, match="ConcurrentExecutions"):
        region_capacity(PRIMARY)
    now = datetime.now(UTC) - timedelta(seconds=5)
    aws("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": "api"}], "Timestamp": now, "Value": v}
        for name, v in (("ConcurrentExecutions", 40.0), ("ConcurrentExecutions", 90.0), ("Throttles", 3.0))])
    aws("lambda").put_function_concurrency(FunctionName="api", ReservedConcurrentExecutions=100)
    with using(driver):
        capacity = region_capacity(PRIMARY)
    assert (capacity["concurrent_executions_max"], capacity["throttles"], capacity["reserved_concurrency"]) == \
        (90.0, 3.0, 100)


# --- dry run: every new change recorded, none sent (the moto side unchanged) -------------------------------
def test_a_dry_run_of_the_new_faults_changes_nothing(on_driver):
    deployment = seed_release()
    before = alias_version()
    origins = seed_origins()
    driver = on_driver(dry_run=True, resources={"deployments": {PRIMARY: deployment}, "origins": origins})
    with using(driver):
        faults.inject_http_error("provider-bedrock", 429, 1.0)
        deploy.deploy_version(PRIMARY, "v2-bad")
        faults.cut_link("origin-eu-central-1")
    assert [kill_switch(r) for r in (PRIMARY, SECONDARY)] == ["off", "off"]
    assert alias_version() == before and bucket_policy() == ORIGIN_POLICY
    withheld = {(c["action"], c["region"]) for c in driver.recorder.mutations() if not c["sent"]}
    assert withheld == {("ssm:PutParameter", PRIMARY), ("ssm:PutParameter", SECONDARY),
                        ("lambda:UpdateAlias", PRIMARY), ("s3:PutBucketPolicy", PRIMARY)}
    assert all(not c["sent"] for c in driver.recorder.mutations())
