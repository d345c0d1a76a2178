"""Where load generators run at scale: the Kubernetes manifests validate offline against the Kubernetes schema, and
spread workers across zones, unprivileged; the ECS Fargate stack is least-privilege, takes no inbound traffic, is
tagged, and has a cost alarm for workers left running."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "infra" / "kubernetes" / "locust-workers.yaml"
ECS = ROOT / "infra" / "aws" / "load-workers.yaml"


def documents() -> list[dict]:
    return [d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d]


@pytest.mark.parametrize("version", ["1.29.0", kubernetes_validate.latest_version()])
def test_every_manifest_validates_against_the_kubernetes_schema(version):
    for doc in documents():
        kubernetes_validate.validate(doc, version, strict=True)  # raises with the path of the bad field


def test_a_wrong_field_is_caught_by_the_validation():
    deployment = next(d for d in documents() if d["kind"] == "Deployment")
    deployment["spec"]["replicaz"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_workers_spread_across_zones_run_unprivileged_and_attach_to_the_configured_master():
    deployment = next(d for d in documents() if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    [worker] = pod["containers"]
    assert worker["securityContext"]["readOnlyRootFilesystem"] and pod["securityContext"]["runAsNonRoot"]
    assert worker["resources"]["requests"] and worker["resources"]["limits"]
    assert worker["args"][:4] == ["--master", "$(GAMEDAY_MASTER_HOST)", "--master-port", "$(GAMEDAY_MASTER_PORT)"]
    assert worker["args"][-1].startswith("/tmp/")  # the worker's log goes to the writable volume
    config = next(d for d in documents() if d["kind"] == "ConfigMap")
    assert {"GAMEDAY_MASTER_HOST", "GAMEDAY_MASTER_PORT"} <= config["data"].keys()


def test_the_ecs_workers_are_least_privilege_closed_to_inbound_tagged_and_watched_for_cost():
    template, problems = decode(str(ECS))
    assert not problems
    resources = template["Resources"]
    [policy] = resources["ExecutionRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                       "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert [s["Sid"] for s in statements if s["Resource"] == "*"] == ["AuthenticateToEcr"]  # it has no resource
    assert "TaskRoleArn" not in resources["TaskDefinition"]["Properties"]  # the workers call no AWS API
    group = resources["WorkerSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group
    tagged = [name for name, r in resources.items() if "Tags" in r.get("Properties", {})]
    assert {"Cluster", "ExecutionRole", "WorkerSecurityGroup", "TaskDefinition", "Service"} <= set(tagged)
    alarm = resources["WorkersLeftRunningAlarm"]["Properties"]
    assert alarm["MetricName"] == "RunningTaskCount" and alarm["TreatMissingData"] == "notBreaching"
