"""AWS driver faults on Lambda (reserved and provisioned concurrency), SSM kill switches (down or throttling) and
ElastiCache failover.

A mixin of `infra.targets.aws.AwsTarget`: it uses the driver's `client`, `_guard`, `_done`, `_need`, `_clock`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from gameday.base.errors import GameDayError, InvalidInput
from infra.targets.aws_cas import UNCHECKED
from infra.targets.aws_expiry import Restore
from infra.targets.aws_wait import wait_for

__all__ = ["ServiceFaults", "CACHE_FAILOVER_QUOTA", "failovers_in"]

#: ElastiCache allows test_failover on at most 15 node groups in any rolling 24 hours (per account and region).
CACHE_FAILOVER_QUOTA = 15
CACHE_QUOTA_WINDOW = timedelta(hours=24)
_FAILOVER_EVENT = re.compile(r"test failover api called", re.IGNORECASE)
#: The values the AI gateway reads from a provider's kill switch: down, up, or throttling (429) with a probability.
KILL_SWITCH_ON, KILL_SWITCH_OFF, KILL_SWITCH_THROTTLE = "on", "off", "throttle:"


def failovers_in(events: list[dict]) -> int:
    """Pure: how many node-group test failovers the ElastiCache events record."""
    return sum(1 for e in events if _FAILOVER_EVENT.search(e.get("Message", "")))


def _primaries(found: dict) -> dict[str, str]:
    """Pure: node group id -> its primary's cache cluster id, where the replication group reports roles."""
    return {g["NodeGroupId"]: m["CacheClusterId"] for g in found.get("NodeGroups", [])
            for m in g.get("NodeGroupMembers", []) if m.get("CurrentRole") == "primary" and "CacheClusterId" in m}


