"""The AWS driver's credentials: a named CLI profile, an assumed role that refreshes itself, or the ambient chain.

A GameDay or a soak outlives one set of temporary credentials (an assumed role's default hour): the final
recovery must not meet `ExpiredToken`. An assumed role is therefore asked for `ROLE_SESSION_S` and wrapped in
botocore's RefreshableCredentials, which assumes the role again before the credentials expire (15 minutes ahead,
or at the latest 10). A named CLI profile (its own `role_arn`, SSO) and the ambient chain (instance or container
roles) refresh themselves in botocore already; static keys cannot be refreshed and do not expire.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

from gameday.base.errors import InvalidInput
from infra.targets.profile import TargetProfile

__all__ = ["CREDENTIAL_ERRORS", "ROLE_SESSION_S", "credentials_refused", "session_for"]

CREDENTIAL_ERRORS = (NoCredentialsError, PartialCredentialsError, ClientError, EndpointConnectionError)
ROLE_SESSION_S = 3600  # what AssumeRole grants by default and every role allows (MaxSessionDuration >= 1 h)


def credentials_refused(profile: TargetProfile, exc: Exception) -> InvalidInput:
    """The error for credentials that cannot be used or checked: exit 2, nothing touched."""
    return InvalidInput(f"GameDay on account {profile.account_id} on target aws refused: the credentials could not "
                        f"be used: {exc}", hint="nothing was touched; set the profile's credentials (aws_profile "
                        "or role_arn, or the ambient AWS credentials), then retry")


class _Given(CredentialProvider):
    """Hands botocore one credentials object (the refreshing one), ahead of its usual chain."""

    METHOD = "gameday-assume-role"

    def __init__(self, credentials: RefreshableCredentials):
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def session_for(profile: TargetProfile, *, base: boto3.Session | None = None,
                now: Callable[[], datetime] | None = None) -> boto3.Session:
    """A boto3 Session for the profile's credentials. With `role_arn`: the role is assumed from `base` (default:
    the ambient credentials) and assumed again before each set expires; `now` is the clock botocore judges the
    expiry by (a test's simulated clock)."""
    creds = profile.credentials
    if creds.aws_profile:
        return boto3.Session(profile_name=creds.aws_profile)
    if not creds.role_arn:
        return boto3.Session()
    sts = (base or boto3.Session()).client("sts", region_name=profile.regions.primary)
    extra = {"ExternalId": creds.external_id} if creds.external_id else {}

    def assume() -> dict:
        c = sts.assume_role(RoleArn=creds.role_arn, RoleSessionName=f"gameday-{profile.name}",
                            DurationSeconds=ROLE_SESSION_S, **extra)["Credentials"]
        return {"access_key": c["AccessKeyId"], "secret_key": c["SecretAccessKey"], "token": c["SessionToken"],
                "expiry_time": c["Expiration"].isoformat()}

    try:
        first = assume()
    except CREDENTIAL_ERRORS as exc:
        raise credentials_refused(profile, exc) from exc
    clock = {"time_fetcher": now} if now is not None else {}
    refreshing = RefreshableCredentials(first["access_key"], first["secret_key"], first["token"],
                                        datetime.fromisoformat(first["expiry_time"]), refresh_using=assume,
                                        method=_Given.METHOD, **clock)
    core = botocore.session.Session()
    core.get_component("credential_provider").insert_before("env", _Given(refreshing))
    return boto3.Session(botocore_session=core)
