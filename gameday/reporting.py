"""Analyse a run directory and write its reports; shared by `gameday run` (at the end) and `gameday report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from gameday.errors import InvalidInput
from gameday.models import load_experiment


def report_run(run_dir: Path, echo: Callable[[str], None] = print) -> int:
    """Analyse `run_dir` (pure analysis over its files), write summary.json, report.md, junit.xml; exit code."""
    from reports.certify import certify, exit_code
    from reports.findings import analyse
    from reports.render import write_reports
    from reports.run_files import read_run

    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise InvalidInput(f"report of {run_dir} failed: {meta_path} is missing", hint="give a run directory")
    meta = json.loads(meta_path.read_text())
    spec = load_experiment(run_dir / "experiment.yaml")
    gd = spec.gameday.quickened() if meta.get("quick") else spec.gameday
    findings = analyse(read_run(run_dir), gd)
    certification = certify(findings, gd.criteria)
    write_reports(run_dir, findings, certification, meta)
    summary = json.loads((run_dir / "summary.json").read_text())
    echo(f"verdict: {summary['verdict']}" + (f" (aborted: {meta['aborted']['reason']})" if meta.get("aborted") else ""))
    for c in summary["criteria"]:
        echo(f"  {c['verdict']:<13} {c['name']:<32} measured {c['measured']!s:<12} {c.get('evidence', '')}")
    echo(f"reports: {run_dir / 'summary.json'}, {run_dir / 'report.md'}, {run_dir / 'junit.xml'}")
    return exit_code(certification, meta.get("aborted"))
