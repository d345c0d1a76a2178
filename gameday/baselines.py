"""A GameDay's improvement requirements: each run's Core Web Vitals against a baseline run of its experiment.

The baseline of a requirement with `improvement_vs: <label>` is that earlier step's run in this GameDay (blue,
then green); one that did not run or measured no vitals leaves the requirement INCONCLUSIVE, saying why. With
`improvement_vs: baseline` it is, first found: `gameday day --baseline RUN_DIR` (a run of that experiment), the
requirement's `baseline:` run directory, else the history's most recent PASSing run of the same experiment, target
and mode, outside this GameDay, started before it, whose directory still holds vitals.jsonl. None found: the
requirement is INCONCLUSIVE ("no baseline run of X in the history"), never PASS. The comparison and the verdict
are pure (reports.vitals_comparison); this module finds and reads the runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from gameday.base.errors import GameDayError, InvalidInput
from gameday.history import runs_of
from gameday.plans import LoadedPlan, Requirement
from reports.certificate import StepResult
from reports.run_files import VITALS_FILE, read_vitals
from reports.trends import headline
from reports.vitals_comparison import compare_vitals, improvement_row

__all__ = ["explicit_baselines", "history_baseline", "improvement_rows"]


def _summary(run_dir: Path) -> dict:
    try:
        found = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"reading of run {run_dir} failed: summary.json: {exc}",
                           hint="give a run directory `gameday run` or `gameday day` wrote") from exc
    if not isinstance(found, dict):
        raise InvalidInput(f"reading of run {run_dir} failed: summary.json is no JSON object",
                           hint="give a run directory `gameday run` or `gameday day` wrote")
    return found


def explicit_baselines(loaded: LoadedPlan, run_dirs: Sequence[Path]) -> dict[str, Path]:
    """`gameday day --baseline RUN_DIR`: each run directory by its experiment; InvalidInput (exit 2) for one that
    is no run with vitals.jsonl of an improvement requirement's experiment, or a second one of an experiment."""
    wanted = sorted({loaded.step_of(r).experiment.stem for r in loaded.plan.requirements
                     if r.is_improvement and not r.baseline_step})
    hint = "--baseline names a run directory (with summary.json and vitals.jsonl) of an experiment an improvement " \
           "requirement of the plan names"
    found: dict[str, Path] = {}
    for run_dir in run_dirs:
        lacks = [f for f in ("summary.json", VITALS_FILE) if not (run_dir / f).is_file()]
        if lacks:
            raise InvalidInput(f"reading of baseline run {run_dir} failed: it has no {' and no '.join(lacks)}",
                               hint=hint)
        experiment = headline(_summary(run_dir))["experiment"]
        if experiment not in wanted:
            raise InvalidInput(f"--baseline {run_dir} is a run of {experiment!r}, which no improvement requirement "
                               f"of plan {loaded.source} names; valid: {', '.join(wanted) or 'none'}", hint=hint)
        if experiment in found:
            raise InvalidInput(f"--baseline gives two runs of {experiment!r}: {found[experiment]} and {run_dir}",
                               hint="give one baseline run per experiment")
        found[experiment] = run_dir
    return found


def history_baseline(history: Path, experiment: str, target: str, quick: bool, gameday_id: str,
                     before: str | None) -> dict | None:
    """The history's most recent passing run of `experiment` outside GameDay `gameday_id`, started before
    `before` (ISO UTC), whose run directory still holds vitals.jsonl; None when there is none."""
    for row in reversed(runs_of(history, experiment, target, quick)):
        if row["verdict"] != "PASS" or row["gameday_id"] == gameday_id or not row["run_dir"]:
            continue
        if before is not None and (row["start"] or "") >= before:
            continue
        if (Path(row["run_dir"]) / VITALS_FILE).is_file():
            return row
    return None


def _run(run_dir: Path) -> dict:
    summary = _summary(run_dir)
    return {"run_id": summary.get("run_id"), "start": summary.get("start"), "windows": summary.get("windows") or {},
            "vitals": read_vitals(run_dir / VITALS_FILE)}


