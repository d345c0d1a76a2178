"""Latency and HTTP errors of a region's API on AWS are FIS Lambda actions (infra/targets/aws_lambda_faults.py): the
driver creates a tagged template with the exact action and parameters, the role and stop conditions of the region's
own FIS template and FIS's duration as the fault's expiry; waits until it runs; and its undo stops it, waits until
FIS has stopped, and deletes the template, also after a crash that left only the ledger's entry. FIS's experiment
states come from a behaviour layer (moto completes experiments at once); the functions and their tags from moto."""

from __future__ import annotations

import pytest

from gameday.base.errors import GameDayError, InvalidInput
from infra.targets import aws_checks
from infra.targets.aws import AwsTarget
from infra.targets.aws_lambda_faults import ADD_DELAY, HTTP_RESPONSE
from infra.targets.profile import profile_from_dict
from tests.contract.aws_behaviour import ACCOUNT, FisExperiments
from tests.contract.conftest import PRIMARY, SECONDARY, profile_dict, session

SOURCE = "EXT1a2b3c4d5e6f7"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/gameday-fis-{PRIMARY}"
ABORT = f"arn:aws:cloudwatch:{PRIMARY}:{ACCOUNT}:alarm:gameday-abort-{PRIMARY}"
FUNCTION = f"arn:aws:lambda:{PRIMARY}:{ACCOUNT}:function:api"


