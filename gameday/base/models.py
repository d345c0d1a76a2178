"""Experiment specification: a Chaos Toolkit experiment plus its `gameday` extension block, and its loader."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from gameday.base.errors import InvalidInput
from gameday.base.metrics import Metric, Window, metric_unit, window_problem
from gameday.base.probe_kinds import JUDGED_KINDS, ProbeKind

EXTENSION_NAME = "gameday"
SUFFIXES = (".yaml", ".yml", ".json")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


Op = Literal["<", "<=", ">", ">=", "=="]
_SHORTHAND = re.compile(r"^\s*(?P<metric>\w+)\s*(?P<op><=|>=|==|<|>)\s*(?P<target>[-+0-9.eE]+)"
                        r"(?:\s+in\s+(?P<window>\w+))?\s*$")


class LoadRef(Frozen):
    """The load of a run: a shipped profile by name, or an inline profile (checked later by the load engine)."""

    profile: str | dict[str, Any] = Field(description="name of scenarios/profiles/<name>.yaml, or an inline profile")
    users: int | None = Field(None, ge=1, description="override: concurrent users of every closed-model stage")
    rate_per_s: PositiveFloat | None = Field(None, description="override: arrival rate of every open-model stage")
    workers: int | None = Field(None, ge=1, le=64, description=(
        "Locust master + this many local worker processes (the open-model rate split between them); "
        "`gameday run|day --workers N` overrides it"))

    @field_validator("profile", mode="before")
    @classmethod
    def _name_or_mapping(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict):
            return value
        raise ValueError("give a profile name (a file in scenarios/profiles/ without .yaml) or an inline "
                         f"profile mapping, not {value!r}")


class ProbeCadences(Frozen):
    """How often the continuous samplers look."""

    health_interval_s: PositiveFloat = 0.1
    canary_rate_per_s: PositiveFloat = 20.0
    canary_timeout_s: PositiveFloat = 1.0
    routing_interval_s: PositiveFloat = 0.2
    replication_interval_s: PositiveFloat = 0.5
    capacity_interval_s: PositiveFloat = 1.0


class Windows(Frozen):
    """Measured time before the first fault and after the last recovery; how long an SLO must hold for RTO."""

    baseline_s: NonNegativeFloat = 30.0
    after_s: NonNegativeFloat = 30.0
    sustain_s: PositiveFloat = 10.0
    sustain_success_ratio: float = Field(0.95, gt=0, le=1, description=(
        "the SLO of an RTO: a sustain window holds when at least this share of its probes succeeded"))
    warmup_s: NonNegativeFloat = Field(0.0, description="the spike window starts this long after the load step")
    detection_holds: list[str] = Field(default_factory=list, description=(
        "configuration keys of holds that must outlast the target's failure detection (health checks x threshold "
        "+ DNS TTL); the runner raises a shorter one to it (gameday.holds)"))


class Criterion(Frozen):
    """One pass/fail claim: `metric op target` over a window; also parsed from `"rto_write_s <= 900 [in fault]"`."""

    name: str = Field(min_length=1)
    metric: Metric
    op: Op
    target: float
    unit: str = Field("", description="defaults to the metric's unit; a different one is an error")
    window: Window = Window.overall

    @model_validator(mode="before")
    @classmethod
    def _shorthand_and_defaults(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _SHORTHAND.match(data)
            if not match:
                raise ValueError(f"criterion {data!r} does not read `<metric> <op> <target> [in <window>]`, "
                                 "e.g. 'rto_write_s <= 900' or 'p95_ms < 300 in fault'")
            data = {k: v for k, v in match.groupdict().items() if v is not None}
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "name" not in data and {"metric", "op", "target"} <= data.keys():
            window = data.get("window", "overall")
            data["name"] = f"{data['metric']} {data['op']} {data['target']}" + (
                f" in {window}" if window != "overall" else "")
        if "unit" not in data and isinstance(data.get("metric"), str) and data["metric"] in Metric.__members__:
            data["unit"] = metric_unit(Metric(data["metric"]))
        return data

    @model_validator(mode="after")
    def _unit_and_window_match(self) -> Criterion:
        if self.unit != metric_unit(self.metric):
            raise ValueError(f"{self.metric.value} is measured in {metric_unit(self.metric)}, not {self.unit!r}")
        if problem := window_problem(self.metric, self.window):
            raise ValueError(problem)
        return self

    def holds(self, measured: float) -> bool:
        """Pure: whether `measured` satisfies `op target`."""
        return {"<": measured < self.target, "<=": measured <= self.target, ">": measured > self.target,
                ">=": measured >= self.target, "==": measured == self.target}[self.op]


class DetectionSpec(Frozen):
    """Which of the target's monitoring alarms the experiment expects to fire, and which must stay quiet."""

    expected_alarms: tuple[str, ...] = Field((), description=(
        "alarms the fault must fire: time_to_detect_s is t0 to the first of them in ALARM, time_to_notify_s to its "
        "first delivered notification, alarm_cleared_s the last recovery to all of them back to OK"))
    quiet_alarms: tuple[str, ...] = Field((), description=(
        "alarms that must not fire at all: each change to ALARM counts in false_alarms (as any alarm's in the "
        "baseline)"))


