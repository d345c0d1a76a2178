"""Pure trends over past runs of one experiment: headline figures per run and regressions against the last pass.

Headline figures of a run (from its summary.json): read and write RTO (the MTTR), RPO, P95, error rate and the
time to detect (the MTTD, reports.detection). P95 and error
rate are taken from the `after` window when the run has one (the service after the fault, comparable from run
to run), else from `overall`. A figure regresses when it is worse than in the previous PASSING run of the same
experiment, target and mode (quick or full) by more than its tolerance: max(relative share of the previous
value, an absolute floor about one measurement resolution), so probe jitter is not flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FIGURES = ("rto_read_s", "rto_write_s", "rpo_s", "p95_ms", "error_rate", "time_to_detect_s")
LABELS = {"rto_read_s": "Read RTO (s)", "rto_write_s": "Write RTO (s)", "rpo_s": "RPO (s)", "p95_ms": "P95 (ms)",
          "error_rate": "Error rate", "time_to_detect_s": "Time to detect (s)"}
#: (relative, absolute floor) a figure may grow by before it is flagged; time to detect: one local alarm period
TOLERANCE = {"rto_read_s": (0.25, 0.5), "rto_write_s": (0.25, 0.5), "rpo_s": (0.0, 0.1), "p95_ms": (0.25, 5.0),
             "error_rate": (0.0, 0.002), "time_to_detect_s": (0.25, 2.0)}


def headline(summary: dict) -> dict:
    """Pure: the figures of one run's summary.json that trends follow (None when not measured)."""
    windows = summary.get("windows") or {}
    window = "after" if (windows.get("after") or {}).get("requests") else "overall"
    figures = windows.get(window) or {}
    rto, rpo = summary.get("rto") or {}, summary.get("rpo") or {}
    return {"run_id": summary.get("run_id"), "experiment": _stem(summary.get("experiment")),
            "target": summary.get("target"), "quick": bool(summary.get("quick")), "start": summary.get("start"),
            "verdict": summary.get("verdict"), "rto_read_s": rto.get("read_s"), "rto_write_s": rto.get("write_s"),
            "rpo_s": rpo.get("s"), "p95_ms": figures.get("p95_ms"), "error_rate": figures.get("error_rate"),
            "time_to_detect_s": (summary.get("detection") or {}).get("time_to_detect_s"), "window": window}


def _stem(experiment: str | None) -> str | None:
    if not experiment:
        return None
    name = experiment.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


@dataclass(frozen=True)
class Regression:
    figure: str
    previous: float
    current: float
    previous_run: str
    allowed: float

    def text(self) -> str:
        return (f"{LABELS[self.figure]} {self.current:g} vs {self.previous:g} in the last passing run "
                f"{self.previous_run} (tolerance +{self.allowed:.3g})")


def regressions(current: dict, history: Sequence[dict]) -> list[Regression]:
    """Pure: figures of `current` worse than in the latest PASS run before it in `history` (oldest first)."""
    earlier = [h for h in history if h["run_id"] != current["run_id"] and (h["start"] or "") < (current["start"] or "")]
    passing = [h for h in earlier if h["verdict"] == "PASS"]
    if not passing:
        return []
    previous = passing[-1]
    found = []
    for figure in FIGURES:
        before, now = previous.get(figure), current.get(figure)
        if before is None or now is None:
            continue
        rel, floor = TOLERANCE[figure]
        allowed = max(rel * before, floor)
        if now - before > allowed:
            found.append(Regression(figure, before, now, previous["run_id"], allowed))
    return found


def series(history: Sequence[dict], last: int = 10) -> list[dict]:
    """Pure: the last `last` runs (oldest first) with their figures, for the trend table."""
    return [dict(h) for h in sorted(history, key=lambda h: h["start"] or "")[-last:]]
