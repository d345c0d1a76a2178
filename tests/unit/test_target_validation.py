"""Every experiment validates for both targets (local, and aws with the staging profile); per-target problems name
the file and `method.N.provider.arguments.<field>`, e.g. when the profile lacks what an activity needs on aws."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gameday.cli import cli
from gameday.validate import validate_files
from infra.targets.profile import load_target_profile

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
STAGING = ROOT / "examples/targets/staging.yaml"
#: What each experiment needs from the profile on aws: the resources removed, and the start of the refusal.
NEEDS = {
    "ai-provider-throttle": ("kill_switches", "method.0.provider.arguments.link",
                             "link 'provider-bedrock' has no AWS meaning in target profile staging"),
    "bad-deploy-rollback": ("deployments", "method.0.provider.arguments.region",
                            "target profile staging names no Lambda alias to deploy to in eu-central-1"),
    "cache-outage": ("cache", "method.0.provider.arguments.link",
                     "link 'cache-eu-central-1' has no AWS meaning in target profile staging"),
    "edge-origin-failover": ("origins", "method.0.provider.arguments.link",
                             "link 'origin-eu-central-1' has no AWS meaning in target profile staging"),
    "spike-10x": ("functions", "method.3.provider.arguments.region",
                  "target profile staging names no Lambda functions in eu-central-1"),
}


def _without(resource: str):
    profile = load_target_profile(STAGING)
    empty = None if resource == "cache" else {}
    return profile.model_copy(update={"resources": profile.resources.model_copy(update={resource: empty})})


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_validates_on_local(experiment):
    assert validate_files([experiment], "local") == []


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_validates_on_aws_with_the_staging_profile(experiment):
    assert validate_files([experiment], "aws", load_target_profile(STAGING)) == []


@pytest.mark.parametrize("experiment", sorted(NEEDS), ids=str)
def test_a_profile_without_what_an_experiment_needs_is_refused_with_the_location(experiment):
    resource, location, message = NEEDS[experiment]
    problems = validate_files([ROOT / "experiments" / f"{experiment}.yaml"], "aws", _without(resource))
    assert problems, f"{experiment} should need resources.{resource} on aws"
    assert problems[0].location == location
    assert problems[0].message.startswith(message)


def test_a_throttle_with_another_status_and_a_release_the_profile_does_not_name_are_refused(tmp_path):
    doc = {"version": "1.0.0", "title": "t", "description": "d", "method": [
        {"type": "action", "name": "err", "provider": {"type": "python", "module": "gameday.faults",
         "func": "inject_http_error", "arguments": {"link": "provider-bedrock", "status": 503}}},
        {"type": "action", "name": "deploy", "provider": {"type": "python", "module": "remediations.deploy",
         "func": "deploy_version", "arguments": {"region": "eu-central-1", "version": "v9"}}},
        {"type": "action", "name": "slow", "provider": {"type": "python", "module": "gameday.faults",
         "func": "add_latency", "arguments": {"link": "provider-bedrock", "ms": 100}}},
        {"type": "action", "name": "flush", "provider": {"type": "python", "module": "gameday.faults",
         "func": "flush_cache", "arguments": {"region": "eu-west-1"}}}]}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(doc))
    problems = {p.location: p.message for p in validate_files([path], "aws", load_target_profile(STAGING))}
    assert problems["method.0.provider.arguments.status"].startswith("HTTP error 503 has no AWS meaning on this "
                                                                     "link; valid on aws: 429")
    assert "no Lambda version for release 'v9'" in problems["method.1.provider.arguments.version"]
    assert "no fault proxy" in problems["method.2.provider.arguments.link"]
    assert "replication group is in eu-central-1, not eu-west-1" in problems["method.3.provider.arguments.region"]


def test_chaostoolkit_aws_probes_pass_and_its_actions_are_refused_naming_the_harness_alternative(tmp_path):
    def activity(kind: str, module: str, func: str, arguments: dict) -> dict:
        return {"type": kind, "name": func, "provider": {"type": "python", "module": module, "func": func,
                                                         "arguments": arguments}}
    doc = {"version": "1.0.0", "title": "t", "description": "d", "method": [
        activity("probe", "chaosaws.cloudwatch.probes", "get_alarm_state_value", {"alarm_name": "gameday-abort"}),
        activity("probe", "chaosaws.route53.probes", "get_health_check_status", {"check_id": "hc-1"}),
        activity("action", "chaosaws.rds.actions", "failover_db_cluster", {"db_cluster_identifier": "app-primary"}),
        activity("action", "chaosaws.awslambda.actions", "put_function_concurrency",
                 {"function_name": "api", "concurrent_executions": 0})]}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(doc))
    problems = {p.location: p.message for p in validate_files([path], "aws", load_target_profile(STAGING))}
    assert set(problems) == {"method.2.provider.func", "method.3.provider.func"}, problems
    assert "no fault-ledger entry written ahead" in problems["method.2.provider.func"]
    assert problems["method.2.provider.func"].endswith("use gameday.faults.kill_db_writer() (an in-region failover, "
                                                       "waited for; restore_writer=True fails back)")
    assert "the harness knows no undo for it" in problems["method.3.provider.func"]


def _experiment(tmp_path: Path, arguments: dict, configuration: dict | None = None) -> Path:
    doc = {"version": "1.0.0", "title": "t", "description": "d", "configuration": configuration or {},
           "method": [{"type": "action", "name": "fail", "provider": {
               "type": "python", "module": "gameday.faults", "func": "fail_region", "arguments": arguments}}]}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_mode_without_aws_meaning_and_a_foreign_region_are_named_with_their_location(tmp_path):
    path = _experiment(tmp_path, {"region": "us-east-1", "mode": "${mode}"}, {"mode": "blackhole"})
    problems = {p.location: p.message for p in validate_files([path], "aws", load_target_profile(STAGING))}
    assert problems["method.0.provider.arguments.region"].startswith(
        "region 'us-east-1' is not in target profile staging's regions (eu-central-1, eu-west-1)")
    assert problems["method.0.provider.arguments.mode"] == (
        "region failure mode 'blackhole' has no AWS meaning; valid on aws: health_check, dns_record, fis "
        "(local modes map: partition -> fis, power_off -> fis) (from configuration.mode)")
    local = {p.location: p.message for p in validate_files([path], "local")}
    assert "valid on local: partition, power_off" in local["method.0.provider.arguments.mode"]


def test_a_mapped_mode_needs_the_profiles_resource(tmp_path):
    path = _experiment(tmp_path, {"region": "eu-central-1", "mode": "power_off"})
    profile = load_target_profile(STAGING).model_copy(deep=True)
    resources = profile.resources.model_copy(update={"fis_templates": {}})
    problems = validate_files([path], "aws", profile.model_copy(update={"resources": resources}))
    assert [(p.location, p.message) for p in problems] == [(
        "method.0.provider.arguments.mode", "mode 'power_off' means fis on aws; target profile staging names no "
        "FIS template for eu-central-1 (resources.fis_templates.eu-central-1)")]


def test_cli_validate_for_aws_accepts_every_experiment_and_refuses_a_profile_without_the_cache(tmp_path):
    files = [str(p.relative_to(ROOT)) for p in EXPERIMENTS]
    result = CliRunner().invoke(cli, ["validate", *files, "--target", "aws", "--profile", str(STAGING)])
    assert result.exit_code == 0, result.output
    assert all(f"{f}: ok" in result.output for f in files)
    data = yaml.safe_load(STAGING.read_text())
    del data["resources"]["cache"]
    no_cache = tmp_path / "no-cache.yaml"
    no_cache.write_text(yaml.safe_dump(data))
    refused = CliRunner().invoke(cli, ["validate", "experiments/cache-outage.yaml", "--target", "aws", "--profile",
                                       str(no_cache)])
    assert refused.exit_code == 2
    assert ("experiments/cache-outage.yaml: method.0.provider.arguments.link: link 'cache-eu-central-1' has no AWS "
            "meaning") in refused.output
    local = CliRunner().invoke(cli, ["validate", *files])
    assert local.exit_code == 0, local.output
    missing = CliRunner().invoke(cli, ["validate", files[0], "--target", "aws"])
    assert missing.exit_code == 2 and "no target profile given" in missing.output
