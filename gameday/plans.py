"""GameDay plans (`experiments/gamedays/*.yaml`): an ordered list of experiments and the certificate they issue.

    title: Disaster recovery
    description: The stack survives the loss of its primary region and of its database writer.
    certificate:
      name: Disaster Recovery
      statement: The service recovers from a region loss within its RTO and RPO targets.
      sign_off: [SRE lead, Service owner]
    quick: false                       # default for every experiment below
    experiments:
      - experiment: ../region-failover.yaml     # relative to the plan file
      - {experiment: ../db-writer-failover.yaml, quick: true}
    requirements:                       # what the certificate states; each names one criterion of one experiment
      - {name: Write RTO after a region loss, experiment: region-failover, metric: rto_write_s}
      - {name: P95 after recovery, experiment: region-failover, metric: p95_ms, window: after}
      - {name: LCP 50 % better than the last release, experiment: region-failover, metric: lcp_p75_ms,
         window: after, improvement_vs: baseline, at_least_pct: 50}     # optional `baseline: <run dir>`

A requirement's target is the criterion's own (`rto_write_s <= 900` in the experiment), so a target is written
once. An improvement requirement (`improvement_vs: baseline`) instead judges a Core Web Vital of the run against
a baseline run of the same experiment: `baseline:` (a run directory, relative to the plan file), `gameday day
--baseline RUN_DIR`, else the history's most recent passing run (gameday.baselines). Loading a plan checks
every experiment file too (`gameday validate`), and that every other requirement matches exactly one criterion;
every problem is reported with the plan file and its field, before anything is touched.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gameday.base.errors import InvalidInput
from gameday.base.models import Criterion, ExperimentSpec, Metric, Problem, Window, load_experiment, pydantic_problems
from gameday.validate import validate_file
from reports.run_files import VITALS_FILE
from reports.vitals import VITALS

__all__ = ["GameDayPlan", "PlanStep", "Requirement", "LoadedPlan", "load_plan", "PlanInvalid"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CertificateSpec(Frozen):
    name: str = Field(min_length=1)
    statement: str = Field(min_length=1, description="what the certificate says when every requirement holds")
    sign_off: list[str] = Field(default_factory=lambda: ["SRE lead", "Service owner"])


class PlanStep(Frozen):
    experiment: Path = Field(description="experiment file, relative to the plan file")
    quick: bool | None = Field(None, description="run its `quick` variant; default: the plan's `quick`")


class Requirement(Frozen):
    name: str = Field(min_length=1)
    experiment: str = Field(min_length=1, description="the experiment's file name without extension")
    metric: Metric
    window: Window | None = Field(None, description="needed only when the experiment has the metric in two windows")
    improvement_vs: str | None = Field(None, description=(
        "`baseline`: judge the improvement of a Core Web Vital (metric `*_p75*`) against a baseline run of the "
        "same experiment, not the experiment's criterion (window default: overall)"))
    at_least_pct: float | None = Field(None, lt=100, description=(
        "an improvement requirement's target: improvement = 1 - NEW / BASE of the typical value, in %"))
    baseline: Path | None = Field(None, description=(
        "the baseline run directory (relative to the plan file); default: the history's most recent passing run"))

    @field_validator("improvement_vs")
    @classmethod
    def _only_baseline(cls, value: str | None) -> str | None:
        if value is not None and value != "baseline":
            raise ValueError(f"valid: baseline (got {value!r}); a plan lists each experiment once, so no earlier "
                             "entry of the plan can be the baseline: give a run directory as `baseline:`")
        return value

    @property
    def is_improvement(self) -> bool:
        return self.improvement_vs is not None


class GameDayPlan(Frozen):
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    certificate: CertificateSpec
    quick: bool = False
    experiments: list[PlanStep] = Field(min_length=1)
    requirements: list[Requirement] = Field(min_length=1)


class PlanInvalid(InvalidInput):
    """A plan that cannot be run; `problems` lists every problem with its location."""

    def __init__(self, path: Path, problems: list[Problem]):
        lines = "\n".join(f"  {p.file}: {p.location}: {p.message}" for p in problems)
        super().__init__(f"validation of GameDay plan {path} failed: {len(problems)} problem(s)\n{lines}",
                         hint="fix the fields named above; nothing was touched")
        self.problems = problems


class LoadedPlan(BaseModel):
    """A checked plan: its model, the file, and each step's experiment (parsed) and quick flag."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    plan: GameDayPlan
    source: Path
    steps: list[tuple[Path, ExperimentSpec, bool]]

    @property
    def name(self) -> str:
        return self.source.stem

    def criterion_for(self, requirement: Requirement) -> Criterion:
        """The one criterion a requirement names (checked at load time)."""
        spec = next(spec for path, spec, _ in self.steps if path.stem == requirement.experiment)
        return _matches(spec, requirement)[0]

    def baseline_of(self, requirement: Requirement) -> Path | None:
        """An improvement requirement's `baseline:` run directory, resolved against the plan file."""
        found = requirement.baseline
        return found if found is None or found.is_absolute() else self.source.parent / found


