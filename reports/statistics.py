"""Pure statistics for before-vs-after comparisons: latency rank test and shift, error-rate tests.

- Latency: Mann-Whitney U of window vs baseline (U counts window > baseline pairs, ties half), exact null
  distribution when there are no ties and n*m <= EXACT_MAX_PAIRS, else the tie-corrected normal approximation
  with continuity correction; the Hodges-Lehmann shift (median of the pairwise differences window - baseline)
  with the distribution-free (Moses) confidence interval: the k-th smallest and k-th largest pairwise
  differences, k from the U critical value. At most BAND_PAIRS pairwise differences are ever materialised:
  beyond that the k-th one is first narrowed by bisection on its value, counting with np.searchsorted over
  the sorted samples. Above MAX_SHIFT_SAMPLES samples a group is replaced, for the shift and its interval
  only, by a seeded random subsample of that size (the interval is then honest for the subsample's size:
  wider); U and p always use every sample.
- Error rates: one-sided test that the window's error proportion is higher (Fisher's exact test at every size;
  with a dependence estimate, a pooled z test on effective counts), Wilson intervals of each rate and
  one-sided bounds of the difference (Newcombe's hybrid score method). A zero-error baseline needs no special
  rule: a verdict is decided from the bounds of the increase, which are monotone in the window's error count.
- Dependence (requests in time order are neither independent nor free of bursts): each group's variance
  inflation (design effect, >= 1) is estimated by non-overlapping batch means of a time-ordered series, the
  error indicators for error rates and the pooled-rank transform F(x) (RANK_LEVELS levels) for latencies;
  batches hold ceil(n ** BATCH_EXPONENT) values. When a group's design effect is above 1 the U variance, the Moses
  interval rank and the Wilson/Newcombe bounds use the inflated variances (counts divided by the design effect) and a
  Student t quantile with (fewer batches - 1) degrees of freedom instead of the normal one; coverage is shown
  by simulation in benchmarks/coverage_bench.py. Inputs must be in time order (intended start).
- Sliding SLO windows (the worst P95 and error rate over windows sliding by a step): reports.sliding.
Fewer than MIN_SAMPLES samples in either group: `enough` is False and a verdict must be INCONCLUSIVE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_SAMPLES = 20                 # the same rule as reports.certify.MIN_REQUESTS
CONFIDENCE = 0.95
EXACT_MAX_PAIRS = 2_500          # exact U distribution up to this many pairs (and no ties)
MAX_SHIFT_SAMPLES = 20_000       # per group, for the Hodges-Lehmann shift and its interval
SUBSAMPLE_SEED = 20240607
BAND_PAIRS = 100_000             # this few pairwise differences are materialised; more are bisected first
BATCH_EXPONENT = 0.6             # batch length n ** 0.6: long enough for correlation, enough batches for a t
RANK_LEVELS = 16                 # F(x) for the latency design effect, in this many pooled-quantile levels


@dataclass(frozen=True)
class Dependence:
    """Variance inflation of two time-ordered groups (batch means): 1.0 means no inflation was found."""

    deff_baseline: float = 1.0
    deff_window: float = 1.0
    batches: int = 0                   # the fewer batches of the two groups (t degrees of freedom + 1)

    @property
    def inflated(self) -> bool:
        return max(self.deff_baseline, self.deff_window) > 1.0 and self.batches >= 2

    def quantile(self, tail: float) -> float:
        """The upper `tail` quantile: Student t with batches - 1 degrees of freedom when inflated, else normal."""
        if self.inflated:
            return float(stats.t.isf(tail, self.batches - 1))
        return float(stats.norm.isf(tail))

    def text(self) -> str:
        if not self.inflated:
            return "no serial dependence found (design effects 1)"
        return (f"serial dependence: design effects {self.deff_baseline:.2g} (baseline) and {self.deff_window:.2g} "
                f"({self.batches} batches, t with {self.batches - 1} df)")


def batch_length(n: int) -> int:
    """Pure: the batch length of the batch-means estimate for a series of n values."""
    return max(1, math.ceil(n ** BATCH_EXPONENT))


def design_effect(series: np.ndarray) -> tuple[float, int]:
    """Pure: (variance inflation of the mean of a time-ordered series, >= 1; the number of batches).

    Non-overlapping batch means: deff = L * var(batch means) / var(values), L = batch_length(n); fewer than two
    batches or a constant series: (1.0, batches), no inflation can be estimated."""
    x = np.asarray(series, dtype=float)
    size = batch_length(len(x))
    batches = len(x) // size
    if batches < 2:
        return 1.0, batches
    used = x[:batches * size]
    var = float(used.var())
    if var <= 0:
        return 1.0, batches
    means = used.reshape(batches, size).mean(axis=1)
    return max(1.0, size * float(means.var(ddof=1)) / var), batches


def _levels(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """F(x) in len(cuts) + 1 levels: how many cuts each value is above (a comparison per cut: fast on 10M)."""
    out = np.zeros(len(values), dtype=np.int16)
    for cut in cuts:
        out += values > cut
    return out


def _rank_dependence(baseline: np.ndarray, window: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> Dependence:
    """Design effects of the pooled-rank transforms F(x) of two time-ordered groups (xs, ys: the same sorted),
    F in RANK_LEVELS levels cut at the pooled quantiles of the two sorted groups."""
    probs = np.arange(1, RANK_LEVELS) / RANK_LEVELS
    pooled = np.sort(np.concatenate((xs[(probs * (len(xs) - 1)).astype(int)], ys[(probs * (len(ys) - 1)).astype(int)])))
    cuts = np.unique(pooled[1::2]).astype(baseline.dtype)
    dx, bx = design_effect(_levels(baseline, cuts))
    dy, by = design_effect(_levels(window, cuts))
    return Dependence(dx, dy, min(bx, by))


@dataclass(frozen=True)
class ShiftComparison:
    """Latencies of a window against the baseline's: rank test and Hodges-Lehmann shift (window - baseline)."""

    n_baseline: int
    n_window: int
    median_baseline: float | None
    median_window: float | None
    u: float | None                    # window > baseline pairs + half the ties
    p_two_sided: float | None
    p_slower: float | None             # one-sided: the window is slower than the baseline
    shift: float | None                # Hodges-Lehmann estimate, same unit as the samples
    ci_low: float | None               # Moses interval at `confidence` (two-sided); +-inf: too few samples
    ci_high: float | None
    confidence: float = CONFIDENCE
    shift_n_baseline: int = 0          # samples the shift and interval rest on (< n when subsampled)
    shift_n_window: int = 0
    exact: bool = False                # p from the exact U distribution (else normal approximation)
    dependence: Dependence | None = None   # design effects of the interval's (sub)samples; None: not estimated

    @property
    def enough(self) -> bool:
        return min(self.n_baseline, self.n_window) >= MIN_SAMPLES

    @property
    def subsampled(self) -> bool:
        return (self.shift_n_baseline, self.shift_n_window) != (self.n_baseline, self.n_window)


