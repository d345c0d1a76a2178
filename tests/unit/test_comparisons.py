"""Before-vs-after comparisons of a run and the criteria judged on them (latency_shift_ms, error_rate_increase,
sliding_p95_ms, sliding_error_rate)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gameday.base.models import Criterion, GameDaySpec, Metric, metric_unit
from reports.certify import Verdict, certify, judge
from reports.comparisons import compare, figure
from reports.findings import RunInputs, analyse
from reports.measures import Measurement, measure
from reports.statistics import Dependence, compare_error_rates
from tests.unit.test_findings import run_inputs

START = 1_700_000_000.0
BOUNDS = {"baseline": (START, START + 60, False), "fault": (START + 60, START + 90, False),
          "recovery": (None, None, False), "after": (START + 90, START + 150, True),
          "overall": (START, START + 150, True)}
RANK = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}


def load(rate: float = 20, shift_ms: float = 30.0, errors: dict[str, int] | None = None, seed: int = 1,
         spread: bool = False) -> pd.DataFrame:
    """Samples over BOUNDS every 50 ms: latency 10-30 ms (uniform), `shift_ms` slower after; the first n of a window
    fail (one burst), or with `spread` n evenly spaced ones."""
    rng = np.random.default_rng(seed)
    t = START + np.arange(0, 150, 1 / rate)
    latency = rng.uniform(10, 30, len(t)) + np.where(t >= START + 90, shift_ms, 0.0)
    ok = np.ones(len(t), dtype=bool)
    for name, n in (errors or {}).items():
        start, end = BOUNDS[name][0], BOUNDS[name][1]
        inside = np.flatnonzero((t >= start) & (t < end))
        ok[inside[np.linspace(0, len(inside) - 1, n).astype(int)] if spread and n else inside[:n]] = False
    return pd.DataFrame({"t_s": t, "latency_ms": latency.astype(np.float32), "ok": ok,
                         "dropped": np.zeros(len(t), dtype=bool)})


def findings_with(samples: pd.DataFrame | None, health: list[dict] | None = None, criteria: tuple = ()):
    """An empty run's findings with comparisons of the given requests (certify reads nothing else for them)."""
    base = analyse(RunInputs(run={}), GameDaySpec())
    return replace(base, comparisons=compare(BOUNDS, health or [], samples, criteria))


def criteria(*texts: str) -> list[Criterion]:
    return [Criterion.model_validate(t) for t in texts]


def verdicts(f, *texts: str) -> dict[str, Verdict]:
    return {c.name: c.verdict for c in certify(f, criteria(*texts)).criteria}


def test_the_new_metrics_parse_with_their_units():
    parsed = criteria("latency_shift_ms <= 20 in after", "error_rate_increase <= 0.005 in after",
                      "sliding_p95_ms < 300", "sliding_error_rate < 0.01 in fault")
    assert [c.metric for c in parsed] == [Metric.latency_shift_ms, Metric.error_rate_increase,
                                          Metric.sliding_p95_ms, Metric.sliding_error_rate]
    assert [c.unit for c in parsed] == ["ms", "ratio", "ms", "ratio"]
    assert parsed[0].window.value == "after" and parsed[2].window.value == "overall"
    assert metric_unit(Metric.error_rate_increase) == "ratio"


def test_a_30_ms_slowdown_is_measured_with_its_interval():
    c = findings_with(load()).comparisons
    assert c.source == "load samples" and set(c.windows) == {"fault", "after"}   # recovery cannot be placed
    after = c.windows["after"].latency
    assert (after.n_baseline, after.n_window) == (1200, 1200)
    assert after.shift == pytest.approx(30, abs=1.0) and after.ci_low < 30 < after.ci_high
    assert after.p_slower < 1e-10
    fault = c.windows["fault"].latency
    assert abs(fault.shift) < 1.5 and fault.p_two_sided > 0.001


