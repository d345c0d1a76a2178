"""Target profile: which AWS account, regions and resources a GameDay may touch (YAML, validated before any call).

    name: staging
    account_id: "123456789012"          # the only account the driver acts in (checked with STS)
    environment: staging                # staging | prod (prod needs --confirm-account ACCOUNT_ID)
    accounts: {"123456789012": staging, "210987654321": prod}   # the organisation's accounts: what decides
    regions: {primary: eu-central-1, secondary: eu-west-1}
    tag: {key: gameday, value: allowed} # every resource acted on must carry it
    credentials: {aws_profile: gameday-staging}   # or role_arn (+ external_id); never keys
    resources: {...}                    # see `Resources`
    endpoints: {entry_url: https://api.staging.example.com, canary_url: ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gameday.base.errors import InvalidInput

__all__ = ["TargetProfile", "load_target_profile", "profile_from_dict", "KEY_FIELDS"]

#: Field names that would carry long-lived secrets; a profile containing any of them is refused.
KEY_FIELDS = frozenset({"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "access_key_id",
                        "secret_access_key", "session_token", "access_key", "secret_key"})
REGION_RE = r"^[a-z]{2}(-[a-z]+)+-\d$"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Regions(Frozen):
    primary: str = Field(pattern=REGION_RE)
    secondary: str = Field(pattern=REGION_RE)

    @model_validator(mode="after")
    def _distinct(self) -> Regions:
        if self.primary == self.secondary:
            raise ValueError("primary and secondary must be different regions")
        return self

    def all(self) -> tuple[str, str]:
        return (self.primary, self.secondary)


class Tag(Frozen):
    key: str = Field("gameday", min_length=1)
    value: str = Field("allowed", min_length=1)


class Credentials(Frozen):
    """How to get credentials: a named AWS CLI profile, or a role to assume (from the ambient credentials)."""
    aws_profile: str | None = None
    role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    external_id: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Credentials:
        if self.aws_profile and self.role_arn:
            raise ValueError("give aws_profile or role_arn, not both")
        return self


class Database(Frozen):
    global_cluster_id: str | None = Field(None, description="Aurora Global Database identifier")
    clusters: dict[str, str] = Field(default_factory=dict, description="region -> DB cluster identifier")
    replica_instances: dict[str, str] = Field(default_factory=dict,
                                              description="region -> RDS PostgreSQL read replica (non-Aurora)")


class Route53(Frozen):
    hosted_zone_id: str
    record_name: str = Field(description="the failover record, e.g. api.example.com.")
    record_type: str = "A"
    set_identifiers: dict[str, str] = Field(default_factory=dict, description="region -> SetIdentifier")
    health_checks: dict[str, str] = Field(default_factory=dict, description="region -> health check id")


class Cache(Frozen):
    replication_group_id: str
    region: str = Field(pattern=REGION_RE)
    node_groups: tuple[str, ...] = Field(("0001",), min_length=1, description="node groups test_failover acts on")


class Deployment(Frozen):
    """A release on AWS is a published Lambda version behind an alias: deploying points the alias at it."""
    function: str = Field(min_length=1, description="the Lambda function (also listed in resources.functions)")
    alias: str = Field("live", min_length=1, description="the alias the entry point invokes")
    versions: dict[str, str] = Field(default_factory=dict,
                                     description="release name (as experiments say it) -> published Lambda version")
    watch_url: str | None = Field(None, pattern=r"^https?://",
                                  description="what rollback_on_regression reads (default: endpoints.entry_url)")


class Resources(Frozen):
    database: Database = Database()
    route53: Route53 | None = None
    functions: dict[str, list[str]] = Field(default_factory=dict, description="region -> Lambda function names")
    cache: Cache | None = None
    kill_switches: dict[str, str] = Field(default_factory=dict,
                                          description="AI provider -> SSM parameter name (same name in every region)")
    fis_templates: dict[str, str] = Field(default_factory=dict, description="region -> FIS experiment template id")
    deployments: dict[str, Deployment] = Field(default_factory=dict,
                                               description="region -> the Lambda alias a release is deployed to")
    origins: dict[str, str] = Field(default_factory=dict, description="region -> S3 bucket CloudFront reads from")
    load_workers: dict[str, str] = Field(default_factory=dict, description=(
        "region -> the CloudFormation stack of its Locust workers (infra/aws/load-workers.yaml)"))
    alarms: dict[str, list[str]] = Field(default_factory=dict, description=(
        "region -> CloudWatch alarm names a GameDay reads (detection criteria: time to detect, alarm cleared)"))


class Endpoints(Frozen):
    entry_url: str = Field(pattern=r"^https?://")
    canary_url: str | None = Field(None, pattern=r"^https?://")
    cdn_url: str | None = Field(None, pattern=r"^https?://",
                                description="the CloudFront distribution the static and index journeys load from "
                                            "(without it they go to entry_url, which is then no CDN test)")


Environment = Literal["staging", "prod"]


class Safety(Frozen):
    """What keeps a fault from outliving a lost harness (infra/targets/aws_expiry.py)."""
    expiry_role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$", description=(
        "the role EventBridge Scheduler assumes to undo a fault nobody recovered (gameday-role.yaml output "
        "ExpiryRoleArn); without it faults do not expire on AWS and `gameday aws check` fails"))
    group: str = Field("default", min_length=1, description="the EventBridge Scheduler schedule group")
    ledger_table: str | None = Field(None, min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$", description=(
        "a DynamoDB table (gameday-role.yaml: GameDayLedger) holding the fault ledger and the target's lease: "
        "`gameday recover` works from any machine, and two harnesses cannot run faults at once; without it the "
        "ledger is a file on the machine that ran the GameDay"))
    ledger_region: str | None = Field(None, pattern=REGION_RE, description="the table's region (default: primary)")


class TargetProfile(Frozen):
    name: str = Field(min_length=1)
    account_id: str = Field(pattern=r"^\d{12}$")
    environment: Environment
    accounts: dict[str, Environment] = Field(min_length=1, description=(
        "account id -> environment, for every account GameDays may run in (e.g. the organisation's shared map): "
        "the account's entry, not `environment`, decides whether --confirm-account is needed; an account not in "
        "it is refused"))
    regions: Regions
    tag: Tag = Tag()
    credentials: Credentials = Credentials()
    resources: Resources = Resources()
    endpoints: Endpoints
    safety: Safety = Safety()

    @field_validator("account_id", mode="before")
    @classmethod
    def _account_as_text(cls, value):
        return f"{value:012d}" if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("accounts", mode="before")
    @classmethod
    def _account_keys_as_text(cls, value):
        if isinstance(value, dict):
            return {f"{k:012d}" if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _account_mapped(self) -> TargetProfile:
        if bad := sorted(k for k in self.accounts if not (len(k) == 12 and k.isdigit())):
            raise ValueError(f"accounts: {', '.join(map(repr, bad))} is not a 12-digit account id")
        if self.account_id not in self.accounts:
            raise ValueError(f"accounts: account {self.account_id} is not in the map ({', '.join(self.accounts)}): "
                             "an account whose environment is not known is refused")
        return self

    @property
    def effective_environment(self) -> str:
        """prod when the accounts map or the profile says so: a prod account named in a staging profile is prod."""
        return "prod" if "prod" in (self.accounts[self.account_id], self.environment) else "staging"

    @model_validator(mode="after")
    def _regions_known(self) -> TargetProfile:
        allowed = set(self.regions.all())
        r = self.resources
        keyed = {"resources.database.clusters": r.database.clusters,
                 "resources.database.replica_instances": r.database.replica_instances,
                 "resources.functions": r.functions, "resources.fis_templates": r.fis_templates,
                 "resources.deployments": r.deployments, "resources.origins": r.origins}
        if r.route53:
            keyed |= {"resources.route53.set_identifiers": r.route53.set_identifiers,
                      "resources.route53.health_checks": r.route53.health_checks}
        for where, mapping in keyed.items():
            if unknown := sorted(set(mapping) - allowed):
                raise ValueError(f"{where}: region(s) {', '.join(unknown)} not in regions "
                                 f"({', '.join(sorted(allowed))})")
        if r.cache and r.cache.region not in allowed:
            raise ValueError(f"resources.cache.region: {r.cache.region} not in regions ({', '.join(sorted(allowed))})")
        return self


def _key_fields(data, path: str = "") -> list[str]:
    """Pure: the dotted paths of every secret-key-like field anywhere in `data`."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).lower() in KEY_FIELDS:
                found.append(here)
            found += _key_fields(value, here)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _key_fields(value, f"{path}.{i}")
    return found


def profile_from_dict(data, source: str = "<profile>") -> TargetProfile:
    """The profile in `data`, or InvalidInput naming `source` and every bad field."""
    if not isinstance(data, dict):
        raise InvalidInput(f"target profile {source} is invalid: the top level must be a mapping")
    if keys := _key_fields(data):
        raise InvalidInput(f"target profile {source} is invalid: {', '.join(keys)}: access keys are never read "
                           "from a profile", hint="use credentials.aws_profile or credentials.role_arn")
    try:
        return TargetProfile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"  {loc}: {message}")
        raise InvalidInput(f"target profile {source} is invalid:\n" + "\n".join(lines),
                           hint="see examples/targets/staging.yaml") from None


def load_target_profile(path: str | Path) -> TargetProfile:
    """Read and validate a YAML target profile; InvalidInput (naming the file and the field) when unusable."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise InvalidInput(f"target profile {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"target profile {path} is not valid YAML: {exc}") from None
    return profile_from_dict(data, str(path))


def resource_label(kind: str, name: str, region: str | None = None) -> str:
    """Pure: how errors name a resource, e.g. `Lambda function api (eu-west-1)`."""
    return f"{kind} {name}" + (f" ({region})" if region else "")

