"""Per-target validation: is every activity of an experiment available on the target, with its resources? Pure.

On `local` the fault actions take the stack's regions and modes. On `aws` each activity needs an AWS meaning
and the target profile's resources for it (infra/aws/README.md, "What each experiment action means on AWS");
activities without one are refused here, before anything is touched, each with its location.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gameday.errors import InvalidInput
from gameday.models import Problem, experiment_activities
from infra.local.layout import REGIONS
from infra.targets.aws import MODE_ALIASES, THROTTLE_STATUS, link_meaning, link_provider, region_mode
from infra.targets.local import REGION_MODES as LOCAL_MODES
from infra.targets.profile import TargetProfile

__all__ = ["target_problems", "AWS_REFUSED", "TARGETS"]

TARGETS = ("local", "aws")
_VARIABLE = re.compile(r"^\$\{(?P<key>[A-Za-z0-9_.-]+)\}$")
_UNRESOLVED = object()

#: Activities with no AWS meaning, and why (the message a refused experiment gets).
AWS_REFUSED = {
    "probes.stack.served_region": "the router's status endpoint exists only on the local stack",
}


def target_problems(file: str, raw: dict, target: str, profile: TargetProfile | None = None) -> list[Problem]:
    """Every activity of `raw` that `target` (with `profile` on aws) cannot carry out, located
    (`method.0.provider.arguments.mode`)."""
    if target not in TARGETS:
        return [Problem(file, "target", f"target {target!r} is unknown; valid targets: {', '.join(TARGETS)}")]
    if target == "aws" and profile is None:
        return [Problem(file, "target", "the aws target needs a target profile (--profile PROFILE.yaml)")]
    configuration = raw.get("configuration") if isinstance(raw.get("configuration"), dict) else {}
    problems = []
    for loc, activity in experiment_activities(raw):
        provider = activity.get("provider") if isinstance(activity, dict) else None
        if not isinstance(provider, dict) or provider.get("type") != "python":
            continue
        name = f"{provider.get('module')}.{provider.get('func')}"
        arguments = provider.get("arguments") if isinstance(provider.get("arguments"), dict) else {}
        args = {k: _resolve(v, configuration) for k, v in arguments.items()}
        checks = _LOCAL if target == "local" else _AWS
        where = f"{loc}.provider"
        if target == "aws" and name in AWS_REFUSED:
            problems.append(Problem(file, f"{where}.func", f"{name} has no AWS meaning: {AWS_REFUSED[name]}"))
            continue
        check = checks.get(name)
        if check is None:
            if target == "aws" and name.split(".")[0] in ("gameday", "remediations", "probes"):
                problems.append(Problem(file, f"{where}.func", f"{name} is not available on aws; available: "
                                                               f"{', '.join(sorted(_AWS))}"))
            continue
        for field, message in check(args, profile):
            origin = arguments.get(field)
            variable = _VARIABLE.match(origin) if isinstance(origin, str) else None
            via = f" (from configuration.{variable['key']})" if variable else ""
            problems.append(Problem(file, f"{where}.arguments.{field}" if field else where, message + via))
    return problems


def _resolve(value: Any, configuration: dict) -> Any:
    """Pure: `${key}` replaced by the configuration's plain value; _UNRESOLVED when it comes from elsewhere."""
    match = _VARIABLE.match(value) if isinstance(value, str) else None
    if not match:
        return value
    found = configuration.get(match["key"], _UNRESOLVED)
    return _UNRESOLVED if isinstance(found, dict) else found  # {type: env, ...}: known only at run time


Check = Callable[[dict, TargetProfile | None], list[tuple[str, str]]]


# --- local ------------------------------------------------------------------------------------------
def _local_region(args: dict, _profile=None) -> list[tuple[str, str]]:
    region = args.get("region", _UNRESOLVED)
    if region is _UNRESOLVED or region in REGIONS:
        return []
    return [("region", f"region {region!r} is not part of the local stack; valid regions: {', '.join(REGIONS)}")]


def _local_fail_region(args: dict, _profile=None) -> list[tuple[str, str]]:
    problems = _local_region(args)
    mode = args.get("mode", "partition")
    if mode is not _UNRESOLVED and mode not in LOCAL_MODES:
        problems.append(("mode", f"region failure mode {mode!r} has no local meaning; valid on local: "
                                 f"{', '.join(LOCAL_MODES)}"))
    return problems


_LOCAL: dict[str, Check] = {"gameday.faults.fail_region": _local_fail_region,
                            "gameday.faults.restore_region": _local_region,
                            "gameday.faults.flush_cache": _local_region}


