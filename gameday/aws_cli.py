"""`gameday aws check --profile P`: read-only readiness of an AWS account before a GameDay (exit 0 ready, 1 not
ready with reasons, 2 a profile that cannot be used). The checks: infra/targets/aws_readiness.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gameday.base.errors import GameDayError, InvalidInput

EXIT_READY, EXIT_NOT_READY, EXIT_INVALID = 0, 1, 2
MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@click.group("aws")
def aws() -> None:
    """Commands for the aws target."""


@aws.command("check")
@click.option("--profile", "profile", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Target profile (YAML), e.g. examples/targets/staging.yaml.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def check(profile: Path, as_json: bool) -> None:
    """Is the account ready for a GameDay? Credentials and account, every profile resource found and tagged, the
    global database healthy, the role allowed every action the driver calls, quotas (warning from 80 %).
    Read-only: nothing is changed (the driver runs as a dry run)."""
    from infra.targets.aws import AwsTarget
    from infra.targets.aws_readiness import readiness, ready
    from infra.targets.base import TargetOptions

    try:
        loaded = AwsTarget.configure(TargetOptions(profile=profile.resolve()))
        # A dry run confirmed for its own account: the check reads only, so prod needs no --confirm-account.
        driver = AwsTarget(loaded, dry_run=True, confirm_account=loaded.account_id, profile_path=profile)
        findings = readiness(driver)
    except GameDayError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID if isinstance(exc, InvalidInput) else EXIT_NOT_READY)
    verdict = ready(findings)
    if as_json:
        click.echo(json.dumps({"profile": str(profile), "account": loaded.account_id, "ready": verdict,
                               "findings": [f.as_dict() for f in findings]}, indent=2))
    else:
        for finding in findings:
            click.echo(f"{MARK.get(finding.status, finding.status)} {finding.check}: {finding.detail}")
        failed = sum(1 for f in findings if f.status == "fail")
        warned = sum(1 for f in findings if f.status == "warn")
        click.echo(f"account {loaded.account_id} ({loaded.environment}): "
                   + ("READY" if verdict else f"NOT READY ({failed} check(s) failed)")
                   + (f", {warned} warning(s)" if warned else ""))
    sys.exit(EXIT_READY if verdict else EXIT_NOT_READY)
