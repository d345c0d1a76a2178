"""The AWS driver waits for AWS's asynchronous operations (global failover and switchover, in-region cluster
failover, ElastiCache test failover), against a stateful behaviour layer (tests/contract/aws_behaviour.py) that
stays `failing-over` for a few describes and refuses a second operation meanwhile, as AWS does. The clock and the
sleep are fakes: nothing waits for real."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from gameday.base.errors import GameDayError, InvalidInput
from infra.targets.aws import AwsTarget
from infra.targets.aws_database import NOTHING_TO_UNDO
from infra.targets.aws_wait import WaitTimeouts
from infra.targets.profile import profile_from_dict
from tests.contract.aws_behaviour import FisExperiments, GlobalDatabase, ReplicationGroup, cluster_arn
from tests.contract.conftest import PRIMARY, SECONDARY, profile_dict, session

CLUSTERS = {PRIMARY: "app-primary", SECONDARY: "app-secondary"}


class FakeTime:
    """A clock that moves only when the driver sleeps."""

    def __init__(self) -> None:
        self.now, self.slept = 1_000.0, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def make(world, fake_time, lines):
    """`make(behaviour, **timeouts)` -> an AwsTarget on moto (STS) whose RDS/ElastiCache answer from `behaviour`."""
    def build(behaviour, **timeouts) -> AwsTarget:
        driver = AwsTarget(profile_from_dict(profile_dict(world)), session=session(), log=lines.append,
                           clock=fake_time.clock, sleep=fake_time.sleep,
                           timeouts=WaitTimeouts(**({"interval_s": 10.0} | timeouts)))
        for region in (PRIMARY, SECONDARY):
            behaviour.attach(driver.client(behaviour.service, region), region)
        return driver
    return build


def global_db(**kw) -> GlobalDatabase:
    return GlobalDatabase(clusters=dict(CLUSTERS), writer=PRIMARY,
                          instances={PRIMARY: ["app-primary-1", "app-primary-2"],
                                     SECONDARY: ["app-secondary-1", "app-secondary-2"]}, **kw)


# --- Aurora global database ------------------------------------------------------------------------------
def test_a_promotion_with_data_loss_waits_until_the_secondary_writes(make, fake_time, lines):
    db = global_db(busy_reads=4)
    driver = make(db)
    done = driver.promote_secondary(allow_data_loss=True)
    assert db.writer == SECONDARY and db.operation is None
    failover = next(p for _, name, p in db.calls if name == "FailoverGlobalCluster")
    assert failover == {"GlobalClusterIdentifier": "app-global", "AllowDataLoss": True,
                        "TargetDbClusterIdentifier": cluster_arn(SECONDARY, "app-secondary")}
    assert done["managed"] == "failover" and done["waited_s"] == sum(fake_time.slept) > 0
    assert done["recovery"] == {"call": "failback", "args": {"to_region": PRIMARY}}
    assert any("waiting until app-secondary writes; now FailoverState failing-over" in line for line in lines)
    assert any(line.endswith(f"app-secondary writes after {done['waited_s']:.0f} s") for line in lines)


def test_a_promotion_without_allow_data_loss_is_a_managed_switchover(make):
    db = global_db()
    done = make(db).promote_secondary()
    assert "FailoverGlobalCluster" not in db.names() and "SwitchoverGlobalCluster" in db.names()
    assert done["managed"] == "switchover" and done["allow_data_loss"] is False and db.writer == SECONDARY


def test_the_failback_waits_for_the_failover_to_finish_before_switching_over(make, lines):
    db = global_db(busy_reads=5)
    driver = make(db)
    rds = driver.client("rds", SECONDARY)
    rds.failover_global_cluster(GlobalClusterIdentifier="app-global", AllowDataLoss=True,
                                TargetDbClusterIdentifier=cluster_arn(SECONDARY, "app-secondary"))
    # The behaviour refuses a second operation while the first is under way, as AWS does ...
    with pytest.raises(ClientError, match="InvalidGlobalClusterStateFault"):
        rds.switchover_global_cluster(GlobalClusterIdentifier="app-global",
                                      TargetDbClusterIdentifier=cluster_arn(PRIMARY, "app-primary"))
    # ... so the rollback (failback) waits for the failover, then switches back and waits again.
    done = driver.failback()
    assert db.writer == PRIMARY and db.operation is None
    assert done["from_region"] == SECONDARY and done["to_region"] == PRIMARY and done["managed"] == "switchover"
    assert any("the previous operation finished" in line for line in lines)


def test_a_failover_that_does_not_finish_times_out_with_a_clear_error(make, fake_time):
    db = global_db(busy_reads=10_000)
    with pytest.raises(GameDayError) as raised:
        make(db, global_cluster_s=60.0).promote_secondary(allow_data_loss=True)
    message = str(raised.value)
    assert "promote_secondary of global cluster app-global" in message and "on target aws failed:" in message
    assert "timeout 60 s" in message and "FailoverState failing-over" in message
    assert "describe-global-clusters" in (raised.value.hint or "")
    assert fake_time.now - 1_000.0 == pytest.approx(60.0)


def test_a_cancelled_operation_is_an_error(make):
    db = global_db(busy_reads=3)
    driver = make(db)
    driver.client("rds", SECONDARY).switchover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=cluster_arn(SECONDARY, "app-secondary"))
    db.operation["status"] = "cancelling"
    with pytest.raises(GameDayError, match="AWS is cancelling the operation"):
        driver.failback(to_region=SECONDARY)


def test_a_failback_behind_a_failover_that_never_ends_times_out(make):
    db = global_db()
    db.operation = {"status": "failing-over", "from": PRIMARY, "to": SECONDARY, "data_loss": True, "left": 10**6}
    with pytest.raises(GameDayError, match=r"failback of global cluster app-global .* \(timeout 5 s\)"):
        make(db, global_cluster_s=5.0).failback()
    assert "SwitchoverGlobalCluster" not in db.names()


def test_a_switchover_refused_by_aws_names_the_cause_and_the_way_out(make):
    db = global_db(refuse="InvalidDBClusterStateFault")
    with pytest.raises(GameDayError, match="promote_secondary of global cluster app-global .*failed: "
                                           "InvalidDBClusterStateFault") as raised:
        make(db).promote_secondary()
    assert "allow_data_loss: true" in raised.value.hint


def test_an_untagged_global_cluster_is_refused_before_any_change(make):
    db = global_db(global_tagged=False)
    with pytest.raises(InvalidInput, match="global cluster app-global"):
        make(db).promote_secondary(allow_data_loss=True)
    assert not {"FailoverGlobalCluster", "SwitchoverGlobalCluster"} & set(db.names())


# --- Aurora in-region failover (kill_db_writer) ----------------------------------------------------------
def test_kill_db_writer_waits_for_the_new_writer_and_leaves_nothing_to_undo(make, lines):
    db = global_db(busy_reads=3)
    driver = make(db)
    done = driver.kill_db_writer()
    assert driver.writer_instance(PRIMARY) == "app-primary-2"
    assert done["recovery"] is None and done["undo"] == NOTHING_TO_UNDO
    assert done["waited_s"] > 0 and any("status failing-over" in line for line in lines)


def test_kill_db_writer_restores_the_old_writer_only_when_asked(make):
    db = global_db(busy_reads=2)
    driver = make(db)
    done = driver.kill_db_writer(restore_writer=True)
    assert done["recovery"] == {"call": "failover_cluster",
                                "args": {"region": PRIMARY, "target_instance": "app-primary-1"}}
    driver.failover_cluster(**done["recovery"]["args"])
    assert driver.writer_instance(PRIMARY) == "app-primary-1"


# --- ElastiCache test failover -------------------------------------------------------------------------
def test_a_cache_failover_waits_until_the_replica_is_promoted_and_the_group_available(make, lines):
    cache = ReplicationGroup(busy_reads=3)
    driver = make(cache)
    done = driver.failover_cache()
    assert cache.nodes[0] == "app-cache-002" and cache.left == 0
    assert done["waited_s"] > 0 and any("status modifying" in line for line in lines)
    # a second failover right after does not hit InvalidReplicationGroupState: the first one is finished
    driver.failover_cache()
    assert cache.nodes[0] == "app-cache-001"


def test_the_cache_behaviour_refuses_a_failover_while_one_is_under_way(make):
    cache = ReplicationGroup()
    driver = make(cache)
    ec = driver.client("elasticache", PRIMARY)
    ec.test_failover(ReplicationGroupId="app-cache", NodeGroupId="0001")
    with pytest.raises(ClientError, match="InvalidReplicationGroupState"):
        ec.test_failover(ReplicationGroupId="app-cache", NodeGroupId="0001")


# --- FIS -------------------------------------------------------------------------------------------------
@pytest.fixture
def fis_driver(world, fake_time, lines):
    def build(behaviour) -> AwsTarget:
        data = profile_dict(world)
        data["resources"]["fis_templates"] = {PRIMARY: behaviour.template}
        driver = AwsTarget(profile_from_dict(data), session=session(), log=lines.append, clock=fake_time.clock,
                           sleep=fake_time.sleep)
        behaviour.attach(driver.client("fis", PRIMARY), PRIMARY)
        return driver
    return build


def test_an_fis_outage_is_tagged_waited_until_it_runs_and_its_stop_until_it_has_stopped(fis_driver, lines):
    fis = FisExperiments()
    driver = fis_driver(fis)
    done = driver.fail_region(PRIMARY, "fis")
    experiment = done["experiment_id"]
    assert fis.experiments[experiment]["status"] == "running"
    assert fis.experiments[experiment]["tags"] == {"gameday": "allowed"}  # StopExperiment needs the tag in IAM
    driver.restore_region(**done["recovery"]["args"])
    assert fis.experiments[experiment]["status"] == "stopped"
    assert any("waiting until it has stopped; now status stopping" in line for line in lines)


def test_an_fis_experiment_stopped_at_once_by_its_stop_condition_is_an_error(fis_driver):
    driver = fis_driver(FisExperiments(stop_alarm_in_alarm=True))
    with pytest.raises(GameDayError, match=r"is failed before it ran: Stop condition alarm .* in ALARM"):
        driver.fail_region(PRIMARY, "fis")


# --- Lambda provisioned concurrency: requested is not allocated ------------------------------------------
def _provisioned(lam, statuses: list[dict]) -> None:
    arn = f"arn:aws:lambda:{PRIMARY}:123456789012:function:api"
    target = {"FunctionName": "api", "Qualifier": "live"}
    lam.add_response("get_function_configuration", {"FunctionArn": arn}, {"FunctionName": "api"})
    lam.add_response("list_tags", {"Tags": {"gameday": "allowed"}}, {"Resource": arn})
    lam.add_response("get_provisioned_concurrency_config", {"RequestedProvisionedConcurrentExecutions": 2}, target)
    lam.add_response("put_provisioned_concurrency_config", {"RequestedProvisionedConcurrentExecutions": 20,
                                                            "Status": "IN_PROGRESS"},
                     {**target, "ProvisionedConcurrentExecutions": 20})
    for answer in statuses:
        lam.add_response("get_provisioned_concurrency_config", answer, target)


def test_provisioned_concurrency_is_waited_until_allocated(world, fake_time, lines):
    from botocore.stub import Stubber
    driver = AwsTarget(profile_from_dict(profile_dict(world)), session=session(), log=lines.append,
                       clock=fake_time.clock, sleep=fake_time.sleep)
    with Stubber(driver.client("lambda", PRIMARY)) as lam:
        _provisioned(lam, [{"Status": "IN_PROGRESS", "AllocatedProvisionedConcurrentExecutions": 5}] * 3
                     + [{"Status": "READY", "AllocatedProvisionedConcurrentExecutions": 20}])
        done = driver.set_provisioned_concurrency("api", PRIMARY, "live", 20)
        lam.assert_no_pending_responses()
    assert done["waited_s"] == 30.0 and any("status IN_PROGRESS, allocated 5" in line for line in lines)


def test_provisioned_concurrency_that_cannot_be_allocated_is_an_error(world, fake_time):
    from botocore.stub import Stubber
    driver = AwsTarget(profile_from_dict(profile_dict(world)), session=session(), clock=fake_time.clock,
                       sleep=fake_time.sleep)
    with Stubber(driver.client("lambda", PRIMARY)) as lam:
        _provisioned(lam, [{"Status": "FAILED", "StatusReason": "not enough unreserved concurrency"}])
        with pytest.raises(GameDayError, match="not enough unreserved concurrency"):
            driver.set_provisioned_concurrency("api", PRIMARY, "live", 20)
