"""Behavioural contract of the AWS driver on moto (in-process): faults applied and restored exactly, the guard
refuses with nothing changed, dry runs send nothing, the fault ledger restores after a crash."""

from __future__ import annotations

from datetime import UTC

import pytest

from gameday.base.errors import InvalidInput
from gameday.base.ledger import FaultLedger
from infra.targets.aws_metrics import MetricMissing
from infra.targets.safety import UndeclaredAction
from tests.contract.conftest import MOTO_ACCOUNT, PRIMARY, RECORD, SECONDARY, profile_dict, session


def aws(service: str, region: str = PRIMARY):
    return session().client(service, region_name=region)


def reserved(function: str, region: str) -> int | None:
    return aws("lambda", region).get_function_concurrency(
        FunctionName=function).get("ReservedConcurrentExecutions")


def inverted(check_id: str) -> bool:
    return aws("route53").get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]["Inverted"]


def kill_switch(name: str, region: str) -> str:
    return aws("ssm", region).get_parameter(Name=name)["Parameter"]["Value"]


def replay(ledger: FaultLedger, driver) -> list[dict]:
    """What gameday.faults.recover_open does: replay every open entry's recovery, newest first."""
    done = []
    for entry in reversed(ledger.open_entries()):
        details = getattr(driver, entry["recovery"]["call"])(**entry["recovery"]["args"])
        ledger.recovered(entry["id"], details)
        done.append(details)
    return done


# --- Lambda reserved concurrency -------------------------------------------------------------------
@pytest.mark.parametrize("before", [7, None], ids=["had-a-value", "had-none"])
def test_throttle_is_applied_and_restored_to_the_exact_previous_value(driver, before):
    if before is not None:
        aws("lambda", SECONDARY).put_function_concurrency(
            FunctionName="api", ReservedConcurrentExecutions=before)
    done = driver.throttle_function("api", SECONDARY)
    assert reserved("api", SECONDARY) == 0
    assert done["recovery"] == {"call": "restore_function_concurrency",
                                "args": {"function": "api", "region": SECONDARY, "previous": before, "fault_set": 0}}
    assert done["start_s"] <= done["at_s"]
    getattr(driver, done["recovery"]["call"])(**done["recovery"]["args"])
    assert reserved("api", SECONDARY) == before
    assert reserved("api", PRIMARY) is None  # the other region was never touched


# --- the guard ------------------------------------------------------------------------------------
def test_an_untagged_function_is_refused_and_nothing_changes(driver):
    with pytest.raises(InvalidInput, match=r"Lambda function billing \(eu-west-1\).*GameDay tag gameday=allowed"):
        driver.throttle_function("billing", SECONDARY)
    assert reserved("billing", SECONDARY) is None
    assert driver.recorder.mutations() == []


def test_a_wrong_account_profile_is_refused_and_nothing_changes(make_driver):
    driver = make_driver(account_id="111111111111", accounts={"111111111111": "staging"})
    with pytest.raises(InvalidInput, match=rf"credentials belong to account {MOTO_ACCOUNT}.*only 111111111111"):
        driver.throttle_function("api", PRIMARY)
    assert reserved("api", PRIMARY) is None
    assert driver.recorder.mutations() == []


def test_a_region_outside_the_profile_is_refused(driver):
    with pytest.raises(InvalidInput, match="region us-east-1 is not in the profile's regions"):
        driver.throttle_function("api", "us-east-1")


def test_prod_without_the_account_confirmation_is_refused(make_driver):
    with pytest.raises(InvalidInput, match=f"(?s)environment is prod.*--confirm-account {MOTO_ACCOUNT}"):
        make_driver(environment="prod")
    with pytest.raises(InvalidInput, match="'999999999999' given"):
        make_driver(environment="prod", confirm_account="999999999999")
    assert reserved("api", PRIMARY) is None
    confirmed = make_driver(environment="prod", confirm_account=MOTO_ACCOUNT)
    confirmed.throttle_function("api", PRIMARY)
    assert reserved("api", PRIMARY) == 0