def test_a_baseline_request_still_in_flight_at_the_fault_is_not_a_baseline_request():
    samples = load()
    samples.loc[samples["t_s"] == START + 59.95, "latency_ms"] = 100.0            # ends at +60.05: after the baseline
    assert findings_with(samples).comparisons.windows["after"].latency.n_baseline == 1199


def test_health_probes_are_compared_when_the_run_has_no_load():
    health = [{"probe": "health", "at_s": START + i / 2, "ok": i % 50 != 0 or i < 120,
               "latency_ms": 20.0 + (5.0 if i >= 180 else 0.0)} for i in range(300)]
    c = findings_with(None, health).comparisons
    assert c.source == "health probes"
    errors = c.windows["after"].errors
    assert (errors.baseline_errors, errors.baseline_requests) == (0, 120)
    assert errors.window_errors == 2 and errors.zero_baseline
    assert c.windows["after"].latency.shift == 5.0


def test_latency_shift_verdicts_follow_the_interval():
    f = findings_with(load())
    got = verdicts(f, "latency_shift_ms <= 20 in after", "latency_shift_ms <= 40 in after",
                   "latency_shift_ms <= 30 in after", "latency_shift_ms <= 5 in fault")
    assert got == {"latency_shift_ms <= 20 in after": Verdict.FAIL, "latency_shift_ms <= 40 in after": Verdict.PASS,
                   "latency_shift_ms <= 30 in after": Verdict.INCONCLUSIVE,
                   "latency_shift_ms <= 5 in fault": Verdict.PASS}
    evidence = certify(f, criteria("latency_shift_ms <= 20 in after")).criteria[0].evidence
    assert "1,200 vs 1,200 load samples" in evidence and "95% interval" in evidence and "p = " in evidence


@settings(max_examples=60, deadline=None)
@given(st.floats(-50, 80, allow_nan=False), st.floats(0, 40, allow_nan=False))
def test_verdicts_are_monotonic_in_the_threshold(target, step):
    f = findings_with(load())
    low, high = (criteria(f"latency_shift_ms <= {v!r} in after")[0] for v in (target, target + step))
    assert RANK[judge(low, measure(f, low))] <= RANK[judge(high, measure(f, high))]


def test_interval_judgement_for_every_operator():
    m = Measurement(3.0, "x", interval=(2.0, 4.0))
    cases = {"x <= 5": Verdict.PASS, "x <= 3": Verdict.INCONCLUSIVE, "x <= 1": Verdict.FAIL,
             "x >= 1": Verdict.PASS, "x > 3": Verdict.INCONCLUSIVE, "x >= 5": Verdict.FAIL,
             "x == 3": Verdict.INCONCLUSIVE, "x == 7": Verdict.FAIL}
    for text, expected in cases.items():
        c = Criterion.model_validate(text.replace("x", "latency_shift_ms") + " in after")
        assert judge(c, m) is expected, text
    point = Measurement(3.0, "x", interval=(3.0, 3.0))
    assert judge(Criterion.model_validate("latency_shift_ms == 3 in after"), point) is Verdict.PASS
    assert judge(Criterion.model_validate("latency_shift_ms <= 5 in after"), replace(m, ceiling=Verdict.INCONCLUSIVE)) \
        is Verdict.INCONCLUSIVE


def test_error_rate_increase_verdicts():
    f = findings_with(load(errors={"baseline": 12, "after": 60}, spread=True))     # 1 % -> 5 %, no bursts
    got = verdicts(f, "error_rate_increase <= 0.005 in after", "error_rate_increase <= 0.2 in after",
                   "error_rate_increase <= 0.04 in after", "error_rate_increase <= 0.005 in fault")
    assert got == {"error_rate_increase <= 0.005 in after": Verdict.FAIL,
                   "error_rate_increase <= 0.2 in after": Verdict.PASS,
                   "error_rate_increase <= 0.04 in after": Verdict.INCONCLUSIVE,
                   "error_rate_increase <= 0.005 in fault": Verdict.PASS}
    measured = certify(f, criteria("error_rate_increase <= 0.005 in after")).criteria[0]
    assert measured.measured == pytest.approx(60 / 1200 - 12 / 1200)
    assert "60 errors in 1,200 load samples" in measured.evidence and "Fisher's exact test" in measured.evidence


