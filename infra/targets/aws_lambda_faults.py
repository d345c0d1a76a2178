"""Latency and HTTP errors of a region's API on AWS: FIS's Lambda actions on the region's functions.

Locally `add_latency` and `inject_http_error` act on the fault proxy's `router-<region>` link (the router to the
region's API). On AWS the region's API is its Lambda functions (profile `resources.functions`), and FIS injects
into their invocations through its Lambda extension (AWS FIS User Guide, "Use the aws:lambda:function actions"):
- latency: `aws:lambda:invocation-add-delay`, `startupDelayMilliseconds` before the function code runs;
- an HTTP error: `aws:lambda:invocation-http-integration-response`, the status returned to API Gateway or the load
  balancer without running the function, on `invocationPercentage` of the invocations.
The parameters differ per experiment, so the driver creates an experiment template for the fault (tagged, the
role and the stop conditions taken from the region's own FIS template, resources.fis_templates), starts it, and
waits until it runs; the undo stops it, waits until FIS has removed its configuration, and deletes the template.
The fault expires on AWS by FIS's own `duration` (the run's maximum fault duration), so a harness lost mid-GameDay
leaves nothing behind for longer. Each function must have the FIS Lambda extension layer and its S3 configuration
bucket (infra/aws/README.md, "Lambda faults").
"""

from __future__ import annotations

import math

from gameday.base.errors import InvalidInput
from infra.targets.aws_wait import FIS_RUNNING

__all__ = ["LambdaFaults", "ADD_DELAY", "HTTP_RESPONSE", "fis_duration", "invocation_percentage", "lambda_template"]

ADD_DELAY = "aws:lambda:invocation-add-delay"
HTTP_RESPONSE = "aws:lambda:invocation-http-integration-response"
MAX_DELAY_MS = 900_000           # FIS: startupDelayMilliseconds is 0-900,000


def fis_duration(seconds: float) -> str:
    """Pure: FIS's ISO 8601 duration for at least `seconds`, in whole minutes (at least one)."""
    return f"PT{max(1, math.ceil(seconds / 60))}M"


def invocation_percentage(probability: float, link: str) -> int:
    """Pure: FIS's invocationPercentage (an integer 1..100) for `probability`; InvalidInput when it has none."""
    if not 0.0 < float(probability) <= 1.0:
        raise InvalidInput(f"HTTP error probability {probability!r} on link {link!r} must be in (0, 1]")
    percent = round(float(probability) * 100)
    if percent < 1:
        raise InvalidInput(f"HTTP error probability {probability!r} on link {link!r} has no AWS meaning: FIS "
                           "injects into a whole percentage of the invocations (at least 1 %)")
    return percent


def lambda_template(*, name: str, action_id: str, parameters: dict, function_arns: list[str], source: dict,
                    tags: dict) -> dict:
    """Pure: CreateExperimentTemplate's arguments for one Lambda fault on `function_arns`, with the role and the
    stop conditions of `source` (the region's own FIS template, GetExperimentTemplate's answer)."""
    stops = [{"source": s["source"], **({"value": s["value"]} if s.get("value") else {})}
             for s in source.get("stopConditions", [])] or [{"source": "none"}]
    return {"clientToken": name, "description": f"gameday {name}: {action_id}", "roleArn": source["roleArn"],
            "stopConditions": stops,
            "targets": {"Functions": {"resourceType": "aws:lambda:function", "resourceArns": function_arns,
                                      "selectionMode": "ALL"}},
            "actions": {"Fault": {"actionId": action_id, "parameters": parameters,
                                  "targets": {"Functions": "Functions"}}},
            "tags": {**tags, "Name": name}}


class LambdaFaults:
    """Mixin of AwsTarget: `_start_lambda_fault` and its undo `_stop_lambda_fault`."""

    def _start_lambda_fault(self, action: str, undo: str, link: str, region: str, action_id: str,
                            parameters: dict, **details) -> dict:
        """Create and start the FIS experiment of one Lambda fault on `region`'s functions; wait until it runs."""
        start = self._clock()
        functions = self._need(self.profile.resources.functions.get(region), f"Lambda functions for {region}")
        source_id = self._need(self.profile.resources.fis_templates.get(region),
                               f"an FIS template for {region} (its role and stop conditions are the Lambda faults')")
        fis = self.client("fis", region)
        source = fis.get_experiment_template(id=source_id)["experimentTemplate"]
        self._guard(action, f"FIS experiment template {source_id} ({region})", region, source.get("tags"))
        arns = [self._tagged_function_arn(action, function, region) for function in functions]
        name = f"gameday-{action}-{int(start * 1000)}"
        tag = {self.profile.tag.key: self.profile.tag.value}
        recovery = {"call": undo, "args": {"link": link, "fis": {"region": region, "name": name}}}
        self._ahead(recovery)  # a crash from here on: the undo finds the template by its Name tag
        created = fis.create_experiment_template(**lambda_template(
            name=name, action_id=action_id, parameters=parameters, function_arns=arns, source=source, tags=tag))
        template = created.get("experimentTemplate", {}).get("id", "dry-run")
        answer = fis.start_experiment(experimentTemplateId=template, clientToken=name, tags=tag)
        experiment = answer.get("experiment", {}).get("id", "dry-run")
        if not self.dry_run:
            self._wait_fis(fis, action, experiment, template, region, "running")
        recovery["args"]["fis"] |= {"template_id": template, "experiment_id": experiment}
        return self._done(action, start, recovery, link=link, region=region, functions=list(functions),
                          fis_action=action_id, parameters=parameters, template_id=template,
                          experiment_id=experiment, **details)

    def _stop_lambda_fault(self, action: str, link: str, fis: dict) -> dict:
        """Stop the fault's experiment (FIS removes its configuration: the functions run as before), wait until it
        has stopped, delete its template. Idempotent: what is gone already is skipped."""
        start = self._clock()
        region = fis["region"]
        client = self.client("fis", region)
        template = fis.get("template_id") or self._lambda_template_named(client, fis["name"])
        if template is None or template == "dry-run":
            return self._done(action, start, None, link=link, region=region, already_restored=True,
                              reason="no experiment template was created for the fault")
        found = client.get_experiment_template(id=template)["experimentTemplate"]
        self._guard(action, f"FIS experiment template {template} ({region})", region, found.get("tags"))
        running = [e["id"] for e in client.list_experiments(experimentTemplateId=template).get("experiments", [])
                   if e.get("state", {}).get("status") in FIS_RUNNING]
        self._ahead(None)
        for experiment in running:
            client.stop_experiment(id=experiment)
            if not self.dry_run:
                self._wait_fis(client, action, experiment, template, region, "ended")
        client.delete_experiment_template(id=template)
        return self._done(action, start, None, link=link, region=region, template_id=template, stopped=running,
                          template_deleted=True)

    def _tagged_function_arn(self, action: str, function: str, region: str) -> str:
        lam = self.client("lambda", region)
        arn = lam.get_function_configuration(FunctionName=function)["FunctionArn"]
        self._guard(action, f"Lambda function {function} ({region})", region,
                    lambda: lam.list_tags(Resource=arn).get("Tags", {}))
        return arn

    @staticmethod
    def _lambda_template_named(client, name: str) -> str | None:
        """The template a crashed fault created (its Name tag), or None when it got no further than the ledger."""
        for page in client.get_paginator("list_experiment_templates").paginate():
            for template in page.get("experimentTemplates", []):
                if template.get("tags", {}).get("Name") == name:
                    return template["id"]
        return None