def test_a_prod_account_named_in_a_staging_profile_still_needs_the_confirmation(make_driver):
    prod_map = {MOTO_ACCOUNT: "prod"}
    with pytest.raises(InvalidInput, match=f"(?s)environment is prod \\(the profile's accounts map.*--confirm-account "
                                           f"{MOTO_ACCOUNT}"):
        make_driver(accounts=prod_map)  # environment: staging, as the profile's author wrote it
    assert make_driver(accounts=prod_map, confirm_account=MOTO_ACCOUNT).describe().endswith("prod)")


def test_an_account_missing_from_the_accounts_map_is_refused(world):
    from infra.targets.profile import profile_from_dict
    with pytest.raises(InvalidInput, match=f"accounts: account {MOTO_ACCOUNT} is not in the map \\(210987654321\\)"):
        profile_from_dict(profile_dict(world, accounts={"210987654321": "prod"}))


def test_an_undeclared_aws_action_is_refused_before_it_is_sent(driver):
    with pytest.raises(UndeclaredAction, match="lambda:ListFunctions"):
        driver.client("lambda", PRIMARY).list_functions()


# --- dry run --------------------------------------------------------------------------------------
def test_dry_run_records_every_change_and_makes_none(make_driver, world):
    lines: list[str] = []
    driver = make_driver(dry_run=True, log=lines.append)
    throttled = driver.throttle_function("api", PRIMARY)
    driver.set_provider_kill_switch("bedrock", on=True)
    driver.fail_region(PRIMARY, "health_check")
    driver.fail_region(PRIMARY, "dns_record")
    driver.kill_db_writer()
    # the moto side: nothing changed
    assert reserved("api", PRIMARY) is None
    assert [kill_switch("/gameday/providers/bedrock/disabled", r) for r in (PRIMARY, SECONDARY)] == ["off", "off"]
    assert inverted(world["checks"][PRIMARY]) is False
    sets = aws("route53").list_resource_record_sets(HostedZoneId=world["zone"])["ResourceRecordSets"]
    assert sum(1 for s in sets if s["Name"] == RECORD) == 2
    assert driver.writer_instance(PRIMARY) == "app-primary-1"
    # ... and every change was recorded, with its parameters, as not sent
    withheld = {(c["action"], c["region"]) for c in driver.recorder.mutations() if not c["sent"]}
    assert withheld == {("lambda:PutFunctionConcurrency", PRIMARY), ("ssm:PutParameter", PRIMARY),
                        ("ssm:PutParameter", SECONDARY), ("route53:UpdateHealthCheck", PRIMARY),
                        ("route53:ChangeResourceRecordSets", PRIMARY), ("rds:FailoverDBCluster", PRIMARY)}
    assert all(not c["sent"] for c in driver.recorder.mutations())
    assert throttled["dry_run"] is True and throttled["recovery"]["args"]["previous"] is None
    assert any(line.startswith("[dry-run] would call lambda:PutFunctionConcurrency") and
               '"ReservedConcurrentExecutions": 0' in line for line in lines)


# --- fault ledger ---------------------------------------------------------------------------------
def test_a_ledger_entry_restores_the_previous_values_after_a_crash(make_driver, tmp_path):
    aws("lambda", PRIMARY).put_function_concurrency(FunctionName="api",
                                                                         ReservedConcurrentExecutions=5)
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    crashed = make_driver()
    with crashed.write_ahead(lambda recovery: ledger.begin("lambda_throttle", "api", {}, recovery)):
        crashed.throttle_function("api", PRIMARY)
        crashed.set_provider_kill_switch("bedrock", on=True)
    # the process dies here: no `injected`, no `recovered` line
    assert reserved("api", PRIMARY) == 0 and kill_switch("/gameday/providers/bedrock/disabled", SECONDARY) == "on"
    assert len(ledger.open_entries()) == 2
    replay(ledger, make_driver())  # a fresh driver, as `gameday recover --target aws` would make
    assert reserved("api", PRIMARY) == 5
    assert [kill_switch("/gameday/providers/bedrock/disabled", r) for r in (PRIMARY, SECONDARY)] == ["off", "off"]
    assert ledger.open_entries() == []


