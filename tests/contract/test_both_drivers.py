"""The behavioural contract, run against every registered driver through the experiment's own actions (gameday.faults,
remediations.failover): a region fault is written ahead and restored exactly; the ledger alone restores after a
crash; failover moves the writer and the rollbacks bring it back; a dry run changes nothing.

`local` is a real local stack (one per module; integration); `moto` is the AWS driver on moto in process. What
differs is only how each target shows its state (links vs. the health check's inversion, writer region vs.
writer instance) and the region failure mode (`partition` locally, `health_check` on aws).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday import faults
from gameday.base.ledger import read_entries
from gameday.cli import cli
from infra.targets import ledger_for, using
from infra.targets.aws import AwsTarget
from infra.targets.local import LocalTarget
from infra.targets.profile import profile_from_dict
from infra.targets.registry import driver_class, missing_members, names
from remediations import failover
from tests.contract.conftest import PRIMARY, profile_dict, session
from tests.support import running_stack

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Case:
    name: str
    driver: object
    mode: str                                   # region failure mode on this target
    region_failed: Callable[[], bool]
    writer: Callable[[], object]                # writer region (local) or writer instance (aws)
    fresh: Callable[[], object]                 # another driver on the same target, as after a crash
    state: Callable[[], object]                 # everything a dry run must leave alone
    cli_target: list[str]
    promotes_itself: bool = False               # a writer loss is remediated by the target itself (Aurora)
    switchover_on_stub: bool = False            # failback needs an API the stand-in lacks (Stubber-tested)
    writer_fails_back: bool = True              # aws: the promoted reader keeps writing (a failback = 2nd outage)


@pytest.fixture(scope="module")
def local_stack(stack_root: Path):
    with running_stack(stack_root, "contract", router_failure_threshold=3) as driver:
        yield driver.settings


def _local(request) -> Case:
    settings = request.getfixturevalue("local_stack")
    driver = LocalTarget(settings)
    links = driver.ops.region_links(PRIMARY)

    def disabled() -> list[str]:
        return [lk.name for lk in driver.layout.links() if not driver.ops.toxiproxy.proxy(lk.name)["enabled"]]

    return Case("local", driver, "partition",
                region_failed=lambda: all(not driver.ops.toxiproxy.proxy(link)["enabled"] for link in links),
                writer=driver.writer_regions, fresh=lambda: LocalTarget(settings),
                state=lambda: (disabled(), driver.writer_regions(), read_entries(driver.ledger_path)),
                cli_target=["--base-port", str(settings.base_port)])


def _moto(request, tmp_path: Path) -> Case:
    world = request.getfixturevalue("world")
    data = profile_dict(world)
    profile = profile_from_dict(data)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))

    def make() -> AwsTarget:
        return AwsTarget(profile, session=session(), state_root=tmp_path / "stacks")

    driver = make()
    check = world["checks"][PRIMARY]
    r53, ssm = session().client("route53", region_name=PRIMARY), session().client("ssm", region_name=PRIMARY)
    inverted = lambda: r53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]["Inverted"]  # noqa: E731
    return Case("moto", driver, "health_check", region_failed=inverted,
                writer=lambda: driver.writer_instance(PRIMARY), fresh=make,
                state=lambda: (inverted(), driver.writer_instance(PRIMARY),
                               ssm.get_parameter(Name="/gameday/providers/bedrock/disabled")["Parameter"]["Version"]),
                cli_target=["--target", "aws", "--profile", str(path)], promotes_itself=True,
                switchover_on_stub=True, writer_fails_back=False)


#: How each registered target is set up for the contract suite (aws: on moto, in process).
CASES = {"local": _local, "aws": _moto}


def test_every_registered_target_runs_the_contract_suite():
    assert set(names()) <= set(CASES), f"no contract case for {sorted(set(names()) - set(CASES))}"
    for name in names():
        assert missing_members(driver_class(name)) == []


@pytest.fixture(params=[pytest.param("local", marks=[pytest.mark.integration, pytest.mark.slow]),
                        pytest.param("aws", id="aws-moto")])
def case(request, tmp_path, monkeypatch) -> Case:
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(tmp_path / "stacks"))
    return CASES[request.param](request) if request.param == "local" else CASES[request.param](request, tmp_path)


def test_a_region_fault_is_written_ahead_and_restored_exactly(case: Case):
    assert not case.region_failed()
    with using(case.driver):
        faults.fail_region(PRIMARY, case.mode)
        assert case.region_failed()
        lines = read_entries(case.driver.ledger_path)
        begin = next(e for e in reversed(lines) if e["event"] == "begin" and e["kind"] == "region_outage")
        injected = next(e for e in lines if e["id"] == begin["id"] and e["event"] == "injected")
        assert begin["at_s"] <= injected["at_s"] and begin["recovery"]["call"] == "restore_region"
        faults.restore_region(PRIMARY)
    assert not case.region_failed()
    assert ledger_for(case.driver).open_entries() == []


def test_the_ledger_alone_restores_after_a_crash(case: Case):
    with using(case.driver):
        faults.fail_region(PRIMARY, case.mode)
    assert case.region_failed()
    # The run is gone (no rollback, no safety net); a new process finds the open entry in the ledger.
    done = faults.recover_open(case.fresh())
    assert [d["kind"] for d in done] == ["region_outage"]
    assert not case.region_failed()
    assert ledger_for(case.fresh()).open_entries() == []


def test_failover_moves_the_writer_and_the_rollbacks_bring_it_back(case: Case):
    before = case.writer()
    with using(case.driver):
        faults.kill_db_writer()
        done = failover.restore_writer()  # local: the other region's standby; aws: Aurora's in-region failover
        assert case.writer() not in (before, [], None)
        assert done["cross_region"] is not case.promotes_itself  # Aurora's failover stays in the writer's region
        faults.restore_region(PRIMARY)  # the experiment's rollbacks
        if not case.switchover_on_stub:  # moto lacks switchover_global_cluster (Stubber-tested: test_aws_driver.py)
            failover.failback()
    assert (case.writer() == before) is case.writer_fails_back
    assert ledger_for(case.driver).open_entries() == []


def test_a_dry_run_changes_nothing(case: Case):
    before = case.state()
    result = CliRunner().invoke(cli, ["run", str(ROOT / "experiments/ai-provider-outage.yaml"), "--dry-run",
                                      *case.cli_target], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert case.state() == before
