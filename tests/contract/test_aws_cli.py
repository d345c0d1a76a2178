"""`--target aws` through the command line, on moto in process (click's CliRunner): the dry run prints every AWS
call and changes nothing, `gameday recover --target aws` restores what a crashed run left open, and the guard
(prod confirmation, account, tag) refuses with exit 2 before anything is touched. Checked on the moto side."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.base.ledger import read_entries
from gameday.base.settings import Settings
from gameday.cli import cli
from gameday.faults import cut_link, fail_region
from infra.targets import using
from infra.targets.aws import AwsTarget
from tests.contract.conftest import (
    PRIMARY,
    SECONDARY,
    profile_dict,
    seed_origins,
    seed_release,
    session,
    tag_global_cluster,
)

ROOT = Path(__file__).resolve().parents[2]
BEDROCK = "/gameday/providers/bedrock/disabled"


def aws(service: str, region: str = PRIMARY):
    return session().client(service, region_name=region)


def fis_template(region: str, tagged: bool = True) -> str:
    answer = aws("fis", region).create_experiment_template(
        clientToken=f"gameday-{region}", description="GameDay region outage",
        roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}],
        actions={"cut": {"actionId": "aws:network:disrupt-connectivity", "parameters": {"duration": "PT5M"},
                         "targets": {"Subnets": "subnets"}}},
        targets={"subnets": {"resourceType": "aws:ec2:subnet", "resourceTags": {"gameday": "allowed"},
                             "selectionMode": "ALL"}},
        tags={"gameday": "allowed"} if tagged else {})
    return answer["experimentTemplate"]["id"]


@pytest.fixture
def stack_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "stacks"
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(root))
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    return root


@pytest.fixture
def write_profile(world, tmp_path):
    """`write_profile(fis_untagged=False, **top_level_overrides)` -> a profile file for the seeded moto world."""
    aws("rds").create_global_cluster(GlobalClusterIdentifier="app-global", Engine="aurora-postgresql")
    tag_global_cluster("app-global")

    def write(*, fis_untagged: bool = False, kill_switches: dict | None = None, resources: dict | None = None,
              **overrides) -> Path:
        data = profile_dict(world, **overrides)
        data["resources"].update(resources or {})
        data["resources"]["fis_templates"] = {PRIMARY: fis_template(PRIMARY, tagged=not fis_untagged),
                                              SECONDARY: fis_template(SECONDARY)}
        if kill_switches is not None:
            data["resources"]["kill_switches"] = kill_switches
        path = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path
    return write


def gameday(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def untouched(world) -> dict:
    """What the experiments could change, read from moto."""
    return {"inverted": {r: aws("route53").get_health_check(HealthCheckId=c)["HealthCheck"]["HealthCheckConfig"]
                         ["Inverted"] for r, c in world["checks"].items()},
            "fis": [e for r in (PRIMARY, SECONDARY) for e in aws("fis", r).list_experiments()["experiments"]],
            "kill_switch": {r: aws("ssm", r).get_parameter(Name=BEDROCK)["Parameter"]["Version"]
                            for r in (PRIMARY, SECONDARY)},
            "writer": [m["DBInstanceIdentifier"] for m in aws("rds").describe_db_clusters(
                DBClusterIdentifier="app-primary")["DBClusters"][0]["DBClusterMembers"] if m["IsClusterWriter"]]}


# --- dry run ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("experiment, changes", [
    # promote_secondary without allow_data_loss is a managed switchover (no data loss) on aws
    ("region-failover", ["fis:StartExperiment", "rds:SwitchoverGlobalCluster"]),
    ("db-writer-failover", ["rds:FailoverDBCluster", "rds:SwitchoverGlobalCluster"]),
    ("ai-provider-outage", ["ssm:PutParameter"]),
])
def test_a_dry_run_prints_every_aws_call_and_changes_nothing(world, write_profile, stack_root, experiment, changes):
    profile = write_profile()
    before = untouched(world)
    result = gameday("run", ROOT / "experiments" / f"{experiment}.yaml", "--target", "aws", "--profile", profile,
                     "--dry-run")
    assert result.exit_code == 0, result.output
    for action in changes:
        assert f"[dry-run] would call {action} in " in result.output
    assert "[dry-run] calling sts:GetCallerIdentity" in result.output  # reads are sent: the guard needs them
    assert "changes_not_sent" not in result.output and " change(s) printed and not sent" in result.output
    assert untouched(world) == before
    assert not (stack_root / f"aws-contract-{profile_dict(world)['account_id']}").exists()  # real ledger untouched


def test_a_writer_loss_is_remediated_in_region_on_aws_never_by_a_cross_region_move(world, write_profile):
    result = gameday("run", ROOT / "experiments" / "db-writer-failover.yaml", "--target", "aws", "--profile",
                     write_profile(), "--dry-run")
    assert result.exit_code == 0, result.output
    method = result.output.split("rollbacks.0")[0]
    assert "[dry-run] would call rds:FailoverDBCluster in eu-central-1" in method
    assert "GlobalCluster" not in method.split("restore-writer")[1]  # neither a switchover nor AllowDataLoss
    assert '"cross_region": false' in method


def test_a_dry_run_that_would_touch_an_untagged_resource_is_refused(world, write_profile, stack_root):
    profile = write_profile(fis_untagged=True)
    before = untouched(world)
    result = gameday("run", ROOT / "experiments/region-failover.yaml", "--target", "aws", "--profile", profile,
                     "--dry-run")
    assert result.exit_code == 2
    assert "does not carry the GameDay tag gameday=allowed" in result.output
    assert untouched(world) == before


# --- the guard through the CLI ------------------------------------------------------------------------
def test_prod_without_confirmation_exits_2_and_touches_nothing(world, write_profile, stack_root, tmp_path):
    profile = write_profile(environment="prod")
    before = untouched(world)
    out = tmp_path / "run"
    result = gameday("run", ROOT / "experiments/region-failover.yaml", "--target", "aws", "--profile", profile,
                     "--out", out)
    assert result.exit_code == 2
    assert "environment is prod" in result.output and "--confirm-account 123456789012" in result.output
    wrong = gameday("run", ROOT / "experiments/region-failover.yaml", "--target", "aws", "--profile", profile,
                    "--out", out, "--confirm-account", "999999999999")
    assert wrong.exit_code == 2 and "'999999999999' given" in wrong.output
    assert untouched(world) == before and not out.exists() and not stack_root.exists()


def test_a_profile_of_another_account_exits_2_before_anything_starts(world, write_profile, stack_root, tmp_path):
    profile = write_profile(account_id="111111111111", accounts={"111111111111": "staging"})
    before = untouched(world)
    out = tmp_path / "run"
    result = gameday("run", ROOT / "experiments/region-failover.yaml", "--target", "aws", "--profile", profile,
                     "--out", out)
    assert result.exit_code == 2
    assert "credentials belong to account 123456789012, the profile allows only 111111111111" in result.output
    assert untouched(world) == before and not out.exists()


def test_an_untagged_kill_switch_is_refused_through_the_cli(world, write_profile, stack_root):
    profile = write_profile(kill_switches={"bedrock": "/gameday/providers/google/disabled"})  # untagged parameter
    result = gameday("run", ROOT / "experiments/ai-provider-outage.yaml", "--target", "aws", "--profile", profile,
                     "--dry-run")
    assert result.exit_code == 2
    assert "SSM parameter /gameday/providers/google/disabled" in result.output and "GameDay tag" in result.output


def test_an_experiment_the_profile_gives_no_aws_meaning_exits_2_naming_its_location(world, write_profile, stack_root):
    profile = write_profile()  # names no S3 origins
    result = gameday("run", ROOT / "experiments/edge-origin-failover.yaml", "--target", "aws", "--profile", profile,
                     "--dry-run")
    assert result.exit_code == 2
    assert "method.0.provider.arguments.link: link 'origin-eu-central-1' has no AWS meaning" in result.output


@pytest.mark.parametrize("experiment, changes", [
    ("ai-provider-throttle", ["ssm:PutParameter"]),
    ("bad-deploy-rollback", ["lambda:UpdateAlias"]),
    ("edge-origin-failover", ["s3:PutBucketPolicy"]),
])
def test_a_dry_run_of_the_delivery_faults_changes_nothing(world, write_profile, stack_root, experiment, changes):
    deployment, origins = seed_release(), seed_origins()
    profile = write_profile(resources={"deployments": {PRIMARY: deployment}, "origins": origins})
    before = {"alias": aws("lambda").get_alias(FunctionName="api", Name="live")["FunctionVersion"],
              "policy": aws("s3").get_bucket_policy(Bucket=origins[PRIMARY])["Policy"], **untouched(world)}
    result = gameday("run", ROOT / "experiments" / f"{experiment}.yaml", "--target", "aws", "--profile", profile,
                     "--dry-run")
    assert result.exit_code == 0, result.output
    for action in changes:
        assert f"[dry-run] would call {action} in " in result.output
    after = {"alias": aws("lambda").get_alias(FunctionName="api", Name="live")["FunctionVersion"],
             "policy": aws("s3").get_bucket_policy(Bucket=origins[PRIMARY])["Policy"], **untouched(world)}
    assert after == before


# --- recovery after a crash ---------------------------------------------------------------------------
def test_recover_restores_what_a_crashed_run_left_open_from_the_profiles_ledger(world, write_profile, stack_root):
    profile = write_profile()
    driver = AwsTarget.from_environment(Settings(), {"gameday_target_profile": str(profile)})
    with using(driver):  # the run "crashes" after these: no rollback, no safety net
        fail_region(PRIMARY, "health_check")
        cut_link("provider-bedrock")
    assert untouched(world)["inverted"][PRIMARY] is True
    assert aws("ssm", SECONDARY).get_parameter(Name=BEDROCK)["Parameter"]["Value"] == "on"
    begun = [e for e in read_entries(driver.ledger_path) if e["event"] == "begin"]
    assert begun[0]["recovery"] == {"call": "restore_region", "args": {
        "region": PRIMARY, "mode": "health_check", "previous": {"inverted": False}, "fault_set": {"inverted": True}}}
    assert begun[1]["recovery"]["args"]["previous"] == {PRIMARY: "off", SECONDARY: "off"}

    result = gameday("recover", "--target", "aws", "--profile", profile)
    assert result.exit_code == 0, result.output
    assert "recovered 2 open fault(s)" in result.output
    assert untouched(world)["inverted"] == {PRIMARY: False, SECONDARY: False}
    for region in (PRIMARY, SECONDARY):
        assert aws("ssm", region).get_parameter(Name=BEDROCK)["Parameter"]["Value"] == "off"
    again = gameday("recover", "--target", "aws", "--profile", profile)
    assert again.exit_code == 0 and "no open fault in the ledger" in again.output


def test_an_old_open_fault_is_listed_not_replayed_by_a_run_and_recover_restores_it(world, write_profile, stack_root,
                                                                                   tmp_path, monkeypatch):
    profile = write_profile()
    driver = AwsTarget.from_environment(Settings(), {"gameday_target_profile": str(profile)})
    with using(driver):  # a run that crashed long ago (the limit is lowered instead of waiting six hours)
        fail_region(PRIMARY, "health_check")
    monkeypatch.setenv("GAMEDAY_MAX_REPLAY_AGE_S", "0.001")
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    result = gameday("run", ROOT / "experiments/region-failover.yaml", "--target", "aws", "--profile", profile)
    assert result.exit_code == 2, result.output
    assert "1 open fault(s) in ledger" in result.output
    assert "older than 0.001 s, not replayed unattended" in result.output
    assert f"region_outage of {PRIMARY} begun" in result.output and "`gameday recover` replays them" in result.output
    assert untouched(world)["inverted"][PRIMARY] is True          # not replayed
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no run directory
    assert gameday("recover", "--target", "aws", "--profile", profile).exit_code == 0
    assert untouched(world)["inverted"][PRIMARY] is False


def test_recover_on_a_prod_profile_needs_the_confirmation(world, write_profile, stack_root):
    profile = write_profile(environment="prod")
    assert gameday("recover", "--target", "aws", "--profile", profile).exit_code == 2
    ok = gameday("recover", "--target", "aws", "--profile", profile, "--confirm-account", "123456789012")
    assert ok.exit_code == 0 and "no open fault in the ledger" in ok.output


def test_a_run_without_usable_credentials_exits_2_before_anything_is_touched(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("GAMEDAY_RUNS_DIR", str(tmp_path / "runs"))
    result = CliRunner().invoke(cli, ["run", str(ROOT / "experiments" / "region-failover.yaml"), "--target", "aws",
                                      "--profile", str(ROOT / "examples" / "targets" / "staging.yaml")])
    assert result.exit_code == 2, result.output
    assert "credentials could not be used" in result.output and "nothing was touched" in result.output
    assert not (tmp_path / "runs").exists()
