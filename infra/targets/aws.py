"""The AWS driver: faults, remediations and probes carried out with boto3 on the resources a target profile names.

Clients are made per call region from one boto3 Session (so `AWS_ENDPOINT_URL` points them at moto, as boto3
does). Every change is guarded (`infra.targets.safety`: prod confirmation, region, account, GameDay tag) and
returns a JSON-able dict with `start_s`/`at_s` and `recovery`, the exact driver call that undoes it
(`{"call": name, "args": {...}}`, previous values included) for the fault ledger; `recovery` is None when the
change undoes itself or cannot be undone. chaostoolkit-aws is not called: its clients bypass the guard and the
dry-run recorder, take one region per experiment and pass None for optional arguments (DESIGN.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from gameday.base.errors import GameDayError, InvalidInput
from gameday.base.settings import Settings
from infra.targets import aws_checks, safety
from infra.targets.aws_actions import ACTIONS, IAM_PREFIXES
from infra.targets.aws_alarms import AlarmReadings
from infra.targets.aws_canary import surviving_canary_writes
from infra.targets.aws_cas import UNCHECKED
from infra.targets.aws_credentials import CREDENTIAL_ERRORS, credentials_refused, session_for
from infra.targets.aws_database import DatabaseFaults
from infra.targets.aws_delivery import DeliveryFaults
from infra.targets.aws_expiry import ExpiryFaults, Restore
from infra.targets.aws_lambda_faults import (
    ADD_DELAY,
    HTTP_RESPONSE,
    MAX_DELAY_MS,
    LambdaFaults,
    fis_duration,
    invocation_percentage,
)
from infra.targets.aws_ledger import DynamoLedgerStore
from infra.targets.aws_meaning import (
    MODE_ALIASES,
    PROVIDER_LINK_PREFIX,
    REGION_MODES,
    THROTTLE_STATUS,
    link_meaning,
    link_provider,
    region_mode,
)
from infra.targets.aws_metrics import MetricProbes
from infra.targets.aws_readings import ChaosawsReadings
from infra.targets.aws_services import ServiceFaults
from infra.targets.aws_wait import FIS_RUNNING, Waiting, WaitTimeouts, fis_pending, wait_for
from infra.targets.base import DetectionTiming, Problems, SamplerSources, TargetOptions
from infra.targets.profile import TargetProfile, load_target_profile

ALIAS_TTL_S = 60  # what Route 53 answers an alias record (ELB, API Gateway targets) with

__all__ = ["AwsTarget", "REGION_MODES", "MODE_ALIASES", "PROVIDER_LINK_PREFIX", "link_provider", "link_meaning",
           "region_mode", "session_for", "THROTTLE_STATUS"]



class AwsTarget(DatabaseFaults, ServiceFaults, DeliveryFaults, MetricProbes, ExpiryFaults, LambdaFaults,
                ChaosawsReadings, AlarmReadings):
    """Driver for the AWS resources of one target profile; `dry_run` records every change and sends none."""

    name = "aws"
    needs_profile = True
    records_dry_runs = True        # a dry run walks the experiment: reads sent, every change printed, none sent
    replays_without_ledger = False  # only the ledger knows the previous values to restore
    dry_run: bool

    def __init__(self, profile: TargetProfile, *, session: boto3.Session | None = None, dry_run: bool = False,
                 confirm_account: str | None = None, log: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 timeouts: WaitTimeouts | None = None, state_root: Path | None = None,
                 profile_path: Path | None = None, force_restore: bool = False, fault_max_s: float = 3600.0):
        safety.check_confirmation(profile.effective_environment, profile.account_id, confirm_account,
                                  action="GameDay", resource=f"account {profile.account_id}")
        self.profile = profile
        self.dry_run = dry_run
        self.force_restore = force_restore  # `gameday recover --force`: restore over a conflict (aws_cas)
        self.fault_max_s = fault_max_s      # a fault's AWS-side expiry comes this long after it (aws_expiry)
        self.confirm_account = confirm_account
        self.recorder = safety.CallRecorder(dry_run=dry_run, declared=ACTIONS, log=log, clock=clock)
        self._session = session or session_for(profile)
        self._clients: dict[tuple[str, str], object] = {}
        self._account: str | None = None
        self._clock = clock
        # The waits for asynchronous operations (aws_wait): injectable clock and sleep, progress through `log`.
        self.waiting = Waiting(clock=clock, sleep=sleep, log=log or (lambda line: None),
                               timeouts=timeouts or WaitTimeouts())
        self._write_ahead: Callable[[dict | None], None] | None = None
        self._state_root = state_root
        self.profile_path = profile_path  # handed to the run's children (child_env)

    @property
    def ledger_store(self) -> DynamoLedgerStore | None:
        """The ledger in the account's table when the profile names one (infra/targets/aws_ledger.py)."""
        safety = self.profile.safety
        if safety.ledger_table is None:
            return None
        region = safety.ledger_region or self.profile.regions.primary
        return DynamoLedgerStore(self.client("dynamodb", region), safety.ledger_table,
                                 f"ledger#{self.profile.name}#{self.profile.account_id}", self._clock)

    @contextmanager
    def exclusive(self, run_id: str, duration_s: float):
        """Hold the target's lease in the account's table for the run (none without a table: the file lock of
        gameday.run_lock covers one machine only)."""
        store = self.ledger_store
        if store is None:
            yield None
            return
        with store.lease(run_id, duration_s) as holder:
            yield holder

    @property
    def ledger_path(self) -> Path:
        """The fault ledger of this profile's account, `<stack root>/aws-<profile>-<account>/faults.jsonl`: stable
        across runs, so `gameday recover --target aws` finds what a crashed run left open."""
        if self._state_root is None:
            self._state_root = Path(Settings().stack_root)
        return self._state_root / f"aws-{self.profile.name}-{self.profile.account_id}" / "faults.jsonl"

    @property
    def edge_url(self) -> str | None:
        """The profile's CloudFront distribution (endpoints.cdn_url), where static assets and index.html load."""
        return self.profile.endpoints.cdn_url

    @property
    def entry_url(self) -> str:
        """The public entry point the load, the canary and the health probe use (the profile's endpoints)."""
        return self.profile.endpoints.entry_url

    # --- lifecycle (infra.targets.base) ------------------------------------------------------------
    @classmethod
    def configure(cls, options: TargetOptions) -> TargetProfile:
        """The target profile named by the options (InvalidInput without one, or with a wrong one)."""
        if options.profile is None:
            raise InvalidInput("the aws target refused: no target profile given",
                               hint="--target aws --profile examples/targets/staging.yaml (or GAMEDAY_TARGET_PROFILE)")
        return load_target_profile(options.profile)

    @classmethod
    def check(cls, activity: str, args: dict, config: TargetProfile) -> Problems:
        return aws_checks.problems(activity, args, config)

    @classmethod
    def open(cls, settings: Settings, options: TargetOptions) -> AwsTarget:
        """The driver of the options' profile (the prod confirmation is checked here, before anything is touched)."""
        return cls(cls.configure(options), dry_run=options.dry_run, confirm_account=options.confirm_account,
                   state_root=options.state_root or Path(settings.stack_root), profile_path=options.profile,
                   **{"fault_max_s": settings.fault_max_s, **options.extra})

    @classmethod
    def from_environment(cls, settings: Settings, configuration: dict) -> AwsTarget:
        """From configuration keys `gameday_target_profile`, `gameday_confirm_account`, `gameday_dry_run`, falling
        back to the settings (GAMEDAY_TARGET_PROFILE, ...)."""
        profile = configuration.get("gameday_target_profile") or settings.target_profile
        options = TargetOptions(profile=Path(profile) if profile else None,
                                confirm_account=(configuration.get("gameday_confirm_account")
                                                 or settings.confirm_account),
                                dry_run=bool(configuration.get("gameday_dry_run", settings.dry_run)))
        return cls.open(settings, options)

    def describe(self) -> str:
        p = self.profile
        return f"target aws (profile {p.name}, account {p.account_id}, {p.effective_environment})"

    def prepare(self, progress: Callable[[str], None]) -> dict:
        """Nothing to bring up: the account check (preflight) only."""
        return self.preflight()

    def child_env(self) -> dict[str, str]:
        if self.profile_path is None:
            raise InvalidInput(f"the run's children cannot act on {self.describe()}: the driver was not opened "
                               "from a profile file", hint="open it with infra.targets.registry.open_target")
        env = {"GAMEDAY_TARGET": self.name, "GAMEDAY_TARGET_PROFILE": str(Path(self.profile_path).resolve())}
        return env | ({"GAMEDAY_CONFIRM_ACCOUNT": self.confirm_account} if self.confirm_account else {})

    def dry_run_summary(self) -> dict:
        calls = self.recorder.calls
        withheld = [c for c in self.recorder.mutations() if not c["sent"]]
        counts = {"calls": len(calls), "reads_sent": len(calls) - len(withheld), "changes_not_sent": len(withheld)}
        return {**counts, "summary": f"{counts['calls']} AWS call(s): {counts['reads_sent']} read(s) sent, "
                                     f"{counts['changes_not_sent']} change(s) printed and not sent"}

    def reference_problems(self) -> list[str]:
        """The writer is the primary region's cluster (the other checks need traffic: `gameday aws check`)."""
        writers = self.writer_regions()
        primary = self.profile.regions.primary
        return [] if writers == [primary] else [f"DB writers {writers or 'none'}, expected exactly {primary}"]

    def restore_reference(self) -> dict:
        """Nothing automatic on AWS: a person decides (the problems are printed by `gameday recover`)."""
        return {"skipped": True, "reason": "on aws the reference topology is restored by a person",
                "problems": self.reference_problems(), "at_s": self._clock()}

    def preflight(self) -> dict:
        """Before a run touches anything: the credentials belong to the profile's account (InvalidInput else)."""
        p = self.profile
        try:
            caller = self.caller_account()
        except CREDENTIAL_ERRORS as exc:
            raise credentials_refused(p, exc) from exc
        safety.check_account(caller, p.account_id, action="GameDay", resource=f"account {p.account_id}")
        return {"account": p.account_id, "environment": p.effective_environment, "regions": list(p.regions.all())}

    @contextmanager
    def write_ahead(self, callback: Callable[[dict | None], None]):
        """Within the block, `callback(recovery)` runs after the guard and the reads and before the first change
        of each mutating call: the fault ledger's `begin` goes here, so the entry is on disk before AWS is touched."""
        previous, self._write_ahead = self._write_ahead, callback
        try:
            yield self
        finally:
            self._write_ahead = previous

    # --- plumbing --------------------------------------------------------------------------------
    def client(self, service: str, region: str):
        """The (cached) client for `service` in `region`, hooked to the call recorder."""
        key = (service, region)
        if key not in self._clients:
            client = self._session.client(service, region_name=region)
            self.recorder.attach(client, IAM_PREFIXES.get(service, service), region)
            self._clients[key] = client
        return self._clients[key]

    def caller_account(self) -> str:
        if self._account is None:
            self._account = self.client("sts", self.profile.regions.primary).get_caller_identity()["Account"]
        return self._account

    def _guard(self, action: str, resource: str, region: str, tags) -> None:  # tags: list, dict or a callable
        """Refuse (InvalidInput, nothing changed) unless prod is confirmed, region and account allowed, tag present."""
        p = self.profile
        safety.check_confirmation(p.effective_environment, p.account_id, self.confirm_account, action=action,
                                  resource=resource)
        safety.check_region(region, p.regions.all(), action=action, resource=resource)
        safety.check_account(self.caller_account(), p.account_id, action=action, resource=resource)
        tags = tags() if callable(tags) else tags  # lazy: read the resource only once region and account are allowed
        safety.check_tagged(safety.tags_from(tags), p.tag.key, p.tag.value, action=action, resource=resource)

    def _ahead(self, recovery: dict | None) -> None:
        if self._write_ahead is not None:
            self._write_ahead(recovery)

    def _done(self, action: str, start_s: float, recovery: dict | None, **details) -> dict:
        return {"action": action, **details, "dry_run": self.dry_run, "start_s": start_s, "at_s": self._clock(),
                "recovery": recovery}

    def _need(self, value, what: str):
        if not value:
            raise InvalidInput(f"target profile {self.profile.name} does not name {what}",
                               hint="add it under `resources` in the target profile")
        return value

    # --- region failure --------------------------------------------------------------------------
    def fail_region(self, region: str, mode: str = "health_check") -> dict:
        """Make Route 53 fail `region` over: invert its health check, delete its failover record, or start its
        FIS experiment template (local modes map: MODE_ALIASES)."""
        mode = region_mode(mode)
        start = self._clock()
        if mode == "fis":
            template = self._need(self.profile.resources.fis_templates.get(region), f"an FIS template for {region}")
            fis = self.client("fis", region)
            tags = fis.get_experiment_template(id=template)["experimentTemplate"].get("tags")
            self._guard("fail_region", f"FIS experiment template {template} ({region})", region, tags)
            # The experiment id is known only once started: the write-ahead entry stops by template instead.
            self._ahead(self._region_recovery(region, mode, {"template_id": template}))
            # Tagged: the role's StopExperiment (the recovery) is granted only on experiments carrying the tag.
            answer = fis.start_experiment(experimentTemplateId=template, clientToken=f"gameday-{int(start * 1000)}",
                                          tags={self.profile.tag.key: self.profile.tag.value})
            experiment = answer.get("experiment", {}).get("id", "dry-run")
            previous = {"template_id": template, "experiment_id": experiment}
            if not self.dry_run:
                self._wait_fis(fis, "fail_region", experiment, template, region, "running")
            return self._done("fail_region", start, self._region_recovery(region, mode, previous), region=region,
                              mode=mode, experiment_id=experiment, template_id=template)
        r53 = self._need(self.profile.resources.route53, "a Route 53 failover record")
        route53 = self.client("route53", self.profile.regions.primary)
        if mode == "health_check":
            check = self._need(r53.health_checks.get(region), f"a health check for {region}")
            self._guard("fail_region", f"Route 53 health check {check} ({region})", region,
                        self.route53_tags("healthcheck", check))
            inverted = route53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]["Inverted"]
            expiry = self._expiry_planned("fail_region", start, [Restore(
                self.profile.regions.primary, "route53", "UpdateHealthCheck",
                {"HealthCheckId": check, "Inverted": inverted})])
            recovery = self._region_recovery(region, mode, {"inverted": inverted}, fault_set={"inverted": True},
                                             expiry=expiry)
            self._ahead(recovery)
            self._arm(expiry)
            route53.update_health_check(HealthCheckId=check, Inverted=True)
            return self._done("fail_region", start, recovery, region=region, mode=mode, health_check_id=check,
                              inverted_before=inverted)
        zone = r53.hosted_zone_id.split("/")[-1]
        self._guard("fail_region", f"Route 53 zone {zone} record {r53.record_name} ({region})", region,
                    self.route53_tags("hostedzone", zone))
        record = self._failover_record(region)
        expiry = self._expiry_planned("fail_region", start, [Restore(
            self.profile.regions.primary, "route53", "ChangeResourceRecordSets",
            {"HostedZoneId": zone, "ChangeBatch": {"Comment": f"gameday: expiry of the {region} outage",
                                                   "Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}})])
        recovery = self._region_recovery(region, mode, {"record_set": record}, fault_set={"record_set": None},
                                         expiry=expiry)
        self._ahead(recovery)
        self._arm(expiry)
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
            "Comment": f"gameday: fail {region}", "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})
        return self._done("fail_region", start, recovery, region=region, mode=mode, deleted_record=record)

    def restore_region(self, region: str, mode: str = "health_check", previous: dict | None = None,
                       fault_set: Any = UNCHECKED, expiry: list | None = None) -> dict:
        """Undo `fail_region`: the health check's previous inversion (default: not inverted), the deleted record
        set (needs `previous`), or stop the FIS experiment (needs `previous`); a Route 53 change only while it
        still holds what the fault set (aws_cas). Idempotent."""
        mode = region_mode(mode)
        start = self._clock()
        previous = previous or {}
        if mode == "fis":
            fis = self.client("fis", region)
            template = previous.get("template_id") or self._need(self.profile.resources.fis_templates.get(region),
                                                                 f"an FIS template for {region}")
            tags = fis.get_experiment_template(id=template)["experimentTemplate"].get("tags")
            self._guard("restore_region", f"FIS experiment template {template} ({region})", region, tags)
            if previous.get("experiment_id"):
                running = [previous["experiment_id"]] if previous["experiment_id"] != "dry-run" and \
                    fis.get_experiment(id=previous["experiment_id"])["experiment"]["state"]["status"] in FIS_RUNNING \
                    else []
            else:  # crashed between the ledger entry and the answer: stop whatever runs from the template
                running = [e["id"] for e in fis.list_experiments(experimentTemplateId=template).get("experiments", [])
                           if e.get("state", {}).get("status") in FIS_RUNNING]
            self._ahead(None)
            for experiment in running:
                fis.stop_experiment(id=experiment)
                if not self.dry_run:  # stopping: FIS undoes its actions (e.g. puts the network ACLs back)
                    self._wait_fis(fis, "restore_region", experiment, template, region, "ended")
            return self._done("restore_region", start, None, region=region, mode=mode, template_id=template,
                              stopped=running)
        r53 = self._need(self.profile.resources.route53, "a Route 53 failover record")
        route53 = self.client("route53", self.profile.regions.primary)
        if mode == "health_check":
            check = self._need(r53.health_checks.get(region), f"a health check for {region}")
            self._guard("restore_region", f"Route 53 health check {check} ({region})", region,
                        self.route53_tags("healthcheck", check))
            inverted = bool(previous.get("inverted", False))
            found = route53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]["Inverted"]
            if not self._should_restore(f"Route 53 health check {check} ({region})", {"inverted": found}, fault_set,
                                        {"inverted": inverted}, expiry):
                return self._done("restore_region", start, None, region=region, mode=mode, health_check_id=check,
                                  inverted=inverted, already_restored=True, expiry_deleted=self._disarm(expiry))
            self._ahead(None)
            route53.update_health_check(HealthCheckId=check, Inverted=inverted)
            return self._done("restore_region", start, None, region=region, mode=mode, health_check_id=check,
                              inverted=inverted, expiry_deleted=self._disarm(expiry))
        record = self._need(previous.get("record_set"), "the deleted record set (recovery args)")
        zone = r53.hosted_zone_id.split("/")[-1]
        self._guard("restore_region", f"Route 53 zone {zone} record {r53.record_name} ({region})", region,
                    self.route53_tags("hostedzone", zone))
        found = self._failover_record_or_none(region)
        if not self._should_restore(f"Route 53 zone {zone} record {r53.record_name} ({region})",
                                    {"record_set": found}, fault_set, {"record_set": record}, expiry):
            return self._done("restore_region", start, None, region=region, mode=mode, record_set=record,
                              already_restored=True, expiry_deleted=self._disarm(expiry))
        self._ahead(None)
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
            "Comment": f"gameday: restore {region}", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]})
        return self._done("restore_region", start, None, region=region, mode=mode, record_set=record,
                          expiry_deleted=self._disarm(expiry))

    # --- fault-proxy links and faults with an AWS meaning (infra/aws/README.md) ------------------------
    def cut_link(self, link: str) -> dict:
        """`provider-<name>`: the AI provider's kill switch on; `cache-<region>`: ElastiCache test_failover (no
        undo: the old primary rejoins as a replica); `origin-<region>`: the S3 origin denies reads."""
        kind, name = link_meaning(link, self.profile)
        if kind == "functions":
            raise InvalidInput(f"cutting link {link!r} has no AWS meaning: the region's API cannot be unplugged; use "
                               f"gameday.faults.fail_region({name!r}) (Route 53 or FIS) or inject_http_error({link!r}, "
                               "503) (FIS's Lambda action)")
        if kind == "provider":
            done = self.set_provider_kill_switch(name, True)
        elif kind == "cache":
            done = self.failover_cache()
        else:
            done = self.fail_origin(name)
        return {**done, "link": link}

    def inject_http_error(self, link: str, status: int, probability: float = 1.0) -> dict:
        """429 on `provider-<name>`: the AI provider throttles (kill switch `throttle:<probability>`); the previous
        values are kept. Any status on `router-<region>`: FIS returns it for that share of the region's function
        invocations, without running them (aws_lambda_faults). No other link has an AWS meaning."""
        kind, region = link_meaning(link, self.profile)
        if kind == "functions":
            if not 100 <= int(status) <= 599:
                raise InvalidInput(f"HTTP error {status} on link {link!r} is no HTTP status (100..599)")
            percent = invocation_percentage(probability, link)
            return self._start_lambda_fault(
                "inject_http_error", "remove_http_error", link, region, HTTP_RESPONSE,
                {"duration": fis_duration(self.fault_max_s), "invocationPercentage": str(percent),
                 "statusCode": str(int(status)), "contentTypeHeader": "application/json", "preventExecution": "true"},
                status=int(status), probability=percent / 100)
        provider = link_provider(link, self.profile)
        if int(status) != THROTTLE_STATUS:
            raise InvalidInput(f"HTTP error {status} on link {link!r} has no AWS meaning: the AI gateway's kill switch "
                               f"knows throttling ({THROTTLE_STATUS}) and down (gameday.faults.cut_link) only")
        return {**self.throttle_provider(provider, probability), "link": link, "status": THROTTLE_STATUS}

    def flush_cache(self, region: str) -> dict:
        """A cold-cache stand-in: ElastiCache test_failover of the region's replication group (a replaced primary;
        ElastiCache offers no flush call). Nothing to undo."""
        cache = self._need(self.profile.resources.cache, "an ElastiCache replication group")
        if region != cache.region:
            raise InvalidInput(f"flush of the cache in {region} on target aws refused: target profile "
                               f"{self.profile.name}'s replication group is in {cache.region}")
        return {**self.failover_cache(), "action": "flush_cache", "region": region}

    def add_latency(self, link: str, ms: float, jitter_ms: float = 0.0) -> dict:
        """`router-<region>`: FIS delays every invocation of the region's functions by `ms` before their code runs
        (aws_lambda_faults; no jitter: FIS's delay is fixed). `cache-<region>`: nothing on aws. Locally this latency
        is the Lambda-like service time of spike-10x; on AWS the functions have their own. Recorded as not applied
        (no ledger entry, nothing to undo)."""
        kind, region = link_meaning(link, self.profile)
        if kind == "functions":
            if jitter_ms:
                raise InvalidInput(f"latency jitter on link {link!r} has no AWS meaning: FIS adds a fixed delay "
                                   "(give jitter_ms 0)")
            if not 0 < float(ms) <= MAX_DELAY_MS:
                raise InvalidInput(f"latency {ms!r} ms on link {link!r} is outside FIS's range (0, {MAX_DELAY_MS}]")
            return self._start_lambda_fault(
                "add_latency", "remove_latency", link, region, ADD_DELAY,
                {"duration": fis_duration(self.fault_max_s), "invocationPercentage": "100",
                 "startupDelayMilliseconds": str(round(float(ms)))}, ms=float(ms))
        if kind != "cache":
            raise InvalidInput(f"latency on link {link!r} has no AWS meaning: the AWS driver has no fault proxy")
        start = self._clock()
        return self._done("add_latency", start, None, link=link, ms=ms, jitter_ms=jitter_ms, applied=False,
                          reason="on AWS the functions' own duration is the service time; no latency is added")

    def _wait_fis(self, fis, action: str, experiment: str, template: str, region: str, until: str) -> float:
        resource = f"FIS experiment {experiment} of template {template} ({region})"
        _, waited = wait_for(lambda: fis.get_experiment(id=experiment)["experiment"],
                             lambda found: fis_pending(found, until=until, action=action, resource=resource),
                             waiting=self.waiting, action=action, resource=resource,
                             until="it runs" if until == "running" else "it has stopped",
                             timeout_s=self.waiting.timeouts.fis_s,
                             hint="read the experiment in the FIS console; stop it by hand if it still runs")
        return waited

    @staticmethod
    def _region_recovery(region: str, mode: str, previous: dict, fault_set: dict | None = None,
                         expiry: list | None = None) -> dict:
        args = {"region": region, "mode": mode, "previous": previous}
        args |= {"fault_set": fault_set} if fault_set is not None else {}
        return {"call": "restore_region", "args": args | ({"expiry": expiry} if expiry else {})}

    def route53_tags(self, kind: str, resource_id: str) -> list:
        """The tags of a Route 53 hosted zone or health check (`kind`: hostedzone | healthcheck)."""
        route53 = self.client("route53", self.profile.regions.primary)
        return route53.list_tags_for_resource(ResourceType=kind, ResourceId=resource_id)["ResourceTagSet"]["Tags"]

    def detection_timing(self) -> DetectionTiming:
        """Route 53's view, read from the account: the slowest region's health check (RequestInterval x
        FailureThreshold) and the failover records' TTL (an alias record has none of its own: 60 s, the TTL
        Route 53 gives alias answers for ELB and API Gateway targets, Route 53 Developer Guide, "Alias records")."""
        r53 = self.profile.resources.route53
        if r53 is None or not r53.health_checks:
            return DetectionTiming(0.0, 1, 0.0, "the profile names no Route 53 health check: no DNS failover")
        route53 = self.client("route53", self.profile.regions.primary)
        checks = [route53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]
                  for check in r53.health_checks.values()]
        slowest = max(checks, key=lambda c: c.get("RequestInterval", 30) * c.get("FailureThreshold", 3))
        ttls = [self._failover_record(region).get("TTL", ALIAS_TTL_S) for region in r53.set_identifiers]
        return DetectionTiming(float(slowest.get("RequestInterval", 30)), int(slowest.get("FailureThreshold", 3)),
                               float(max(ttls, default=ALIAS_TTL_S)),
                               f"Route 53 health checks {', '.join(r53.health_checks.values())} and record "
                               f"{r53.record_name}")

    def _failover_record_or_none(self, region: str) -> dict | None:
        try:
            return self._failover_record(region)
        except GameDayError:
            return None

    def _failover_record(self, region: str) -> dict:
        r53 = self.profile.resources.route53
        ident = self._need(r53.set_identifiers.get(region), f"the failover record's SetIdentifier for {region}")
        name = r53.record_name.rstrip(".") + "."
        sets = self.client("route53", self.profile.regions.primary).list_resource_record_sets(
            HostedZoneId=r53.hosted_zone_id.split("/")[-1], StartRecordName=name, StartRecordType=r53.record_type)
        for rs in sets["ResourceRecordSets"]:
            if (rs["Name"].rstrip(".") + "." == name and rs["Type"] == r53.record_type
                    and rs.get("SetIdentifier") == ident):
                return rs
        raise GameDayError(f"fail_region of record {name} {r53.record_type} ({ident}) on target aws failed: no such "
                           "record set",
                           hint="check resources.route53 in the target profile (it may be failed already)")

    # --- the rest of the seam: what has no AWS meaning, or lives in the ledger ------------------------
    def _unrecorded(self, action: str, subject: str) -> dict:
        """An undo called with no recorded previous values: only the fault ledger knows them, so nothing is done."""
        return {"action": action, "subject": subject, "skipped": True, "dry_run": self.dry_run, "at_s": self._clock(),
                "reason": "on aws an undo restores the previous values recorded in the fault ledger; none given"}

    def restore_link(self, link: str, **recorded) -> dict:
        return self._unrecorded("restore_link", link)

    def remove_latency(self, link: str, **recorded) -> dict:
        if "fis" in recorded:
            return self._stop_lambda_fault("remove_latency", link, recorded["fis"])
        return self._unrecorded("remove_latency", link)

    def remove_http_error(self, link: str, **recorded) -> dict:
        if "fis" in recorded:
            return self._stop_lambda_fault("remove_http_error", link, recorded["fis"])
        return self._unrecorded("remove_http_error", link)

    def limit_bandwidth(self, link: str, rate_kb_s: int) -> dict:
        raise InvalidInput(f"bandwidth limit on link {link!r} has no AWS meaning: the AWS driver has no fault proxy")

    def remove_bandwidth_limit(self, link: str, **recorded) -> dict:
        return self._unrecorded("remove_bandwidth_limit", link)

    def deploy(self, region: str, version: str, error_rate: float = 0.0, added_latency_ms: float = 0.0,
               force: bool = False) -> dict:
        """The release's Lambda version behind the region's alias (deploy_release); `error_rate`,
        `added_latency_ms` and `force` are the local stack's (a release carries its own behaviour on AWS)."""
        ignored = {k: v for k, v in (("error_rate", error_rate), ("added_latency_ms", added_latency_ms),
                                     ("force", force)) if v}
        return {**self.deploy_release(region, version), **({"local_only_ignored": ignored} if ignored else {})}

    def rollback_deployment(self, region: str, version: str | None = None, **recorded) -> dict:
        return self._unrecorded("rollback_deployment", region)

    def served_region(self) -> str:
        raise InvalidInput("the served region has no AWS meaning: the router's status exists only on the local stack")

    def surviving_writes(self, since_seq: int) -> dict | None:
        """The canary writes the final writer holds, read back through the profile's canary endpoint
        (infra/targets/aws_canary.py); None without `endpoints.canary_url` (RPO not measured)."""
        return surviving_canary_writes(self.profile.endpoints.canary_url, since_seq, self.writer_regions())

    def sampler_sources(self) -> SamplerSources:
        """The samplers read the entry point only (no database ports, gateways or router status on AWS); canary
        writes go to the canary endpoint; every probe opens its own connection, so it resolves the failover
        record again (its TTL honoured by the resolver) and measures the DNS failover, not connection reuse."""
        return SamplerSources(canary_url=self.profile.endpoints.canary_url, fresh_connections=True)
