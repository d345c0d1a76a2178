"""`gameday aws check --profile P`: read-only readiness of an account before a GameDay, on moto plus the behaviour
layer for what moto lacks (the global database's state, IAM's policy simulator, Lambda's account settings,
ElastiCache's events). Exit 0 ready, 1 not ready with every reason, 2 a profile that cannot be used."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.cli import cli
from infra.targets.aws import AwsTarget
from infra.targets.aws_credentials import session_for
from infra.targets.aws_readiness import readiness, ready
from infra.targets.profile import profile_from_dict
from tests.contract.aws_behaviour import (
    FisAccount,
    GlobalDatabase,
    IamSimulator,
    LambdaAccount,
    ReplicationGroup,
    ServiceQuotas,
    _Behaviour,
)
from tests.contract.conftest import PRIMARY, SECONDARY, profile_dict, session

ROLE = "arn:aws:iam::123456789012:role/gameday"
CLUSTERS = {PRIMARY: "app-primary", SECONDARY: "app-secondary"}


@pytest.fixture
def gameday_role(world):
    session().client("iam", region_name=PRIMARY).create_role(RoleName="gameday", AssumeRolePolicyDocument="{}")
    return ROLE


def behaviours(**changes) -> dict:
    found = {"db": GlobalDatabase(clusters=dict(CLUSTERS), writer=PRIMARY,
                                  instances={PRIMARY: ["app-primary-1", "app-primary-2"],
                                             SECONDARY: ["app-secondary-1"]}),
             "cache": ReplicationGroup(), "iam": IamSimulator(), "lambda": LambdaAccount(), "fis": FisAccount(),
             "quotas": ServiceQuotas()}
    return found | changes


def _ready_profile(world, **changes) -> dict:
    """The seeded world's profile without its deliberately untagged google kill switch."""
    changes = {"safety": {"expiry_role_arn": "arn:aws:iam::123456789012:role/gameday-expiry"}} | changes
    data = profile_dict(world, credentials={"role_arn": ROLE}, **changes)
    data["resources"]["kill_switches"] = {"bedrock": data["resources"]["kill_switches"]["bedrock"]}
    return data


def _driver(world, found: dict, functions: dict | None = None, fis_templates: dict | None = None) -> AwsTarget:
    data = _ready_profile(world)
    if functions is not None:
        data["resources"]["functions"] = functions
    if fis_templates is not None:
        data["resources"]["fis_templates"] = fis_templates
    loaded = profile_from_dict(data)
    driver = AwsTarget(loaded, session=session_for(loaded, base=session()), dry_run=True,
                       confirm_account=loaded.account_id)
    for behaviour in found.values():
        for region in (PRIMARY, SECONDARY):
            behaviour.attach(driver.client(behaviour.service, region), region)
    return driver


def _by_status(findings) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"ok": [], "warn": [], "fail": []}
    for f in findings:
        out[f.status].append(f"{f.check}: {f.detail}")
    return out


def test_a_ready_account_passes_every_check(world, gameday_role):
    found = behaviours()
    findings = readiness(_driver(world, found))
    by = _by_status(findings)
    assert ready(findings), by
    assert by["warn"] == [] and by["fail"] == []
    checks = {f.check for f in findings}
    assert {"account", "global database", "permissions", f"quota: lambda concurrency ({PRIMARY})",
            f"quota: elasticache test failover ({PRIMARY})"} <= checks
    assert f"resource function api ({SECONDARY})" in checks and f"resource DB cluster app-primary ({PRIMARY})" in checks
    assert any("allowed all" in line for line in by["ok"])
    # Read-only: nothing was changed (the driver runs as a dry run; no mutating call was even attempted).
    assert [name for _, name, _ in found["db"].calls if not name.startswith("Describe")] == []


def test_every_reason_an_account_is_not_ready_is_named(world, gameday_role):
    db = GlobalDatabase(clusters=dict(CLUSTERS), writer=SECONDARY, instances={PRIMARY: ["app-primary-1"],
                                                                            SECONDARY: ["app-secondary-1"]})
    found = behaviours(db=db, iam=IamSimulator(denied={"rds:FailoverDBCluster": "implicitDeny",
                                                       "ssm:PutParameter": "explicitDeny"}),
                       cache=ReplicationGroup(used=15), **{"lambda": LambdaAccount(limit=1000, unreserved=150)})
    findings = readiness(_driver(world, found, functions={PRIMARY: ["api", "billing"]}))
    by = _by_status(findings)
    assert not ready(findings)
    failed = "\n".join(by["fail"])
    assert "resource function billing (eu-central-1): found but not tagged gameday=allowed" in failed
    assert "the writer is app-secondary, not the primary region's app-primary" in failed
    assert "rds:FailoverDBCluster (implicitDeny)" in failed and "ssm:PutParameter (explicitDeny)" in failed
    assert "TestFailover node groups in the last 24 hours: 15 of 15 (100%" in failed
    assert any("reserved concurrency of the account limit: 850 of 1000 (85%" in line for line in by["warn"])


