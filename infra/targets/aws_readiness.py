"""`gameday aws check --profile P`: is the account ready for a GameDay? Read-only, run before one.

Each check gives a Finding (ok, warn or fail) with one line of detail:
- account: the credentials work and belong to the profile's account;
- resources: every resource the profile names exists and carries the GameDay tag (the guard would refuse it else);
- global database: the Aurora global cluster is `available`, no failover or switchover under way, every profile
  cluster a member and the primary region's cluster the writer (a GameDay starts from the reference topology);
- permissions: `iam:SimulatePrincipalPolicy` of the caller's role for every action the driver may call
  (infra/targets/aws_actions.py), with the GameDay tag in the request context (the role's changes are tag-bound);
- quotas: Lambda reserved concurrency against the account limit, and ElastiCache TestFailover calls in the last
  24 hours against its limit (15 node groups in any rolling 24-hour period, API reference of TestFailover), each
  a warning from 80 % of the limit;
- FIS, in each region with a template: the account's safety lever disengaged (engaged, FIS starts no experiment),
  and the active experiments plus the GameDay's own within the "active experiments" quota (Service Quotas' value,
  else AWS's default of 5 per account and Region, AWS FIS User Guide, "Quotas and limitations");
- starting state, read with chaostoolkit-aws's probes (infra/targets/aws_readings.py): every profile DB cluster
  `available`, every region's Route 53 health check seen healthy by its observers, and no stop-condition alarm of a
  profile FIS template in ALARM (FIS would stop the experiment at once; INSUFFICIENT_DATA warns);
- detection: how long Route 53 takes to reroute (health checks x threshold + TTL): the holds the runner raises;
- ledger: where the fault ledger lives; a table the profile names must be readable, and its lease free;
- fault expiry: the profile names the expiry role EventBridge Scheduler undoes a forgotten fault as
  (infra/targets/aws_expiry.py); without it a harness lost mid-GameDay leaves its faults in place.
A check that cannot be made (AccessDenied, a missing resource) fails with AWS's error code: a GameDay needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from botocore.exceptions import BotoCoreError, ClientError

from gameday.base.errors import GameDayError
from gameday.base.ledger import open_from
from infra.targets import safety
from infra.targets.aws_actions import IAM_ACTIONS

__all__ = ["Finding", "readiness", "ready", "WARN_SHARE"]

WARN_SHARE = 0.8
FIS_ACTIVE_EXPERIMENTS_DEFAULT = 5   # per account and Region (AWS FIS User Guide, "Quotas and limitations")
FIS_ACTIVE_STATES = ("pending", "initiating", "running", "stopping")
SIMULATE_BATCH = 50              # actions per SimulatePrincipalPolicy call


@dataclass(frozen=True)
class Finding:
    check: str
    status: str        # ok | warn | fail
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def ready(findings: list[Finding]) -> bool:
    """Ready when nothing failed (warnings are printed, not blocking)."""
    return not any(f.status == "fail" for f in findings)


def _attempt(check: str, body: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return body()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return [Finding(check, "fail", f"{error.get('Code', 'error')}: {error.get('Message', exc)}")]
    except (BotoCoreError, GameDayError) as exc:
        return [Finding(check, "fail", str(exc).splitlines()[0])]


def readiness(driver) -> list[Finding]:
    """Every finding for `driver`'s profile (an AwsTarget); read-only."""
    account = _attempt("account", lambda: _account(driver))
    if not ready(account):
        return account  # nothing else can be read with credentials that do not work
    findings = account + _resources(driver)
    findings += _attempt("global database", lambda: _global_database(driver))
    findings += _attempt("permissions", lambda: _permissions(driver))
    findings += _attempt("quota: lambda concurrency", lambda: _lambda_quota(driver))
    findings += _attempt("quota: elasticache test failover", lambda: _test_failover_quota(driver))
    findings += _attempt("fis", lambda: _fis(driver))
    findings += _attempt("starting state", lambda: _starting_state(driver))
    findings += _attempt("detection", lambda: _detection(driver))
    findings += _attempt("fault expiry", lambda: _expiry(driver))
    findings += _attempt("ledger", lambda: _ledger(driver))
    return findings


# --- account and resources ------------------------------------------------------------------------------
def _account(driver) -> list[Finding]:
    found = driver.preflight()
    return [Finding("account", "ok", f"credentials of account {found['account']} ({found['environment']}), "
                                     f"regions {', '.join(found['regions'])}")]


