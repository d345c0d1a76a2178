"""AWS driver faults on how code and content reach users: releases (a Lambda alias moved to another published
version) and the static origin (an S3 bucket CloudFront reads, made to deny reads).

A mixin of `infra.targets.aws.AwsTarget`: it uses the driver's `client`, `profile`, `_guard`, `_guard_function`,
`_ahead`, `_done`, `_need`, `_clock`.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from gameday.base.errors import InvalidInput
from infra.targets.aws_cas import UNCHECKED, same_policy, should_write
from infra.targets.aws_expiry import Restore

__all__ = ["DeliveryFaults", "ORIGIN_DENY_SID", "deny_reads_policy"]

#: The statement a failed origin carries; its presence means the origin is failed already.
ORIGIN_DENY_SID = "GameDayOriginOutage"
_NO_WEIGHTS = {"AdditionalVersionWeights": {}}


def deny_reads_policy(bucket: str, previous: str | None) -> dict:
    """Pure: `previous` (a bucket policy document, or None) plus one statement denying every object read, so
    CloudFront's origin requests fail (403) while the policy's other statements stay in force."""
    document = json.loads(previous) if previous else {"Version": "2012-10-17", "Statement": []}
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else list(statements)
    deny = {"Sid": ORIGIN_DENY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*"}
    return {**document, "Statement": statements + [deny]}


class DeliveryFaults:
    # --- releases: a Lambda alias ------------------------------------------------------------------
    def _deployment(self, region: str):
        return self._need(self.profile.resources.deployments.get(region), f"a deployment (Lambda alias) in {region}")

    def release_watch_url(self, region: str) -> str:
        """What a regression watcher reads for `region`'s release (the deployment's watch_url, else the entry)."""
        return self._deployment(region).watch_url or self.entry_url

    def deploy_release(self, region: str, release: str) -> dict:
        """Point `region`'s alias at the Lambda version published for `release` (all traffic, no weights);
        the previous version and routing are kept for the rollback. The alias already there: nothing changes."""
        dep = self._deployment(region)
        if release not in dep.versions:
            raise InvalidInput(f"deployment of {release!r} to {region} on target aws refused: target profile "
                               f"{self.profile.name} names no Lambda version for it; valid releases: "
                               f"{', '.join(sorted(dep.versions)) or 'none'}",
                               hint=f"add it under resources.deployments.{region}.versions")
        version = dep.versions[release]
        start = self._clock()
        self._guard_function("deploy_release", dep.function, region)
        lam = self.client("lambda", region)
        alias = lam.get_alias(FunctionName=dep.function, Name=dep.alias)
        details = {"region": region, "function": dep.function, "alias": dep.alias, "release": release,
                   "version": version}
        if (alias["FunctionVersion"] == version
                and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")):
            return self._done("deploy_release", start, None, **details, deployed=True, skipped=True,
                              reason=f"alias {dep.alias} points at version {version} already")
        recovery = {"call": "rollback_release", "args": {"region": region, "version": version,
                                                         "previous": alias["FunctionVersion"],
                                                         "previous_routing": alias.get("RoutingConfig")}}
        self._ahead(recovery)
        lam.update_alias(FunctionName=dep.function, Name=dep.alias, FunctionVersion=version, RoutingConfig=_NO_WEIGHTS)
        return self._done("deploy_release", start, recovery, **details, deployed=True,
                          previous=alias["FunctionVersion"])

    def rollback_release(self, region: str, version: str, previous: str, previous_routing: dict | None = None) -> dict:
        """Point the alias back at `previous` (and its routing), only while it still points at `version`."""
        dep = self._deployment(region)
        start = self._clock()
        self._guard_function("rollback_release", dep.function, region)
        lam = self.client("lambda", region)
        current = lam.get_alias(FunctionName=dep.function, Name=dep.alias)["FunctionVersion"]
        details = {"region": region, "function": dep.function, "alias": dep.alias, "version": previous}
        # Idempotent: rolled back already. Someone released another version since: a conflict (aws_cas).
        if not should_write(f"alias {dep.alias} of Lambda function {dep.function} ({region})", current, version,
                            previous, force=self.force_restore):
            return self._done("rollback_release", start, None, **details, skipped=True,
                              reason=f"alias {dep.alias} points at {current} already")
        self._ahead(None)
        lam.update_alias(FunctionName=dep.function, Name=dep.alias, FunctionVersion=previous,
                         RoutingConfig=previous_routing or _NO_WEIGHTS)
        return self._done("rollback_release", start, None, **details, rolled_back_from=version)

    # --- the static origin: an S3 bucket -----------------------------------------------------------
    def _bucket_tags(self, bucket: str, region: str) -> list:
        try:
            return self.client("s3", region).get_bucket_tagging(Bucket=bucket).get("TagSet", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchTagSet":
                return []
            raise

    def _bucket_policy(self, bucket: str, region: str) -> str | None:
        try:
            return self.client("s3", region).get_bucket_policy(Bucket=bucket)["Policy"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
                return None
            raise

    def _origin(self, action: str, region: str) -> str:
        bucket = self._need(self.profile.resources.origins.get(region), f"an S3 origin bucket for {region}")
        self._guard(action, f"S3 bucket {bucket} ({region})", region, lambda: self._bucket_tags(bucket, region))
        return bucket

    def fail_origin(self, region: str) -> dict:
        """Make `region`'s S3 origin refuse CloudFront's reads: a deny-all-reads statement added to its bucket
        policy; the exact previous policy (or none) is kept for the recovery."""
        start = self._clock()
        bucket = self._origin("fail_origin", region)
        previous = self._bucket_policy(bucket, region)
        if previous and ORIGIN_DENY_SID in previous:
            raise InvalidInput(f"fail_origin of S3 bucket {bucket} ({region}) on target aws refused: its policy has "
                               f"the {ORIGIN_DENY_SID} statement already (a fault left open); nothing was changed",
                               hint="gameday recover --target aws --profile PROFILE restores its previous policy")
        denying = json.dumps(deny_reads_policy(bucket, previous))
        expiry = self._expiry_planned("fail_origin", start, [
            Restore(region, "s3", "DeleteBucketPolicy", {"Bucket": bucket}) if previous is None
            else Restore(region, "s3", "PutBucketPolicy", {"Bucket": bucket, "Policy": previous})])
        recovery = {"call": "restore_origin", "args": {"region": region, "previous": previous, "fault_set": denying,
                                                       **({"expiry": expiry} if expiry else {})}}
        self._ahead(recovery)
        self._arm(expiry)
        self.client("s3", region).put_bucket_policy(Bucket=bucket, Policy=denying)
        return self._done("fail_origin", start, recovery, region=region, bucket=bucket, had_policy=previous is not None)

    def restore_origin(self, region: str, previous: str | None, fault_set: Any = UNCHECKED,
                       expiry: list | None = None) -> dict:
        """Put back the origin bucket's exact previous policy (None: it had none, delete it), only while it holds
        the `fault_set` policy (aws_cas). Idempotent."""
        start = self._clock()
        bucket = self._origin("restore_origin", region)
        s3 = self.client("s3", region)
        if not self._should_restore(f"the policy of S3 bucket {bucket} ({region})",
                                    self._bucket_policy(bucket, region), fault_set, previous, expiry, same=same_policy):
            return self._done("restore_origin", start, None, region=region, bucket=bucket, already_restored=True,
                              expiry_deleted=self._disarm(expiry))
        self._ahead(None)
        if previous is None:
            s3.delete_bucket_policy(Bucket=bucket)
        else:
            s3.put_bucket_policy(Bucket=bucket, Policy=previous)
        return self._done("restore_origin", start, None, region=region, bucket=bucket,
                          policy_restored=previous is not None, expiry_deleted=self._disarm(expiry))
