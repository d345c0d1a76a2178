"""Speed of the before-vs-after statistics: latency comparison of 2M vs 5M samples, sliding SLO over 10M.

    .venv/bin/python benchmarks/comparisons_bench.py [--baseline 2000000] [--window 5000000] [--sliding 10000000]

Synthetic lognormal latencies (float32, as the recorder stores them), the window 2 ms slower; prints the
wall time of reports.statistics.compare_latency and reports.sliding.sliding_slo (best of --repeat runs) and their
results.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from reports.sliding import sliding_slo
from reports.statistics import compare_latency


def best_of(repeat: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=int, default=2_000_000)
    parser.add_argument("--window", type=int, default=5_000_000)
    parser.add_argument("--sliding", type=int, default=10_000_000)
    parser.add_argument("--span-s", type=float, default=600.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    baseline = rng.lognormal(3, 0.5, args.baseline).astype(np.float32)
    window = (rng.lognormal(3, 0.5, args.window) + 2).astype(np.float32)
    seconds, result = best_of(args.repeat, lambda: compare_latency(baseline, window))
    print(f"compare_latency {args.baseline:,} vs {args.window:,}: {seconds:.2f} s; shift {result.shift:.3f} ms "
          f"[{result.ci_low:.3f}, {result.ci_high:.3f}] from subsamples of {result.shift_n_baseline:,}/"
          f"{result.shift_n_window:,}; p slower {result.p_slower:.3g}")
    t = np.sort(rng.uniform(0, args.span_s, args.sliding))
    latency = rng.lognormal(3, 0.5, args.sliding).astype(np.float32)
    ok = rng.random(args.sliding) > 0.01
    seconds, slo = best_of(args.repeat, lambda: sliding_slo(t, latency, ok, 0.0, args.span_s, p95_max_ms=50))
    print(f"sliding_slo {args.sliding:,} samples over {args.span_s:g} s: {seconds:.2f} s; {slo.windows} windows, "
          f"worst P95 {slo.worst_p95_ms:.2f} ms, worst error rate {slo.worst_error_rate:.4f}, "
          f"compliant {slo.compliant_share:.1%}")


if __name__ == "__main__":
    main()
