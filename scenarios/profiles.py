"""Load profiles: pydantic-validated stage tables and the pure shape logic (`tick`) the LoadTestShape calls."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, ValidationError, model_validator

from gameday.base.errors import InvalidInput

PROFILES_DIR = Path(__file__).parent / "profiles"

Journey = Literal["health", "item", "write", "ai", "static", "index", "critical"]
JOURNEYS: tuple[str, ...] = ("health", "item", "write", "ai", "static", "index", "critical")
# Endpoints still being built (ai, static, index) weigh 0 until a profile turns them on; so does `critical`, the
# flow index -> item -> write -> ai (scenarios/journeys.py FLOWS), timed end to end as one journey.
DEFAULT_MIX: dict[str, float] = {"health": 1, "item": 8, "write": 1, "ai": 0, "static": 0, "index": 0,
                                 "critical": 0}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Stage(Frozen):
    """One step of a profile: closed model (`users`) or open model (`rate_per_s`), for `duration_s`."""

    duration_s: PositiveFloat
    users: int | None = Field(None, ge=0, description="closed model: concurrent users")
    rate_per_s: NonNegativeFloat | None = Field(None, description="open model: requests started per second")
    spawn_rate: PositiveFloat = Field(10.0, description="closed model: users started (or stopped) per second")
    mix: dict[Journey, NonNegativeFloat] | None = Field(None, description="journey weights; default: the profile's")

    @model_validator(mode="after")
    def _one_model(self) -> Stage:
        if (self.users is None) == (self.rate_per_s is None):
            raise ValueError("give exactly one of `users` (closed model) or `rate_per_s` (open model)")
        if self.mix is not None and not any(self.mix.values()):
            raise ValueError("mix needs at least one journey with a weight above 0")
        return self

    @property
    def is_open(self) -> bool:
        return self.rate_per_s is not None


class Profile(Frozen):
    """A named load profile: stages run one after another, then the test ends."""

    name: str
    description: str = ""
    mix: dict[Journey, NonNegativeFloat] = Field(default_factory=lambda: dict(DEFAULT_MIX))
    wait_s: tuple[NonNegativeFloat, NonNegativeFloat] = Field((0.0, 0.0), description="closed model think time")
    max_in_flight: int = Field(200, ge=1, description="open model: requests in flight per process before dropping")
    late_tolerance_s: PositiveFloat = Field(1.0, description="open model: a request later than this is dropped")
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        if not any(self.mix.values()):
            raise ValueError("mix needs at least one journey with a weight above 0")
        if self.wait_s[0] > self.wait_s[1]:
            raise ValueError("wait_s is [min, max] with min <= max")
        return self


class Tick(Frozen):
    """The shape's answer for one second: how many users of which model, started how fast."""

    users: int
    spawn_rate: float
    open_model: bool


def total_s(profile: Profile) -> float:
    return sum(stage.duration_s for stage in profile.stages)


def stage_at(profile: Profile, elapsed_s: float) -> Stage | None:
    """The stage running `elapsed_s` after the start; None once the profile is over."""
    end = 0.0
    for stage in profile.stages:
        end += stage.duration_s
        if elapsed_s < end:
            return stage
    return None


def stage_span(profile: Profile, elapsed_s: float) -> tuple[Stage | None, float, float]:
    """Pure: (the stage running at `elapsed_s`, its start, its end); (None, end of the profile, inf) once over, so
    a caller can keep the answer until the clock leaves [start, end)."""
    start = 0.0
    for stage in profile.stages:
        if elapsed_s < start + stage.duration_s:
            return (stage, start, start + stage.duration_s) if elapsed_s >= start else (None, 0.0, 0.0)
        start += stage.duration_s
    return None, start, float("inf")


def tick(profile: Profile, elapsed_s: float, schedulers: int = 1) -> Tick | None:
    """Pure: users and spawn rate at `elapsed_s`; open stages run one scheduler user per process. None ends."""
    stage = stage_at(profile, elapsed_s)
    if stage is None:
        return None
    if stage.is_open:
        return Tick(users=schedulers, spawn_rate=float(max(100, schedulers)), open_model=True)
    return Tick(users=stage.users, spawn_rate=stage.spawn_rate, open_model=False)


def rate_at(profile: Profile, elapsed_s: float) -> float | None:
    """Open-model arrival rate (requests/s, all processes together) at `elapsed_s`; None outside open stages."""
    stage = stage_at(profile, elapsed_s)
    return stage.rate_per_s if stage is not None and stage.is_open else None


def mix_at(profile: Profile, elapsed_s: float) -> dict[str, float]:
    """Journey weights in force at `elapsed_s` (the last stage's after the end)."""
    stage = stage_at(profile, elapsed_s) or profile.stages[-1]
    return dict(stage.mix if stage.mix is not None else profile.mix)


def scaled(profile: Profile, duration_s: float) -> Profile:
    """The same profile stretched or shrunk to `duration_s`, keeping each stage's share of the time."""
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise InvalidInput(f"duration of profile {profile.name} must be a positive number of seconds, "
                           f"got {duration_s}")
    factor = duration_s / total_s(profile)
    stages = [stage.model_copy(update={"duration_s": stage.duration_s * factor}) for stage in profile.stages]
    return profile.model_copy(update={"stages": stages})


def shipped() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(ref: str) -> Profile:
    """A profile from a shipped name (`steady`), a YAML/JSON file, or inline JSON; InvalidInput says where."""
    if ref.lstrip().startswith("{"):
        source, text = "inline profile", ref
    else:
        path = PROFILES_DIR / f"{ref}.yaml" if ref in shipped() else Path(ref)
        if not path.is_file():
            raise InvalidInput(f"load profile {ref!r} not found",
                               hint=f"use a file path or one of the shipped profiles: {', '.join(shipped())}")
        source, text = str(path), path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"load profile {source} is not valid YAML/JSON: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"load profile {source} is invalid: {problems}",
                           hint="see scenarios/profiles/steady.yaml for a valid profile") from exc


def to_json(profile: Profile) -> str:
    return json.dumps(profile.model_dump(mode="json"), separators=(",", ":"))


def with_common_options(profile: Profile, users: int | None, spawn_rate: float | None,
                        run_time_s: float | None) -> Profile:
    """Pure: Locust's common options win over the profile when given (its "use common options" convention for
    shapes): `-u N` runs N closed-model users (spawned at `-r`, default 1/s) with the profile's journey mix, for
    `-t` or the profile's length; `-t` alone cuts the profile there, or holds its last stage until then."""
    if users is not None:
        duration = run_time_s or total_s(profile)
        stage = Stage(duration_s=duration, users=int(users), spawn_rate=float(spawn_rate or 1.0))
        return profile.model_copy(update={"name": f"{profile.name} (-u {users})", "stages": [stage]})
    if run_time_s is None:
        return profile
    stages, end = [], 0.0
    for stage in profile.stages:
        stages.append(stage.model_copy(update={"duration_s": min(stage.duration_s, run_time_s - end)}))
        end += stages[-1].duration_s
        if end >= run_time_s:
            break
    if end < run_time_s:
        stages[-1] = stages[-1].model_copy(update={"duration_s": stages[-1].duration_s + run_time_s - end})
    return profile.model_copy(update={"stages": stages})
