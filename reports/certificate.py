"""Pure: a GameDay's certification document from its plan, its runs' summaries and their history.

For each requirement of the plan: the target (the experiment criterion's own), the measured value, the verdict
and the evidence with a link to the run's report. A requirement whose run is missing (aborted before it, or the
run produced no summary) is INCONCLUSIVE. The GameDay PASSes only when every experiment ran and passed and every
requirement passed; it FAILs when any failed; else it is INCONCLUSIVE. Regressions against the previous passing
run of each experiment are flagged beside the verdict; they do not change it. Improvement requirements (a Core
Web Vital against a baseline run, reports.vitals_comparison.improvement_row) are requirements too, and are listed
with their baseline run in "This release against the baseline" (with the step of this GameDay when an earlier
step is the baseline: blue, then green). A step is named by its label, the experiment's name unless the plan
runs that experiment twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports.formatting import TEMPLATES, in_unit, md_cell, show, target_in_unit
from reports.trends import FIGURES, LABELS, regressions, series

SCHEMA = "gameday-certificate/1"


@dataclass(frozen=True)
class StepResult:
    """One step of the plan as it ran: its run directory (relative to the GameDay directory) and summary."""

    experiment: str
    quick: bool
    run_dir: str | None = None
    report: str | None = None            # its report, relative to the GameDay directory (html, else md)
    exit_code: int | None = None
    summary: dict | None = None          # None: not run, or no summary written
    history: tuple[dict, ...] = ()       # its experiment's recorded runs (reports.trends.headline rows), oldest first
    headline: dict | None = None         # this run's row in the history
    label: str | None = None             # the step's label in the plan (None: the experiment's name)
    configuration: dict = field(default_factory=dict)  # the step's configuration overrides

    @property
    def name(self) -> str:
        """What the plan's requirements call this step: its label, else the experiment."""
        return self.label or self.experiment


@dataclass(frozen=True)
class RequirementSpec:
    name: str
    experiment: str                      # the step's label (the experiment's name unless it runs twice)
    criterion: str                       # the experiment criterion's name
    metric: str
    op: str
    target: float
    unit: str
    window: str = "overall"


@dataclass(frozen=True)
class GameDayFacts:
    gameday_id: str
    plan: str
    title: str
    description: str
    certificate_name: str
    statement: str
    sign_off: tuple[str, ...]
    target: str
    start: str | None
    end: str | None
    environment: dict = field(default_factory=dict)
    aborted: str | None = None


def requirement_row(req: RequirementSpec, step: StepResult | None) -> dict:
    """Pure: one requirement against its run's summary."""
    target = f"{req.metric} {req.op} {target_in_unit(req.target, req.unit)}" + (
        f" in {req.window}" if req.window != "overall" else "")
    row = {"name": req.name, "experiment": req.experiment, "target": target, "measured": None, "measured_text": "n/a",
           "verdict": "INCONCLUSIVE", "evidence": "the experiment did not run", "link": step.report if step else None}
    if step is None or step.summary is None:
        if step is not None and step.run_dir is not None:
            row["evidence"] = f"the run wrote no summary (exit code {step.exit_code})"
        return row
    found = next((c for c in step.summary.get("criteria", []) if c["name"] == req.criterion), None)
    if found is None:
        row["evidence"] = f"the run's summary has no criterion '{req.criterion}'"
        return row
    return {**row, "measured": found["measured"], "measured_text": in_unit(found["measured"], found["unit"]),
            "verdict": found["verdict"], "evidence": found["evidence"]}


def _trend(step: StepResult) -> dict:
    current = step.headline
    flagged = regressions(current, step.history) if current else []
    return {"experiment": step.experiment, "label": step.name, "quick": step.quick,
            "runs": [{**r, "figures": {f: r.get(f) for f in FIGURES}, "current": current is not None and
                      r["run_id"] == current["run_id"]} for r in series(step.history)],
            "regressions": [r.text() for r in flagged]}


def certificate(facts: GameDayFacts, requirements: Sequence[RequirementSpec], steps: Sequence[StepResult],
                baseline: Sequence[dict] = ()) -> dict:
    """Pure: the certificate document (schema `gameday-certificate/1`); `baseline`: improvement requirement rows."""
    by_name = {s.name: s for s in steps}
    rows = [requirement_row(r, by_name.get(r.experiment)) for r in requirements] + list(baseline)
    experiments = [{"experiment": s.experiment, "label": s.name, "configuration": dict(s.configuration),
                    "quick": s.quick, "run_dir": s.run_dir, "exit_code": s.exit_code,
                    "verdict": (s.summary or {}).get("verdict") or ("NOT RUN" if s.run_dir is None else "INCONCLUSIVE"),
                    "duration_s": (s.summary or {}).get("duration_s"), "link": s.report,
                    "reasons": (s.summary or {}).get("reasons", [])} for s in steps]
    verdicts = [r["verdict"] for r in rows] + [e["verdict"] for e in experiments]
    if "FAIL" in verdicts:
        verdict = "FAIL"
    elif all(v == "PASS" for v in verdicts) and facts.aborted is None:
        verdict = "PASS"
    else:
        verdict = "INCONCLUSIVE"
    trends = [_trend(s) for s in steps if s.headline is not None]
    detection = [{"experiment": s.experiment, **{k: d.get(k) for k in (
        "expected_alarms", "time_to_detect_s", "resolution_s", "time_to_notify_s", "alarm_cleared_s",
        "false_alarms")}, "link": s.report} for s in steps if (d := (s.summary or {}).get("detection"))]
    return {"schema": SCHEMA, "gameday_id": facts.gameday_id, "plan": facts.plan, "title": facts.title,
            "description": facts.description, "certificate": facts.certificate_name, "statement": facts.statement,
            "target": facts.target, "start": facts.start, "end": facts.end, "verdict": verdict,
            "aborted": facts.aborted, "requirements": rows, "experiments": experiments, "trends": trends,
            "regressions": [f"{t['experiment']}: {r}" for t in trends for r in t["regressions"]],
            "detection": detection, "baseline_comparisons": list(baseline),
            "environment": facts.environment, "sign_off": list(facts.sign_off),
            "figures": {f: LABELS[f] for f in FIGURES}}


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True,
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False))
    env.filters.update(show=show, cell=md_cell)
    return env


def markdown(doc: dict) -> str:
    """Pure: certificate.md."""
    return _env().get_template("certificate.md.j2").render(doc=doc)


def html(doc: dict) -> str:
    """Pure: certificate.html, self-contained."""
    return _env().get_template("certificate.html.j2").render(doc=doc)
