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
      - {experiment: ../soak-smoke.yaml, label: blue, configuration: {soak_s: 600}}   # the same experiment twice:
      - {experiment: ../soak-smoke.yaml, label: green, configuration: {soak_s: 600}}  # each step under its label
    requirements:                       # what the certificate states; each names one criterion of one experiment
      - {name: Write RTO after a region loss, experiment: region-failover, metric: rto_write_s}
      - {name: P95 after recovery, experiment: region-failover, metric: p95_ms, window: after}
      - {name: LCP 50 % better than the last release, experiment: region-failover, metric: lcp_p75_ms,
         window: after, improvement_vs: baseline, at_least_pct: 50}     # optional `baseline: <run dir>`
      - {name: Green's LCP no worse than blue's, experiment: green, metric: lcp_p75_ms, improvement_vs: blue,
         at_least_pct: -10}                                               # blue's run in this GameDay is BASE

A step's `label` (default: the experiment's file stem) names it: unique within the plan, its run directory is
`NN-<label>`, and a requirement's `experiment:` names a label (the stem still works when only one step runs that
experiment). `configuration:` overrides the experiment's declared configuration variables for that step (over
its `quick.configuration`), checked against the experiment's `configuration` keys and validated on the target
with the new values.

A requirement's target is the criterion's own (`rto_write_s <= 900` in the experiment), so a target is written
once. An improvement requirement (`improvement_vs: baseline`) instead judges a Core Web Vital of the run against
a baseline run of the same experiment: `baseline:` (a run directory, relative to the plan file), `gameday day
--baseline RUN_DIR`, else the history's most recent passing run (gameday.baselines); `improvement_vs: <label>`
makes an earlier step of the same experiment in this GameDay the baseline (blue, then green). Loading a plan checks
every experiment file too (`gameday validate`), and that every other requirement matches exactly one criterion;
every problem is reported with the plan file and its field, before anything is touched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gameday.base.errors import InvalidInput
from gameday.base.models import Criterion, ExperimentSpec, Metric, Problem, Window, load_experiment, pydantic_problems
from gameday.validate import validate_file
from reports.run_files import VITALS_FILE
from reports.vitals import VITALS

__all__ = ["GameDayPlan", "PlanStep", "Requirement", "LoadedPlan", "LoadedStep", "load_plan", "PlanInvalid"]

BASELINE = "baseline"  # `improvement_vs: baseline`: a run from outside this GameDay; any other value is a step label
LABEL = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # it names a run directory (`NN-<label>`)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CertificateSpec(Frozen):
    name: str = Field(min_length=1)
    statement: str = Field(min_length=1, description="what the certificate says when every requirement holds")
    sign_off: list[str] = Field(default_factory=lambda: ["SRE lead", "Service owner"])


