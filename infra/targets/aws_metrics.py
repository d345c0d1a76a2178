"""CloudWatch probes of the AWS driver: one value per window, percentiles via ExtendedStatistics; missing data
raises `MetricMissing` (chaostoolkit-aws returns 0 there, which silently passes a latency or error range).

A mixin of `infra.targets.aws.AwsTarget` (uses `client`, `profile`, `_clock`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from gameday.base.errors import GameDayError, InvalidInput

__all__ = ["MetricProbes", "MetricMissing", "value_of", "CLOUDFRONT_REGION"]

CLOUDFRONT_REGION = "us-east-1"  # CloudFront metrics live there whatever the stack's regions
PERCENTILE = re.compile(r"^p\d{1,2}(\.\d+)?$")
STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")


class MetricMissing(GameDayError):
    """CloudWatch had no datapoint for a metric in the window asked: never read as 0."""


def value_of(datapoints: list[dict], statistic: str, *, what: str) -> float:
    """Pure: the value of the newest datapoint for `statistic`; MetricMissing when there is none."""
    points = [d for d in datapoints if statistic in d or statistic in d.get("ExtendedStatistics", {})]
    if not points:
        raise MetricMissing(f"probe of {what} on target aws failed: no {statistic} datapoint in the window",
                            hint="check the metric's name and dimensions, and that the resource had traffic")
    newest = max(points, key=lambda d: d["Timestamp"])
    return float(newest[statistic] if statistic in newest else newest["ExtendedStatistics"][statistic])


class MetricProbes:
    def metric(self, namespace: str, metric: str, dimensions: dict[str, str], region: str, *,
               statistic: str = "Maximum", window_s: int = 300) -> float:
        """One statistic of a metric over the last `window_s` (one period), e.g. `p95` or `Maximum`."""
        if statistic not in STATISTICS and not PERCENTILE.match(statistic):
            raise InvalidInput(f"statistic {statistic!r} is unknown; valid: {', '.join(STATISTICS)}, or p0..p99.9")
        period = max(60, int(window_s) // 60 * 60)
        end = datetime.fromtimestamp(self._clock(), UTC)
        stat = {"ExtendedStatistics": [statistic]} if PERCENTILE.match(statistic) else {"Statistics": [statistic]}
        answer = self.client("cloudwatch", region).get_metric_statistics(
            Namespace=namespace, MetricName=metric, Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=end - timedelta(seconds=period), EndTime=end, Period=period, **stat)
        dims = ",".join(f"{k}={v}" for k, v in dimensions.items())
        return value_of(answer.get("Datapoints", []), statistic, what=f"{namespace}/{metric}[{dims}] in {region}")

    def lambda_concurrency(self, function: str, region: str, window_s: int = 300) -> float:
        return self.metric("AWS/Lambda", "ConcurrentExecutions", {"FunctionName": function}, region, window_s=window_s)

    def lambda_throttles(self, function: str, region: str, window_s: int = 300) -> float:
        return self.metric("AWS/Lambda", "Throttles", {"FunctionName": function}, region, statistic="Sum",
                           window_s=window_s)

    def lambda_duration_ms(self, function: str, region: str, percentile: str = "p95", window_s: int = 300) -> float:
        return self.metric("AWS/Lambda", "Duration", {"FunctionName": function}, region, statistic=percentile,
                           window_s=window_s)

    def pc_utilisation(self, function: str, region: str, qualifier: str, window_s: int = 300) -> float:
        return self.metric("AWS/Lambda", "ProvisionedConcurrencyUtilization",
                           {"FunctionName": function, "Resource": f"{function}:{qualifier}"}, region, window_s=window_s)

    def replica_lag_ms(self, region: str, window_s: int = 300) -> float:
        """Aurora replica lag of `region`'s cluster (AuroraReplicaLag, ms)."""
        cluster = self._need(self.profile.resources.database.clusters.get(region), f"a DB cluster in {region}")
        return self.metric("AWS/RDS", "AuroraReplicaLag", {"DBClusterIdentifier": cluster}, region, window_s=window_s)

    def rds_replica_lag_s(self, region: str, window_s: int = 300) -> float:
        """RDS PostgreSQL read replica lag of `region`'s replica instance (ReplicaLag, s)."""
        ident = self._need(self.profile.resources.database.replica_instances.get(region), f"a read replica in {region}")
        return self.metric("AWS/RDS", "ReplicaLag", {"DBInstanceIdentifier": ident}, region, window_s=window_s)

    def global_rpo_lag_ms(self, region: str | None = None, window_s: int = 300) -> float:
        """Aurora Global Database RPO lag of the secondary cluster (AuroraGlobalDBRPOLag, ms)."""
        region = region or self.profile.regions.secondary
        cluster = self._need(self.profile.resources.database.clusters.get(region), f"a DB cluster in {region}")
        return self.metric("AWS/RDS", "AuroraGlobalDBRPOLag", {"DBClusterIdentifier": cluster}, region,
                           window_s=window_s)

    def cache_hit_rate(self, cache_cluster_id: str, region: str | None = None, window_s: int = 300) -> float:
        """CacheHits / (CacheHits + CacheMisses) of one cache node group member; no requests is missing data."""
        region = region or self._need(self.profile.resources.cache, "an ElastiCache replication group").region
        dims = {"CacheClusterId": cache_cluster_id}
        hits = self.metric("AWS/ElastiCache", "CacheHits", dims, region, statistic="Sum", window_s=window_s)
        misses = self.metric("AWS/ElastiCache", "CacheMisses", dims, region, statistic="Sum", window_s=window_s)
        if hits + misses == 0:
            raise MetricMissing(f"probe of cache hit rate of {cache_cluster_id} in {region} on target aws failed: "
                                "no requests in the window", hint="a hit rate needs traffic; run it under load")
        return hits / (hits + misses)

    def cloudfront_5xx_rate(self, distribution_id: str, window_s: int = 300) -> float:
        """5xx error rate of a distribution, 0..1 (CloudFront reports percent)."""
        return self.metric("AWS/CloudFront", "5xxErrorRate", {"DistributionId": distribution_id, "Region": "Global"},
                           CLOUDFRONT_REGION, statistic="Average", window_s=window_s) / 100.0

    def cloudfront_hit_rate(self, distribution_id: str, window_s: int = 300) -> float:
        """Cache hit rate of a distribution, 0..1 (needs CloudFront's additional metrics enabled)."""
        return self.metric("AWS/CloudFront", "CacheHitRate", {"DistributionId": distribution_id, "Region": "Global"},
                           CLOUDFRONT_REGION, statistic="Average", window_s=window_s) / 100.0

    def region_capacity(self, region: str, window_s: int = 300) -> dict:
        """Capacity of `region`'s Lambda functions (resources.functions): each one's peak ConcurrentExecutions and
        Throttles in the window (CloudWatch; missing data raises MetricMissing) and its cap (reserved concurrency,
        None when unreserved: the account's regional limit applies)."""
        functions = self._need(self.profile.resources.functions.get(region), f"Lambda functions in {region}")
        per = {fn: {"concurrent_executions_max": self.lambda_concurrency(fn, region, window_s),
                    "throttles": self.lambda_throttles(fn, region, window_s),
                    "reserved_concurrency": self.function_concurrency(fn, region)} for fn in functions}
        caps = [f["reserved_concurrency"] for f in per.values()]
        return {"region": region, "source": "cloudwatch", "window_s": window_s, "at_s": self._clock(),
                "concurrent_executions_max": sum(f["concurrent_executions_max"] for f in per.values()),
                "throttles": sum(f["throttles"] for f in per.values()),
                "reserved_concurrency": None if None in caps else sum(caps), "functions": per}
