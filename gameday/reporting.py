"""Analyse a run directory and write its reports; shared by `gameday run` (at the end) and `gameday report`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from gameday.base.models import load_experiment
from gameday.history import history_file, record_run


def report_run(run_dir: Path, echo: Callable[[str], None] = print) -> int:
    """Analyse `run_dir` (pure analysis over its files), write its reports, record it in the history; exit code."""
    from reports.certify import certify, exit_code
    from reports.findings import analyse
    from reports.render import write_reports
    from reports.run_files import read_run

    run_dir = Path(run_dir)
    inputs = read_run(run_dir)  # names the missing or malformed file
    meta = inputs.run
    spec = load_experiment(run_dir / "experiment.yaml")
    gd = spec.gameday.quickened() if meta.get("quick") else spec.gameday
    findings = analyse(inputs, gd)
    certification = certify(findings, gd.criteria)
    paths = write_reports(run_dir, findings, certification, meta, inputs)
    summary = json.loads(paths["summary"].read_text())
    history = Path(meta["history"]) if meta.get("history") else history_file(run_dir.parent)
    try:
        record_run(history, summary, run_dir, meta.get("gameday_id"))
    except sqlite3.Error as exc:  # the run's own reports are written; history is a convenience on top
        echo(f"warning: recording of run {summary.get('run_id')} in history {history} failed: {exc}")
    aborted = meta.get("aborted")
    echo(f"verdict: {summary['verdict']}"
         + (f" (aborted: {aborted.get('reason')})" if isinstance(aborted, dict) else ""))
    for c in summary["criteria"]:
        echo(f"  {c['verdict']:<13} {c['name']:<32} measured {c['measured']!s:<12} {c.get('evidence', '')}")
    for reason in summary["reasons"]:
        if not reason.startswith("criterion "):
            echo(f"  run: {reason}")
    echo(f"reports: {', '.join(str(p) for p in paths.values())}")
    return exit_code(certification, aborted)
