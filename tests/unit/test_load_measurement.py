"""Issue 13 items 4, 7 and 9: drops, fast failures, sample minimums and dependence in the load figures."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.base.models import Criterion, GameDaySpec
from reports.certify import Verdict, judge
from reports.findings import RunInputs, analyse, closed_model_spans, window_stats
from reports.measures import Measurement, measure
from reports.samples import nearest_rank_with_failures, percentile_minimum
from reports.statistics import clopper_pearson, compare_latency, design_effect

START = 1_700_000_000.0
RANK = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}


def samples(latency_ms, ok, dropped=None) -> pd.DataFrame:
    n = len(latency_ms)
    return pd.DataFrame({"t_s": START + np.arange(n) * 0.01, "latency_ms": np.asarray(latency_ms, np.float32),
                         "ok": np.asarray(ok, bool),
                         "dropped": np.zeros(n, bool) if dropped is None else np.asarray(dropped, bool)})


def verdict(frame: pd.DataFrame, text: str, profile: dict | None = None) -> tuple[Verdict, str]:
    w = window_stats("overall", START, START + 1e6, True, [], frame)
    base = analyse(RunInputs(run={}), GameDaySpec())
    if profile is not None:
        w = replace(w, closed_model=bool(closed_model_spans(profile, frame)))
    got = measure(replace(base, windows={"overall": w}), Criterion.model_validate(text))
    return judge(Criterion.model_validate(text), got), got.evidence


def test_fast_failures_never_lower_a_percentile():
    # 900 successes at 10 ms and 100 at 300 ms: P95 300 ms. An outage adds 1,000 fast 503s (2 ms):
    # ranked by their latency they pulled the P95 down to 10 ms and `p95_ms < 200` passed.
    served = samples([10.0] * 900 + [300.0] * 100, [True] * 1000)
    assert verdict(served, "p95_ms < 200")[0] is Verdict.FAIL
    outage = pd.concat([served, samples([2.0] * 1000, [False] * 1000)], ignore_index=True)
    got, evidence = verdict(outage, "p95_ms < 200")
    assert got is Verdict.FAIL and "1,000 failed or never sent, ranked slower than every success" in evidence


def test_dropped_arrivals_are_failed_requests_and_charge_the_percentiles():
    # 960 sent in 10 ms, 40 never sent (in-flight cap): before, 0 errors in 960 and P99 10 ms passed
    frame = samples([10.0] * 960 + [math.nan] * 40, [True] * 960 + [False] * 40, [False] * 960 + [True] * 40)
    got, evidence = verdict(frame, "error_rate < 0.01")
    assert got is Verdict.FAIL and "40 open-model arrivals never sent counted as failed" in evidence
    assert verdict(frame, "availability >= 0.99")[0] is Verdict.FAIL
    assert verdict(frame, "p99_ms < 100")[0] is Verdict.FAIL         # 4 % never served: P99 is none of them
    assert verdict(frame, "p95_ms < 100")[0] is Verdict.PASS


def test_closed_model_windows_get_no_latency_verdict():
    frame = samples([10.0] * 500, [True] * 500)
    closed = {"stages": [{"duration_s": 60, "users": 20, "spawn_rate": 20}]}
    got, evidence = verdict(frame, "p95_ms < 100", closed)
    assert got is Verdict.INCONCLUSIVE and "closed-model" in evidence
    assert verdict(frame, "p95_ms < 100", {"stages": [{"duration_s": 60, "rate_per_s": 50}]})[0] is Verdict.PASS
    assert verdict(frame, "error_rate < 0.05", closed)[0] is Verdict.PASS      # errors are still counted


def test_twenty_samples_prove_neither_a_p99_nor_an_error_rate_below_1_percent():
    frame = samples([10.0] * 20, [True] * 20)
    got, evidence = verdict(frame, "p99_ms < 100")
    assert got is Verdict.INCONCLUSIVE and "(< 299" in evidence
    assert verdict(frame, "error_rate < 0.01")[0] is Verdict.INCONCLUSIVE
    assert clopper_pearson(0, 20)[1] == 1 - 0.05 ** (1 / 20)            # ~ 0.139
    assert [percentile_minimum(q) for q in (50, 95, 99)] == [20, 59, 299]
    assert 0.99 ** 299 <= 0.05 < 0.99 ** 298
    enough = samples([10.0] * 299, [True] * 299)
    assert verdict(enough, "p99_ms < 100")[0] is Verdict.PASS
    assert verdict(enough, "error_rate < 0.01")[0] is Verdict.PASS           # upper bound 0.00997
    assert verdict(samples([10.0] * 298, [True] * 298), "error_rate < 0.01")[0] is Verdict.INCONCLUSIVE


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2000), st.data(), st.sampled_from(["<", "<="]), st.floats(0.001, 0.5))
def test_error_rate_verdicts_are_monotone_in_the_error_count(n, data, op, target):
    errors = data.draw(st.integers(0, n - 1))
    c = Criterion.model_validate(f"error_rate {op} {target!r}")

    def judged(e: int) -> Verdict:
        low, high = clopper_pearson(e, n)
        return judge(c, Measurement(e / n, "", interval=(low, high)))
    assert RANK[judged(errors + 1)] <= RANK[judged(errors)]


@given(st.lists(st.floats(0, 1e4), max_size=50), st.integers(0, 50), st.sampled_from([50, 95, 99]))
def test_a_failure_ranks_above_every_success(ok, failures, q):
    got = nearest_rank_with_failures(np.array(ok), failures, q)
    everything = np.array(ok + [math.inf] * failures)
    if len(everything):
        k = max(1, math.ceil(q / 100 * len(everything)))
        assert got == np.sort(everything)[k - 1]
    else:
        assert math.isnan(got)


def ar1(rng, n, phi):
    out, noise = np.empty(n), rng.normal(0, math.sqrt(1 - phi * phi), n)
    out[0] = rng.normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out


def test_autocorrelated_latencies_widen_the_interval():
    """Issue 13 item 7 (coverage by simulation: benchmarks/coverage_bench.py)."""
    rng = np.random.default_rng(11)
    baseline, window = ar1(rng, 2000, 0.9), ar1(rng, 2000, 0.9)
    deff, batches = design_effect(baseline)
    assert 8 < deff < 40 and batches >= 10                       # AR(1) phi 0.9: (1 + phi) / (1 - phi) = 19
    shipped = compare_latency(baseline, window)
    assert shipped.dependence.inflated and shipped.ci_low <= 0 <= shipped.ci_high
    shuffled = compare_latency(rng.permutation(baseline), rng.permutation(window))   # the same values, no order
    assert not shuffled.dependence.inflated or shuffled.dependence.deff_baseline < 2
    assert (shipped.ci_high - shipped.ci_low) > 2.5 * (shuffled.ci_high - shuffled.ci_low)


def test_ai_drops_are_errors_and_ai_fast_failures_never_lower_the_p95():
    from reports.scenario_metrics import AI_REQUEST, ai_stats
    frame = samples([400.0] * 90 + [2.0] * 10 + [math.nan] * 5, [True] * 90 + [False] * 15,
                    [False] * 100 + [True] * 5)
    frame["name"] = pd.Categorical([AI_REQUEST] * len(frame))
    a = ai_stats(frame, START, START + 1e6, True)
    assert (a.requests, a.errors, a.latency_samples) == (105, 15, 105)
    assert a.p95_ms == math.inf                 # 15 of 105 failed; before, the 2 ms 503s ranked lowest: 400 ms
    served = ai_stats(frame.iloc[:99], START, START + 1e6, True)   # 90 ok, 9 fast failures
    assert served.p95_ms == math.inf and nearest_rank_with_failures(np.full(90, 400.0), 4, 95) == 400.0


def test_quick_windows_of_the_shipped_experiments_hold_enough_requests_for_their_error_rate_criteria():
    """`error_rate < t in baseline|after` can only PASS with enough error-free requests: the quick variants'
    windows at their load rate plus the health probes must hold them (0 errors: upper bound 1 - 0.05^(1/n))."""
    from pathlib import Path

    from gameday.base.models import load_experiment
    root = Path(__file__).resolve().parents[2] / "experiments"
    checked = 0
    for path in sorted(root.glob("*.yaml")):
        gd = load_experiment(path).gameday
        if gd.load is None or gd.load.rate_per_s is None:
            continue                                   # inline profiles: judged per journey, not here
        quick = gd.quickened()
        rate = gd.load.rate_per_s + 1 / gd.probes.health_interval_s
        for c in gd.criteria:
            if str(c.metric) == "error_rate" and c.op == "<" and c.window.value in ("baseline", "after"):
                seconds = quick.windows.baseline_s if c.window.value == "baseline" else quick.windows.after_s
                n = int(rate * seconds * 0.9)          # 10 % margin: the load starts and stops late
                assert clopper_pearson(0, n)[1] < c.target, (path.name, c.name, n)
                checked += 1
    assert checked >= 5