class VitalsSpec(Frozen):
    """The browser sampler: headless Chromium opens the app through the edge at a fixed cadence and records its
    Core Web Vitals (probes.browser_vitals); judged by the `*_p75_*` vitals criteria."""

    path: str = Field("/index.html", pattern=r"^/", description=(
        "the page opened, relative to the edge (the local router; on AWS the profile's CloudFront URL)"))
    interval_s: PositiveFloat = Field(2.0, ge=0.5, description=(
        "one page load per interval (a fresh browser context each: a new visitor, cold browser cache)"))
    timeout_s: PositiveFloat = Field(10.0, description="a page load that takes longer is a failed load")
    interact: bool = Field(True, description="click the page's button after the load (INP needs an interaction)")


DETECTION_METRICS = (Metric.time_to_detect_s, Metric.time_to_notify_s, Metric.alarm_cleared_s)


class StopCondition(Frozen):
    """Abort and roll back when `metric` over the last `window_s` stays `op threshold` for `for_s`.

    `probe`: the failure share (0..1) of the named sampler's results; `error_rate`: 0..1; `p95_ms`: ms.
    """

    metric: Literal["error_rate", "p95_ms", "probe"]
    op: Op = ">"
    threshold: float
    for_s: NonNegativeFloat = 0.0
    window_s: PositiveFloat = 1.0
    probe: ProbeKind | None = Field(None, description="which sampler, for metric `probe` only")

    @model_validator(mode="after")
    def _probe_named(self) -> StopCondition:
        judged = " or ".join(JUDGED_KINDS)
        if (self.metric == "probe") != (self.probe is not None):
            raise ValueError(f"`probe` ({judged}) is required with metric `probe` and not allowed otherwise")
        if self.probe is not None and self.probe not in JUDGED_KINDS:
            # Its records carry no success or failure: the guard would never see a failure share and never stop.
            raise ValueError(f"probe {self.probe.value!r} records have no failure share to stop on; "
                             f"valid: {judged}")
        return self


class QuickOverrides(Frozen):
    """Shorter durations for CI (`--quick`); `configuration` overrides declared Chaos Toolkit configuration keys."""

    baseline_s: NonNegativeFloat | None = None
    after_s: NonNegativeFloat | None = None
    sustain_s: PositiveFloat | None = None
    load_duration_s: PositiveFloat | None = Field(None, description="the profile is scaled to this total")
    configuration: dict[str, float] = Field(default_factory=dict)