def _tagged(driver, what: str, tags) -> Finding:
    tag = driver.profile.tag
    have = safety.tags_from(tags)
    if have.get(tag.key) == tag.value:
        return Finding(f"resource {what}", "ok", f"found, tagged {tag.key}={tag.value}")
    found = f"it has {tag.key}={have[tag.key]!r}" if tag.key in have else f"it has no {tag.key!r} tag"
    return Finding(f"resource {what}", "fail", f"found but not tagged {tag.key}={tag.value} ({found}): the guard "
                                               "refuses every change to it")


def _resources(driver) -> list[Finding]:
    p, out = driver.profile, []
    r = p.resources
    for region, ident in r.database.clusters.items():
        out += _attempt(f"resource DB cluster {ident} ({region})", lambda region=region, ident=ident: [_tagged(
            driver, f"DB cluster {ident} ({region})", driver.client("rds", region).describe_db_clusters(
                DBClusterIdentifier=ident)["DBClusters"][0].get("TagList"))])
    if r.route53 is not None:
        zone = r.route53.hosted_zone_id
        out += _attempt(f"resource hosted zone {zone}", lambda: [_tagged(
            driver, f"hosted zone {zone}", driver.route53_tags("hostedzone", zone))])
        for region, check in r.route53.health_checks.items():
            out += _attempt(f"resource health check {check} ({region})", lambda check=check, region=region: [
                _tagged(driver, f"health check {check} ({region})", _health_check_tags(driver, check))])
    for region, functions in r.functions.items():
        for name in functions:
            out += _attempt(f"resource function {name} ({region})", lambda region=region, name=name: [_tagged(
                driver, f"function {name} ({region})", _function_tags(driver, region, name))])
    if r.cache is not None:
        group, region = r.cache.replication_group_id, r.cache.region
        out += _attempt(f"resource cache {group} ({region})", lambda: [_cache_finding(driver, region, group)])
    for provider, name in r.kill_switches.items():
        for region in p.regions.all():
            out += _attempt(f"resource kill switch {name} ({region})", lambda region=region, name=name: [_tagged(
                driver, f"kill switch {name} ({region})", driver.client("ssm", region).list_tags_for_resource(
                    ResourceType="Parameter", ResourceId=name).get("TagList", []))])
    for region, template in r.fis_templates.items():
        out += _attempt(f"resource FIS template {template} ({region})", lambda region=region, template=template: [
            _tagged(driver, f"FIS template {template} ({region})", driver.client("fis", region).get_experiment_template(
                id=template)["experimentTemplate"].get("tags", {}))])
    return out


def _health_check_tags(driver, check: str):
    driver.client("route53", driver.profile.regions.primary).get_health_check(HealthCheckId=check)
    return driver.route53_tags("healthcheck", check)


def _function_tags(driver, region: str, name: str):
    lam = driver.client("lambda", region)
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    return lam.list_tags(Resource=arn).get("Tags", {})


def _cache_finding(driver, region: str, group: str) -> Finding:
    ec = driver.client("elasticache", region)
    found = ec.describe_replication_groups(ReplicationGroupId=group)["ReplicationGroups"][0]
    tagged = _tagged(driver, f"cache {group} ({region})",
                     ec.list_tags_for_resource(ResourceName=found["ARN"]).get("TagList", []))
    if tagged.status == "ok" and found.get("Status") != "available":
        return Finding(tagged.check, "fail", f"status {found.get('Status')!r}, not available: a failover test "
                                             "needs it available")
    return tagged


# --- global database --------------------------------------------------------------------------------------
def _global_database(driver) -> list[Finding]:
    db, primary = driver.profile.resources.database, driver.profile.regions.primary
    if not db.global_cluster_id:
        return [Finding("global database", "ok", "the profile names no Aurora global cluster (nothing to check)")]
    found = driver.client("rds", primary).describe_global_clusters(
        GlobalClusterIdentifier=db.global_cluster_id)["GlobalClusters"][0]
    problems = []
    if found.get("Status") != "available":
        problems.append(f"status {found.get('Status')!r}, not available")
    if (found.get("FailoverState") or {}).get("Status"):
        problems.append(f"a {found['FailoverState'].get('Status')} operation is under way "
                        f"(to {found['FailoverState'].get('ToDbClusterArn')})")
    members = {m["DBClusterArn"].split(":")[-1]: m for m in found.get("GlobalClusterMembers", [])}
    missing = [ident for ident in db.clusters.values() if ident not in members]
    if missing:
        problems.append(f"not members: {', '.join(missing)}")
    writer = next((ident for ident, m in members.items() if m.get("IsWriter")), None)
    if db.clusters.get(primary) and writer != db.clusters[primary]:
        problems.append(f"the writer is {writer or 'none'}, not the primary region's {db.clusters[primary]}")
    tag = driver.profile.tag
    if safety.tags_from(found.get("TagList")).get(tag.key) != tag.value:
        problems.append(f"not tagged {tag.key}={tag.value}")
    if problems:
        return [Finding("global database", "fail", f"{db.global_cluster_id}: {'; '.join(problems)}")]
    return [Finding("global database", "ok", f"{db.global_cluster_id} available, writer {writer}, "
                                             f"{len(members)} member cluster(s)")]


