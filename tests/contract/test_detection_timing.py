"""Each driver reads how long its target takes to reroute from the target itself (AWS: Route 53's health checks and
the failover record's TTL; local: the running router), and the runner raises an experiment's detection holds
to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.base.models import load_experiment
from gameday.holds import raise_holds
from infra.targets.aws import ALIAS_TTL_S
from infra.targets.base import DetectionTiming
from tests.contract.conftest import PRIMARY, RECORD, SECONDARY, session

ROOT = Path(__file__).resolve().parents[2]


def test_aws_reads_interval_threshold_and_ttl_from_route53(driver, world):
    timing = driver.detection_timing()
    assert (timing.check_interval_s, timing.failure_threshold, timing.dns_ttl_s) == (30.0, 3, 30.0)
    assert timing.reroute_s == 120.0 and world["checks"][PRIMARY] in timing.source


def test_aws_takes_the_slowest_health_check(driver, world):
    session().client("route53", region_name=PRIMARY).update_health_check(
        HealthCheckId=world["checks"][SECONDARY], FailureThreshold=5)
    assert driver.detection_timing().reroute_s == 30 * 5 + 30


def test_an_alias_failover_record_counts_the_ttl_route53_gives_alias_answers(driver, world):
    r53 = session().client("route53", region_name=PRIMARY)
    for region, role in ((PRIMARY, "PRIMARY"), (SECONDARY, "SECONDARY")):
        old = driver._failover_record(region)
        r53.change_resource_record_sets(HostedZoneId=world["zone"], ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": old},
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": RECORD, "Type": "A", "SetIdentifier": region, "Failover": role,
                "HealthCheckId": world["checks"][region],
                "AliasTarget": {"HostedZoneId": "Z32O12XQLNTSW2", "DNSName": f"{region}.elb.amazonaws.com.",
                                "EvaluateTargetHealth": False}}}]})
    assert driver.detection_timing().dns_ttl_s == ALIAS_TTL_S


def test_a_profile_without_route53_has_no_dns_failover_to_wait_for(make_driver, world):
    resources = {"database": {"global_cluster_id": "app-global"}}
    timing = make_driver(resources=resources).detection_timing()
    assert timing.reroute_s == 0 and "no Route 53" in timing.source


def test_the_shipped_region_failover_holds_outlast_route53_on_aws():
    spec = load_experiment(ROOT / "experiments/region-failover.yaml")
    configuration = spec.raw["configuration"]
    route53 = DetectionTiming(30.0, 3, 60.0, "Route 53")
    variables, changes = raise_holds(configuration, {}, spec.gameday.windows.detection_holds, route53)
    assert variables == {"hold_s": 150} and [c.key for c in changes] == ["hold_s"]
    assert "30 s x 3 failed checks + 60 s TTL = 150 s" in changes[0].line()
    quick, _ = raise_holds(configuration, spec.gameday.quick.configuration, spec.gameday.windows.detection_holds,
                           route53)
    assert quick["hold_s"] == 150 and quick["failover_delay_s"] == spec.gameday.quick.configuration["failover_delay_s"]


@pytest.mark.parametrize("experiment", sorted((ROOT / "experiments").glob("*.yaml")), ids=lambda p: p.stem)
def test_on_a_default_local_stack_no_shipped_hold_is_raised(experiment, tmp_path):
    """The local router's default timing (1 s x 3 + 0 s; read from the settings while no router answers) leaves
    every shipped experiment's holds, full and quick, as written: local runs keep their length."""
    from gameday.base.settings import Settings
    from infra.targets.local import LocalTarget, with_base_port
    from tests.conftest import free_base_port

    local = LocalTarget(with_base_port(Settings(stack_root=tmp_path), free_base_port())).detection_timing()
    assert local.reroute_s == 3.0 and "did not answer" in local.source
    spec = load_experiment(experiment)
    configuration, keys = spec.raw.get("configuration") or {}, spec.gameday.windows.detection_holds
    for variables in ({}, spec.gameday.quick.configuration):
        assert raise_holds(configuration, variables, keys, local) == (dict(variables), [])
