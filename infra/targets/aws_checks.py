"""What the AWS driver checks in an experiment before anything is touched: does each activity have an AWS meaning,
and does the target profile name the resources for it (infra/aws/README.md, "What each experiment action means on
AWS")? Pure: reads the profile only."""

from __future__ import annotations

from collections.abc import Callable

from gameday.base.errors import InvalidInput
from infra.targets import aws_chaosaws
from infra.targets.aws_meaning import MODE_ALIASES, THROTTLE_STATUS, link_meaning, link_provider, region_mode
from infra.targets.base import FUNC, UNRESOLVED, Problems
from infra.targets.profile import TargetProfile

#: Activities with no AWS meaning, and why (the message a refused experiment gets).
REFUSED = {
    "probes.stack.served_region": "the router's status endpoint exists only on the local stack",
    "gameday.faults.limit_bandwidth": "the AWS driver has no fault proxy to cap a link's throughput",
    "gameday.faults.remove_bandwidth_limit": "the AWS driver has no fault proxy to cap a link's throughput",
}
#: The packages whose activities act through the target (others, e.g. chaosaws, are the experiment's own).
PROJECT_PACKAGES = ("gameday", "remediations", "probes")

Check = Callable[[dict, TargetProfile], Problems]


def problems(activity: str, args: dict, profile: TargetProfile) -> Problems:
    """The problems of `activity` with `args` on aws with `profile`."""
    if activity in REFUSED:
        return [(FUNC, f"{activity} has no AWS meaning: {REFUSED[activity]}")]
    if activity.startswith("chaosaws."):
        return aws_chaosaws.problems(activity)
    check = CHECKS.get(activity)
    if check is None:
        if activity.split(".")[0] in PROJECT_PACKAGES:
            return [(FUNC, f"{activity} is not available on aws; available: {', '.join(sorted(CHECKS))}")]
        return []
    return check(args, profile)


def _aws_region(args: dict, profile: TargetProfile) -> Problems:
    region = args.get("region", UNRESOLVED)
    if region is UNRESOLVED or region in profile.regions.all():
        return []
    return [("region", f"region {region!r} is not in target profile {profile.name}'s regions "
                       f"({', '.join(profile.regions.all())})")]


def _aws_region_or_none(args: dict, profile: TargetProfile) -> Problems:
    return [] if args.get("region") is None else _aws_region(args, profile)


def _aws_fail_region(args: dict, profile: TargetProfile) -> Problems:
    problems = _aws_region(args, profile)
    region, mode = args.get("region", UNRESOLVED), args.get("mode", "partition")
    if mode is UNRESOLVED:
        return problems
    try:
        effective = region_mode(mode)
    except InvalidInput as exc:
        return problems + [("mode", str(exc))]
    if problems or region is UNRESOLVED:
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


def _meaning(args: dict, profile: TargetProfile) -> tuple[tuple[str, str] | None, Problems]:
    """The link's AWS meaning (None when unresolved or meaningless) and the problem when it has none."""
    link = args.get("link", UNRESOLVED)
    if link is UNRESOLVED:
        return None, []
    try:
        return link_meaning(str(link), profile), []
    except InvalidInput as exc:
        return None, [("link", str(exc))]


def _lambda_fault(region: str, profile: TargetProfile) -> Problems:
    """A fault on the region's functions borrows the role and the stop conditions of the region's FIS template."""
    if region in profile.resources.fis_templates:
        return []
    return [("link", f"a fault on {region}'s API functions is an FIS experiment: target profile {profile.name} names "
                     f"no FIS template for {region} (resources.fis_templates.{region}), whose role and stop "
                     "conditions it takes")]


def _aws_link(args: dict, profile: TargetProfile) -> Problems:
    meaning, problems = _meaning(args, profile)
    if meaning and meaning[0] == "functions":
        return [("link", f"cutting link {args['link']!r} has no AWS meaning: the region's API cannot be unplugged; "
                         f"use gameday.faults.fail_region({meaning[1]!r}) or inject_http_error (FIS's Lambda action)")]
    return problems


def _aws_latency(args: dict, profile: TargetProfile) -> Problems:
    """`router-<region>`: FIS delays the region's functions (no jitter); `cache-<region>` (spike-10x's local service
    time) adds nothing on aws, the functions have their own."""
    meaning, problems = _meaning(args, profile)
    if meaning is None:
        return problems
    kind, region = meaning
    if kind == "functions":
        jitter = args.get("jitter_ms", 0)
        out = _lambda_fault(region, profile)
        if jitter is not UNRESOLVED and jitter not in (0, 0.0, "0"):
            out.append(("jitter_ms", "latency jitter has no AWS meaning: FIS adds a fixed delay (give jitter_ms 0)"))
        return out
    if kind != "cache":
        return [("link", f"latency on link {args['link']!r} has no AWS meaning: the AWS driver has no fault proxy "
                         "(router-<region>: FIS delays the region's functions; cache-<region>, the local service-time "
                         "stand-in, adds nothing on aws)")]
    return []