# --- permissions -------------------------------------------------------------------------------------------
def caller_role_arn(driver) -> str | None:
    """The IAM role behind the caller's credentials (None for a user or the root): SimulatePrincipalPolicy wants
    the role, and an assumed-role ARN drops the role's path, so it is read back with GetRole."""
    arn = driver.client("sts", driver.profile.regions.primary).get_caller_identity()["Arn"]
    parts = arn.split(":", 5)
    if len(parts) < 6 or not parts[5].startswith("assumed-role/"):
        return None
    name = parts[5].split("/")[1]
    return driver.client("iam", driver.profile.regions.primary).get_role(RoleName=name)["Role"]["Arn"]


def _permissions(driver) -> list[Finding]:
    role = caller_role_arn(driver)
    if role is None:
        return [Finding("permissions", "warn", "the credentials are not an assumed role: the role's permissions "
                                               "were not simulated (run the GameDay with the GameDay role)")]
    tag = driver.profile.tag
    context = [{"ContextKeyName": f"aws:ResourceTag/{tag.key}", "ContextKeyValues": [tag.value],
                "ContextKeyType": "string"}]
    iam, denied = driver.client("iam", driver.profile.regions.primary), {}
    actions = sorted(IAM_ACTIONS)
    for i in range(0, len(actions), SIMULATE_BATCH):
        answer = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=actions[i:i + SIMULATE_BATCH],
                                               ContextEntries=context)
        for result in answer.get("EvaluationResults", []):
            if result.get("EvalDecision") != "allowed":
                denied[result["EvalActionName"]] = result.get("EvalDecision")
    if denied:
        shown = ", ".join(f"{action} ({decision})" for action, decision in sorted(denied.items()))
        return [Finding("permissions", "fail", f"role {role} is not allowed {len(denied)} of {len(actions)} "
                                               f"action(s) the driver calls: {shown}; deploy "
                                               "infra/aws/gameday-role.yaml")]
    return [Finding("permissions", "ok", f"role {role} is allowed all {len(actions)} actions the driver calls "
                                         f"(simulated with {tag.key}={tag.value} in the request context)")]


# --- quotas ------------------------------------------------------------------------------------------------
def _share_finding(check: str, used: float, limit: float, what: str) -> Finding:
    share = used / limit if limit else 1.0
    status = "fail" if share >= 1.0 else "warn" if share >= WARN_SHARE else "ok"
    return Finding(check, status, f"{what}: {used:g} of {limit:g} ({share:.0%}; warning from {WARN_SHARE:.0%})")


def _lambda_quota(driver) -> list[Finding]:
    out = []
    for region in driver.profile.resources.functions:
        limits = driver.client("lambda", region).get_account_settings()["AccountLimit"]
        total, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
        out.append(_share_finding(f"quota: lambda concurrency ({region})", total - unreserved, total,
                                  "reserved concurrency of the account limit"))
    return out


def _test_failover_quota(driver) -> list[Finding]:
    if driver.profile.resources.cache is None:
        return []
    quota = driver.cache_failover_quota()  # the same count failover_cache refuses by
    return [_share_finding(f"quota: elasticache test failover ({quota['region']})", quota["used"], quota["quota"],
                           "TestFailover node groups in the last 24 hours")]