@dataclass(frozen=True)
class RateComparison:
    """Error proportions of a window against the baseline's."""

    baseline_errors: int
    baseline_requests: int
    window_errors: int
    window_requests: int
    p_higher: float | None             # one-sided: the window's error proportion is higher
    test: str                          # "fisher" | "z (effective sizes, t)" | "none"
    baseline_ci: tuple[float, float] | None   # Wilson, two-sided at `confidence`
    window_ci: tuple[float, float] | None
    diff_lower: float | None           # one-sided lower bound of window - baseline rate at `confidence`
    diff_upper: float | None           # one-sided upper bound
    confidence: float = CONFIDENCE
    dependence: Dependence | None = None   # design effects of the error indicators; None: taken as independent

    @property
    def baseline_rate(self) -> float | None:
        return self.baseline_errors / self.baseline_requests if self.baseline_requests else None

    @property
    def window_rate(self) -> float | None:
        return self.window_errors / self.window_requests if self.window_requests else None

    @property
    def diff(self) -> float | None:
        if self.baseline_rate is None or self.window_rate is None:
            return None
        return self.window_rate - self.baseline_rate

    @property
    def zero_baseline(self) -> bool:
        """The baseline had no error and the window has some: such a window never passes."""
        return self.baseline_requests > 0 and self.baseline_errors == 0 and self.window_errors > 0

    @property
    def enough(self) -> bool:
        return min(self.baseline_requests, self.window_requests) >= MIN_SAMPLES


# --- Mann-Whitney U -------------------------------------------------------------------------------------

def u_null_distribution(n: int, m: int) -> np.ndarray:
    """Pure: P(U = u) for u = 0..n*m under H0 without ties (counting subsets of ranks by their sum)."""
    small, total = min(n, m), n + m
    ways = np.zeros((small + 1, small * total + 1))
    ways[0, 0] = 1.0
    for rank in range(1, total + 1):         # ways[k, s]: k of the first ranks chosen, summing to s
        ways[1:, rank:] += ways[:-1, :-rank].copy()
    offset = small * (small + 1) // 2         # rank sum -> U of the smaller group
    counts = ways[small, offset:offset + n * m + 1]
    return counts / counts.sum()             # symmetric, so it is also U of the larger group


