"""Secrets never reach the run directory: find an experiment's secret values and blank them in every file."""

from __future__ import annotations

import os
from pathlib import Path

MASK = "***REDACTED***"
MIN_SECRET_CHARS = 4  # shorter values would blank ordinary text
TEXT_SUFFIXES = {".json", ".jsonl", ".yaml", ".yml", ".md", ".html", ".xml", ".log", ".txt", ".out", ".csv"}


def secret_values(raw_experiment: dict, environ: dict | None = None) -> list[str]:
    """Every value the experiment's `secrets` resolve to (inline literals and env variables)."""
    environ = os.environ if environ is None else environ
    values = []
    for scope in (raw_experiment.get("secrets") or {}).values():
        for spec in (scope or {}).values():
            if isinstance(spec, dict) and spec.get("type") == "env":
                value = environ.get(str(spec.get("key")))
            elif isinstance(spec, (str, int, float)):
                value = str(spec)
            else:
                value = None
            if value and len(value) >= MIN_SECRET_CHARS:
                values.append(value)
    return sorted(set(values), key=len, reverse=True)


def redact_dir(run_dir: Path, values: list[str]) -> list[Path]:
    """Replace each value by MASK in every text file under `run_dir`; returns the files changed."""
    changed = []
    if not values:
        return changed
    for path in run_dir.rglob("*"):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text(errors="replace")
        redacted = text
        for value in values:
            redacted = redacted.replace(value, MASK)
        if redacted != text:
            path.write_text(redacted)
            changed.append(path)
    return changed