def _fis(driver) -> list[Finding]:
    out = []
    for region in driver.profile.resources.fis_templates:
        fis = driver.client("fis", region)
        lever = fis.get_safety_lever(id="default")["safetyLever"]["state"]
        off = lever["status"] == "disengaged"
        out.append(Finding(f"fis safety lever ({region})", "ok" if off else "fail", lever["status"] + (
            "" if off else f": FIS starts no experiment ({lever.get('reason') or 'no reason'})")))
        active = sum(1 for page in fis.get_paginator("list_experiments").paginate()
                     for e in page.get("experiments", []) if e["state"]["status"] in FIS_ACTIVE_STATES)
        limit, source = _fis_active_limit(driver.client("service-quotas", region))
        need = active + 1  # the GameDay starts one of its own
        status = "fail" if need > limit else "warn" if need >= WARN_SHARE * limit else "ok"
        out.append(Finding(f"quota: fis active experiments ({region})", status,
                           f"{active} active + the GameDay's own = {need:g} of {limit:g} ({source}; warning from "
                           f"{WARN_SHARE:.0%})"))
    return out


def _fis_active_limit(quotas) -> tuple[float, str]:
    """The account's "active experiments" quota from Service Quotas, else AWS's default."""
    try:
        for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode="fis"):
            for quota in page.get("Quotas", []):
                if "active experiments" in quota.get("QuotaName", "").lower():
                    return quota["Value"], "quota from Service Quotas"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchResourceException":
            raise
    return FIS_ACTIVE_EXPERIMENTS_DEFAULT, "AWS's default quota: Service Quotas lists none"


def _starting_state(driver) -> list[Finding]:
    p, out = driver.profile, []
    for region, cluster in p.resources.database.clusters.items():
        status = driver.db_cluster_status(cluster, region)
        out.append(Finding(f"DB cluster {cluster} ({region})", "ok" if status == "available" else "fail",
                           f"status {status}" + ("" if status == "available" else
                                                 ": a GameDay starts from clusters that serve")))
    for region, check in (p.resources.route53.health_checks.items() if p.resources.route53 else ()):
        ok, seen = driver.health_check_observers(check)
        healthy = seen > 0 and ok * 2 > seen  # Route 53 calls a check healthy when most observers do
        out.append(Finding(f"health check {check} ({region})", "ok" if healthy else "fail",
                           f"{ok} of {seen} Route 53 observers see it healthy" + (
                               "" if healthy else f": {region} is failed over already; restore it first")))
    for region, template in p.resources.fis_templates.items():
        stops = driver.client("fis", region).get_experiment_template(id=template)["experimentTemplate"].get(
            "stopConditions", [])
        for alarm in (s["value"].split(":alarm:")[-1] for s in stops if s.get("value")):
            state = driver.alarm_state(alarm, region)
            status = {"OK": "ok", "ALARM": "fail"}.get(state, "warn")
            out.append(Finding(f"stop alarm {alarm} ({region})", status, f"state {state}" + {
                "ok": "", "fail": f": FIS stops template {template} at once; clear the alarm first",
                "warn": ": no data yet; FIS starts, but the stop condition watches nothing"}[status]))
    return out


def _detection(driver) -> list[Finding]:
    timing = driver.detection_timing()
    return [Finding("detection", "ok", f"the target reroutes after {timing.reroute_s:g} s "
                                       f"({timing.check_interval_s:g} s x {timing.failure_threshold} + TTL "
                                       f"{timing.dns_ttl_s:g} s; {timing.source}): holds named in an experiment's "
                                       "windows.detection_holds are raised to it")]


def _expiry(driver) -> list[Finding]:
    role = driver.profile.safety.expiry_role_arn
    if role is None:
        return [Finding("fault expiry", "fail", "the profile names no safety.expiry_role_arn: faults would not expire "
                                                "on AWS if the harness were lost mid-GameDay (deploy "
                                                "infra/aws/gameday-role.yaml; output ExpiryRoleArn)")]
    return [Finding("fault expiry", "ok", f"faults expire through EventBridge Scheduler as {role} (schedule group "
                                          f"{driver.profile.safety.group})")]


def _ledger(driver) -> list[Finding]:
    store = driver.ledger_store
    if store is None:
        return [Finding("ledger", "ok", f"a file on this machine ({driver.ledger_path}): `gameday recover` works "
                                        "from here only (safety.ledger_table puts it in the account)")]
    open_faults = len(open_from(store.read()))
    holder = store.holder()
    if holder is not None:
        return [Finding("ledger", "fail", f"{store.where}: the target's lease is held by run {holder.get('run_id')} "
                                          f"on host {holder.get('host')}: a GameDay is under way")]
    return [Finding("ledger", "ok" if not open_faults else "warn",
                    f"{store.where}: readable, lease free, {open_faults} open fault(s)"
                    + (" (`gameday recover` first)" if open_faults else ""))]