# --- aws --------------------------------------------------------------------------------------------
def _aws_region(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    region = args.get("region", _UNRESOLVED)
    if region is _UNRESOLVED or region in profile.regions.all():
        return []
    return [("region", f"region {region!r} is not in target profile {profile.name}'s regions "
                       f"({', '.join(profile.regions.all())})")]


def _aws_fail_region(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    problems = _aws_region(args, profile)
    region, mode = args.get("region", _UNRESOLVED), args.get("mode", "partition")
    if mode is _UNRESOLVED:
        return problems
    try:
        effective = region_mode(mode)
    except InvalidInput as exc:
        return problems + [("mode", str(exc))]
    if problems or region is _UNRESOLVED:
        return problems
    means = f"mode {mode!r} means {effective} on aws; " if mode in MODE_ALIASES else ""
    r53 = profile.resources.route53
    need = {"fis": (profile.resources.fis_templates, f"FIS template for {region}",
                    f"resources.fis_templates.{region}"),
            "health_check": (r53.health_checks if r53 else {}, f"Route 53 health check for {region}",
                             f"resources.route53.health_checks.{region}"),
            "dns_record": (r53.set_identifiers if r53 else {}, f"failover record SetIdentifier for {region}",
                           f"resources.route53.set_identifiers.{region}")}[effective]
    if region not in need[0]:
        problems.append(("mode", f"{means}target profile {profile.name} names no {need[1]} ({need[2]})"))
    return problems


def _aws_link(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    link = args.get("link", _UNRESOLVED)
    if link is _UNRESOLVED:
        return []
    try:
        link_meaning(str(link), profile)
    except InvalidInput as exc:
        return [("link", str(exc))]
    return []


def _aws_latency(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    """Only the cache link's latency (spike-10x's local service time) has a meaning: nothing, the functions' own."""
    link = args.get("link", _UNRESOLVED)
    if link is _UNRESOLVED:
        return []
    try:
        kind, _ = link_meaning(str(link), profile)
    except InvalidInput as exc:
        return [("link", str(exc))]
    if kind != "cache":
        return [("link", f"latency on link {link!r} has no AWS meaning: the AWS driver has no fault proxy (only "
                         "cache-<region>, the local service-time stand-in, is accepted and adds nothing on aws)")]
    return []


def _aws_provider_link(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    link = args.get("link", _UNRESOLVED)
    if link is _UNRESOLVED:
        return []
    try:
        link_provider(str(link), profile)
    except InvalidInput as exc:
        return [("link", str(exc))]
    return []


def _aws_http_error(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    problems = _aws_provider_link(args, profile)
    status, probability = args.get("status", _UNRESOLVED), args.get("probability", 1.0)
    if status is not _UNRESOLVED and str(status) != str(THROTTLE_STATUS):
        problems.append(("status", f"HTTP error {status} has no AWS meaning; valid on aws: {THROTTLE_STATUS} (the AI "
                                   "provider throttles: its kill switch set to throttle:<probability>)"))
    if probability is not _UNRESOLVED:
        try:
            ok = 0.0 <= float(probability) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(("probability", f"probability {probability!r} must be a number in 0..1"))
    return problems


def _aws_cache_region(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    problems = _aws_region(args, profile)
    region, cache = args.get("region", _UNRESOLVED), profile.resources.cache
    if cache is None:
        return problems + [("", f"target profile {profile.name} names no ElastiCache replication group "
                                "(resources.cache)")]
    if not problems and region is not _UNRESOLVED and region != cache.region:
        problems.append(("region", f"target profile {profile.name}'s replication group is in {cache.region}, "
                                   f"not {region} (resources.cache.region)"))
    return problems


def _aws_deployment(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    problems = _aws_region(args, profile)
    region, version = args.get("region", _UNRESOLVED), args.get("version", _UNRESOLVED)
    if problems or region is _UNRESOLVED:
        return problems
    deployment = profile.resources.deployments.get(region)
    if deployment is None:
        return [("region", f"target profile {profile.name} names no Lambda alias to deploy to in {region} "
                           f"(resources.deployments.{region})")]
    if version is not _UNRESOLVED and str(version) not in deployment.versions:
        return [("version", f"target profile {profile.name} names no Lambda version for release {version!r} in "
                            f"{region}; valid: {', '.join(sorted(deployment.versions)) or 'none'} "
                            f"(resources.deployments.{region}.versions)")]
    return []


def _aws_functions(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    problems = _aws_region(args, profile)
    region = args.get("region", _UNRESOLVED)
    if not problems and region is not _UNRESOLVED and not profile.resources.functions.get(region):
        problems.append(("region", f"target profile {profile.name} names no Lambda functions in {region} "
                                   f"(resources.functions.{region})"))
    return problems


def _aws_database(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    if profile.resources.database.clusters:
        return []
    return [("", f"target profile {profile.name} names no DB cluster (resources.database.clusters)")]


def _aws_global_database(args: dict, profile: TargetProfile) -> list[tuple[str, str]]:
    db = profile.resources.database
    missing = [r for r in profile.regions.all() if r not in db.clusters]
    if db.global_cluster_id and not missing:
        return []
    what = "resources.database.global_cluster_id" if not db.global_cluster_id else \
        f"resources.database.clusters.{missing[0]}"
    return [("", f"target profile {profile.name} does not name the Aurora global database ({what})")]


_AWS: dict[str, Check] = {
    "gameday.faults.fail_region": _aws_fail_region,
    "gameday.faults.restore_region": _aws_region,
    "gameday.faults.cut_link": _aws_link,
    "gameday.faults.restore_link": _aws_link,
    "gameday.faults.inject_http_error": _aws_http_error,
    "gameday.faults.remove_http_error": _aws_provider_link,
    "gameday.faults.add_latency": _aws_latency,
    "gameday.faults.remove_latency": _aws_latency,
    "gameday.faults.flush_cache": _aws_cache_region,
    "remediations.deploy.deploy_version": _aws_deployment,
    "remediations.deploy.rollback_deployment": _aws_deployment,
    "remediations.deploy.rollback_on_regression": _aws_deployment,
    "remediations.cache.warm_cache": lambda args, profile: [],
    "probes.stack.region_capacity": _aws_functions,
    "gameday.faults.kill_db_writer": _aws_database,
    "remediations.failover.promote_secondary": _aws_global_database,
    "remediations.failover.failback": _aws_global_database,
    "probes.stack.entry_point_healthy": lambda args, profile: [],
    "probes.stack.single_writer": _aws_database,
    "probes.stack.writer_region": _aws_database,
}
