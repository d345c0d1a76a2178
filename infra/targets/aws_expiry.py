"""Faults that expire on AWS: a dead man's switch for a harness that dies mid-GameDay.

A fault with no native expiry on AWS (a kill switch, a bucket-policy deny, a Lambda concurrency change, a Route 53
change, an alias update) gets, before it is made, an EventBridge Scheduler one-time schedule per region that calls
the AWS API putting the exact previous value back (a universal target, `arn:aws:scheduler:::aws-sdk:<service>:
<apiAction>`, with the request as its input), at the fault's start + the run's maximum fault duration. The
schedule runs as the profile's expiry role (`safety.expiry_role_arn`, infra/aws/gameday-role.yaml: ExpiryRole,
allowed only those restores) and deletes itself after it ran. A normal recovery deletes it; its name is in the
fault's recovery arguments, so `gameday recover` from the ledger deletes it too.

The schedule restores blindly (Scheduler has no compare-and-swap): it is a last resort for a fault nobody is
recovering, set far enough out that a live run always recovers first. FIS faults carry FIS's own `duration`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from infra.targets.aws_cas import RestoreConflict, should_write

__all__ = ["Restore", "target_arn", "schedule_expression", "schedule_name", "ExpiryFaults"]


@dataclass(frozen=True)
class Restore:
    """One AWS API request that puts a previous value back (as boto3 names it: service, operation, params)."""

    region: str
    service: str          # the SDK's service name, e.g. "ssm", "lambda", "s3", "route53"
    operation: str        # the API operation, e.g. "PutParameter"
    params: dict

    def as_dict(self) -> dict:
        return asdict(self)


def target_arn(service: str, operation: str) -> str:
    """Pure: Scheduler's universal target for `operation` of `service` (the action in lower camel case)."""
    return f"arn:aws:scheduler:::aws-sdk:{service}:{operation[0].lower()}{operation[1:]}"


def schedule_expression(start_s: float, max_s: float) -> str:
    """Pure: a one-time schedule at `start_s + max_s` (UTC, to the second, rounded up)."""
    at = datetime.fromtimestamp(start_s, UTC) + timedelta(seconds=max_s)
    at = at.replace(microsecond=0) + (timedelta(seconds=1) if at.microsecond else timedelta())
    return f"at({at:%Y-%m-%dT%H:%M:%S})"


def schedule_name(action: str, start_s: float, index: int) -> str:
    """Pure: a schedule name (1-64 of [0-9a-zA-Z-_.]) unique to the fault and the restore."""
    return re.sub(r"[^0-9A-Za-z_.-]", "-", f"gameday-{action}-{int(start_s * 1000)}-{index}")[:64]


class ExpiryFaults:
    """Mixin of AwsTarget: `_arm` before a change, `_disarm` after its recovery."""

    def _expiry_planned(self, action: str, start_s: float, restores: list[Restore]) -> list[dict]:
        """The schedules `restores` will get (names and times), for the recovery written ahead; [] when faults do not
        expire on this profile (no expiry role: `gameday aws check` says so) or in a dry run's bookkeeping."""
        role = self.profile.safety.expiry_role_arn
        if role is None or not restores:
            return []
        expression = schedule_expression(start_s, self.fault_max_s)
        return [{"region": r.region, "name": schedule_name(action, start_s, i), "group": self.profile.safety.group,
                 "at": expression, "restore": r.as_dict()} for i, r in enumerate(restores)]

    def _arm(self, planned: list[dict]) -> None:
        """Create the planned schedules (before the fault is made: a crash after the change leaves them armed)."""
        role = self.profile.safety.expiry_role_arn
        for plan in planned:
            restore = plan["restore"]
            self.client("scheduler", plan["region"]).create_schedule(
                Name=plan["name"], GroupName=plan["group"], ScheduleExpression=plan["at"],
                ScheduleExpressionTimezone="UTC", FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE", Description="gameday: undo of a fault nobody recovered",
                Target={"Arn": target_arn(restore["service"], restore["operation"]), "RoleArn": role,
                        "Input": json.dumps(restore["params"]), "RetryPolicy": {"MaximumRetryAttempts": 3}})

    def _disarm(self, expiry: list[dict] | None) -> list[str]:
        """Delete the schedules of a recovered fault (gone already: fine). The names deleted."""
        deleted = []
        for plan in expiry or []:
            try:
                self.client("scheduler", plan["region"]).delete_schedule(Name=plan["name"], GroupName=plan["group"])
                deleted.append(plan["name"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
        return deleted

    def _should_restore(self, resource: str, found, fault_set, previous, expiry: list | None, **same) -> bool:
        """aws_cas.should_write; on a conflict the fault's expiry is cancelled too: the person who changed the
        resource is in charge of it now, and a blind restore at expiry would overwrite their change."""
        try:
            return should_write(resource, found, fault_set, previous, force=self.force_restore, **same)
        except RestoreConflict as exc:
            if deleted := self._disarm(expiry):
                exc.args = (f"{exc.args[0]}; its AWS-side expiry ({', '.join(deleted)}) was cancelled",)
            raise
