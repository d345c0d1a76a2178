"""Coverage of the before-vs-after statistics on independent, autocorrelated and bursty data (issue 13, item 7).

    .venv/bin/python benchmarks/coverage_bench.py [--trials 200] [--n 1000] [--requests 5000] [--seed 1]

Latencies: baseline and window drawn from the same process (true shift 0): iid normal, and AR(1) with
phi 0.5 and 0.9 (in time order, as the recorder stores them); prints the share of 95 % Hodges-Lehmann
intervals that contain 0, for the interval that assumes independence (Moses) and for the shipped one
(reports.statistics.compare_latency: batch-means design effects, t quantiles). Errors: the same error
process in both groups (no increase): iid errors at 1 %, and errors in bursts of 20 at 1 %; prints how often
the one-sided 95 % lower bound of the increase is above 0 (a false "significant increase"; nominal 5 %)
for the iid method and the shipped one (compare_error_series). Prints the load average with the figures.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from reports.statistics import compare_error_rates, compare_error_series, compare_latency, hodges_lehmann


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A stationary AR(1) series with unit marginal variance."""
    noise = rng.normal(0, np.sqrt(1 - phi * phi), n)
    out = np.empty(n)
    out[0] = rng.normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out


def bursty(rng: np.random.Generator, n: int, rate: float, burst: int) -> np.ndarray:
    """Failure indicators: bursts of `burst` consecutive errors starting at random, `rate` errors on average."""
    failed = np.zeros(n, dtype=bool)
    for start in np.flatnonzero(rng.random(n) < rate / burst):
        failed[start:start + burst] = True
    return failed


def latency_coverage(rng: np.random.Generator, trials: int, n: int, phi: float) -> tuple[float, float]:
    naive = shipped = 0
    for _ in range(trials):
        baseline, window = (ar1(rng, n, phi), ar1(rng, n, phi)) if phi else (rng.normal(size=n), rng.normal(size=n))
        _, low, high = hodges_lehmann(np.sort(baseline), np.sort(window))
        naive += low <= 0 <= high
        got = compare_latency(baseline, window)
        shipped += got.ci_low <= 0 <= got.ci_high
    return naive / trials, shipped / trials


def error_rejections(rng: np.random.Generator, trials: int, n: int, burst: int) -> tuple[float, float]:
    naive = shipped = 0
    for _ in range(trials):
        if burst > 1:
            baseline, window = bursty(rng, n, 0.01, burst), bursty(rng, n, 0.01, burst)
        else:
            baseline, window = rng.random(n) < 0.01, rng.random(n) < 0.01
        plain = compare_error_rates(int(baseline.sum()), n, int(window.sum()), n)
        naive += plain.diff_lower > 0
        shipped += compare_error_series(baseline, window).diff_lower > 0
    return naive / trials, shipped / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--n", type=int, default=1000, help="latency samples per group")
    parser.add_argument("--requests", type=int, default=5000, help="requests per group for the error rates")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"{args.trials} trials per row; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'case':<44} {'independence':>12} {'shipped':>8}")
    for label, phi in (("latency iid", 0.0), ("latency AR(1) phi 0.5", 0.5), ("latency AR(1) phi 0.9", 0.9)):
        naive, shipped = latency_coverage(rng, args.trials, args.n, phi)
        print(f"{label + f' (n = m = {args.n}): coverage':<44} {naive:>12.3f} {shipped:>8.3f}")
    for label, burst in (("errors iid 1 %", 1), ("errors in bursts of 20, 1 %", 20)):
        naive, shipped = error_rejections(rng, args.trials, args.requests, burst)
        print(f"{label + ': false rejections':<44} {naive:>12.3f} {shipped:>8.3f}")
    print(f"{time.perf_counter() - started:.1f} s; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