def test_fis_is_ready_when_its_safety_lever_is_off_and_the_active_experiments_quota_has_room(world, gameday_role):
    found = behaviours(fis=FisAccount(active=2))
    by = _by_status(readiness(_driver(world, found, fis_templates={PRIMARY: "EXT1a2b3c4d5e6f7"})))
    assert f"fis safety lever ({PRIMARY}): disengaged" in by["ok"]
    assert (f"quota: fis active experiments ({PRIMARY}): 2 active + the GameDay's own = 3 of 5 (AWS's default quota: "
            "Service Quotas lists none; warning from 80%)") in by["ok"]
    assert any(line.startswith("detection: the target reroutes after 120 s (30 s x 3 + TTL 30 s") for line in by["ok"])


@pytest.mark.parametrize(("fis", "quota", "expected"), [
    (FisAccount(lever="engaged"), None, "fis safety lever (eu-central-1): engaged: FIS starts no experiment"),
    (FisAccount(active=2), 2, "2 active + the GameDay's own = 3 of 2 (quota from Service Quotas"),
])
def test_an_engaged_safety_lever_or_a_full_fis_quota_is_not_ready(world, gameday_role, fis, quota, expected):
    found = behaviours(fis=fis, quotas=ServiceQuotas(fis_active=quota))
    findings = readiness(_driver(world, found, fis_templates={PRIMARY: "EXT1a2b3c4d5e6f7"}))
    assert not ready(findings)
    assert any(expected in line for line in _by_status(findings)["fail"]), _by_status(findings)["fail"]


def test_a_profile_whose_faults_would_not_expire_on_aws_is_not_ready(world, gameday_role):
    data = _ready_profile(world, safety={})
    loaded = profile_from_dict(data)
    driver = AwsTarget(loaded, session=session_for(loaded, base=session()), dry_run=True,
                       confirm_account=loaded.account_id)
    for behaviour in behaviours().values():
        for region in (PRIMARY, SECONDARY):
            behaviour.attach(driver.client(behaviour.service, region), region)
    findings = readiness(driver)
    assert not ready(findings)
    assert any(line.startswith("fault expiry: the profile names no safety.expiry_role_arn")
               for line in _by_status(findings)["fail"])


def test_a_failover_under_way_is_not_ready(world, gameday_role):
    found = behaviours()
    driver = _driver(world, found)
    found["db"].operation = {"status": "failing-over", "from": PRIMARY, "to": SECONDARY, "data_loss": True,
                             "left": 100}
    by = _by_status(readiness(driver))
    assert any(line.startswith("global database: app-global:") and "failing-over operation is under way" in line
               for line in by["fail"]), by


# --- the command line ---------------------------------------------------------------------------------
def _profile_file(world, tmp_path: Path, **changes) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(_ready_profile(world, **changes)))
    return path


def _install(monkeypatch, found: dict) -> None:
    for behaviour in found.values():
        behaviour.install(monkeypatch)