class LambdaFis(FisExperiments):
    """FisExperiments plus the templates the driver creates and deletes (the region's own template: SOURCE)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.templates = {SOURCE: {"id": SOURCE, "roleArn": ROLE, "tags": {"gameday": "allowed"},
                                   "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": ABORT}]}}
        self.created: dict[str, dict] = {}

    def _GetExperimentTemplate(self, region, params):
        found = self.templates[params["id"]]
        return {"experimentTemplate": {k: found[k] for k in ("id", "roleArn", "tags", "stopConditions")}}

    def _CreateExperimentTemplate(self, region, params):
        ident = f"EXTlambda{len(self.created) + 1}"
        self.created[ident] = params
        self.templates[ident] = {"id": ident, "roleArn": params["roleArn"], "tags": params["tags"],
                                 "stopConditions": params["stopConditions"]}
        return {"experimentTemplate": {"id": ident, "roleArn": params["roleArn"], "tags": params["tags"]}}

    def _DeleteExperimentTemplate(self, region, params):
        self.templates.pop(params["id"])
        return {"experimentTemplate": {"id": params["id"]}}

    def _ListExperimentTemplates(self, region, params):
        return {"experimentTemplates": [{"id": t["id"], "tags": t["tags"]} for t in self.templates.values()]}

    def _StartExperiment(self, region, params):
        answer = super()._StartExperiment(region, params)
        self.experiments[answer["experiment"]["id"]]["template"] = params["experimentTemplateId"]
        return answer

    def _ListExperiments(self, region, params):
        return {"experiments": [{"id": ident, "state": {"status": e["status"]}} for ident, e in self.experiments.items()
                                if e.get("template") == params.get("experimentTemplateId")]}


@pytest.fixture
def fis():
    return LambdaFis(template=SOURCE, busy_reads=2)


@pytest.fixture
def make(world, fis):
    def build(**templates) -> AwsTarget:
        data = profile_dict(world)
        data["resources"]["fis_templates"] = templates or {PRIMARY: SOURCE}
        driver = AwsTarget(profile_from_dict(data), session=session(), sleep=lambda s: None, fault_max_s=600)
        fis.attach(driver.client("fis", PRIMARY), PRIMARY)
        return driver
    return build


def _template(fis: LambdaFis) -> dict:
    assert len(fis.created) == 1
    return next(iter(fis.created.values()))


def test_latency_on_the_api_link_is_an_fis_delay_of_the_regions_functions_and_its_undo_removes_it(make, fis):
    driver = make()
    done = driver.add_latency(f"router-{PRIMARY}", 250)
    made = _template(fis)
    assert made["actions"]["Fault"] == {"actionId": ADD_DELAY, "targets": {"Functions": "Functions"}, "parameters": {
        "duration": "PT10M", "invocationPercentage": "100", "startupDelayMilliseconds": "250"}}
    assert made["targets"]["Functions"]["resourceArns"] == [FUNCTION]
    assert made["roleArn"] == ROLE and made["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": ABORT}]
    assert made["tags"]["gameday"] == "allowed"
    experiment = fis.experiments[done["experiment_id"]]
    assert experiment["status"] == "running" and experiment["tags"] == {"gameday": "allowed"}

    undone = getattr(driver, done["recovery"]["call"])(**done["recovery"]["args"])
    assert experiment["status"] == "stopped"
    assert undone["stopped"] == [done["experiment_id"]] and done["template_id"] not in fis.templates


def test_an_http_error_on_the_api_link_is_fis_returning_that_status_for_that_share_of_invocations(make, fis):
    done = make().inject_http_error(f"router-{PRIMARY}", 503, probability=0.25)
    assert _template(fis)["actions"]["Fault"]["actionId"] == HTTP_RESPONSE
    assert _template(fis)["actions"]["Fault"]["parameters"] == {
        "duration": "PT10M", "invocationPercentage": "25", "statusCode": "503",
        "contentTypeHeader": "application/json", "preventExecution": "true"}
    assert done["recovery"]["call"] == "remove_http_error" and done["probability"] == 0.25


def test_a_crash_after_the_ledger_entry_is_undone_by_the_templates_name(make, fis):
    driver = make()
    done = driver.add_latency(f"router-{PRIMARY}", 100)
    written_ahead = {"region": PRIMARY, "name": done["recovery"]["args"]["fis"]["name"]}  # no ids: the crash
    driver.remove_latency(f"router-{PRIMARY}", fis=written_ahead)
    assert fis.experiments[done["experiment_id"]]["status"] == "stopped" and done["template_id"] not in fis.templates
    again = driver.remove_latency(f"router-{PRIMARY}", fis=written_ahead)
    assert again["already_restored"] is True


def test_an_untagged_function_is_refused_before_any_template_exists(make, fis, world):
    session().client("lambda", region_name=PRIMARY).untag_resource(Resource=FUNCTION, TagKeys=["gameday"])
    with pytest.raises(GameDayError, match=r"Lambda function api .* does not carry the GameDay tag"):
        make().add_latency(f"router-{PRIMARY}", 100)
    assert fis.created == {}


@pytest.mark.parametrize("call, message", [
    (lambda d: d.add_latency(f"router-{PRIMARY}", 100, jitter_ms=20), "FIS adds a fixed delay"),
    (lambda d: d.add_latency(f"router-{PRIMARY}", 1_000_000), "outside FIS's range"),
    (lambda d: d.inject_http_error(f"router-{PRIMARY}", 503, probability=0.001), "at least 1 %"),
    (lambda d: d.cut_link(f"router-{PRIMARY}"), "cannot be unplugged"),
])
def test_what_fis_cannot_do_is_refused_with_the_reason(make, fis, call, message):
    with pytest.raises(InvalidInput, match=message):
        call(make())
    assert fis.created == {}


def test_validation_needs_the_regions_fis_template_for_a_fault_on_its_functions(world):
    profile = profile_from_dict(profile_dict(world))  # no fis_templates
    found = aws_checks.CHECKS["gameday.faults.add_latency"]({"link": f"router-{SECONDARY}", "ms": 200}, profile)
    assert found and "resources.fis_templates." + SECONDARY in found[0][1]
    found = aws_checks.CHECKS["gameday.faults.inject_http_error"]({"link": f"router-{SECONDARY}", "status": 503},
                                                                   profile)
    assert any("resources.fis_templates" in text for _, text in found)
    profile = profile_from_dict({**profile_dict(world), "resources": {
        **profile_dict(world)["resources"], "fis_templates": {SECONDARY: SOURCE}}})
    assert aws_checks.CHECKS["gameday.faults.add_latency"]({"link": f"router-{SECONDARY}", "ms": 200}, profile) == []
