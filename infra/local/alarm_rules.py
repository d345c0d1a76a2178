"""CloudWatch's alarm semantics, pure: a period's datapoint from its samples, and an alarm's state from its latest
datapoints (threshold and comparison, M datapoints out of N to alarm, treatment of missing data).

As CloudWatch ("Using Amazon CloudWatch alarms", "Configuring how CloudWatch alarms treat missing data"): an alarm
looks at its last `evaluation_periods` (N) datapoints, one per `period_s`; it goes to ALARM when at least
`datapoints_to_alarm` (M) of them breach, to OK when fewer do, and to INSUFFICIENT_DATA when no datapoint can be
judged. A missing datapoint (no sample in its period) counts as breaching (`breaching`), as good
(`notBreaching`), is skipped (`missing`: INSUFFICIENT_DATA when all N are missing) or keeps the state
(`ignore`: too few datapoints present to decide leave the state as it is). The local monitor
(infra/local/monitor.py) evaluates alarms with it at the end of every period.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from gameday.base.errors import InvalidInput
from gameday.base.models import Frozen

__all__ = ["State", "Statistic", "Comparison", "AlarmSpec", "AlarmFile", "datapoint", "breaches", "evaluate",
           "alarms_file", "alarm_names"]

ALARMS_DIR = Path(__file__).resolve().parent / "alarms"


def alarms_file(environment: str) -> Path:
    """The alarm definitions of `environment` (infra/local/alarms/<environment>.yaml)."""
    path = ALARMS_DIR / f"{environment}.yaml"
    if not path.exists():
        valid = ", ".join(sorted(p.stem for p in ALARMS_DIR.glob("*.yaml")))
        raise InvalidInput(f"start of the monitor failed: no alarm definitions for environment {environment!r} "
                           f"({path}); valid: {valid}", hint="name one of those environments, or add its alarms file")
    return path


def alarm_names() -> list[str]:
    """Every alarm name some environment defines (the same names in each)."""
    return sorted({a["name"] for path in ALARMS_DIR.glob("*.yaml") for a in yaml.safe_load(path.read_text())["alarms"]})


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class Statistic(StrEnum):
    Minimum = "Minimum"
    Maximum = "Maximum"
    Average = "Average"
    Sum = "Sum"
    SampleCount = "SampleCount"


class Comparison(StrEnum):
    GreaterThanThreshold = "GreaterThanThreshold"
    GreaterThanOrEqualToThreshold = "GreaterThanOrEqualToThreshold"
    LessThanThreshold = "LessThanThreshold"
    LessThanOrEqualToThreshold = "LessThanOrEqualToThreshold"


#: What the monitor measures, each sampled every `sample_s` (per region where `region` is given).
METRICS = {
    "region_healthy": "1 when the region's API answers /health 200 through its link from the edge, else 0",
    "entry_healthy": "1 when the entry point (router) answers /health 200, else 0",
    "requests": "requests the region's gateway counted since the last sample",
    "errors": "answers >= 500 of the region's gateway since the last sample",
    "error_rate": "errors / answers of the region's gateway since the last sample (no answer: no sample)",
    "throttles": "requests the region's gateway throttled (429) since the last sample",
    "instances": "ready API instances of the region",
    "cache_evictions": "keys the region's Redis evicted since the last sample",
}


class AlarmSpec(Frozen):
    """One alarm, as CloudWatch defines a metric alarm (names shortened to the local metrics)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    metric: Literal[tuple(METRICS)]  # type: ignore[valid-type]
    region: str | None = None
    statistic: Statistic
    period_s: PositiveFloat
    evaluation_periods: PositiveInt
    datapoints_to_alarm: PositiveInt | None = None   # M; default N
    threshold: float
    comparison: Comparison
    treat_missing_data: Literal["missing", "ignore", "breaching", "notBreaching"] = "missing"
    actions: tuple[str, ...] = ("oncall",)          # webhook channels notified on a change to ALARM
    ok_actions: bool = True                          # ... and on the change back to OK
    severity: Literal["page", "info"] = "page"       # info: expected under normal load (no false alarm)
    production: str = Field("", description="the production alarm it stands for (context/stack.md)")

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    @model_validator(mode="after")
    def _m_within_n(self) -> AlarmSpec:
        if self.m > self.evaluation_periods:
            raise ValueError(f"datapoints_to_alarm {self.m} exceeds evaluation_periods {self.evaluation_periods}")
        return self


class AlarmFile(Frozen):
    """`infra/local/alarms/<environment>.yaml`: the monitor's sampling and the environment's alarms."""

    sample_s: PositiveFloat = 0.5
    probe_timeout_s: PositiveFloat = 0.5
    alarms: tuple[AlarmSpec, ...]

    @model_validator(mode="after")
    def _unique(self) -> AlarmFile:
        names = [a.name for a in self.alarms]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"alarm names must be unique; repeated: {', '.join(repeated)}")
        return self


def datapoint(samples: list[float], statistic: Statistic) -> float | None:
    """Pure: the period's datapoint (None: no sample, a missing datapoint)."""
    if not samples:
        return None
    return {Statistic.Minimum: min, Statistic.Maximum: max, Statistic.Sum: sum,
            Statistic.Average: lambda s: sum(s) / len(s), Statistic.SampleCount: len}[statistic](samples)


def breaches(value: float, spec: AlarmSpec) -> bool:
    """Pure: whether one datapoint breaches the threshold."""
    t = spec.threshold
    return {Comparison.GreaterThanThreshold: value > t, Comparison.GreaterThanOrEqualToThreshold: value >= t,
            Comparison.LessThanThreshold: value < t, Comparison.LessThanOrEqualToThreshold: value <= t}[spec.comparison]


def evaluate(datapoints: list[float | None], spec: AlarmSpec, current: State) -> State:
    """Pure: the alarm's state after its latest datapoints (oldest first; only the last N count)."""
    last = datapoints[-spec.evaluation_periods:]
    if spec.treat_missing_data in ("breaching", "notBreaching"):
        judged = [breaches(v, spec) if v is not None else spec.treat_missing_data == "breaching" for v in last]
    else:
        judged = [breaches(v, spec) for v in last if v is not None]
    if not judged:
        return current if spec.treat_missing_data == "ignore" and current is not State.INSUFFICIENT_DATA \
            else State.INSUFFICIENT_DATA
    if sum(judged) >= spec.m:
        return State.ALARM
    if spec.treat_missing_data == "ignore" and len(judged) < spec.m:
        return current  # too few datapoints present to decide
    return State.OK