def _improvement_problems(file: str, where: str, req: Requirement, spec: ExperimentSpec,
                          plan_dir: Path) -> list[Problem]:
    """Pure apart from looking at `baseline:`: what an improvement requirement lacks."""
    if req.improvement_vs is None:
        field = "at_least_pct" if req.at_least_pct is not None else "baseline"
        return [Problem(file, f"{where}.{field}", f"`{field}` belongs to an improvement requirement: add "
                                                  "`improvement_vs: baseline`, or remove it")]
    problems = []
    if req.metric.value not in VITALS:
        problems.append(Problem(file, f"{where}.metric", f"an improvement requirement compares a Core Web Vital, not "
                                                         f"{req.metric.value}; valid: {', '.join(VITALS)}"))
    elif spec.gameday.vitals is None:
        problems.append(Problem(file, f"{where}.experiment", f"experiment {req.experiment!r} has no `vitals:` block "
                                                             "(the browser sampler): its runs measure no vitals"))
    if req.at_least_pct is None:
        problems.append(Problem(file, f"{where}.at_least_pct", "an improvement requirement needs its target in % "
                                                               "(e.g. `at_least_pct: 50`: NEW's typical value half "
                                                               "of BASE's)"))
    if req.baseline is not None:
        run_dir = req.baseline if req.baseline.is_absolute() else plan_dir / req.baseline
        try:
            lacks = [f for f in ("summary.json", VITALS_FILE) if not (run_dir / f).is_file()]
        except OSError as exc:  # a name the file system refuses (too long)
            lacks = [f"a readable name ({exc.strerror or exc})"]
        if lacks:
            problems.append(Problem(file, f"{where}.baseline", f"{run_dir} is no run directory with "
                                                               f"{' and '.join(lacks)}"))
    return problems


def _matches(spec: ExperimentSpec, req: Requirement) -> list[Criterion]:
    return [c for c in spec.gameday.criteria
            if c.metric is req.metric and (req.window is None or c.window is req.window)]


def load_plan(path: str | Path, force_quick: bool = False, target: str = "local", config=None) -> LoadedPlan:
    """Read and check a plan and every experiment it names (on `target`, with its `configure`d config); raises
    PlanInvalid with every problem found."""
    path = Path(path)
    file = str(path)
    try:
        found = path.is_file()
    except OSError as exc:  # a name the file system refuses (too long)
        raise PlanInvalid(path, [Problem(file, "file", f"reading failed: {exc.strerror or exc}")]) from exc
    if not found:
        raise PlanInvalid(path, [Problem(file, "file", "no such file" if not path.exists() else "not a file")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanInvalid(path, [Problem(file, "file", f"reading failed: {exc}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        raise PlanInvalid(path, [Problem(file, where, f"YAML syntax error: {getattr(exc, 'problem', exc)}")]) from exc
    if not isinstance(raw, dict):
        fields = ", ".join(GameDayPlan.model_fields)
        raise PlanInvalid(path, [Problem(file, "file", f"a GameDay plan is a mapping of {fields}, "
                                                       f"not {type(raw).__name__}")])
    try:
        plan = GameDayPlan.model_validate(raw)
    except ValidationError as exc:
        raise PlanInvalid(path, pydantic_problems(file, "", exc, GameDayPlan)) from exc
    problems: list[Problem] = []
    steps: list[tuple[Path, ExperimentSpec, bool]] = []
    for index, step in enumerate(plan.experiments):
        experiment = step.experiment if step.experiment.is_absolute() else path.parent / step.experiment
        found = validate_file(experiment, target, config)
        if found:
            problems.append(Problem(file, f"experiments.{index}.experiment",
                                    f"{experiment} is not a valid experiment on target {target} "
                                    f"({len(found)} problem(s), listed below)"))
            problems += found
            continue
        quick = force_quick or (plan.quick if step.quick is None else step.quick)
        steps.append((experiment, load_experiment(experiment), quick))
    names = [p.stem for p, _, _ in steps]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(file, "experiments", f"experiment {dup!r} is listed twice; list each once"))
    by_name = {p.stem: spec for p, spec, _ in steps}
    for index, req in enumerate(plan.requirements):
        where = f"requirements.{index}"
        spec = by_name.get(req.experiment)
        if spec is None:
            if not problems:  # an invalid experiment was reported already
                problems.append(Problem(file, f"{where}.experiment", f"{req.experiment!r} is not in the plan; "
                                                                     f"valid: {', '.join(names)}"))
            continue
        if req.is_improvement or req.at_least_pct is not None or req.baseline is not None:
            problems += _improvement_problems(file, where, req, spec, path.parent)
            continue
        found_criteria = _matches(spec, req)
        if len(found_criteria) != 1:
            have = ", ".join(f"'{c.name}'" for c in spec.gameday.criteria) or "none"
            cause = "no criterion" if not found_criteria else f"{len(found_criteria)} criteria (name a `window`)"
            problems.append(Problem(file, f"{where}.metric", f"{cause} of experiment {req.experiment!r} measures "
                                                             f"{req.metric.value}"
                                                             f"{' in ' + req.window.value if req.window else ''}; "
                                                             f"its criteria: {have}"))
    if problems:
        raise PlanInvalid(path, problems)
    return LoadedPlan(plan=plan, source=path, steps=steps)
