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


# --- FIS stop conditions and stop alarms --------------------------------------------------------------------
from cfnlint.decode import decode  # noqa: E402

AWS_DIR = Path(__file__).resolve().parents[2] / "infra" / "aws"


def _template(name: str) -> dict:
    template, problems = decode(str(AWS_DIR / name))
    assert not problems, problems
    return template


def _alarms_by_export() -> dict[str, dict]:
    """Export name pattern (as FIS imports it) -> the alarm's properties (stop-alarms.yaml)."""
    alarms = _template("stop-alarms.yaml")
    found = {}
    for output in alarms["Outputs"].values():
        export = output.get("Export", {}).get("Name", {})
        if isinstance(export, dict) and "Fn::Sub" in export:
            alarm = output["Value"]["Fn::GetAtt"][0]
            found[export["Fn::Sub"]] = alarms["Resources"][alarm]["Properties"]
    return found


def _namespaces(alarm: dict) -> set[str]:
    if "Namespace" in alarm:
        return {alarm["Namespace"]}
    return {m["MetricStat"]["Metric"]["Namespace"] for m in alarm.get("Metrics", []) if "MetricStat" in m}


def test_no_fis_stop_condition_watches_a_metric_of_the_faulted_region():
    """A FIS template faults its own region (the stack is deployed per region): a stop alarm on an AWS service metric
    of that region watches the symptom the fault causes and stops the experiment it is meant to guard."""
    alarms = _alarms_by_export()
    templates = {name: r["Properties"] for name, r in _template("fis-templates.yaml")["Resources"].items()
                 if r["Type"] == "AWS::FIS::ExperimentTemplate"}
    assert templates
    for name, props in templates.items():
        assert props["StopConditions"], f"{name} has no stop condition"
        for stop in props["StopConditions"]:
            imported = stop["Value"]["Fn::ImportValue"]["Fn::Sub"]
            assert imported in alarms, f"{name} stops on {imported}, which stop-alarms.yaml does not export"
            watched = _namespaces(alarms[imported])
            assert not {ns for ns in watched if ns.startswith("AWS/")}, \
                f"{name} stops on {imported}, a metric of the faulted region ({sorted(watched)})"


def test_no_stop_alarm_treats_missing_data_as_breaching():
    for name, resource in _template("stop-alarms.yaml")["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert resource["Properties"].get("TreatMissingData", "missing") != "breaching", name


def test_the_rpo_lag_alarm_is_deployed_only_where_a_secondary_replicates():
    """AuroraGlobalDBRPOLag exists only for a secondary cluster: elsewhere the alarm would sit in ALARM or
    INSUFFICIENT_DATA and block every experiment guarded by it."""
    template = _template("stop-alarms.yaml")
    alarm = template["Resources"]["GlobalRpoLagAlarm"]
    assert alarm.get("Condition") == "InSecondaryRegion"
    assert template["Conditions"]["InSecondaryRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"},
                                                                          {"Ref": "SecondaryRegion"}]}
