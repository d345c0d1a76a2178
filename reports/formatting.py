"""Numbers and text for people in report.md, report.html and the certificate, and where their templates live."""

from __future__ import annotations

import math
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"


def show(value, digits: int = 2, unit: str = "") -> str:
    """A number for people: rounded, thousands separated, `n/a` for NaN/None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def in_unit(value, unit: str) -> str:
    """A criterion's target or measured value in its unit: `3.41 s`, `187.2 ms`, `0.0012`, `0`."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if unit in ("s", "ms"):
        return show(value, 2 if unit == "s" else 1, unit)
    return f"{value:.4g}" if unit == "ratio" else f"{value:,.6g}"


def target_in_unit(value, unit: str) -> str:
    """A criterion's target as written: `900 s`, `0.01`, `0`."""
    return f"{value:,.6g} {unit}" if unit in ("s", "ms") else f"{value:,.6g}"


def md_cell(text) -> str:
    """Text safe inside a Markdown table cell (a pipe or a newline would break the row)."""
    return str(text).replace("|", "\\|").replace("\n", " ")