def _aws_provider_link(args: dict, profile: TargetProfile) -> Problems:
    meaning, problems = _meaning(args, profile)
    if meaning is None or meaning[0] == "functions":
        return problems
    try:
        link_provider(str(args["link"]), profile)
    except InvalidInput as exc:
        return [("link", f"{exc}; or router-<region> (the region's API functions, through FIS)")]
    return []


def _aws_http_error(args: dict, profile: TargetProfile) -> Problems:
    problems = _aws_provider_link(args, profile)
    meaning, _ = _meaning(args, profile)
    status, probability = args.get("status", UNRESOLVED), args.get("probability", 1.0)
    if meaning and meaning[0] == "functions":
        problems += _lambda_fault(meaning[1], profile)
        if status is not UNRESOLVED and not (str(status).isdigit() and 100 <= int(status) <= 599):
            problems.append(("status", f"HTTP error {status} is no HTTP status (100..599)"))
    elif status is not UNRESOLVED and str(status) != str(THROTTLE_STATUS):
        problems.append(("status", f"HTTP error {status} has no AWS meaning on this link; valid on aws: "
                                   f"{THROTTLE_STATUS} on provider-<name> (the AI provider throttles: its kill switch "
                                   "set to throttle:<probability>), any status on router-<region> (FIS)"))
    if probability is not UNRESOLVED:
        try:
            ok = 0.0 <= float(probability) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(("probability", f"probability {probability!r} must be a number in 0..1"))
    return problems


def _aws_cache_region(args: dict, profile: TargetProfile) -> Problems:
    problems = _aws_region(args, profile)
    region, cache = args.get("region", UNRESOLVED), profile.resources.cache
    if cache is None:
        return problems + [("", f"target profile {profile.name} names no ElastiCache replication group "
                                "(resources.cache)")]
    if not problems and region is not UNRESOLVED and region != cache.region:
        problems.append(("region", f"target profile {profile.name}'s replication group is in {cache.region}, "
                                   f"not {region} (resources.cache.region)"))
    return problems


def _aws_deployment(args: dict, profile: TargetProfile) -> Problems:
    problems = _aws_region(args, profile)
    region, version = args.get("region", UNRESOLVED), args.get("version", UNRESOLVED)
    if problems or region is UNRESOLVED:
        return problems
    deployment = profile.resources.deployments.get(region)
    if deployment is None:
        return [("region", f"target profile {profile.name} names no Lambda alias to deploy to in {region} "
                           f"(resources.deployments.{region})")]
    if version is not UNRESOLVED and str(version) not in deployment.versions:
        return [("version", f"target profile {profile.name} names no Lambda version for release {version!r} in "
                            f"{region}; valid: {', '.join(sorted(deployment.versions)) or 'none'} "
                            f"(resources.deployments.{region}.versions)")]
    return []


def _aws_functions(args: dict, profile: TargetProfile) -> Problems:
    problems = _aws_region(args, profile)
    region = args.get("region", UNRESOLVED)
    if not problems and region is not UNRESOLVED and not profile.resources.functions.get(region):
        problems.append(("region", f"target profile {profile.name} names no Lambda functions in {region} "
                                   f"(resources.functions.{region})"))
    return problems


def _aws_database(args: dict, profile: TargetProfile) -> Problems:
    if profile.resources.database.clusters:
        return []
    return [("", f"target profile {profile.name} names no DB cluster (resources.database.clusters)")]


def _aws_global_database(args: dict, profile: TargetProfile) -> Problems:
    db = profile.resources.database
    missing = [r for r in profile.regions.all() if r not in db.clusters]
    if db.global_cluster_id and not missing:
        return []
    what = "resources.database.global_cluster_id" if not db.global_cluster_id else \
        f"resources.database.clusters.{missing[0]}"
    return [("", f"target profile {profile.name} does not name the Aurora global database ({what})")]


CHECKS: dict[str, Check] = {
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
    "remediations.failover.restore_writer": _aws_database,
    "probes.stack.entry_point_healthy": lambda args, profile: [],
    "probes.stack.wait_for_impact": _aws_region_or_none,
    "probes.stack.single_writer": _aws_database,
    "probes.stack.writer_region": _aws_database,
}
