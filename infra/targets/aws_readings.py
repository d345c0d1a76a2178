"""Read-only views of the account through chaostoolkit-aws's probes (CloudWatch alarm state, Route 53 health check
status, RDS cluster status), with the driver's credentials and one region per reading.

chaostoolkit-aws builds its own boto3 client for each probe from `configuration` (`aws_region`) and `secrets`
(keys): the driver hands it the region of the reading and its current credentials (an assumed role's are
refreshed by botocore), declares the call in its recorder first (the GameDay role grants exactly what is
declared), and turns chaostoolkit-aws's FailedActivity into the project's error naming the resource.
"""

from __future__ import annotations

from collections.abc import Callable

import boto3
from chaosaws.cloudwatch.probes import get_alarm_state_value
from chaosaws.rds.probes import cluster_status
from chaosaws.route53.probes import get_health_check_status
from chaoslib.exceptions import ActivityFailed

from gameday.base.errors import GameDayError

__all__ = ["ChaosawsReadings", "ALARM_STATES", "healthy_share"]

ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def healthy_share(observations: list[dict]) -> tuple[int, int]:
    """Pure: (observers reporting success, observers) of GetHealthCheckStatus's HealthCheckObservations."""
    ok = sum(1 for o in observations if o.get("StatusReport", {}).get("Status", "").startswith("Success"))
    return ok, len(observations)


class ChaosawsReadings:
    """Mixin of AwsTarget: readings made with chaostoolkit-aws's probes."""

    def _chaosaws(self, service: str, operation: str, region: str, resource: str, probe: Callable, **kwargs):
        self.recorder.note(service, operation, region, kwargs)
        frozen = self._session.get_credentials()
        frozen = frozen.get_frozen_credentials() if frozen is not None else None
        secrets = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key,
                   **({"aws_session_token": frozen.token} if frozen.token else {})} if frozen else None
        if boto3.DEFAULT_SESSION is None:  # chaostoolkit-aws would seed the process's default session with our keys
            boto3.setup_default_session()
        try:
            return probe(**kwargs, configuration={"aws_region": region}, secrets=secrets)
        except ActivityFailed as exc:
            raise GameDayError(f"reading of {resource} ({region}) on target aws failed: {exc}",
                               hint="check that it exists and that the GameDay role may read it") from exc

    def alarm_state(self, alarm_name: str, region: str) -> str:
        """Probe: a CloudWatch alarm's state (OK, ALARM or INSUFFICIENT_DATA)."""
        return self._chaosaws("cloudwatch", "DescribeAlarms", region, f"CloudWatch alarm {alarm_name}",
                              get_alarm_state_value, alarm_name=alarm_name)

    def health_check_observers(self, check_id: str) -> tuple[int, int]:
        """Probe: (Route 53 observers that see the health check healthy, observers)."""
        answer = self._chaosaws("route53", "GetHealthCheckStatus", self.profile.regions.primary,
                                f"Route 53 health check {check_id}", get_health_check_status, check_id=check_id)
        return healthy_share(answer.get("HealthCheckObservations", []))

    def db_cluster_status(self, cluster: str, region: str) -> str:
        """Probe: an Aurora cluster's status (`available` when it serves)."""
        found = self._chaosaws("rds", "DescribeDBClusters", region, f"DB cluster {cluster}", cluster_status,
                               cluster_id=cluster)
        return found if isinstance(found, str) else ", ".join(sorted(found))
