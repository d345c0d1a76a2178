"""What the local stack's fault vocabulary means on AWS (infra/aws/README.md, "Mode mapping"). Pure."""

from __future__ import annotations

from gameday.base.errors import InvalidInput
from infra.targets.profile import TargetProfile

REGION_MODES = ("health_check", "dns_record", "fis")
#: The local stack's region failure modes and what they mean on AWS (infra/aws/README.md, "Mode mapping"): AWS
#: cannot cut a region's links or power it off; the FIS template cuts all network traffic of the region's
#: GameDay-tagged subnets, which clients and replication see as both.
MODE_ALIASES = {"partition": "fis", "power_off": "fis"}
#: Local fault-proxy links with an AWS meaning (infra/aws/README.md): `provider-<name>` is the AI provider's kill
#: switch, `cache-<region>` the ElastiCache replication group (in its region), `origin-<region>` the S3 bucket
#: CloudFront reads from in that region, `router-<region>` the region's API: its Lambda functions (FIS's Lambda
#: actions add their latency and HTTP errors, infra/targets/aws_lambda_faults.py).
PROVIDER_LINK_PREFIX, CACHE_LINK_PREFIX, ORIGIN_LINK_PREFIX = "provider-", "cache-", "origin-"
API_LINK_PREFIX = "router-"
#: The one HTTP error with an AWS meaning: an AI provider throttling (its kill switch set to `throttle:<p>`).
THROTTLE_STATUS = 429


def region_mode(mode: str) -> str:
    """Pure: the AWS region failure mode for `mode` (an AWS mode, or a local mode it maps to); InvalidInput else."""
    if mode in REGION_MODES:
        return mode
    if mode in MODE_ALIASES:
        return MODE_ALIASES[mode]
    raise InvalidInput(f"region failure mode {mode!r} has no AWS meaning; valid on aws: {', '.join(REGION_MODES)} "
                       f"(local modes map: {', '.join(f'{k} -> {v}' for k, v in MODE_ALIASES.items())})")


def link_provider(link: str, profile: TargetProfile) -> str:
    """Pure: the AI provider whose kill switch stands for local link `link`; InvalidInput for any other link."""
    kind, name = link_meaning(link, profile)
    if kind != "provider":
        valid = ", ".join(PROVIDER_LINK_PREFIX + p for p in sorted(profile.resources.kill_switches)) or "none"
        raise InvalidInput(f"link {link!r} is no AI provider link on aws; valid here (AI provider kill switches): "
                           f"{valid}")
    return name


def link_meaning(link: str, profile: TargetProfile) -> tuple[str, str]:
    """Pure: what local link `link` stands for on aws: ("provider", name), ("cache", region), ("origin", region) or
    ("functions", region); InvalidInput listing the links the profile gives a meaning when it has none."""
    r = profile.resources
    meanings = {PROVIDER_LINK_PREFIX + p: ("provider", p) for p in r.kill_switches}
    if r.cache:
        meanings[CACHE_LINK_PREFIX + r.cache.region] = ("cache", r.cache.region)
    meanings |= {ORIGIN_LINK_PREFIX + region: ("origin", region) for region in r.origins}
    meanings |= {API_LINK_PREFIX + region: ("functions", region) for region, names in r.functions.items() if names}
    if link not in meanings:
        raise InvalidInput(f"link {link!r} has no AWS meaning in target profile {profile.name}; valid links on aws: "
                           f"{', '.join(sorted(meanings)) or 'none'} (provider-<name>: the AI provider's kill "
                           "switch, resources.kill_switches; cache-<region>: the replication group, resources.cache; "
                           "origin-<region>: the S3 origin, resources.origins; router-<region>: the region's API "
                           "functions, resources.functions)")
    return meanings[link]