def test_a_refused_change_writes_no_ledger_entry(driver, tmp_path):
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    with driver.write_ahead(lambda recovery: ledger.begin("kill_switch", "google", {}, recovery)):
        with pytest.raises(InvalidInput, match="SSM parameter /gameday/providers/google/disabled"):
            driver.set_provider_kill_switch("google", on=True)
    assert ledger.entries() == []
    assert kill_switch("/gameday/providers/google/disabled", PRIMARY) == "off"


# --- database -------------------------------------------------------------------------------------
def test_a_cluster_failover_moves_the_writer_and_its_recovery_moves_it_back(driver):
    assert driver.writer_regions() == [PRIMARY]
    done = driver.failover_cluster(PRIMARY)
    assert (done["from_instance"], done["to_instance"]) == ("app-primary-1", "app-primary-2")
    assert driver.writer_instance(PRIMARY) == "app-primary-2"
    assert done["recovery"] == {"call": "failover_cluster",
                                "args": {"region": PRIMARY, "target_instance": "app-primary-1"}}
    driver.failover_cluster(**done["recovery"]["args"])
    assert driver.writer_instance(PRIMARY) == "app-primary-1"


def test_kill_db_writer_leaves_the_promoted_reader_writing(driver):
    """Aurora promoted a reader and the old writer rejoined as a reader: failing back would be a second outage."""
    done = driver.kill_db_writer()
    assert driver.writer_instance(PRIMARY) == "app-primary-2"
    assert done["recovery"] is None and done["undo"].startswith("nothing to undo")


# --- region failure (Route 53) --------------------------------------------------------------------
def test_health_check_inversion_fails_the_region_and_restores_it(driver, world):
    done = driver.fail_region(PRIMARY, "health_check")
    assert inverted(world["checks"][PRIMARY]) is True and inverted(world["checks"][SECONDARY]) is False
    driver.restore_region(**done["recovery"]["args"])
    assert inverted(world["checks"][PRIMARY]) is False


def test_a_deleted_failover_record_comes_back_exactly(driver, world):
    r53 = aws("route53")
    before = r53.list_resource_record_sets(HostedZoneId=world["zone"])["ResourceRecordSets"]
    done = driver.fail_region(PRIMARY, "dns_record")
    during = r53.list_resource_record_sets(HostedZoneId=world["zone"])["ResourceRecordSets"]
    assert [s.get("SetIdentifier") for s in during if s["Name"] == RECORD] == [SECONDARY]
    driver.restore_region(**done["recovery"]["args"])
    after = r53.list_resource_record_sets(HostedZoneId=world["zone"])["ResourceRecordSets"]
    key = lambda s: (s["Name"], s["Type"], s.get("SetIdentifier", ""))  # noqa: E731
    assert sorted(after, key=key) == sorted(before, key=key)


# --- AI provider kill switch and probes ----------------------------------------------------------
def test_the_kill_switch_is_set_in_every_region_and_restored(driver):
    aws("ssm", SECONDARY).put_parameter(Name="/gameday/providers/bedrock/disabled",
                                                              Value="degraded", Type="String", Overwrite=True)
    done = driver.set_provider_kill_switch("bedrock", on=True)
    assert done["recovery"]["args"]["previous"] == {PRIMARY: "off", SECONDARY: "degraded"}
    assert [kill_switch("/gameday/providers/bedrock/disabled", r) for r in (PRIMARY, SECONDARY)] == ["on", "on"]
    getattr(driver, done["recovery"]["call"])(**done["recovery"]["args"])
    assert [kill_switch("/gameday/providers/bedrock/disabled", r) for r in (PRIMARY, SECONDARY)] == ["off", "degraded"]


