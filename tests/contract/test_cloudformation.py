"""Every CloudFormation template in infra/aws passes cfn-lint (all rules, both GameDay regions), in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "infra" / "aws").glob("*.yaml"))


def test_there_are_templates():
    assert {t.name for t in TEMPLATES} >= {"gameday-role.yaml", "fis-templates.yaml", "stop-alarms.yaml"}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_finds_nothing(template):
    matches = lint_file(template, ManualArgs(regions=["eu-central-1", "eu-west-1"], include_checks=["I"]))
    assert [str(m) for m in matches] == []