def _tie_term(sorted_all: np.ndarray) -> float:
    """Sum of t^3 - t over the runs of equal values (t >= 2) of a sorted array."""
    repeats = np.flatnonzero(sorted_all[1:] == sorted_all[:-1])     # i: value i + 1 equals value i
    if not len(repeats):
        return 0.0
    breaks = np.flatnonzero(np.diff(repeats) != 1)
    runs = np.diff(np.concatenate(([-1], breaks, [len(repeats) - 1]))).astype(float) + 1
    return float((runs ** 3 - runs).sum())


def mann_whitney(baseline_sorted: np.ndarray, window_sorted: np.ndarray,
                 dependence: Dependence | None = None) -> tuple[float, float, float, bool]:
    """Pure: (U of the window, two-sided p, one-sided p that the window is larger, exact?) of sorted samples;
    with an inflated `dependence` each group's share of the U variance grows by its design effect (t, not z)."""
    n, m = len(baseline_sorted), len(window_sorted)
    both = np.concatenate((baseline_sorted, window_sorted))
    both.sort(kind="stable")                 # two sorted runs: a merge
    ties = _tie_term(both)
    below = np.searchsorted(baseline_sorted, window_sorted, "left")
    u = float(below.sum())
    if ties:                                 # equal pairs count a half
        u += 0.5 * float((np.searchsorted(baseline_sorted, window_sorted, "right") - below).sum())
    inflated = dependence is not None and dependence.inflated
    if ties == 0 and n * m <= EXACT_MAX_PAIRS and not inflated:
        pmf = u_null_distribution(n, m)
        k = int(round(u))
        greater, less = float(pmf[k:].sum()), float(pmf[:k + 1].sum())
        return u, min(1.0, 2 * min(greater, less)), min(1.0, greater), True
    total = n + m
    spread = m * dependence.deff_baseline + n * dependence.deff_window + 1 if inflated else total + 1
    var = n * m / 12 * (spread - ties / (total * (total - 1)))
    if var <= 0:
        return u, 1.0, 1.0, False
    sd, mean = math.sqrt(var), n * m / 2
    dist = stats.t(dependence.batches - 1) if inflated else stats.norm
    p_greater = float(dist.sf((u - mean - 0.5) / sd))
    p_two = float(min(1.0, 2 * dist.sf((max(u, n * m - u) - mean - 0.5) / sd)))
    return u, p_two, p_greater, False


# --- Hodges-Lehmann shift and the Moses interval ----------------------------------------------------------

def _not_above(xs: np.ndarray, ys: np.ndarray, d: float) -> np.ndarray:
    """Per window sample y: index of the first baseline x with y - x <= d (x >= y - d)."""
    return np.searchsorted(xs, ys - d, "left")


def kth_difference(xs: np.ndarray, ys: np.ndarray, k: int) -> float:
    """Pure: the k-th smallest (1-based) of the pairwise differences y - x of sorted xs and ys, not materialised."""
    n, m = len(xs), len(ys)
    if not 1 <= k <= n * m:
        raise ValueError(f"rank {k} outside 1..{n * m}")
    smallest, largest = float(ys[0] - xs[-1]), float(ys[-1] - xs[0])
    lo = smallest - 1.0 - abs(smallest)      # margins: no difference is <= lo and every one is <= hi,
    hi = largest + 1.0 + abs(largest)        # whatever the rounding of y - d
    below_lo, below_hi = 0, n * m
    while below_hi - below_lo > BAND_PAIRS:
        mid = lo + (hi - lo) / 2
        if mid in (lo, hi):                  # float resolution: every difference in (lo, hi] equals hi
            return hi
        count = n * m - int(_not_above(xs, ys, mid).sum())
        if count >= k:
            hi, below_hi = mid, count
        else:
            lo, below_lo = mid, count
    first, stop = _not_above(xs, ys, hi), _not_above(xs, ys, lo)   # the band lo < y - x <= hi, per row
    per_row = stop - first
    rows = np.repeat(np.arange(m), per_row)
    starts = np.repeat(first - np.concatenate(([0], np.cumsum(per_row)[:-1])), per_row)
    band = ys[rows] - xs[starts + np.arange(len(rows))]
    rank = k - (n * m - int(stop.sum()))
    return float(np.partition(band, rank - 1)[rank - 1])