def test_missing_cloudwatch_data_is_an_error_never_zero(driver):
    with pytest.raises(MetricMissing, match="AWS/Lambda/Throttles.*no Sum datapoint"):
        driver.lambda_throttles("api", PRIMARY)


def test_a_cloudwatch_maximum_is_read_back(driver):
    from datetime import datetime, timedelta
    aws("cloudwatch", PRIMARY).put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "ConcurrentExecutions", "Dimensions": [{"Name": "FunctionName", "Value": "api"}],
         "Timestamp": datetime.now(UTC) - timedelta(seconds=5), "Value": v} for v in (3.0, 240.0, 12.0)])
    assert driver.lambda_concurrency("api", PRIMARY) == 240.0


# --- moto gaps: botocore Stubber against the real service model ------------------------------------
# moto lacks failover/switchover_global_cluster, ElastiCache test_failover (and its events), Lambda provisioned
# concurrency and CloudWatch percentiles. The Stubber checks every request against botocore's model of the real
# API (names, types, required parameters); STS still answers from moto, so the guard runs as it does for real.
from botocore.stub import ANY, Stubber  # noqa: E402

TAGS = [{"Key": "gameday", "Value": "allowed"}]


# Global failover/switchover and their waits: test_aws_async.py (a stateful behaviour layer, not a Stubber queue).


def _cache_stubs(ec, failovers_used: int) -> None:
    arn = f"arn:aws:elasticache:{PRIMARY}:123456789012:replicationgroup:app-cache"
    ec.add_response("describe_replication_groups",
                    {"ReplicationGroups": [{"ReplicationGroupId": "app-cache", "ARN": arn}]},
                    {"ReplicationGroupId": "app-cache"})
    ec.add_response("list_tags_for_resource", {"TagList": TAGS}, {"ResourceName": arn})
    events = [{"SourceIdentifier": "app-cache", "SourceType": "replication-group",
               "Message": f"Test Failover API called for node group 000{i % 9 + 1}"} for i in range(failovers_used)]
    ec.add_response("describe_events", {"Events": events},
                    {"SourceType": "replication-group", "StartTime": ANY, "EndTime": ANY})


def test_cache_test_failover_checks_the_quota_first(driver):
    with Stubber(driver.client("elasticache", PRIMARY)) as ec:
        _cache_stubs(ec, failovers_used=3)
        ec.add_response("test_failover", {"ReplicationGroup": {"ReplicationGroupId": "app-cache"}},
                        {"ReplicationGroupId": "app-cache", "NodeGroupId": "0001"})
        ec.add_response("describe_replication_groups",  # the wait: available again (test_aws_async.py in depth)
                        {"ReplicationGroups": [{"ReplicationGroupId": "app-cache", "Status": "available"}]},
                        {"ReplicationGroupId": "app-cache"})
        done = driver.failover_cache()
        ec.assert_no_pending_responses()
    assert done["node_groups"] == ["0001"] and done["quota_left_before"] == 12 and done["recovery"] is None


def test_cache_test_failover_is_refused_when_the_quota_is_spent(driver):
    with Stubber(driver.client("elasticache", PRIMARY)) as ec:
        _cache_stubs(ec, failovers_used=15)
        with pytest.raises(InvalidInput, match="0 of 15 test failovers left"):
            driver.failover_cache()
        ec.assert_no_pending_responses()


def _function_tags(lam) -> None:
    """The guard's reads: the function's ARN, then its tags (GetFunction hides tags without lambda:ListTags)."""
    arn = f"arn:aws:lambda:{PRIMARY}:123456789012:function:api"
    lam.add_response("get_function_configuration", {"FunctionArn": arn}, {"FunctionName": "api"})
    lam.add_response("list_tags", {"Tags": {"gameday": "allowed"}}, {"Resource": arn})