def _provisioned_pending(found: dict, resource: str) -> str | None:
    """Pure: what a provisioned concurrency config still waits for (None: READY); FAILED raises with AWS's reason."""
    status = found.get("Status", "")
    if status == "READY":
        return None
    if status == "FAILED":
        raise GameDayError(f"set_provisioned_concurrency of {resource} on target aws failed: "
                           f"{found.get('StatusReason') or 'status FAILED'}",
                           hint="lower the value or raise the account's concurrency quota; the recovery restores "
                                "the previous value")
    return f"status {status or 'unknown'}, allocated {found.get('AllocatedProvisionedConcurrentExecutions', 0)}"


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class ServiceFaults:
    # --- Lambda ----------------------------------------------------------------------------------
    def _guard_function(self, action: str, function: str, region: str) -> None:
        # GetFunction returns tags only with lambda:ListTags as well; read the ARN, then its tags, explicitly.
        def tags() -> dict:
            lam = self.client("lambda", region)
            arn = lam.get_function_configuration(FunctionName=function)["FunctionArn"]
            return lam.list_tags(Resource=arn).get("Tags", {})
        self._guard(action, f"Lambda function {function} ({region})", region, tags)

    def function_concurrency(self, function: str, region: str) -> int | None:
        """Probe: the reserved concurrency of `function` (None when none is set)."""
        answer = self.client("lambda", region).get_function_concurrency(FunctionName=function)
        return answer.get("ReservedConcurrentExecutions")

    def throttle_function(self, function: str, region: str) -> dict:
        """Throttle every invocation of `function`: reserved concurrency 0; the previous value is kept."""
        start = self._clock()
        self._guard_function("throttle_function", function, region)
        previous = self.function_concurrency(function, region)
        expiry = self._expiry_planned("throttle_function", start, [
            Restore(region, "lambda", "DeleteFunctionConcurrency", {"FunctionName": function}) if previous is None
            else Restore(region, "lambda", "PutFunctionConcurrency",
                         {"FunctionName": function, "ReservedConcurrentExecutions": previous})])
        recovery = {"call": "restore_function_concurrency",
                    "args": {"function": function, "region": region, "previous": previous, "fault_set": 0,
                             **({"expiry": expiry} if expiry else {})}}
        self._ahead(recovery)
        self._arm(expiry)
        self.client("lambda", region).put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
        return self._done("throttle_function", start, recovery, function=function, region=region,
                          reserved_concurrency=0, previous=previous)

    def restore_function_concurrency(self, function: str, region: str, previous: int | None,
                                     fault_set: Any = UNCHECKED, expiry: list | None = None) -> dict:
        """Put back the reserved concurrency `previous` (None: remove it, as it was), only while it is still the
        `fault_set` value (aws_cas). Idempotent."""
        start = self._clock()
        self._guard_function("restore_function_concurrency", function, region)
        lam = self.client("lambda", region)
        found = self.function_concurrency(function, region)
        if not self._should_restore(f"reserved concurrency of Lambda function {function} ({region})", found,
                                    fault_set, previous, expiry):
            return self._done("restore_function_concurrency", start, None, function=function, region=region,
                              reserved_concurrency=previous, already_restored=True,
                              expiry_deleted=self._disarm(expiry))
        self._ahead(None)
        if previous is None:
            lam.delete_function_concurrency(FunctionName=function)
        else:
            lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=int(previous))
        return self._done("restore_function_concurrency", start, None, function=function, region=region,
                          reserved_concurrency=previous, expiry_deleted=self._disarm(expiry))

    def provisioned_concurrency(self, function: str, region: str, qualifier: str) -> int | None:
        """Probe: requested provisioned concurrency of `function:qualifier` (None when not configured)."""
        try:
            answer = self.client("lambda", region).get_provisioned_concurrency_config(
                FunctionName=function, Qualifier=qualifier)
        except ClientError as exc:
            if _code(exc) == "ProvisionedConcurrencyConfigNotFoundException":
                return None
            raise
        return answer.get("RequestedProvisionedConcurrentExecutions")

    def set_provisioned_concurrency(self, function: str, region: str, qualifier: str, value: int | None,
                                    fault_set: Any = UNCHECKED, expiry: list | None = None) -> dict:
        """Set provisioned concurrency of `function:qualifier` to `value` (None: remove the configuration); as a
        recovery, only while it is still the `fault_set` value (aws_cas)."""
        if value is not None and int(value) < 0:
            raise InvalidInput(f"set_provisioned_concurrency of {function}:{qualifier} refused: value must be >= 0 "
                               f"or None, not {value}")
        start = self._clock()
        self._guard_function("set_provisioned_concurrency", function, region)
        previous = self.provisioned_concurrency(function, region, qualifier)
        if fault_set is not UNCHECKED and not self._should_restore(
                f"provisioned concurrency of Lambda function {function}:{qualifier} ({region})", previous, fault_set,
                value, expiry):
            return self._done("set_provisioned_concurrency", start, None, function=function, region=region,
                              qualifier=qualifier, value=value, already_restored=True,
                              expiry_deleted=self._disarm(expiry))
        target = {"FunctionName": function, "Qualifier": qualifier}
        planned = [] if expiry is not None else self._expiry_planned("set_provisioned_concurrency", start, [
            Restore(region, "lambda", "DeleteProvisionedConcurrencyConfig", target) if previous is None
            else Restore(region, "lambda", "PutProvisionedConcurrencyConfig",
                         {**target, "ProvisionedConcurrentExecutions": previous})])
        recovery = {"call": "set_provisioned_concurrency",
                    "args": {"function": function, "region": region, "qualifier": qualifier, "value": previous,
                             "fault_set": value, **({"expiry": planned} if planned else {})}}
        self._ahead(recovery)
        self._arm(planned)
        lam = self.client("lambda", region)
        if value is None:
            lam.delete_provisioned_concurrency_config(FunctionName=function, Qualifier=qualifier)
        else:
            lam.put_provisioned_concurrency_config(FunctionName=function, Qualifier=qualifier,
                                                   ProvisionedConcurrentExecutions=int(value))
        waited = None
        if value is not None and not self.dry_run:  # requested is not allocated: wait until READY
            resource = f"provisioned concurrency of Lambda function {function}:{qualifier} ({region})"
            _, waited = wait_for(lambda: lam.get_provisioned_concurrency_config(FunctionName=function,
                                                                               Qualifier=qualifier),
                                 lambda found: _provisioned_pending(found, resource),
                                 waiting=self.waiting, action="set_provisioned_concurrency", resource=resource,
                                 until=f"{int(value)} allocated (READY)",
                                 timeout_s=self.waiting.timeouts.provisioned_s,
                                 hint="check the function's account concurrency headroom and its "
                                      "provisioned concurrency status in the Lambda console")
        return self._done("set_provisioned_concurrency", start, recovery, function=function, region=region,
                          qualifier=qualifier, value=value, previous=previous, waited_s=waited,
                          expiry_deleted=self._disarm(expiry))

    # --- AI provider kill switch (SSM parameter, same name in every region) -------------------------
    def _kill_switch_state(self, name: str, region: str) -> tuple[str | None, list]:
        ssm = self.client("ssm", region)
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as exc:
            if _code(exc) != "ParameterNotFound":
                raise
            return None, []
        return value, ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])

    def set_provider_kill_switch(self, provider: str, on: bool) -> dict:
        """Declare AI `provider` down (on) or up (off) in every region; every region is checked before any change."""
        return self._put_kill_switch("set_provider_kill_switch", provider, KILL_SWITCH_ON if on else KILL_SWITCH_OFF)

    def throttle_provider(self, provider: str, probability: float = 1.0) -> dict:
        """Make the AI gateway treat `provider` as throttling (429) with `probability`: kill switch
        `throttle:<probability>` in every region; the previous values are kept."""
        probability = float(probability)
        if not 0.0 <= probability <= 1.0:
            raise InvalidInput(f"throttle_provider of {provider!r} on target aws refused: probability must be in "
                               f"0..1, not {probability}")
        return self._put_kill_switch("throttle_provider", provider, f"{KILL_SWITCH_THROTTLE}{probability:g}")

    def _put_kill_switch(self, action: str, provider: str, value: str) -> dict:
        switches = self.profile.resources.kill_switches
        if provider not in switches:
            raise InvalidInput(f"AI provider {provider!r} has no kill switch in target profile {self.profile.name}; "
                               f"valid providers: {', '.join(sorted(switches)) or 'none'}")
        start = self._clock()
        name = switches[provider]
        previous = {}
        for region in self.profile.regions.all():
            current, tags = self._kill_switch_state(name, region)
            self._guard(action, f"SSM parameter {name} ({region})", region, tags)
            previous[region] = current
        expiry = self._expiry_planned(action, start, [
            Restore(region, "ssm", "DeleteParameter", {"Name": name}) if old is None
            else Restore(region, "ssm", "PutParameter",
                         {"Name": name, "Value": old, "Type": "String", "Overwrite": True})
            for region, old in previous.items()])
        recovery = {"call": "restore_provider_kill_switch",
                    "args": {"provider": provider, "previous": previous, "fault_set": value,
                             **({"expiry": expiry} if expiry else {})}}
        self._ahead(recovery)
        self._arm(expiry)
        for region in previous:
            self.client("ssm", region).put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        return self._done(action, start, recovery, provider=provider, parameter=name, value=value,
                          previous=previous)

    def restore_provider_kill_switch(self, provider: str, previous: dict, fault_set: Any = UNCHECKED,
                                     expiry: list | None = None) -> dict:
        """Put back each region's previous kill-switch value (None: the parameter did not exist), in the regions
        that still hold the `fault_set` value; every region is compared before any is written (aws_cas)."""
        start = self._clock()
        name = self._need(self.profile.resources.kill_switches.get(provider), f"a kill switch for {provider!r}")
        writes = {}
        for region, value in previous.items():
            found, tags = self._kill_switch_state(name, region)
            self._guard("restore_provider_kill_switch", f"SSM parameter {name} ({region})", region, tags)
            if self._should_restore(f"SSM parameter {name} ({region})", found, fault_set, value, expiry):
                writes[region] = value
        self._ahead(None)
        for region, value in writes.items():
            ssm = self.client("ssm", region)
            if value is None:
                ssm.delete_parameter(Name=name)
            else:
                ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        return self._done("restore_provider_kill_switch", start, None, provider=provider, parameter=name,
                          values=previous, written=sorted(writes), expiry_deleted=self._disarm(expiry))

    # --- ElastiCache -----------------------------------------------------------------------------
    def cache_failover_quota(self) -> dict:
        """Probe: test failovers used and left in the rolling 24 h window of the cache's region."""
        cache = self._need(self.profile.resources.cache, "an ElastiCache replication group")
        end = datetime.fromtimestamp(self._clock(), UTC)
        pages = self.client("elasticache", cache.region).get_paginator("describe_events").paginate(
            SourceType="replication-group", StartTime=end - CACHE_QUOTA_WINDOW, EndTime=end)
        used = failovers_in([e for page in pages for e in page.get("Events", [])])
        return {"region": cache.region, "used": used, "left": max(0, CACHE_FAILOVER_QUOTA - used),
                "quota": CACHE_FAILOVER_QUOTA, "window_s": CACHE_QUOTA_WINDOW.total_seconds()}

    def failover_cache(self, node_group: str | None = None) -> dict:
        """ElastiCache test_failover of `node_group` (default: every node group the profile names), after
        checking the 24 h quota. The old primary rejoins as a replica: nothing to restore."""
        cache = self._need(self.profile.resources.cache, "an ElastiCache replication group")
        groups = [node_group] if node_group else list(cache.node_groups)
        start = self._clock()
        ec = self.client("elasticache", cache.region)
        found = ec.describe_replication_groups(ReplicationGroupId=cache.replication_group_id)["ReplicationGroups"][0]
        resource = f"ElastiCache replication group {cache.replication_group_id} ({cache.region})"
        tags = ec.list_tags_for_resource(ResourceName=found["ARN"]).get("TagList", [])
        self._guard("failover_cache", resource, cache.region, tags)
        quota = self.cache_failover_quota()
        if quota["left"] < len(groups):
            raise InvalidInput(f"failover_cache of {resource} on target aws refused: {len(groups)} node group(s) "
                               f"asked, {quota['left']} of {CACHE_FAILOVER_QUOTA} test failovers left in the last "
                               "24 h; nothing was changed",
                               hint="wait for the rolling window or fail over fewer groups")
        self._ahead(None)
        waited = []
        for group in groups:  # one at a time: a node group's failover must finish before the next one starts
            before = _primaries(found).get(group)
            ec.test_failover(ReplicationGroupId=cache.replication_group_id, NodeGroupId=group)
            if not self.dry_run:
                found, seconds = self._wait_cache(resource, cache.replication_group_id, cache.region, group, before)
                waited.append(seconds)
        return self._done("failover_cache", start, None, replication_group=cache.replication_group_id,
                          region=cache.region, node_groups=groups, quota_left_before=quota["left"],
                          waited_s=sum(waited) if waited else None)

    def _wait_cache(self, resource: str, group_id: str, region: str, node_group: str, old_primary: str | None
                    ) -> tuple[dict, float]:
        """Wait until the replication group is available again and `node_group`'s primary is no longer
        `old_primary` (when ElastiCache reports roles; cluster-mode-enabled groups report status only)."""
        ec = self.client("elasticache", region)

        def pending(found: dict) -> str | None:
            status = found.get("Status", "available")
            primary = _primaries(found).get(node_group)
            if status != "available":
                return f"status {status}"
            if old_primary is not None and primary == old_primary:
                return f"node group {node_group} primary still {primary}"
            return None

        return wait_for(lambda: ec.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0],
                        pending, waiting=self.waiting, action="failover_cache", resource=resource,
                        until=f"node group {node_group} has a new primary and the group is available",
                        timeout_s=self.waiting.timeouts.cache_s,
                        hint="read the replication group's ElastiCache events; do not start another test failover "
                             "until it is available")
