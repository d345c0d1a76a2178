"""Every experiment validates for both targets (local, and aws with the staging profile), or is refused on aws with
a located, clear message; per-target problems name the file and `method.N.provider.arguments.<field>`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.cli import cli
from gameday.validate import validate_files
from infra.targets.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
STAGING = ROOT / "examples/targets/staging.yaml"
#: Experiments whose faults have no AWS meaning (infra/aws/README.md) and the start of the reason on aws.
REFUSED_ON_AWS = {
    "ai-provider-throttle": "gameday.faults.inject_http_error has no AWS meaning: the AWS driver has no fault proxy",
    "bad-deploy-rollback": "remediations.deploy.deploy_version has no AWS meaning: the AWS driver makes no deployments",
    "cache-outage": "link 'cache-eu-central-1' has no AWS meaning in target profile staging",
    "edge-origin-failover": "link 'origin-eu-central-1' has no AWS meaning in target profile staging",
    "spike-10x": "gameday.faults.flush_cache has no AWS meaning",
}


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_validates_on_local(experiment):
    assert validate_files([experiment], "local") == []


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_validates_on_aws_or_is_refused_with_its_location(experiment):
    problems = validate_files([experiment], "aws", load_profile(STAGING))
    if experiment.stem not in REFUSED_ON_AWS:
        assert problems == []
        return
    assert problems, f"{experiment.stem} is expected to be refused on aws"
    assert problems[0].location == "method.0.provider" + (".arguments.link" if "link" in REFUSED_ON_AWS[
        experiment.stem] else ".func")
    assert problems[0].message.startswith(REFUSED_ON_AWS[experiment.stem])


def _experiment(tmp_path: Path, arguments: dict, configuration: dict | None = None) -> Path:
    doc = {"version": "1.0.0", "title": "t", "description": "d", "configuration": configuration or {},
           "method": [{"type": "action", "name": "fail", "provider": {
               "type": "python", "module": "gameday.faults", "func": "fail_region", "arguments": arguments}}]}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_mode_without_aws_meaning_and_a_foreign_region_are_named_with_their_location(tmp_path):
    path = _experiment(tmp_path, {"region": "us-east-1", "mode": "${mode}"}, {"mode": "blackhole"})
    problems = {p.location: p.message for p in validate_files([path], "aws", load_profile(STAGING))}
    assert problems["method.0.provider.arguments.region"].startswith(
        "region 'us-east-1' is not in target profile staging's regions (eu-central-1, eu-west-1)")
    assert problems["method.0.provider.arguments.mode"] == (
        "region failure mode 'blackhole' has no AWS meaning; valid on aws: health_check, dns_record, fis "
        "(local modes map: partition -> fis, power_off -> fis) (from configuration.mode)")
    local = {p.location: p.message for p in validate_files([path], "local")}
    assert "valid on local: partition, power_off" in local["method.0.provider.arguments.mode"]


def test_a_mapped_mode_needs_the_profiles_resource(tmp_path):
    path = _experiment(tmp_path, {"region": "eu-central-1", "mode": "power_off"})
    profile = load_profile(STAGING).model_copy(deep=True)
    resources = profile.resources.model_copy(update={"fis_templates": {}})
    problems = validate_files([path], "aws", profile.model_copy(update={"resources": resources}))
    assert [(p.location, p.message) for p in problems] == [(
        "method.0.provider.arguments.mode", "mode 'power_off' means fis on aws; target profile staging names no "
        "FIS template for eu-central-1 (resources.fis_templates.eu-central-1)")]


def test_cli_validate_for_aws_lists_every_refusal_and_exits_2():
    files = [str(p.relative_to(ROOT)) for p in EXPERIMENTS]
    result = CliRunner().invoke(cli, ["validate", *files, "--target", "aws", "--profile", str(STAGING)])
    assert result.exit_code == 2
    assert "experiments/region-failover.yaml: ok" in result.output
    assert ("experiments/cache-outage.yaml: method.0.provider.arguments.link: link 'cache-eu-central-1' has no AWS "
            "meaning") in result.output
    local = CliRunner().invoke(cli, ["validate", *files])
    assert local.exit_code == 0, local.output
    missing = CliRunner().invoke(cli, ["validate", files[0], "--target", "aws"])
    assert missing.exit_code == 2 and "no target profile given" in missing.output
