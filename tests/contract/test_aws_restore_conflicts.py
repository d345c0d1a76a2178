"""Compare-and-swap restores on AWS (infra/targets/aws_cas.py): a restore writes the previous value back only while
the resource holds what the fault set; a resource a person restored is left alone; one changed since the fault
stops the restore with a conflict naming it, the value found and the value expected, changes nothing, keeps the
ledger entry open, and `gameday recover --force` writes the previous value back anyway."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gameday.base.ledger import open_from, read_entries
from gameday.base.settings import Settings
from gameday.cli import cli
from gameday.faults import cut_link, fail_region, restore_link, restore_region
from infra.targets import using
from infra.targets.aws import AwsTarget
from infra.targets.aws_cas import RestoreConflict
from tests.contract.conftest import PRIMARY, SECONDARY, seed_origins, session
from tests.contract.test_aws_cli import BEDROCK, stack_root, write_profile  # noqa: F401  (fixtures)


def aws(service: str, region: str = PRIMARY):
    return session().client(service, region_name=region)


def switch(region: str) -> str:
    return aws("ssm", region).get_parameter(Name=BEDROCK)["Parameter"]["Value"]


def inverted(world) -> bool:
    return aws("route53").get_health_check(HealthCheckId=world["checks"][PRIMARY])["HealthCheck"][
        "HealthCheckConfig"]["Inverted"]


@pytest.fixture
def on_profile(world, write_profile, stack_root):  # noqa: F811 (the fixtures imported above)
    """(profile path, driver) for the seeded world; the ledger lives under the test's stack root."""
    profile = write_profile(resources={"origins": seed_origins()})
    return profile, AwsTarget.from_environment(Settings(), {"gameday_target_profile": str(profile)})


def test_a_kill_switch_changed_since_the_fault_stops_the_restore_and_force_writes_it_back(on_profile):
    profile, driver = on_profile
    with using(driver):
        cut_link("provider-bedrock")
        aws("ssm", SECONDARY).put_parameter(Name=BEDROCK, Value="degraded", Type="String", Overwrite=True)  # a person
        with pytest.raises(RestoreConflict) as refused:
            restore_link("provider-bedrock")
    message = str(refused.value)
    assert f"restore of SSM parameter {BEDROCK} ({SECONDARY}) on target aws stopped: it holds \"degraded\"" in message
    assert "not the value the fault set (\"on\") nor the previous one (\"off\")" in message
    assert "`gameday recover --force`" in message
    assert (switch(PRIMARY), switch(SECONDARY)) == ("on", "degraded")  # nothing written, in any region
    assert len(open_from(read_entries(driver.ledger_path))) == 1      # left for a person

    plain = CliRunner().invoke(cli, ["recover", "--target", "aws", "--profile", str(profile)])
    assert plain.exit_code != 0 and "it holds \"degraded\"" in plain.output
    forced = CliRunner().invoke(cli, ["recover", "--target", "aws", "--profile", str(profile), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (switch(PRIMARY), switch(SECONDARY)) == ("off", "off")
    assert open_from(read_entries(driver.ledger_path)) == []


def test_an_origin_policy_edited_since_the_fault_is_not_overwritten(on_profile):
    _, driver = on_profile
    bucket = driver.profile.resources.origins[PRIMARY]
    with using(driver):
        cut_link(f"origin-{PRIMARY}")
        edited = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
        edited["Statement"].append({"Sid": "Audit", "Effect": "Allow", "Action": "s3:GetBucketPolicy",
                                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                    "Resource": f"arn:aws:s3:::{bucket}"})
        aws("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(edited))
        with pytest.raises(RestoreConflict, match=rf"the policy of S3 bucket {bucket} \({PRIMARY}\)"):
            restore_link(f"origin-{PRIMARY}")
    assert json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"]) == edited
    assert [e["kind"] for e in open_from(read_entries(driver.ledger_path))] == ["link_cut"]  # left for a person


def test_a_fault_a_person_already_undid_is_closed_without_writing(on_profile, world):
    _, driver = on_profile
    with using(driver):
        fail_region(PRIMARY, "health_check")
        aws("route53").update_health_check(HealthCheckId=world["checks"][PRIMARY], Inverted=False)  # a person
        done = restore_region(PRIMARY)
    assert done["already_restored"] is True and inverted(world) is False
    assert [e for e in open_from(read_entries(driver.ledger_path)) if e["kind"] == "region_outage"] == []
    assert not [c for c in driver.recorder.calls if c["operation"] == "UpdateHealthCheck" and
                c["params"].get("Inverted") is False]
