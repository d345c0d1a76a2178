"""`gameday day PLAN`: run a GameDay plan's experiments in order and issue its certificate.

    runs/<UTC time>-<plan>/            the GameDay directory (`--out` moves it)
      01-<label>/ 02-.../              one run directory per step (its label; default: the experiment's stem)
      certificate.json|md|html         the certification document (reports.certificate)
    runs/history.sqlite                every run and GameDay, for trends (beside the GameDay directories)

A step's `configuration:` reaches its run as configuration overrides (over the experiment's quick ones), as
Chaos Toolkit `--var`s. Every experiment runs even when an earlier one failed (a GameDay collects all its
evidence); a stop condition or a signal (exit code 3 of a run) ends the GameDay there, and the certificate lists
the rest as not run.
Exit code: 0 certified (PASS), 1 FAIL or INCONCLUSIVE, 2 invalid plan (nothing touched), 3 aborted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gameday import run_lock
from gameday.base.errors import GameDayError, RunAborted
from gameday.base.provenance import git_sha, tool_versions
from gameday.base.settings import Settings
from gameday.baselines import explicit_baselines, improvement_rows
from gameday.disk_guard import is_disk_error
from gameday.history import history_file, record_gameday, runs_of
from gameday.notify import Notifier
from gameday.out_dir import check_out
from gameday.plans import LoadedPlan
from gameday.runner import EXIT_ABORTED, Run, RunOptions
from infra.targets.base import TargetOptions
from infra.targets.registry import driver_class
from reports.certificate import GameDayFacts, RequirementSpec, StepResult, certificate, html, markdown
from reports.trends import headline

EXIT_PASS, EXIT_FAIL = 0, 1
REPORT_FILES = ("report.html", "report.md", "summary.json")


@dataclass(frozen=True)
class DayOptions:
    target: str = "local"
    out: Path | None = None
    profile: Path | None = None          # the target profile of an aws GameDay
    confirm_account: str | None = None   # needed for a prod profile
    console: object = None               # gameday.console.Console (`day --ui`): one console for every run
    workers: int | None = None           # local Locust workers of every run (`day --workers N`)
    baselines: tuple[Path, ...] = ()     # `day --baseline RUN_DIR`: baseline runs of improvement requirements


def _utc(t: datetime | None = None) -> str:
    return (t or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class GameDay:
    """One GameDay of one plan; `execute()` returns the exit code."""

    def __init__(self, loaded: LoadedPlan, settings: Settings, options: DayOptions = DayOptions(),
                 echo: Callable[[str], None] = print):
        self.loaded = loaded
        self.settings = settings
        self.options = options
        self.echo = echo
        self.day_dir: Path | None = None  # once made
        self.baselines = explicit_baselines(loaded, options.baselines)  # InvalidInput before anything is touched

    def execute(self) -> int:
        started = datetime.now(UTC)
        gameday_id = f"{started:%Y%m%dT%H%M%SZ}-{self.loaded.name}"
        check_out(self.options.out, self.settings.runs_dir, "GameDay directory", self.settings.min_free_mb)
        profile = self.options.profile.resolve() if self.options.profile else None
        target = driver_class(self.options.target).open(self.settings, TargetOptions(
            profile=profile, confirm_account=self.options.confirm_account))
        # The GameDay holds the stack for its whole duration (its runs reuse the hold): another run is refused.
        with run_lock.holding(run_lock.lock_dir(target), gameday_id, action="GameDay"):
            try:
                return self._execute_locked(started, gameday_id)
            except OSError as exc:  # the certificate or the history could not be written (each run recovered)
                if not is_disk_error(exc):
                    raise
                raise RunAborted(f"GameDay {gameday_id} aborted: writing its results failed: {exc.strerror} "
                                 f"({exc.filename}); every run's faults were recovered by that run",
                                 hint="free space, or make the runs directory writable") from exc

    def _execute_locked(self, started: datetime, gameday_id: str) -> int:
        day_dir = self.day_dir = self.options.out or self.settings.runs_dir / gameday_id
        day_dir.mkdir(parents=True, exist_ok=False)
        history = history_file(day_dir.resolve().parent)
        total = len(self.loaded.steps)
        self.echo(f"GameDay {gameday_id}: {self.loaded.plan.title}: {total} experiment(s) -> {day_dir}")
        notifier = Notifier.from_settings(self.settings, self.echo)
        notifier.send(f"GameDay {self.loaded.plan.title} started on target {self.options.target}: {total} "
                      f"experiment(s) ({gameday_id})")
        steps: list[StepResult] = []
        aborted = None
        console = self.options.console.state if self.options.console is not None else None
        if console is not None:  # between runs a HALT stops the GameDay before its next experiment
            console.on_halt = lambda name: None
        for index, (experiment, _, quick, label, overrides) in enumerate(self.loaded.steps, start=1):
            name = label if label == experiment.stem else f"{label} ({experiment.stem})"
            if console is not None and console.halted is not None and aborted is None:
                aborted = f"halted from the console by {console.halted['by']}; later experiments did not run"
                self.echo(f"[{index}/{total}] {aborted}")
            if aborted is not None:
                steps.append(StepResult(experiment.stem, quick, label=label, configuration=overrides))
                continue
            settings = "".join(f" {k}={v}" for k, v in overrides.items())
            self.echo(f"[{index}/{total}] {name}{' (quick)' if quick else ''}{settings}")
            run_dir = day_dir / f"{index:02d}-{label}"
            options = RunOptions(experiment, self.options.target, run_dir, quick=quick, history=history,
                                 gameday_id=gameday_id, profile=self.options.profile,
                                 confirm_account=self.options.confirm_account, stack_locked=True,
                                 console=self.options.console, workers=self.options.workers,
                                 progress=(index, total), configuration=overrides or None)
            if self.options.console is not None:
                self.options.console.state.progress = {"index": index, "of": total, "experiment": name}
            try:
                code = Run(options, self.settings, lambda line: self.echo(f"  {line}")).execute()
            except KeyboardInterrupt:  # Ctrl-C outside a run's experiment (e.g. while the stack starts)
                code = EXIT_ABORTED
            except RunAborted as exc:  # e.g. the disk filled: the later runs could not write either
                self.echo(f"  error: {exc}")
                code = EXIT_ABORTED
                aborted = f"{name}: {str(exc).splitlines()[0]}; later experiments did not run"
            except GameDayError as exc:  # this run could not be carried out; the next ones may still be
                self.echo(f"  error: {exc}")
                code = EXIT_FAIL
            steps.append(self._step(experiment.stem, quick, run_dir, code, history, label, overrides))
            verdict = steps[-1].summary["verdict"] if steps[-1].summary else "no summary"
            self.echo(f"[{index}/{total}] {name}: {verdict} (exit {code})")
            if code == EXIT_ABORTED and aborted is None:
                meta = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
                reason = (meta.get("aborted") or {}).get("reason") or "aborted"
                aborted = f"{name}: {reason}; later experiments did not run"
        baseline = improvement_rows(self.loaded, steps, day_dir, history, self.options.target, gameday_id,
                                    self.baselines)
        doc = certificate(self._facts(gameday_id, started, aborted), self._requirements(), steps, baseline)
        for name, text in (("certificate.json", json.dumps(doc, indent=2, allow_nan=False) + "\n"),
                           ("certificate.md", markdown(doc)), ("certificate.html", html(doc))):
            _write(day_dir / name, text)
        record_gameday(history, gameday_id, self.loaded.name, self.options.target, doc["start"], doc["verdict"],
                       (day_dir / "certificate.html").resolve())
        self.echo(f"GameDay verdict: {doc['verdict']}" + (f" ({aborted})" if aborted else ""))
        for r in doc["requirements"]:
            self.echo(f"  {r['verdict']:<13} {r['name']}: {r['target']}, measured {r['measured_text']}")
        for line in doc["regressions"]:
            self.echo(f"  regression: {line}")
        self.echo(f"certificate: {day_dir / 'certificate.html'} (and certificate.md, certificate.json)")
        failed = [r["name"] for r in doc["requirements"] if r["verdict"] != "PASS"]
        notifier.send(f"GameDay {self.loaded.plan.title}: {doc['verdict']}" + (f" ({aborted})" if aborted else "")
                      + (f"; not passed: {', '.join(failed)}" if failed else "")
                      + f"; certificate: {(day_dir / 'certificate.html').resolve()}")
        if aborted is not None:
            return EXIT_ABORTED
        return EXIT_PASS if doc["verdict"] == "PASS" else EXIT_FAIL

    def _step(self, name: str, quick: bool, run_dir: Path, code: int, history: Path, label: str,
              overrides: dict) -> StepResult:
        summary_path = run_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
        report = next((f"{run_dir.name}/{f}" for f in REPORT_FILES if (run_dir / f).is_file()), None)
        current = headline(summary) if summary else None
        past = tuple(runs_of(history, name, self.options.target, quick)) if summary else ()
        return StepResult(name, quick, run_dir.name, report, code, summary, past, current, label, overrides)

    def _facts(self, gameday_id: str, started: datetime, aborted: str | None) -> GameDayFacts:
        plan = self.loaded.plan
        tools = tool_versions()
        environment = {"git_sha": git_sha() or "n/a", "plan_file": str(self.loaded.source),
                       "tools": ", ".join(f"{k} {v}" for k, v in tools.items())}
        return GameDayFacts(gameday_id=gameday_id, plan=self.loaded.name, title=plan.title,
                            description=plan.description, certificate_name=plan.certificate.name,
                            statement=plan.certificate.statement, sign_off=tuple(plan.certificate.sign_off),
                            target=self.options.target, start=_utc(started), end=_utc(), environment=environment,
                            aborted=aborted)

    def _requirements(self) -> list[RequirementSpec]:
        out = []
        for req in self.loaded.plan.requirements:
            if req.is_improvement:  # judged against a baseline run (gameday.baselines), not a criterion
                continue
            c = self.loaded.criterion_for(req)
            out.append(RequirementSpec(req.name, self.loaded.step_of(req).label, c.name, c.metric.value, c.op,
                                       c.target, c.unit, c.window.value))
        return out