def _step_baseline(label: str, step: StepResult | None, day_dir: Path) -> tuple[Path | None, str]:
    """The run directory of baseline step `label` in this GameDay and how it is named, or None and why."""
    if step is None or step.run_dir is None:
        return None, f"the baseline step {label!r} did not run"
    if step.summary is None:
        return None, f"the baseline step {label!r} wrote no summary (run {step.run_dir}, exit code {step.exit_code})"
    if not (day_dir / step.run_dir / VITALS_FILE).is_file():
        return None, f"the baseline step {label!r} (run {step.run_dir}) has no {VITALS_FILE}: it measured no vitals"
    return day_dir / step.run_dir, f"step {label} of this GameDay (run {step.run_dir})"


def _baseline_dir(req: Requirement, experiment: str, step: StepResult, steps: dict[str, StepResult],
                  loaded: LoadedPlan, day_dir: Path, history: Path, target: str, gameday_id: str,
                  explicit: dict[str, Path]) -> tuple[Path | None, str]:
    """The baseline run directory of an improvement requirement whose NEW run is `step`, and its source (or None
    and why)."""
    if req.baseline_step:
        return _step_baseline(req.baseline_step, steps.get(req.baseline_step), day_dir)
    if experiment in explicit:
        return explicit[experiment], "given with --baseline"
    if (given := loaded.baseline_of(req)) is not None:
        return given, "given in the plan"
    row = history_baseline(history, experiment, target, step.quick, gameday_id, step.summary.get("start"))
    if row is None:
        mode = "quick" if step.quick else "full"
        return None, (f"no baseline run of {experiment} in the history (a passing {mode} run on target {target} "
                      f"with {VITALS_FILE}); give one with `baseline:` in the plan or `gameday day --baseline "
                      "RUN_DIR`")
    return Path(row["run_dir"]), "the most recent passing run in the history"


def _one(req: Requirement, loaded: LoadedPlan, steps: dict[str, StepResult], day_dir: Path, history: Path,
         target: str, gameday_id: str, explicit: dict[str, Path]) -> dict:
    window = req.window.value if req.window else "overall"
    named = loaded.step_of(req)
    step = steps.get(named.label)
    spec = {"name": req.name, "experiment": named.label, "metric": req.metric.value, "window": window,
            "at_least_pct": req.at_least_pct, "link": step.report if step else None}
    if step is None or step.run_dir is None:
        return improvement_row(spec, None, "the experiment did not run")
    if step.summary is None:
        return improvement_row(spec, None, f"the run wrote no summary (exit code {step.exit_code})")
    new_dir = day_dir / step.run_dir
    if not (new_dir / VITALS_FILE).is_file():
        return improvement_row(spec, None, f"run {step.run_dir} has no {VITALS_FILE}: the experiment ran without "
                                           "the browser sampler (`vitals:` in its gameday block)")
    base_dir, source = _baseline_dir(req, named.experiment.stem, step, steps, loaded, day_dir, history, target,
                                     gameday_id, explicit)
    if base_dir is None:
        return improvement_row(spec, None, source)
    try:
        base, new = _run(base_dir), _run(new_dir)
    except GameDayError as exc:
        return improvement_row(spec, None, f"a run could not be read: {str(exc).splitlines()[0]}")
    return improvement_row({**spec, "baseline_source": source}, compare_vitals(base, new, window))


def improvement_rows(loaded: LoadedPlan, steps: Sequence[StepResult], day_dir: Path, history: Path, target: str,
                     gameday_id: str, explicit: dict[str, Path] | None = None) -> list[dict]:
    """Every improvement requirement of the plan judged against its baseline run (certificate rows)."""
    by_name = {s.name: s for s in steps}
    return [{**_one(req, loaded, by_name, day_dir, history, target, gameday_id, explicit or {}),
             "baseline_step": req.baseline_step} for req in loaded.plan.requirements if req.is_improvement]