def kth_differences(xs: np.ndarray, ys: np.ndarray, ranks: Sequence[int]) -> list[float]:
    """Pure: the pairwise differences y - x of the given 1-based ranks; few pairs are materialised once."""
    if len(xs) * len(ys) > BAND_PAIRS:
        return [kth_difference(xs, ys, k) for k in ranks]
    if any(not 1 <= k <= len(xs) * len(ys) for k in ranks):
        raise ValueError(f"ranks {list(ranks)} outside 1..{len(xs) * len(ys)}")
    ordered = np.partition((ys[:, None] - xs[None, :]).ravel(), sorted({k - 1 for k in ranks}))
    return [float(ordered[k - 1]) for k in ranks]


def moses_rank(n: int, m: int, confidence: float = CONFIDENCE, dependence: Dependence | None = None) -> int:
    """Pure: k such that [k-th smallest, k-th largest] pairwise difference covers the shift at `confidence`;
    0 when the samples are too few for any finite interval. An inflated `dependence` widens it (see mann_whitney)."""
    alpha = 1 - confidence
    if dependence is not None and dependence.inflated:
        spread = m * dependence.deff_baseline + n * dependence.deff_window + 1
        q = dependence.quantile(alpha / 2)
        return max(0, math.floor(n * m / 2 - q * math.sqrt(n * m * spread / 12) + 0.5))
    if n * m <= EXACT_MAX_PAIRS:
        cdf = np.cumsum(u_null_distribution(n, m))
        return int(np.searchsorted(cdf, alpha / 2 * (1 + 1e-9), "right"))   # largest k: P(U <= k - 1) <= alpha/2
    z = stats.norm.isf(alpha / 2)
    return max(0, math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12) + 0.5))


