"""Statistics for before-vs-after comparisons: known answers, brute force and scipy on small inputs, properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from reports.measures import MIN_REQUESTS
from reports.samples import nearest_rank
from reports.sliding import sliding_slo
from reports.statistics import (
    MIN_SAMPLES,
    compare_error_rates,
    compare_latency,
    hodges_lehmann,
    kth_difference,
    mann_whitney,
    moses_rank,
    u_null_distribution,
    wilson,
)

# Multiples of 1/8: every difference and midpoint is exact in binary floating point.
values = st.lists(st.integers(-400, 400).map(lambda v: v / 8), min_size=1, max_size=40)
samples = st.lists(st.integers(0, 4000).map(lambda v: v / 8), min_size=MIN_SAMPLES, max_size=60)


def pairwise(baseline, window) -> np.ndarray:
    return np.sort((np.asarray(window, float)[:, None] - np.asarray(baseline, float)[None, :]).ravel())


def test_min_samples_is_the_certification_rule():
    assert MIN_SAMPLES == MIN_REQUESTS


@given(values, values, st.data())
def test_kth_difference_matches_brute_force(baseline, window, data):
    diffs = pairwise(baseline, window)
    k = data.draw(st.integers(1, len(diffs)))
    assert kth_difference(np.sort(baseline), np.sort(window), k) == diffs[k - 1]


def test_kth_difference_bisects_without_materialising():
    rng = np.random.default_rng(7)
    xs, ys = np.sort(rng.normal(0, 1, 1500)), np.sort(rng.normal(0.5, 1, 1400))   # 2.1M pairs > BAND_PAIRS
    diffs = pairwise(xs, ys)
    for k in (1, 17, len(diffs) // 3, len(diffs) // 2, len(diffs) - 1, len(diffs)):
        assert kth_difference(xs, ys, k) == diffs[k - 1]
    with pytest.raises(ValueError, match="rank 0 outside"):
        kth_difference(xs, ys, 0)


def test_hand_written_shift_interval_and_u():
    baseline, window = [1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0, 6.0, 7.0]
    shift, low, high = hodges_lehmann(np.array(baseline), np.array(window))
    assert shift == 2.0 and shift == np.median(pairwise(baseline, window))
    assert (low, high) == (-1.0, 5.0)     # exact U distribution: k = 3, the 3rd and 23rd of 25 differences
    assert moses_rank(5, 5) == 3
    u, p_two, p_slower, exact = mann_whitney(np.array(baseline), np.array(window))
    assert u == 20.5 == 19 + 3 / 2 and not exact    # 19 pairs window > baseline, 3 ties; ties: normal approx.
    assert p_two == pytest.approx(stats.mannwhitneyu(window, baseline, method="asymptotic").pvalue)
    assert p_slower == pytest.approx(stats.mannwhitneyu(window, baseline, alternative="greater",
                                                        method="asymptotic").pvalue)


def test_u_distribution_counts_every_arrangement():
    n, m = 3, 4
    counts = np.zeros(n * m + 1)
    for chosen in itertools.combinations(range(n + m), n):    # positions of the baseline in the ordering
        counts[sum(pos - i for i, pos in enumerate(chosen))] += 1
    assert u_null_distribution(n, m) == pytest.approx(counts / counts.sum())


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 10_000))
def test_exact_p_values_match_scipy(n, m, seed):
    rng = np.random.default_rng(seed)
    baseline, window = rng.normal(0, 1, n), rng.normal(0.7, 1, m)    # continuous: no ties
    u, p_two, p_slower, exact = mann_whitney(np.sort(baseline), np.sort(window))
    assert exact
    assert u == stats.mannwhitneyu(window, baseline).statistic
    assert p_two == pytest.approx(stats.mannwhitneyu(window, baseline, method="exact").pvalue)
    assert p_slower == pytest.approx(stats.mannwhitneyu(window, baseline, alternative="greater",
                                                        method="exact").pvalue)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_tie_corrected_normal_p_values_match_scipy(baseline, window):
    u, p_two, p_slower, exact = mann_whitney(np.sort(baseline), np.sort(window))
    method = "exact" if exact else "asymptotic"
    assert u == stats.mannwhitneyu(window, baseline).statistic
    assert p_two == pytest.approx(stats.mannwhitneyu(window, baseline, method=method).pvalue, abs=1e-12)
    assert p_slower == pytest.approx(stats.mannwhitneyu(window, baseline, alternative="greater",
                                                        method=method).pvalue, abs=1e-12)
    assert 0 <= p_slower <= 1 and 0 <= p_two <= 1


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_moses_interval_is_the_brute_force_order_statistics(baseline, window):
    diffs = pairwise(baseline, window)
    shift, low, high = hodges_lehmann(np.sort(baseline), np.sort(window))
    k = moses_rank(len(baseline), len(window))
    assert shift == np.median(diffs)
    assert (low, high) == (diffs[k - 1], diffs[len(diffs) - k])
    assert low <= shift <= high


@pytest.mark.parametrize("n, m", [(20, 20), (30, 50), (60, 80)])
def test_moses_rank_leaves_at_most_alpha_over_2_in_each_tail(n, m):
    k = moses_rank(n, m)
    if n * m <= 2_500:
        cdf = np.cumsum(u_null_distribution(n, m))
        assert cdf[k - 1] <= 0.025 < cdf[k]
    else:
        sd = math.sqrt(n * m * (n + m + 1) / 12)
        assert stats.norm.cdf((k - 0.5 - n * m / 2) / sd) <= 0.025 < stats.norm.cdf((k + 0.5 - n * m / 2) / sd)


@settings(max_examples=60, deadline=None)
@given(samples, st.integers(-400, 400).map(lambda v: v / 8))
def test_shifting_every_sample_by_c_gives_a_shift_of_c(baseline, c):
    result = compare_latency(np.array(baseline), np.array(baseline) + c)
    assert result.shift == c and result.ci_low <= c <= result.ci_high
    assert 0 <= result.p_two_sided <= 1 and 0 <= result.p_slower <= 1


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_swapping_the_samples_negates_the_shift(baseline, window):
    forward, backward = compare_latency(baseline, window), compare_latency(window, baseline)
    assert forward.shift == -backward.shift
    assert (forward.ci_low, forward.ci_high) == (-backward.ci_high, -backward.ci_low)
    assert forward.p_two_sided == pytest.approx(backward.p_two_sided)
    assert forward.u + backward.u == len(baseline) * len(window)


def test_large_groups_are_subsampled_for_the_shift_only_and_reproducibly():
    rng = np.random.default_rng(6)   # a draw whose 95 % intervals cover the shift (1 in 20 do not)
    baseline, window = rng.lognormal(3, 0.5, 3000), rng.lognormal(3, 0.5, 2500) + 5
    first = compare_latency(baseline, window, max_shift_samples=500)
    assert first.subsampled and (first.shift_n_baseline, first.shift_n_window) == (500, 500)
    assert (first.n_baseline, first.n_window) == (3000, 2500)
    assert first == compare_latency(baseline, window, max_shift_samples=500)
    full = compare_latency(baseline, window)
    assert not full.subsampled and full.u == first.u and full.p_slower == first.p_slower
    assert first.ci_low < 5 < first.ci_high and full.ci_low < 5 < full.ci_high
    assert first.ci_high - first.ci_low > full.ci_high - full.ci_low    # the subsample's interval is wider


def test_too_few_samples_are_not_enough_and_nan_is_dropped():
    few = compare_latency([1.0] * 19, [2.0] * 50)
    assert not few.enough and few.n_baseline == 19
    assert compare_latency([1.0] * 20 + [math.nan], [2.0] * 20).n_baseline == 20
    empty = compare_latency([], [1.0, 2.0])
    assert not empty.enough and empty.shift is None and empty.median_window == 1.5


# --- error rates ---

def test_wilson_known_answers():
    z2 = stats.norm.isf(0.025) ** 2
    assert wilson(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))
    low, high = wilson(5, 10)
    assert low == pytest.approx(1 - high) and low == pytest.approx(0.2366, abs=1e-4)
    assert wilson(3, 0) is None


def test_error_rates_are_compared_by_fishers_exact_test_at_every_size():
    r = compare_error_rates(1, 200, 6, 200)
    assert r.test == "fisher"
    assert r.p_higher == pytest.approx(stats.fisher_exact([[6, 194], [1, 199]], alternative="greater").pvalue)
    large = compare_error_rates(100, 10_000, 150, 10_000)
    assert large.test == "fisher" and large.p_higher == pytest.approx(
        stats.fisher_exact([[150, 9_850], [100, 9_900]], alternative="greater").pvalue)


def test_p_stays_monotone_where_a_z_test_used_to_take_over_from_fisher():
    # 6/10 vs 4/10 went to the z test, 6/10 vs 5/10 to Fisher: one more window error lowered the evidence.
    assert compare_error_rates(6, 10, 5, 10).p_higher <= compare_error_rates(6, 10, 4, 10).p_higher


def test_large_counts_bound_the_difference():
    r = compare_error_rates(100, 10_000, 150, 10_000)
    assert r.diff == pytest.approx(0.005) and r.diff_lower < 0.005 < r.diff_upper
    assert r.diff_lower > 0          # significant at 5 %: the lower bound is above 0 too


def test_zero_error_baseline_is_flagged_only_with_an_erroring_window():
    assert compare_error_rates(0, 1000, 1, 1000).zero_baseline
    assert not compare_error_rates(0, 1000, 0, 1000).zero_baseline
    assert not compare_error_rates(1, 1000, 5, 1000).zero_baseline
    nothing = compare_error_rates(0, 1000, 0, 1000)
    assert nothing.p_higher == 1.0 and nothing.diff == 0.0 and nothing.diff_lower < 0 < nothing.diff_upper


def test_no_requests_compare_nothing():
    r = compare_error_rates(0, 0, 3, 100)
    assert r.p_higher is None and r.diff is None and r.test == "none" and not r.enough


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 3000), st.data())
def test_rate_bounds_contain_the_difference_and_p_is_monotonic(n0, n1, data):
    e0, e1 = data.draw(st.integers(0, n0)), data.draw(st.integers(0, n1))
    r = compare_error_rates(e0, n0, e1, n1)
    assert 0 <= r.p_higher <= 1
    assert r.diff_lower <= r.diff <= r.diff_upper
    for low, high in (r.baseline_ci, r.window_ci):
        assert 0 <= low <= high <= 1
    if e1 < n1:    # one more window error is never less evidence of a higher rate
        assert compare_error_rates(e0, n0, e1 + 1, n1).p_higher <= r.p_higher + 1e-12


# --- sliding windows ---

def brute_sliding(t, latency, ok, start, end, window_s, step_s, min_requests=MIN_SAMPLES):
    out = []
    k = 0
    while start + k * step_s + window_s <= end + 1e-9:
        a = start + k * step_s
        inside = (t >= a) & (t < a + window_s)
        if inside.sum() >= min_requests:
            out.append((a, nearest_rank(latency[inside], 95), (~ok[inside]).sum() / inside.sum()))
        k += 1
    return out, k


def test_sliding_windows_on_a_hand_written_minute():
    t = np.arange(0, 60, 0.1)                        # 10 requests a second for 60 s
    latency = np.full(len(t), 10.0)
    latency[(t >= 40) & (t < 42)] = 500.0            # 20 slow requests
    ok = ~((t >= 10) & (t < 11))                     # 10 errors
    s = sliding_slo(t, latency, ok, 0.0, 60.0, 30.0, 1.0, p95_max_ms=100, error_rate_max=0.01)
    assert (s.windows, s.skipped) == (31, 0)
    assert s.worst_p95_ms == 500.0 and s.worst_p95_start_s == 12.0      # [12, 42) holds 20 of 300 slow: > 5 %
    assert s.worst_error_rate == pytest.approx(10 / 300) and s.worst_error_start_s == 0.0
    assert (s.worst_errors, s.worst_requests) == (10, 300)
    brute, _ = brute_sliding(t, latency, ok, 0.0, 60.0, 30.0, 1.0)
    assert s.compliant == sum(1 for _, p95, rate in brute if p95 <= 100 and rate <= 0.01)
    assert s.compliant_share == pytest.approx(s.compliant / 31)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 900), st.integers(1, 400), st.booleans()), min_size=0, max_size=300),
       st.sampled_from([(10.0, 1.0), (6.0, 2.0), (5.0, 5.0)]))
def test_sliding_windows_match_brute_force(rows, sizes):
    window_s, step_s = sizes
    t = np.array([r[0] / 10 for r in rows], dtype=float)          # unordered on purpose
    latency = np.array([float(r[1]) for r in rows])
    ok = np.array([r[2] for r in rows], dtype=bool)
    s = sliding_slo(t, latency, ok, 0.0, 90.0, window_s, step_s, p95_max_ms=200, min_requests=5)
    brute, total = brute_sliding(t, latency, ok, 0.0, 90.0, window_s, step_s, 5)
    assert s.windows == len(brute) and s.windows + s.skipped == total
    if brute:
        assert s.worst_p95_ms == max(p for _, p, _ in brute)
        assert s.worst_error_rate == pytest.approx(max(r for _, _, r in brute))
        assert s.compliant == sum(1 for _, p, _ in brute if p <= 200)
    else:
        assert s.worst_p95_ms is None and s.compliant_share is None


def test_sliding_windows_need_a_whole_window_and_enough_requests():
    t = np.arange(0, 20, 0.5)
    short = sliding_slo(t, np.ones(len(t)), np.ones(len(t), bool), 0.0, 20.0)
    assert short.windows == 0 and short.skipped == 0 and short.worst_p95_ms is None
    sparse = sliding_slo(t, np.ones(len(t)), np.ones(len(t), bool), 0.0, 20.0, window_s=5.0)
    assert sparse.windows == 0 and sparse.skipped == 16            # 10 requests a window < 20
    with pytest.raises(ValueError, match="whole multiple"):
        sliding_slo(t, np.ones(len(t)), np.ones(len(t), bool), 0.0, 20.0, window_s=5.0, step_s=2.0)


def test_failed_probes_without_latency_count_as_errors_not_latencies():
    t = np.arange(0, 30, 0.5)
    latency = np.where(t < 10, np.nan, 20.0)
    ok = t >= 10
    s = sliding_slo(t, latency, ok, 0.0, 30.0)
    assert s.windows == 1 and s.worst_p95_ms == 20.0 and s.worst_error_rate == pytest.approx(20 / 60)