def test_the_command_says_ready_with_exit_0_and_json_on_request(world, gameday_role, tmp_path, monkeypatch):
    _install(monkeypatch, behaviours())
    profile = _profile_file(world, tmp_path)
    result = CliRunner().invoke(cli, ["aws", "check", "--profile", str(profile)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "account 123456789012 (staging): READY"
    result = CliRunner().invoke(cli, ["aws", "check", "--profile", str(profile), "--json"], catch_exceptions=False)
    doc = json.loads(result.output)
    assert doc["ready"] is True and {f["status"] for f in doc["findings"]} == {"ok"}


def test_the_command_says_not_ready_with_exit_1_and_the_reasons(world, gameday_role, tmp_path, monkeypatch):
    _install(monkeypatch, behaviours(iam=IamSimulator(denied={"fis:StartExperiment": "implicitDeny"})))
    result = CliRunner().invoke(cli, ["aws", "check", "--profile", str(_profile_file(world, tmp_path))],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "FAIL permissions: role arn:aws:iam::123456789012:role/gameday is not allowed 1 of" in result.output
    assert "fis:StartExperiment (implicitDeny)" in result.output
    assert "NOT READY (1 check(s) failed)" in result.output


def test_a_prod_profile_is_checked_without_a_confirmation_and_nothing_changes(world, gameday_role, tmp_path,
                                                                             monkeypatch):
    found = behaviours()
    _install(monkeypatch, found)
    result = CliRunner().invoke(cli, ["aws", "check", "--profile",
                                      str(_profile_file(world, tmp_path, environment="prod"))], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "(prod): READY" in result.output
    assert all(name.startswith(("Describe", "List", "Get", "Simulate")) for b in found.values()
               for _, name, _ in b.calls)


def test_a_profile_that_cannot_be_used_exits_2(world, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\naccount_id: '12'\n")
    result = CliRunner().invoke(cli, ["aws", "check", "--profile", str(bad)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "account_id" in result.output


# --- the starting state, read with chaostoolkit-aws's probes (aws_readings.py) ------------------------------
@dataclass
class StopConditions(_Behaviour):
    """A profile FIS template whose stop condition is the region's abort alarm (moto keeps no template state)."""

    service = "fis"

    def __post_init__(self) -> None:
        self.calls = []

    def _GetExperimentTemplate(self, region: str, params: dict):
        alarm = f"arn:aws:cloudwatch:{region}:123456789012:alarm:gameday-abort-{region}"
        return {"experimentTemplate": {"id": params["id"], "tags": {"gameday": "allowed"},
                                       "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": alarm}]}}


@dataclass
class Observers(_Behaviour):
    """Route 53's health checkers: moto reports every check healthy; here `failing` of 3 observers do not."""

    failing: int = 3
    service = "route53"

    def __post_init__(self) -> None:
        self.calls = []

    def _GetHealthCheckStatus(self, region, params: dict):
        status = ["Failure: Connection timed out"] * self.failing + ["Success: HTTP Status Code 200"] * (
            3 - self.failing)
        return {"HealthCheckObservations": [{"Region": "us-east-1", "IPAddress": "192.0.2.1",
                                             "StatusReport": {"Status": s}} for s in status]}


def _abort_alarm(state: str) -> None:
    cw = session().client("cloudwatch", region_name=PRIMARY)
    name = f"gameday-abort-{PRIMARY}"
    cw.put_metric_alarm(AlarmName=name, MetricName="Abort", Namespace="GameDay", Statistic="Maximum", Period=60,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the test")


@pytest.mark.parametrize(("state", "status", "detail"), [
    ("OK", "ok", "state OK"),
    ("ALARM", "fail", "state ALARM: FIS stops template EXT1a2b3c4d5e6f7 at once; clear the alarm first"),
    ("INSUFFICIENT_DATA", "warn", "state INSUFFICIENT_DATA: no data yet"),
])
def test_a_stop_alarm_already_in_alarm_is_not_ready(world, gameday_role, state, status, detail):
    _abort_alarm(state)
    found = behaviours(stops=StopConditions())
    by = _by_status(readiness(_driver(world, found, fis_templates={PRIMARY: "EXT1a2b3c4d5e6f7"})))
    assert any(line.startswith(f"stop alarm gameday-abort-{PRIMARY} ({PRIMARY}): {detail}") for line in by[status]), by


def test_a_region_route53_already_sees_unhealthy_is_not_ready(world, gameday_role, monkeypatch):
    Observers(failing=2).install(monkeypatch)  # chaostoolkit-aws makes its own clients: answer every client
    findings = readiness(_driver(world, behaviours()))
    assert not ready(findings)
    failed = _by_status(findings)["fail"]
    assert any(f"1 of 3 Route 53 observers see it healthy: {PRIMARY} is failed over already" in line
               for line in failed), failed


def test_the_starting_state_is_read_through_chaostoolkit_aws_and_recorded_as_declared_reads(world, gameday_role):
    driver = _driver(world, behaviours())
    by = _by_status(readiness(driver))
    assert f"DB cluster app-primary ({PRIMARY}): status available" in by["ok"]
    assert f"health check {world['checks'][PRIMARY]} ({PRIMARY}): 1 of 1 Route 53 observers see it healthy" \
        in by["ok"]  # moto's one observer
    actions = {c["action"] for c in driver.recorder.calls}
    assert {"route53:GetHealthCheckStatus", "rds:DescribeDBClusters"} <= actions
