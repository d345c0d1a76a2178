"""Pure Core Web Vitals of a window: exact nearest-rank P75 of each vital over its page loads, and the failure rate.

One record of vitals.jsonl (probes.browser_vitals) is one page load opened in headless Chromium through the
edge, placed in a window by its navigation start `at_s` as every other sample is (reports.findings). Per
window and per vital (TTFB, FCP, LCP, CLS, INP):

- the P75 is the exact nearest-rank 75th percentile (reports.samples) over the window's successful loads that
  report the vital plus every failed load, each failed load ranked above every success (+inf): a fast failure
  never lowers a P75; when the rank falls on a failed load the P75 is no served value (+inf);
- a successful load without the vital is no sample of it (INP: the page saw no interaction) and is counted
  as `missing`;
- a P75 is judged only with MIN_LOADS samples: percentile_minimum(75), the project's rule for a quantile
  (max(20, the n whose largest value bounds the quantile at 95 %)): 20;
- page_error_rate = failed / all loads of the window (judged like every share of requests: by its one-sided
  Clopper-Pearson bounds, reports.measures).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from reports.samples import nearest_rank_with_failures, percentile_minimum

QUANTILE = 75
MIN_LOADS = percentile_minimum(QUANTILE)
#: metric name -> (the vitals.jsonl field, what it is, its unit for people)
VITALS: dict[str, tuple[str, str, str]] = {
    "ttfb_p75_ms": ("ttfb_ms", "time to first byte", "ms"),
    "fcp_p75_ms": ("fcp_ms", "first contentful paint", "ms"),
    "lcp_p75_ms": ("lcp_ms", "largest contentful paint", "ms"),
    "cls_p75": ("cls", "cumulative layout shift", ""),
    "inp_p75_ms": ("inp_ms", "interaction to next paint", "ms"),
}
FIELDS = tuple(field for field, _, _ in VITALS.values())


@dataclass(frozen=True)
class Vital:
    """One vital's P75 in a window."""

    metric: str                   # e.g. lcp_p75_ms
    samples: int = 0              # ranked: successful loads reporting it + failed loads
    failed: int = 0               # failed loads among them (ranked above every success)
    missing: int = 0              # successful loads without it (INP: no interaction): no sample
    p75: float | None = None      # +inf: the rank falls on a failed load; None: no samples at all

    @property
    def enough(self) -> bool:
        return self.samples >= MIN_LOADS


@dataclass(frozen=True)
class VitalsStats:
    """The page loads of one window and the P75 of each vital."""

    loads: int = 0
    failed: int = 0
    vitals: tuple[Vital, ...] = ()
    errors: tuple[tuple[str, int], ...] = ()   # (error text, loads), most first

    @property
    def page_error_rate(self) -> float | None:
        return self.failed / self.loads if self.loads else None

    def vital(self, metric: str) -> Vital:
        return next((v for v in self.vitals if v.metric == metric), Vital(metric))


def in_window(records: tuple[dict, ...] | list[dict], start_s: float | None, end_s: float | None, closed: bool,
              finished_before_end: bool = False) -> list[dict]:
    """Pure: the loads whose navigation start is in [start, end) ([start, end] when `closed`); with
    `finished_before_end` (the baseline) only those that also finished loading before the end (a load in flight
    when the fault began is not a baseline load; an unknown load time counts as 0, as for health probes)."""
    if start_s is None or end_s is None:
        return []
    out = []
    for r in records:
        at = r["at_s"]
        if at < start_s or (at > end_s if closed else at >= end_s):
            continue
        if finished_before_end and at + (r.get("load_ms") or 0.0) / 1000 >= end_s:
            continue
        out.append(r)
    return out


def vital(loads: list[dict], metric: str) -> Vital:
    """Pure: the exact nearest-rank P75 of one vital over `loads`, failed loads ranked above every success."""
    field = VITALS[metric][0]
    failed = sum(1 for r in loads if not r.get("ok"))
    values = [r.get(field) for r in loads if r.get("ok")]
    present = np.array([v for v in values if v is not None], dtype=float)
    samples = len(present) + failed
    p75 = nearest_rank_with_failures(present, failed, QUANTILE) if samples else None
    return Vital(metric, samples, failed, len(values) - len(present), p75)


def window_vitals(records: tuple[dict, ...] | list[dict], start_s: float | None, end_s: float | None,
                  closed: bool, finished_before_end: bool = False) -> VitalsStats:
    """Pure: the page loads of a window, their failures and each vital's P75."""
    loads = in_window(records, start_s, end_s, closed, finished_before_end)
    errors = Counter(str(r.get("error") or "failed") for r in loads if not r.get("ok"))
    return VitalsStats(loads=len(loads), failed=sum(errors.values()),
                       vitals=tuple(vital(loads, metric) for metric in VITALS),
                       errors=tuple(errors.most_common()))


def p75_text(v: Vital) -> str:
    """How a P75 was measured, for a criterion's evidence (the caller adds the window)."""
    field, what, unit = next(spec for name, spec in VITALS.items() if name == v.metric)
    missing = f"; {v.missing:,} successful loads without it (no sample)" if v.missing else ""
    return (f"exact nearest-rank P75 of the {what} ({field}) of {v.samples:,} page loads, {v.failed:,} failed ranked "
            f"above every success{missing}")

