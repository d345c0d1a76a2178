"""Blast-radius guard for the AWS driver (pure checks) and the call recorder that makes `--dry-run` send nothing.

Order of the checks before any change: production confirmation, region, account, GameDay tag. Each refusal is
an `InvalidInput` naming the action, the resource and the reason; nothing has been changed when it is raised.

Dry run: the recorder hooks every boto3 client the driver makes (botocore events). Every call is recorded with
its parameters. Read-only calls (operations named Describe*, List*, Get*, and STS GetCallerIdentity) are still
sent: the guard needs the account and the tags, and recoveries need the previous values. Every other call is
recorded with `sent: false`, answered locally with an empty response, and never reaches AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping

from botocore.awsrequest import AWSResponse

from gameday.base.errors import GameDayError, InvalidInput

__all__ = ["READ_ONLY_PREFIXES", "is_mutating", "tags_from", "check_confirmation", "check_region",
           "check_account", "check_tagged", "CallRecorder", "UndeclaredAction"]

READ_ONLY_PREFIXES = ("Describe", "List", "Get")


class UndeclaredAction(GameDayError):
    """The driver called an AWS API that its IAM action list (and so the GameDay role) does not name."""


def is_mutating(operation: str) -> bool:
    """Pure: whether an API operation (e.g. `PutFunctionConcurrency`) may change something."""
    return not operation.startswith(READ_ONLY_PREFIXES)


def tags_from(raw: Iterable[Mapping] | Mapping[str, str] | None) -> dict[str, str]:
    """Pure: AWS tags in any of their shapes (`[{"Key", "Value"}]`, `{k: v}`) as one dict."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value", ""))) for t in raw}


def _refused(action: str, resource: str, reason: str, hint: str) -> InvalidInput:
    return InvalidInput(f"{action} of {resource} on target aws refused: {reason}; nothing was changed", hint=hint)


def check_confirmation(environment: str, account_id: str, confirm_account: str | None, *, action: str,
                       resource: str) -> None:
    """Production needs the caller to name the account it is about to touch."""
    if environment == "prod" and confirm_account != account_id:
        given = "none given" if confirm_account is None else f"{confirm_account!r} given"
        raise _refused(action, resource, f"the account's environment is prod (the profile's accounts map or its "
                       f"environment) and the confirmation ({given}) does not equal its account {account_id}",
                       f"pass --confirm-account {account_id} to act on production")


def check_region(region: str, allowed: Iterable[str], *, action: str, resource: str) -> None:
    allowed = tuple(allowed)
    if region not in allowed:
        raise _refused(action, resource, f"region {region} is not in the profile's regions ({', '.join(allowed)})",
                       "add the region to the target profile's `regions` or act on another region")


def check_account(caller_account: str, allowed_account: str, *, action: str, resource: str) -> None:
    if caller_account != allowed_account:
        raise _refused(action, resource,
                       f"the credentials belong to account {caller_account}, the profile allows only {allowed_account}",
                       "use the credentials (aws_profile / role_arn) of the profile's account")


def check_tagged(tags: Mapping[str, str], key: str, value: str, *, action: str, resource: str) -> None:
    if tags.get(key) != value:
        found = f"it has {key}={tags[key]!r}" if key in tags else f"it has no {key!r} tag"
        raise _refused(action, resource, f"it does not carry the GameDay tag {key}={value} ({found})",
                       f"tag the resource {key}={value} if it may take part in GameDays")


class CallRecorder:
    """Records every AWS call of the clients it is attached to; with `dry_run`, mutating calls are not sent.

    `declared`: the IAM actions (`service:Operation`) the driver declares; a call outside it raises
    `UndeclaredAction` before anything is sent, so the GameDay role cannot silently fall behind the code.
    """

    def __init__(self, *, dry_run: bool = False, declared: Iterable[str] | None = None,
                 log: Callable[[str], None] | None = None, clock: Callable[[], float] = time.time):
        self.dry_run = dry_run
        self.declared = frozenset(declared) if declared is not None else None
        self.calls: list[dict] = []
        self._log = log
        self._clock = clock

    def attach(self, client, service: str, region: str) -> None:
        """Hook `client` (made for `service` in `region`); `service` is the IAM prefix (boto3's client name)."""
        def on_params(params, model, context, **_):
            context["gameday_call"] = self.note(service, model.name, region, params)

        def on_call(model, context, **_):
            record = context.get("gameday_call")
            if self.dry_run and is_mutating(model.name) and not (service == "sts"):
                if record is not None:
                    record["sent"] = False
                self._say(record, "would call")
                return AWSResponse(None, 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200, "DryRun": True}}
            self._say(record, "calling")
            return None

        client.meta.events.register("before-parameter-build", on_params)
        client.meta.events.register("before-call", on_call)

    def note(self, service: str, operation: str, region: str, params: dict) -> dict:
        """Record one call (also one made by a client the recorder is not attached to, e.g. chaostoolkit-aws's);
        UndeclaredAction before it is sent when the driver does not declare it."""
        action = f"{service}:{operation}"
        if self.declared is not None and action not in self.declared:
            raise UndeclaredAction(f"call of {action} in {region} on target aws refused: the driver does not "
                                   "declare it", hint="add it to infra.targets.aws_actions.ACTIONS and to "
                                   "infra/aws/gameday-role.yaml")
        record = {"service": service, "region": region, "operation": operation, "action": action,
                  "params": json.loads(json.dumps(params, default=str)), "sent": True, "at_s": self._clock()}
        self.calls.append(record)
        return record

    def mutations(self) -> list[dict]:
        """The calls that change something (sent or, in a dry run, withheld)."""
        return [c for c in self.calls if is_mutating(c["operation"]) and c["service"] != "sts"]

    def _say(self, record: dict | None, verb: str) -> None:
        if self._log and record is not None:
            prefix = "[dry-run] " if self.dry_run else ""
            self._log(f"{prefix}{verb} {record['action']} in {record['region']} "
                      f"{json.dumps(record['params'], sort_keys=True)}")
