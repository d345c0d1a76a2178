"""Pure: the history site (`gameday ui`, `gameday report --site`): past runs and GameDays with their verdicts,
the trends of each experiment's headline figures (RTO, RPO, P95, error rate, time to detect) as charts, and links
to every report and certificate. Input: the history's rows (gameday.history) with each run's link; output: HTML."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from matplotlib.figure import Figure

from reports.charts import PALETTE, svg_text
from reports.formatting import TEMPLATES, show

__all__ = ["site_index", "trend_chart"]

VERDICT_COLOUR = {"PASS": "#1a7f37", "FAIL": "#b00020", "INCONCLUSIVE": "#9a6700"}


def trend_chart(runs: Sequence[dict], figures: dict[str, str]) -> str | None:
    """Pure: one SVG with a small panel per headline figure over the runs (oldest first); None without data."""
    shown = [(f, label) for f, label in figures.items() if any(r.get(f) is not None for r in runs)]
    if not shown:
        return None
    fig = Figure(figsize=(10, 0.6 + 1.1 * len(shown)), layout="constrained")
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    x = list(range(1, len(runs) + 1))
    for ax, (i, (figure, label)) in zip(axes, enumerate(shown), strict=True):
        values = [r.get(figure) for r in runs]
        points = [(xi, v) for xi, v in zip(x, values, strict=True) if v is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], "-o", color=PALETTE[i % len(PALETTE)], ms=4)
        for xi, r in zip(x, runs, strict=True):
            if r.get(figure) is not None:
                ax.plot([xi], [r[figure]], "o", ms=6, color=VERDICT_COLOUR.get(r.get("verdict"), "#666666"))
        ax.set_ylabel(label, fontsize=8)
        ax.set_xlim(0.5, len(runs) + 0.5)
        ax.set_xticks(x if len(x) <= 20 else x[:: max(1, len(x) // 10)])
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("run (oldest first; dot colour: the run's verdict)")
    return svg_text(fig)


def site_index(runs: Sequence[dict], gamedays: Sequence[dict], figures: dict[str, str], generated: str) -> str:
    """Pure: index.html of the history site. Each run row carries `link` (its report.html, relative) or None;
    each GameDay `link` (its certificate)."""
    by_experiment: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        by_experiment[(r.get("experiment"), r.get("target"), r.get("quick"))].append(r)
    trends = [{"experiment": e, "target": t, "quick": q, "runs": rs, "svg": trend_chart(rs, figures)}
              for (e, t, q), rs in sorted(by_experiment.items(), key=lambda kv: tuple(map(str, kv[0])))]
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, autoescape=select_autoescape(enabled_extensions=("html.j2",)))
    env.filters.update(show=show, b64=lambda text: base64.b64encode(text.encode()).decode())
    return env.get_template("site.html.j2").render(
        runs=list(reversed(runs)), gamedays=list(reversed(gamedays)), trends=trends, figures=figures,
        generated=generated, colours=VERDICT_COLOUR)