class GameDaySpec(Frozen):
    """The `extensions: [{name: gameday, ...}]` block: load, probe cadences, windows, criteria, guards."""

    name: Literal["gameday"] = EXTENSION_NAME
    load: LoadRef | None = None
    probes: ProbeCadences = ProbeCadences()
    windows: Windows = Windows()
    criteria: list[Criterion] = Field(default_factory=list)
    stop_conditions: list[StopCondition] = Field(default_factory=list)
    quick: QuickOverrides = QuickOverrides()
    detection: DetectionSpec = DetectionSpec()
    vitals: VitalsSpec | None = Field(None, description=(
        "Core Web Vitals sampled by headless Chromium during the run (None: no browser sampler)"))
    max_fault_s: PositiveFloat | None = Field(None, description=(
        "the longest a fault of this experiment may last; on AWS its expiry schedule undoes it then (default: the "
        "experiment's pauses + 3600 s for the waits of AWS operations; gameday.holds.fault_max_s)"))

    @model_validator(mode="after")
    def _unique_names(self) -> GameDaySpec:
        names = [c.name for c in self.criteria]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"criterion names must be unique; repeated: {', '.join(duplicates)}")
        needs = [c.name for c in self.criteria if c.metric in DETECTION_METRICS]
        if needs and not self.detection.expected_alarms:
            raise ValueError(f"criteria {', '.join(needs)} need the alarms the fault must fire: name them in "
                             "detection.expected_alarms")
        return self

    def quickened(self) -> GameDaySpec:
        """Pure: this spec with the `quick` windows applied (the load and configuration are applied by the runner)."""
        q = self.quick
        windows = self.windows.model_copy(update={k: v for k, v in (
            ("baseline_s", q.baseline_s), ("after_s", q.after_s), ("sustain_s", q.sustain_s)) if v is not None})
        return self.model_copy(update={"windows": windows})


class ExperimentSpec(Frozen):
    """A parsed experiment: the raw Chaos Toolkit document, its gameday block and where it came from."""

    title: str
    description: str
    source: Path
    raw: dict[str, Any]
    gameday: GameDaySpec
    extension_index: int | None = Field(None, description="index of the gameday block in `extensions`, if any")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, with where it is."""

    file: str
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.message}"


class ExperimentInvalid(InvalidInput):
    """An experiment file that cannot be used; `problems` lists every problem with its location."""

    def __init__(self, path: str | Path, problems: list[Problem]):
        lines = "\n".join(f"  {p.location}: {p.message}" for p in problems)
        super().__init__(f"validation of experiment {path} failed: {len(problems)} problem(s)\n{lines}",
                         hint=f"fix the fields named above; `gameday validate {path}` checks the file again")
        self.problems = problems


def read_document(path: str | Path) -> tuple[dict | None, list[Problem]]:
    """Read and parse a YAML or JSON experiment file; syntax errors carry their line and column."""
    file = str(path)
    path = Path(path)
    if not path.is_file():
        cause = "it is a directory" if path.is_dir() else "no such file"
        return None, [Problem(file, "file", f"reading of experiment failed: {cause}")]
    if path.suffix not in SUFFIXES:
        return None, [Problem(file, "file", f"unsupported extension {path.suffix!r}; valid: {', '.join(SUFFIXES)}")]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(file, "file", f"reading of experiment failed: {exc}")]
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        return None, [Problem(file, f"line {exc.lineno}, column {exc.colno}", f"JSON syntax error: {exc.msg}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        problem, context = getattr(exc, "problem", None), getattr(exc, "context", None)
        cause = f"{problem} ({context})" if problem and context else problem or str(exc)
        return None, [Problem(file, where, f"YAML syntax error: {cause}")]
    if not isinstance(doc, dict):
        return None, [Problem(file, "file", f"an experiment is a mapping, not {type(doc).__name__}")]
    return doc, []


def pydantic_problems(file: str, prefix: str, exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Pure: one problem per pydantic error, located as `prefix.path.to.field`; a typo lists the valid fields."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in (prefix, *err["loc"]) if part != "")
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("enum", "literal_error"):
            message += f" (got {err['input']!r})"
        if err["type"] == "extra_forbidden" and (fields := _fields_at(model, err["loc"][:-1])):
            message = f"unknown field; valid fields: {', '.join(fields)}"
        problems.append(Problem(file, loc, message))
    return problems


def _fields_at(model: Any, loc: tuple) -> list[str] | None:
    for part in loc:
        if isinstance(part, str):
            field = model.model_fields.get(part) if _is_model(model) else None
            model = _model_in(field.annotation) if field else None
    return list(model.model_fields) if _is_model(model) else None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X`, `X | None` or `list[X]`, if any."""
    if _is_model(annotation):
        return annotation
    return next(filter(None, (_model_in(arg) for arg in get_args(annotation))), None)