def test_the_same_errors_in_one_burst_are_one_event_not_60_independent_ones():
    """Issue 13 item 7: 60 errors in one burst vs 12 in another cannot show an increase; spread, they do."""
    bursty = findings_with(load(errors={"baseline": 12, "after": 60}))
    got = certify(bursty, criteria("error_rate_increase <= 0.005 in after")).criteria[0]
    assert got.verdict is Verdict.INCONCLUSIVE and "serial dependence: design effects" in got.evidence
    spread = findings_with(load(errors={"baseline": 12, "after": 60}, spread=True))
    assert verdicts(spread, "error_rate_increase <= 0.005 in after") == {
        "error_rate_increase <= 0.005 in after": Verdict.FAIL}


@pytest.mark.parametrize("after_errors, target, expected", [
    (1, 0.5, Verdict.PASS),            # one error: the increase is bounded far below the tolerance
    (1, 0.0, Verdict.INCONCLUSIVE),    # no increase tolerated, and 1 error does not show one
    (40, 0.005, Verdict.FAIL),         # 40 errors spread over the window: a significant increase
    (0, 0.01, Verdict.PASS),
    (0, 0.0, Verdict.INCONCLUSIVE),    # no error either side, yet an increase up to the bound is not excluded
])
def test_a_zero_error_baseline_is_judged_by_the_interval_of_the_increase(after_errors, target, expected):
    """Issue 13 item 8: 0 errors before and 1 after is no longer INCONCLUSIVE against a wide tolerance."""
    f = findings_with(load(errors={"after": after_errors}, spread=True))
    got = certify(f, criteria(f"error_rate_increase <= {target} in after")).criteria[0]
    assert got.verdict is expected and "judged by the bounds" in got.evidence


def test_the_zero_error_baseline_cases_of_the_issue():
    tolerance = Criterion.model_validate("error_rate_increase <= 0.01 in after")
    zero_then_one = compare_error_rates(0, 5000, 1, 5000)
    one_then_two = compare_error_rates(1, 1200, 2, 1200)
    for c in (zero_then_one, one_then_two):
        assert judge(tolerance, Measurement(c.diff, "", interval=(c.diff_lower, c.diff_upper))) is Verdict.PASS


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 50), st.integers(20, 3000), st.integers(20, 3000), st.data(),
       st.floats(1, 30), st.floats(1, 30), st.integers(0, 40),
       st.sampled_from(["<", "<="]), st.floats(-0.05, 0.2, allow_nan=False))
def test_error_increase_verdicts_are_monotone_in_the_window_error_count(e0, n0, n1, data, d0, d1, batches, op,
                                                                         target):
    """One more error in the window never improves the verdict (for a given dependence estimate)."""
    e0 = min(e0, n0)
    e1 = data.draw(st.integers(0, n1 - 1))
    c = Criterion(metric=Metric.error_rate_increase, op=op, target=target, window="after")
    dependence = Dependence(d0, d1, batches)

    def verdict(errors: int) -> Verdict:
        r = compare_error_rates(e0, n0, errors, n1, dependence=dependence)
        return judge(c, Measurement(r.diff, "", interval=(r.diff_lower, r.diff_upper)))
    assert RANK[verdict(e1 + 1)] <= RANK[verdict(e1)]