def hodges_lehmann(xs: np.ndarray, ys: np.ndarray, confidence: float = CONFIDENCE,
                   dependence: Dependence | None = None) -> tuple[float, float, float]:
    """Pure: (shift, interval low, interval high) of sorted baseline xs and window ys (differences ys - xs)."""
    pairs = len(xs) * len(ys)
    k = moses_rank(len(xs), len(ys), confidence, dependence)
    bounds = [k, pairs + 1 - k] if k >= 1 else []
    middle = kth_differences(xs, ys, [(pairs + 1) // 2, pairs // 2 + 1] + bounds)
    shift = middle[0] if pairs % 2 else (middle[0] + middle[1]) / 2
    return (shift, middle[2], middle[3]) if bounds else (shift, -math.inf, math.inf)


def _subsample(values: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A seeded random subsample of `size` values that keeps their time order."""
    if len(values) <= size:
        return values
    return values[np.sort(np.random.default_rng(seed).choice(len(values), size, replace=False))]


def compare_latency(baseline: np.ndarray, window: np.ndarray, confidence: float = CONFIDENCE,
                    max_shift_samples: int = MAX_SHIFT_SAMPLES, seed: int = SUBSAMPLE_SEED) -> ShiftComparison:
    """Pure: rank test and Hodges-Lehmann shift of `window` against `baseline`, each in time order (NaN samples
    are dropped); the p-values and the interval allow for serial dependence (module docstring)."""
    tb, tw = _measured(baseline), _measured(window)
    xs, ys = np.sort(tb).astype(float, copy=False), np.sort(tw).astype(float, copy=False)   # float32 sorts faster
    n, m = len(xs), len(ys)
    if not n or not m:
        return ShiftComparison(n, m, _median(xs), _median(ys), None, None, None, None, None, None, confidence)
    u, p_two, p_slower, exact = mann_whitney(xs, ys, _rank_dependence(tb, tw, xs, ys))
    sub_b, sub_w = _subsample(tb, max_shift_samples, seed), _subsample(tw, max_shift_samples, seed + 1)
    xs_shift = xs if len(sub_b) == n else np.sort(sub_b).astype(float)
    ys_shift = ys if len(sub_w) == m else np.sort(sub_w).astype(float)
    dependence = _rank_dependence(sub_b, sub_w, xs_shift, ys_shift)
    shift, low, high = hodges_lehmann(xs_shift, ys_shift, confidence, dependence)
    return ShiftComparison(n, m, _median(xs), _median(ys), u, p_two, p_slower, shift, low, high, confidence,
                           len(xs_shift), len(ys_shift), exact, dependence)


def _measured(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind != "f":
        values = values.astype(float)
    return values[~np.isnan(values)]


def _median(sorted_values: np.ndarray) -> float | None:
    return float(np.median(sorted_values)) if len(sorted_values) else None


# --- error rates --------------------------------------------------------------------------------------

def wilson(errors: int, requests: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Pure: the two-sided Wilson score interval of errors / requests; None without requests."""
    if requests <= 0:
        return None
    return _wilson(errors, requests, float(stats.norm.isf((1 - confidence) / 2)))


def _wilson(errors: float, requests: float, z: float) -> tuple[float, float]:
    p, n = errors / requests, requests
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson(errors: int, requests: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Pure: one-sided exact (Clopper-Pearson) `confidence` lower and upper bounds of errors / requests (each
    bound on its own holds at `confidence`); None without requests. 0 errors in 20: upper bound 0.139."""
    if requests <= 0:
        return None
    alpha = 1 - confidence
    lower = 0.0 if errors <= 0 else float(stats.beta.ppf(alpha, errors, requests - errors + 1))
    upper = 1.0 if errors >= requests else float(stats.beta.ppf(1 - alpha, errors + 1, requests - errors))
    return lower, upper


def clopper_pearson_arrays(errors, requests, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Pure: `clopper_pearson` of many (errors, requests) pairs at once (every requests > 0)."""
    e, n = np.asarray(errors, dtype=float), np.asarray(requests, dtype=float)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        lower = np.where(e > 0, stats.beta.ppf(alpha, np.maximum(e, 1), n - e + 1), 0.0)
        upper = np.where(e < n, stats.beta.ppf(1 - alpha, e + 1, np.maximum(n - e, 1)), 1.0)
    return lower, upper


def compare_error_rates(baseline_errors: int, baseline_requests: int, window_errors: int, window_requests: int,
                        confidence: float = CONFIDENCE, dependence: Dependence | None = None) -> RateComparison:
    """Pure: one-sided test of a higher window error proportion, Wilson intervals and bounds of the difference.

    With an inflated `dependence` every count is divided by its group's design effect (effective sample sizes)
    and the quantiles are Student t ones. For a given dependence both bounds of the difference only grow with
    the window's error count, so a verdict decided from them is monotone in it."""
    if baseline_requests <= 0 or window_requests <= 0:
        return RateComparison(baseline_errors, baseline_requests, window_errors, window_requests, None, "none",
                              wilson(baseline_errors, baseline_requests, confidence),
                              wilson(window_errors, window_requests, confidence), None, None, confidence,
                              dependence)
    d = dependence if dependence is not None and dependence.inflated else Dependence()
    e0, n0 = baseline_errors / d.deff_baseline, baseline_requests / d.deff_baseline
    e1, n1 = window_errors / d.deff_window, window_requests / d.deff_window
    if d.inflated:
        p_higher, test = _p_higher_inflated(e0, n0, e1, n1, d.batches - 1), "z (effective sizes, t)"
    else:
        p_higher, test = _p_higher(baseline_errors, baseline_requests, window_errors, window_requests)
    q = d.quantile(1 - confidence)                      # one-sided bounds
    p0, p1 = e0 / n0, e1 / n1
    l0, u0 = _wilson(e0, n0, q)
    l1, u1 = _wilson(e1, n1, q)
    lower = (p1 - p0) - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = (p1 - p0) + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    two_sided = d.quantile((1 - confidence) / 2)
    return RateComparison(baseline_errors, baseline_requests, window_errors, window_requests, p_higher, test,
                          _wilson(e0, n0, two_sided), _wilson(e1, n1, two_sided), lower, upper, confidence,
                          dependence)


def compare_error_series(baseline_failed: np.ndarray, window_failed: np.ndarray,
                         confidence: float = CONFIDENCE) -> RateComparison:
    """Pure: compare_error_rates of two time-ordered failure indicator series, allowing for bursts of errors."""
    b, w = np.asarray(baseline_failed, dtype=bool), np.asarray(window_failed, dtype=bool)
    (db, bb), (dw, bw) = design_effect(b), design_effect(w)
    return compare_error_rates(int(b.sum()), len(b), int(w.sum()), len(w), confidence, Dependence(db, dw, min(bb, bw)))


def _p_higher_inflated(e0: float, n0: float, e1: float, n1: float, df: int) -> float:
    """One-sided p of a higher window proportion from effective counts (pooled z statistic, t distributed)."""
    pooled = (e0 + e1) / (n0 + n1)
    if pooled <= 0 or pooled >= 1:
        return 1.0 if e1 / n1 <= e0 / n0 else 0.0
    z = (e1 / n1 - e0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    return float(stats.t.sf(z, df))


def _p_higher(e0: int, n0: int, e1: int, n1: int) -> tuple[float, str]:
    # Fisher's exact test at every size: switching to a z test above a count made p non-monotone in e1 at the
    # switch (6/10 vs 4/10 by z, vs 5/10 by Fisher); the hypergeometric tail costs next to nothing at any size.
    table = [[e1, n1 - e1], [e0, n0 - e0]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue), "fisher"
