"""The fault ledger and the lease in the AWS account (infra/targets/aws_ledger.py, a DynamoDB table on moto): a
second machine recovers exactly what the first left open; two harnesses cannot hold one target at once, and the
second is refused naming the first; a lost harness's lease expires."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gameday.base.ledger import open_from
from gameday.cli import cli
from gameday.faults import cut_link, fail_region, recover_open
from infra.targets import ledger_for, using
from infra.targets.aws_ledger import LeaseHeld
from tests.contract.conftest import PRIMARY, SECONDARY, session
from tests.contract.test_aws_cli import stack_root, write_profile  # noqa: F401  (fixtures)

TABLE = "gameday-ledger"
BEDROCK = "/gameday/providers/bedrock/disabled"


@pytest.fixture
def table(world):
    session().client("dynamodb", region_name=PRIMARY).create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    return TABLE


@pytest.fixture
def machine(make_driver, table, tmp_path):
    """`machine(name)` -> a driver with its own local state (another host), the ledger in the account's table."""
    def make(name: str, clock=None):
        driver = make_driver(safety={"ledger_table": table})
        driver._state_root = tmp_path / name
        if clock is not None:
            driver._clock = clock
        return driver
    return make


def inverted(world) -> bool:
    return session().client("route53", region_name=PRIMARY).get_health_check(
        HealthCheckId=world["checks"][PRIMARY])["HealthCheck"]["HealthCheckConfig"]["Inverted"]


def test_a_second_machine_recovers_exactly_what_the_first_left_open(machine, world):
    first, second = machine("ci-runner-1"), machine("laptop")
    with using(first):  # the CI runner dies after these: no rollback, no safety net, its disk is gone
        fail_region(PRIMARY, "health_check")
        cut_link("provider-bedrock")
    assert ledger_for(first).where == f"dynamodb://{TABLE}/ledger#contract#123456789012"
    assert [e["kind"] for e in open_from(ledger_for(second).entries())] == ["region_outage", "link_cut"]
    done = recover_open(second)
    assert [d["recovery"] for d in done] == ["restore_provider_kill_switch", "restore_region"]
    assert inverted(world) is False
    for region in (PRIMARY, SECONDARY):
        assert session().client("ssm", region_name=region).get_parameter(Name=BEDROCK)["Parameter"]["Value"] == "off"
    assert ledger_for(first).open_entries() == []  # what the first machine would read: closed
    assert not (second.ledger_path.exists() or first.ledger_path.exists())  # nothing in either machine's file


def test_a_second_harness_is_refused_naming_the_holder_of_the_lease(machine):
    first, second = machine("ci-runner-1"), machine("ci-runner-2")
    with first.exclusive("20261201T120000Z-region-failover", 600):
        with pytest.raises(LeaseHeld, match=r"run 20261201T130000Z-x refused: the target's lease in dynamodb://"
                                            r"gameday-ledger/.* is held by run 20261201T120000Z-region-failover on "
                                            r"host .* \(pid \d+\) for another \d+ s"):
            with second.exclusive("20261201T130000Z-x", 600):
                pass
    with second.exclusive("20261201T130000Z-x", 600) as holder:  # given back: free again
        assert holder["run_id"] == "20261201T130000Z-x"


def test_a_lost_harnesss_lease_expires(machine):
    now = [1000.0]
    lost, later = machine("lost", clock=lambda: now[0]), machine("later", clock=lambda: now[0])
    held = lost.exclusive("lost-run", 600)
    held.__enter__()  # never given back: the harness died
    with pytest.raises(LeaseHeld), later.exclusive("next-run", 600):
        pass
    now[0] += 601
    with later.exclusive("next-run", 600) as holder:
        assert holder["run_id"] == "next-run"


@pytest.mark.usefixtures("stack_root")
def test_gameday_run_is_refused_with_exit_2_while_another_harness_holds_the_target(
        world, table, write_profile, tmp_path):  # noqa: F811 (the fixture imported above)
    from gameday.base.settings import Settings
    from infra.targets.aws import AwsTarget
    profile = write_profile(safety={"ledger_table": table})
    other = AwsTarget.from_environment(Settings(), {"gameday_target_profile": str(profile)})
    with other.exclusive("20261201T120000Z-other-host", 600):
        result = CliRunner().invoke(cli, ["run", "experiments/region-failover.yaml", "--target", "aws", "--profile",
                                          str(profile), "--out", str(tmp_path / "run")], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "is held by run 20261201T120000Z-other-host" in result.output
    assert not (tmp_path / "run").exists() and inverted(world) is False


def test_aws_check_reads_the_ledger_table_and_fails_while_a_run_holds_the_lease(machine):
    from infra.targets.aws_readiness import _ledger
    driver = machine("check")
    [free] = _ledger(driver)
    assert (free.status, free.detail) == ("ok", f"dynamodb://{TABLE}/ledger#contract#123456789012: readable, lease "
                                                "free, 0 open fault(s)")
    with machine("ci-runner-1").exclusive("run-under-way", 600):
        [held] = _ledger(driver)
    assert held.status == "fail" and "lease is held by run run-under-way" in held.detail