@pytest.mark.parametrize("before", [4, None], ids=["had-a-value", "had-none"])
def test_provisioned_concurrency_is_changed_and_restored_exactly(driver, before):
    with Stubber(driver.client("lambda", PRIMARY)) as lam:
        target = {"FunctionName": "api", "Qualifier": "live"}
        _function_tags(lam)
        if before is None:
            lam.add_client_error("get_provisioned_concurrency_config", "ProvisionedConcurrencyConfigNotFoundException",
                                 http_status_code=404, expected_params=target)
        else:
            lam.add_response("get_provisioned_concurrency_config",
                             {"RequestedProvisionedConcurrentExecutions": before}, target)
        lam.add_response("put_provisioned_concurrency_config", {"RequestedProvisionedConcurrentExecutions": 20},
                         {**target, "ProvisionedConcurrentExecutions": 20})
        lam.add_response("get_provisioned_concurrency_config",  # the wait (test_aws_async.py in depth)
                         {"RequestedProvisionedConcurrentExecutions": 20, "Status": "READY"}, target)
        done = driver.set_provisioned_concurrency("api", PRIMARY, "live", 20)
        assert done["recovery"] == {"call": "set_provisioned_concurrency",
                                    "args": {"function": "api", "region": PRIMARY, "qualifier": "live",
                                             "value": before, "fault_set": 20}}
        # the recovery: back to `before` (None removes the configuration, as it was)
        _function_tags(lam)
        lam.add_response("get_provisioned_concurrency_config", {"RequestedProvisionedConcurrentExecutions": 20}, target)
        if before is None:
            lam.add_response("delete_provisioned_concurrency_config", {}, target)
        else:
            lam.add_response("put_provisioned_concurrency_config", {"RequestedProvisionedConcurrentExecutions": before},
                             {**target, "ProvisionedConcurrentExecutions": before})
            lam.add_response("get_provisioned_concurrency_config",
                             {"RequestedProvisionedConcurrentExecutions": before, "Status": "READY"}, target)
        getattr(driver, done["recovery"]["call"])(**done["recovery"]["args"])
        lam.assert_no_pending_responses()


def test_a_percentile_probe_asks_for_extended_statistics(driver):
    from datetime import datetime
    with Stubber(driver.client("cloudwatch", PRIMARY)) as cw:
        cw.add_response("get_metric_statistics", {"Datapoints": [
            {"Timestamp": datetime(2025, 1, 1, tzinfo=UTC), "ExtendedStatistics": {"p95": 181.5}}]},
            {"Namespace": "AWS/Lambda", "MetricName": "Duration",
             "Dimensions": [{"Name": "FunctionName", "Value": "api"}],
             "StartTime": ANY, "EndTime": ANY, "Period": 300, "ExtendedStatistics": ["p95"]})
        cw.add_response("get_metric_statistics", {"Datapoints": []}, None)
        assert driver.lambda_duration_ms("api", PRIMARY, "p95") == 181.5
        with pytest.raises(MetricMissing, match="no p99 datapoint"):
            driver.lambda_duration_ms("api", PRIMARY, "p99")


# --- target profile -------------------------------------------------------------------------------
from pathlib import Path  # noqa: E402

from infra.targets.profile import load_target_profile  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "targets" / "staging.yaml"


def test_the_example_profile_loads():
    profile = load_target_profile(EXAMPLE)
    assert profile.regions.all() == (PRIMARY, SECONDARY) and profile.environment == "staging"


def test_an_invalid_profile_names_the_file_and_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("environment: staging", "environment: production")
                   .replace("record_type: A", "record_typ: A"))
    with pytest.raises(InvalidInput, match=r"(?s)bad\.yaml is invalid.*environment: Input should be 'staging' or "
                                           r"'prod'.*resources\.route53\.record_typ: unknown field"):
        load_target_profile(bad)


def test_a_profile_with_access_keys_is_refused(tmp_path):
    bad = tmp_path / "keys.yaml"
    bad.write_text(EXAMPLE.read_text().replace("credentials:\n", "credentials:\n  aws_secret_access_key: x\n"))
    with pytest.raises(InvalidInput, match=r"credentials\.aws_secret_access_key: access keys are never read"):
        load_target_profile(bad)