def test_too_few_samples_or_no_comparison_are_inconclusive():
    few = load()
    few = few[(few["t_s"] < START + 0.5) | (few["t_s"] >= START + 60)]             # 10 baseline samples
    got = certify(findings_with(few), criteria("latency_shift_ms <= 100 in after",
                                               "error_rate_increase <= 1 in after",
                                               "error_rate_increase <= 1 in recovery"))
    assert [c.verdict for c in got.criteria] == [Verdict.INCONCLUSIVE] * 3
    assert "only 10 baseline" in got.criteria[0].evidence and "< 20" in got.criteria[0].evidence
    # a window never compared with the baseline is refused when the experiment is read, before any run
    for text in ("latency_shift_ms <= 100 in baseline", "error_rate_increase <= 1"):
        with pytest.raises(ValidationError, match="valid windows: fault, recovery, after"):
            Criterion.model_validate(text)
    nothing = analyse(RunInputs(run={}), GameDaySpec())
    assert certify(nothing, criteria("sliding_p95_ms < 100")).criteria[0].verdict is Verdict.INCONCLUSIVE


def test_sliding_window_criteria():
    samples = load(errors={"fault": 30})                     # 30 errors in the fault's first 1.5 s
    f = findings_with(samples, criteria=tuple(criteria("sliding_p95_ms <= 100", "sliding_error_rate <= 0.01")))
    overall = f.comparisons.sliding["overall"]
    assert overall.windows == 121 and overall.compliant is not None
    assert overall.worst_error_rate == pytest.approx(30 / 600)
    got = verdicts(f, "sliding_p95_ms <= 100", "sliding_p95_ms <= 50 in after", "sliding_error_rate <= 0.01",
                   "sliding_error_rate <= 0.08 in fault", "sliding_p95_ms <= 100 in recovery",
                   "sliding_error_rate <= 0.06 in fault")
    assert got == {"sliding_p95_ms <= 100": Verdict.PASS, "sliding_p95_ms <= 50 in after": Verdict.FAIL,
                   "sliding_error_rate <= 0.01": Verdict.FAIL, "sliding_error_rate <= 0.08 in fault": Verdict.PASS,
                   "sliding_p95_ms <= 100 in recovery": Verdict.INCONCLUSIVE,
                   # 30 errors in 600 is 5 %, but its one-sided 95 % upper bound (6.8 %) does not prove <= 6 %
                   "sliding_error_rate <= 0.06 in fault": Verdict.INCONCLUSIVE}
    text = figure(f.comparisons, "sliding_error_rate", "overall").evidence
    assert "121 30 s windows sliding by 1 s" in text and "30 errors in 600 load samples" in text


def test_an_analysed_run_carries_its_comparisons():
    f = analyse(run_inputs(), GameDaySpec())
    assert set(f.comparisons.windows) <= {"fault", "recovery", "after"} and f.comparisons.windows
    assert f.comparisons.windows["fault"].errors.zero_baseline
    assert "overall" in f.comparisons.sliding


def test_summary_and_report_show_the_comparisons(tmp_path):
    from reports.render import markdown, summary
    from reports.run_files import read_run
    from tests.unit.test_render import write_run

    spec = GameDaySpec(criteria=criteria("latency_shift_ms <= 20 in after", "sliding_p95_ms <= 300"))
    f = analyse(read_run(write_run(tmp_path / "run")), spec)
    doc = json.loads(json.dumps(summary(f, certify(f, spec.criteria), {}), allow_nan=False))
    fault = doc["comparisons"]["windows"]["fault"]
    assert doc["comparisons"]["source"] == "load samples" and set(doc["comparisons"]["windows"]) >= {"fault", "after"}
    assert fault["errors"]["zero_baseline"] is True and 0 < fault["errors"]["p_higher"] < 1e-3   # not rounded to 0
    assert fault["latency"]["n_baseline"] >= 20 and fault["latency"]["shift_ms"] == 0.0
    assert doc["comparisons"]["sliding"]["overall"]["p95_max_ms"] == 300
    text = markdown(doc)
    assert "## Before vs after" in text and "| fault | 240 / 200 |" in text and "zero-error baseline" in text
    assert "Sliding SLO: 11 windows of 30 s sliding by 1 s over the overall window" in text