def check_document(raw: dict, path: str | Path) -> tuple[ExperimentSpec | None, list[Problem]]:
    """Pure: the spec of a parsed experiment, or every problem found in its top level and gameday block."""
    file = str(path)
    problems = [Problem(file, key, f"experiment requires a {key} (a non-empty string)")
                for key in ("title", "description") if not isinstance(raw.get(key), str) or not raw.get(key)]
    extensions = raw.get("extensions", [])
    index, block = None, {}
    if not isinstance(extensions, list):
        problems.append(Problem(file, "extensions", "extensions is a list of {name: ..., ...} mappings"))
        extensions = []
    found = [i for i, ext in enumerate(extensions) if isinstance(ext, dict) and ext.get("name") == EXTENSION_NAME]
    if len(found) > 1:
        problems.append(Problem(file, "extensions", f"one `{EXTENSION_NAME}` extension allowed; found them at "
                                                    f"{', '.join(map(str, found))}"))
    if found:
        index, block = found[0], extensions[found[0]]
    try:
        gameday = GameDaySpec.model_validate(block)
    except ValidationError as exc:
        problems += pydantic_problems(file, f"extensions.{index}" if index is not None else "", exc, GameDaySpec)
        gameday = None
    if gameday is not None:
        declared = raw.get("configuration") or {}
        for n, key in enumerate(gameday.windows.detection_holds):
            if key not in declared:
                problems.append(Problem(file, f"extensions.{index}.windows.detection_holds.{n}",
                                        f"{key!r} is not declared in the experiment's `configuration`; declared: "
                                        f"{', '.join(declared) or 'none'}"))
        for key in gameday.quick.configuration:
            if key not in declared:
                problems.append(Problem(file, f"extensions.{index}.quick.configuration.{key}",
                                        "not declared in the experiment's `configuration` (Chaos Toolkit ignores "
                                        f"overrides of undeclared keys); declared: {', '.join(declared) or 'none'}"))
    if problems:
        return None, problems
    return ExperimentSpec(title=raw["title"], description=raw["description"], source=Path(path), raw=raw,
                          gameday=gameday, extension_index=index), []


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Read, parse and check an experiment file; raises ExperimentInvalid (an InvalidInput) naming every problem."""
    raw, problems = read_document(path)
    spec = None
    if raw is not None:
        spec, problems = check_document(raw, path)
    if problems:
        raise ExperimentInvalid(path, problems)
    return spec


def experiment_activities(raw: dict) -> Iterator[tuple[str, Any]]:
    """Pure: every activity of a Chaos Toolkit experiment with its location (`method.2`), in run order."""
    ssh = raw.get("steady-state-hypothesis")
    blocks = [("steady-state-hypothesis.probes", ssh.get("probes") if isinstance(ssh, dict) else None),
              ("method", raw.get("method")), ("rollbacks", raw.get("rollbacks"))]
    for where, activities in blocks:
        for i, activity in enumerate(activities if isinstance(activities, list) else []):
            yield f"{where}.{i}", activity
