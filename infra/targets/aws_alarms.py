"""The account's CloudWatch alarms for detection criteria (time to detect, alarm cleared, false alarms).

The profile names the alarms a GameDay reads per region (`resources.alarms`); their state changes come from
CloudWatch's alarm history (DescribeAlarmHistory, StateUpdate items), their periods and datapoints from
DescribeAlarms, so a time to detect carries CloudWatch's period as its resolution. Notifications (SNS, chat,
pager) are not observable in CloudWatch: `deliveries` is None and a time to notify stays unmeasured on AWS.
Silencing an alarm (the local detection-gap fault) has no AWS meaning here: the driver refuses it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gameday.base.errors import InvalidInput

__all__ = ["AlarmReadings", "state_changes"]


def state_changes(items: list[dict], period_s: float | None) -> list[dict]:
    """Pure: DescribeAlarmHistory's StateUpdate items as the seam's state changes (oldest first)."""
    out = []
    for item in items:
        data = json.loads(item.get("HistoryData") or "{}")
        old, new = data.get("oldState", {}), data.get("newState", {})
        if not new.get("stateValue"):
            continue
        at = item["Timestamp"]
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        out.append({"alarm": item["AlarmName"], "from": old.get("stateValue"), "to": new["stateValue"],
                    "at_s": at.astimezone(UTC).timestamp(), "reason": new.get("stateReason", ""),
                    "period_s": period_s})
    return sorted(out, key=lambda c: c["at_s"])


class AlarmReadings:
    """Mixin of AwsTarget."""

    def silence_alarm(self, alarm: str) -> dict:
        raise InvalidInput(f"silencing alarm {alarm!r} has no AWS meaning: the harness does not disable alarms in an "
                           "account (DisableAlarmActions would silence a real incident too); run the detection-gap "
                           "experiment on the local stack")

    def restore_alarm(self, alarm: str, **recorded) -> dict:
        return self._unrecorded("restore_alarm", alarm)

    def alarm_record(self, since_s: float) -> dict | None:
        """The profile's alarms (`resources.alarms`): definitions, current states and state changes since
        `since_s`; None when the profile names none."""
        named = self.profile.resources.alarms
        if not named:
            return None
        alarms, changes = {}, []
        start = datetime.fromtimestamp(since_s, UTC)
        for region, names in named.items():
            cw = self.client("cloudwatch", region)
            for found in cw.describe_alarms(AlarmNames=list(names)).get("MetricAlarms", []):
                period = float(found.get("Period") or 0) or None
                alarms[found["AlarmName"]] = {
                    "state": found.get("StateValue"), "region": region, "metric": found.get("MetricName"),
                    "period_s": period, "evaluation_periods": found.get("EvaluationPeriods"),
                    "datapoints_to_alarm": found.get("DatapointsToAlarm") or found.get("EvaluationPeriods"),
                    "threshold": found.get("Threshold"), "comparison": found.get("ComparisonOperator"),
                    "enabled": bool(found.get("ActionsEnabled", True))}
                items = [i for page in cw.get_paginator("describe_alarm_history").paginate(
                    AlarmName=found["AlarmName"], HistoryItemType="StateUpdate", StartDate=start)
                    for i in page.get("AlarmHistoryItems", [])]
                changes += state_changes(items, period)
        return {"source": f"CloudWatch alarm history ({', '.join(named)})", "alarms": alarms,
                "changes": sorted(changes, key=lambda c: c["at_s"]), "deliveries": None}
