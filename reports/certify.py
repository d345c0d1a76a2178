"""Pure certification: each criterion against the findings (PASS, FAIL or INCONCLUSIVE), with its evidence.

A criterion is INCONCLUSIVE when its metric cannot be measured in the run (reports.measures: no fault, no
canary, no load, a window that cannot be placed) or rests on too few samples (a percentile below its minimum; a
share whose confidence bounds straddle the target); it is never PASS without a measurement. An RTO that never
recovered in the data is a FAIL when the time already observed breaks the criterion, else INCONCLUSIVE. The run
FAILs when a criterion fails or the Chaos Toolkit journal fails it; it is INCONCLUSIVE when a criterion is or the
journal is missing; else it PASSes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gameday.base.models import Criterion
from reports.findings import Findings
from reports.measures import Measurement, Verdict, measure

EXIT_PASS, EXIT_FAIL, EXIT_ABORTED = 0, 1, 3


@dataclass(frozen=True)
class CriterionResult:
    """One criterion with what was measured, the verdict and where the number comes from."""

    name: str
    metric: str
    op: str
    target: float
    unit: str
    window: str
    measured: float | None
    verdict: Verdict
    evidence: str

    def as_dict(self) -> dict:
        return {"name": self.name, "metric": self.metric, "op": self.op, "target": self.target, "unit": self.unit,
                "window": self.window, "measured": self.measured, "verdict": self.verdict.value,
                "evidence": self.evidence}


@dataclass(frozen=True)
class Certification:
    """The verdict of a run, per criterion and overall, with the reasons for a non-PASS."""

    verdict: Verdict
    criteria: tuple[CriterionResult, ...]
    journal_ok: bool | None
    reasons: tuple[str, ...]


def _by_interval(c: Criterion, low: float, high: float) -> Verdict:
    """PASS when every value of the interval meets the criterion, FAIL when none does, else INCONCLUSIVE."""
    if c.holds(low) and c.holds(high):
        return Verdict.PASS
    none_holds = not low <= c.target <= high if c.op == "==" else not (c.holds(low) or c.holds(high))
    return Verdict.FAIL if none_holds else Verdict.INCONCLUSIVE


def judge(c: Criterion, measurement: Measurement) -> Verdict:
    """Pure: PASS/FAIL from a measured value (by its confidence interval when it has one, capped by its ceiling);
    an unmeasured one is INCONCLUSIVE unless its lower bound fails."""
    value = measurement.value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        bound = measurement.lower_bound
        if bound is not None and (c.op in ("<", "<=") and not c.holds(bound) or c.op == "==" and bound > c.target):
            return Verdict.FAIL
        return Verdict.INCONCLUSIVE
    if measurement.interval is not None and not (c.op == "==" and measurement.observed_share):
        verdict = _by_interval(c, *measurement.interval)
    else:
        verdict = Verdict.PASS if c.holds(value) else Verdict.FAIL
    order = (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS)
    if measurement.ceiling is not None and order.index(verdict) > order.index(measurement.ceiling):
        return measurement.ceiling
    return verdict


def certify(findings: Findings, criteria: Sequence[Criterion]) -> Certification:
    """Pure: the verdict of every criterion and of the run."""
    results = []
    for c in criteria:
        got = measure(findings, c)
        verdict = judge(c, got)
        evidence = got.evidence if verdict is not Verdict.FAIL or got.value is not None else (
            f"{got.evidence}; already breaks {c.op} {c.target:g}")
        results.append(CriterionResult(c.name, c.metric.value, c.op, c.target, c.unit, c.window.value,
                                       got.value, verdict, evidence))
    reasons = [f"criterion {r.name}: {r.verdict.value.lower()} (measured {_text(r.measured)})"
               for r in results if r.verdict is not Verdict.PASS]
    reasons += list(findings.journal.problems)
    if not findings.journal.present:
        reasons.append("no Chaos Toolkit journal (journal.json) to judge the run by")
    if any(r.verdict is Verdict.FAIL for r in results) or findings.journal.ok is False:
        verdict = Verdict.FAIL
    elif any(r.verdict is Verdict.INCONCLUSIVE for r in results) or findings.journal.ok is None:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.PASS
    return Certification(verdict, tuple(results), findings.journal.ok, tuple(reasons))


def _text(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4g}"


def exit_code(certification: Certification, aborted: object) -> int:
    """The `gameday` exit code: 3 aborted (a stop condition or signal), 0 PASS, 1 FAIL or INCONCLUSIVE."""
    if aborted:
        return EXIT_ABORTED
    return EXIT_PASS if certification.verdict is Verdict.PASS else EXIT_FAIL
