"""A GameDay's improvement requirements: each run's Core Web Vitals against a baseline run of its experiment.

The baseline of a requirement is, first found: `gameday day --baseline RUN_DIR` (a run of that experiment), the
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
    wanted = sorted({r.experiment for r in loaded.plan.requirements if r.is_improvement})
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


def _one(req: Requirement, loaded: LoadedPlan, step: StepResult | None, day_dir: Path, history: Path, target: str,
         gameday_id: str, explicit: dict[str, Path]) -> dict:
    window = req.window.value if req.window else "overall"
    spec = {"name": req.name, "experiment": req.experiment, "metric": req.metric.value, "window": window,
            "at_least_pct": req.at_least_pct, "link": step.report if step else None}
    if step is None or step.run_dir is None:
        return improvement_row(spec, None, "the experiment did not run")
    if step.summary is None:
        return improvement_row(spec, None, f"the run wrote no summary (exit code {step.exit_code})")
    new_dir = day_dir / step.run_dir
    if not (new_dir / VITALS_FILE).is_file():
        return improvement_row(spec, None, f"run {step.run_dir} has no {VITALS_FILE}: the experiment ran without "
                                           "the browser sampler (`vitals:` in its gameday block)")
    if req.experiment in explicit:
        base_dir, source = explicit[req.experiment], "given with --baseline"
    elif (given := loaded.baseline_of(req)) is not None:
        base_dir, source = given, "given in the plan"
    else:
        row = history_baseline(history, req.experiment, target, step.quick, gameday_id, step.summary.get("start"))
        if row is None:
            mode = "quick" if step.quick else "full"
            return improvement_row(spec, None, f"no baseline run of {req.experiment} in the history (a passing "
                                               f"{mode} run on target {target} with {VITALS_FILE}); give one "
                                               "with `baseline:` in the plan or `gameday day --baseline RUN_DIR`")
        base_dir, source = Path(row["run_dir"]), "the most recent passing run in the history"
    try:
        base, new = _run(base_dir), _run(new_dir)
    except GameDayError as exc:
        return improvement_row(spec, None, f"a run could not be read: {str(exc).splitlines()[0]}")
    return improvement_row({**spec, "baseline_source": source}, compare_vitals(base, new, window))


def improvement_rows(loaded: LoadedPlan, steps: Sequence[StepResult], day_dir: Path, history: Path, target: str,
                     gameday_id: str, explicit: dict[str, Path] | None = None) -> list[dict]:
    """Every improvement requirement of the plan judged against its baseline run (certificate rows)."""
    by_name = {s.experiment: s for s in steps}
    return [_one(req, loaded, by_name.get(req.experiment), day_dir, history, target, gameday_id, explicit or {})
            for req in loaded.plan.requirements if req.is_improvement]