class PlanStep(Frozen):
    experiment: Path = Field(description="experiment file, relative to the plan file")
    label: str | None = Field(None, description=(
        "the step's name, unique within the plan (its run directory is `NN-<label>`); default: the experiment's "
        "file stem. Two steps of one experiment (blue, then green) need two labels"))
    quick: bool | None = Field(None, description="run its `quick` variant; default: the plan's `quick`")
    configuration: dict[str, float | str] = Field(default_factory=dict, description=(
        "overrides of the experiment's declared configuration variables for this step (applied over its "
        "`quick.configuration`, as Chaos Toolkit `--var`s)"))

    @field_validator("label")
    @classmethod
    def _names_a_directory(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(LABEL, value):
            raise ValueError(f"{value!r} is no label: it names the run directory NN-<label>, so letters, digits, "
                             "`.`, `_` and `-`, starting with a letter or digit, at most 64 characters")
        return value

    @field_validator("configuration", mode="before")
    @classmethod
    def _no_booleans(cls, value):
        if isinstance(value, dict):
            for key, found in value.items():
                if isinstance(found, bool):  # pydantic would read True as 1.0
                    raise ValueError(f"{key}: {found!r} is no number or string (a Chaos Toolkit `--var` carries "
                                     "numbers and strings)")
        return value


class Requirement(Frozen):
    name: str = Field(min_length=1)
    experiment: str = Field(min_length=1, description=(
        "the label of a step (default label: the experiment's file name without extension; the file stem also "
        "names a step when only one step runs that experiment)"))
    metric: Metric
    window: Window | None = Field(None, description="needed only when the experiment has the metric in two windows")
    improvement_vs: str | None = Field(None, min_length=1, description=(
        "`baseline`: judge the improvement of a Core Web Vital (metric `*_p75*`) against a baseline run of the "
        "same experiment from outside this GameDay, not the experiment's criterion (window default: overall); "
        "the label of an earlier step of the same experiment: that step's run in this GameDay is the baseline"))
    at_least_pct: float | None = Field(None, lt=100, description=(
        "an improvement requirement's target: improvement = 1 - NEW / BASE of the typical value, in %"))
    baseline: Path | None = Field(None, description=(
        "the baseline run directory (relative to the plan file); default: the history's most recent passing run"))

    @property
    def is_improvement(self) -> bool:
        return self.improvement_vs is not None

    @property
    def baseline_step(self) -> str | None:
        """The label of the earlier step whose run is the baseline (`improvement_vs: <label>`), else None."""
        return self.improvement_vs if self.improvement_vs not in (None, BASELINE) else None


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


class LoadedStep(NamedTuple):
    """One checked step: the experiment file and its parsed spec, quick flag, label and configuration overrides."""

    experiment: Path
    spec: ExperimentSpec
    quick: bool
    label: str
    configuration: dict


def step_named(steps: list[LoadedStep], name: str) -> tuple[LoadedStep | None, str]:
    """Pure: the step a requirement's `experiment:` names (a label, else the stem of exactly one step's
    experiment), or None and why."""
    for step in steps:
        if step.label == name:
            return step, ""
    by_stem = [s for s in steps if s.experiment.stem == name]
    if len(by_stem) == 1:
        return by_stem[0], ""
    labels = ", ".join(s.label for s in steps)
    if by_stem:
        return None, f"experiment {name!r} runs in {len(by_stem)} steps: name one by its label; valid: {labels}"
    return None, f"{name!r} is not in the plan; valid: {labels}"


class LoadedPlan(BaseModel):
    """A checked plan: its model, the file, and each step (LoadedStep)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    plan: GameDayPlan
    source: Path
    steps: list[LoadedStep]

    @property
    def name(self) -> str:
        return self.source.stem

    def step_of(self, requirement: Requirement) -> LoadedStep:
        """The step a requirement names (checked at load time)."""
        return step_named(self.steps, requirement.experiment)[0]

    def criterion_for(self, requirement: Requirement) -> Criterion:
        """The one criterion a requirement names (checked at load time)."""
        return _matches(self.step_of(requirement).spec, requirement)[0]

    def baseline_of(self, requirement: Requirement) -> Path | None:
        """An improvement requirement's `baseline:` run directory, resolved against the plan file."""
        found = requirement.baseline
        return found if found is None or found.is_absolute() else self.source.parent / found


def _step_baseline_problems(file: str, where: str, req: Requirement, step: LoadedStep,
                            steps: list[LoadedStep]) -> list[Problem]:
    """Pure: `improvement_vs: <label>` names an earlier step of the same experiment with a `vitals:` block."""
    order = [s.label for s in steps]
    earlier = [s.label for s in steps[:order.index(step.label)]
               if s.experiment.resolve() == step.experiment.resolve()]
    valid = f"valid: {BASELINE} (a run from outside this GameDay)" + (
        f", or an earlier step of the same experiment: {', '.join(earlier)}" if earlier else
        f"; no step before {step.label!r} runs {step.experiment.stem}")
    base = next((s for s in steps if s.label == req.baseline_step), None)
    problems = []
    if base is None:
        problems.append(Problem(file, f"{where}.improvement_vs", f"{req.baseline_step!r} is no step label of the "
                                                                 f"plan; {valid}"))
    elif base.label == step.label:
        problems.append(Problem(file, f"{where}.improvement_vs", f"step {step.label!r} is the requirement's own step "
                                                                 f"(NEW), not its baseline; {valid}"))
    elif order.index(base.label) > order.index(step.label):
        problems.append(Problem(file, f"{where}.improvement_vs", f"step {base.label!r} does not run before step "
                                                                 f"{step.label!r}: the baseline step runs first; "
                                                                 f"{valid}"))
    elif base.experiment.resolve() != step.experiment.resolve():
        problems.append(Problem(file, f"{where}.improvement_vs", f"step {base.label!r} runs experiment "
                                                                 f"{base.experiment.stem}, not "
                                                                 f"{step.experiment.stem}: a baseline step runs "
                                                                 f"the same experiment; {valid}"))
    elif base.spec.gameday.vitals is None:
        problems.append(Problem(file, f"{where}.improvement_vs", f"step {base.label!r} has no `vitals:` block "
                                                                 "(the browser sampler): its run measures no "
                                                                 "vitals"))
    if req.baseline is not None:
        problems.append(Problem(file, f"{where}.baseline", f"`baseline:` names a run from outside this GameDay "
                                                           f"(`improvement_vs: {BASELINE}`); this requirement's "
                                                           f"baseline is step {req.baseline_step!r}: remove one"))
    return problems


def _improvement_problems(file: str, where: str, req: Requirement, step: LoadedStep, steps: list[LoadedStep],
                          plan_dir: Path) -> list[Problem]:
    """Pure apart from looking at `baseline:`: what an improvement requirement lacks."""
    if req.improvement_vs is None:
        field = "at_least_pct" if req.at_least_pct is not None else "baseline"
        return [Problem(file, f"{where}.{field}", f"`{field}` belongs to an improvement requirement: add "
                                                  "`improvement_vs: baseline`, or remove it")]
    spec = step.spec
    problems = _step_baseline_problems(file, where, req, step, steps) if req.baseline_step else []
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
    if req.baseline is not None and not req.baseline_step:
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


def _configuration_problems(file: str, where: str, experiment: Path, spec: ExperimentSpec, quick: bool,
                            overrides: dict, target: str, config) -> list[Problem]:
    """A step's `configuration:`: declared keys only, and the experiment valid on `target` with the values the run
    will have (its quick configuration, then the step's overrides)."""
    from gameday.target_check import target_problems

    if not overrides:
        return []
    declared = spec.raw.get("configuration") or {}
    unknown = [Problem(file, f"{where}.configuration.{key}", f"not declared in the `configuration` of experiment "
                                                             f"{experiment} (Chaos Toolkit ignores overrides of "
                                                             f"undeclared keys); declared: "
                                                             f"{', '.join(declared) or 'none'}")
               for key in overrides if key not in declared]
    if unknown:
        return unknown
    variables = {**(spec.gameday.quick.configuration if quick else {}), **overrides}
    found = target_problems(str(experiment), {**spec.raw, "configuration": {**declared, **variables}}, target, config)
    if not found:
        return []
    return [Problem(file, f"{where}.configuration", f"with these values experiment {experiment} is not valid on "
                                                    f"target {target} ({len(found)} problem(s), listed below)"),
            *found]


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
    steps: list[LoadedStep] = []
    labels = [step.label or step.experiment.stem for step in plan.experiments]
    for index, step in enumerate(plan.experiments):
        first = labels.index(labels[index])
        if first < index:
            problems.append(Problem(file, f"experiments.{index}.label", (
                f"label {labels[index]!r} is taken by experiments.{first}; each step needs its own label (its run "
                "directory is NN-<label>)") if step.label else (
                f"experiment {labels[index]!r} is listed twice: give each step its own `label:` (e.g. blue, "
                "green), or list it once")))
        experiment = step.experiment if step.experiment.is_absolute() else path.parent / step.experiment
        found = validate_file(experiment, target, config)
        if found:
            problems.append(Problem(file, f"experiments.{index}.experiment",
                                    f"{experiment} is not a valid experiment on target {target} "
                                    f"({len(found)} problem(s), listed below)"))
            problems += found
            continue
        quick = force_quick or (plan.quick if step.quick is None else step.quick)
        spec = load_experiment(experiment)
        problems += _configuration_problems(file, f"experiments.{index}", experiment, spec, quick,
                                            dict(step.configuration), target, config)
        steps.append(LoadedStep(experiment, spec, quick, labels[index], dict(step.configuration)))
    for index, req in enumerate(plan.requirements):
        where = f"requirements.{index}"
        named, why = step_named(steps, req.experiment)
        if named is None:
            if not problems:  # an invalid experiment was reported already
                problems.append(Problem(file, f"{where}.experiment", why))
            continue
        spec = named.spec
        if req.is_improvement or req.at_least_pct is not None or req.baseline is not None:
            problems += _improvement_problems(file, where, req, named, steps, path.parent)
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
