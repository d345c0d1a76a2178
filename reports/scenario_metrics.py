"""Pure scenario metrics from load samples, the fault ledger and the journal: cache/edge hit rates, cache
warm-up, and the detect/restore times of a bad deployment.

- hit rate of a window: samples of one request name that were sent and succeeded, share with X-Cache `hit`
  (the recorder stores X-Cache lower-cased, so the edge's `Hit` counts too); cached reads are
  `GET /items/[id]`, hashed assets `GET /static/[asset]`.
- cache warm-up: from the cache's recovery (the latest end of a fault the fault catalogue says the cache
  sees: a `link_cut` or `cache_flush` whose target starts with `cache-`) until the first whole second whose
  hit rate reaches WARMUP_SHARE of the baseline's; seconds with fewer than MIN_READS_PER_S reads are
  skipped; resolution 1 s.
- AI gateway: samples of the `POST /ai` journey only (named `POST /ai [<provider>]` by the recorder): their
  error rate, exact P95, and the fallback share = successful answers not served by FIRST_PROVIDER / all
  successful answers naming a provider.
- soak: the worst INTERVAL_S interval of a window (P95 of non-AI samples, error rate of all samples).
- deployment (the catalogue's deployment faults, ledger kind `deployment`): detect = the watcher's
  `detected_at_s` (journal output) minus the time the bad version went live; restore = its ledger recovery
  minus that time, counted only when it came before the experiment ended (a release the safety net rolled
  back was not restored by the experiment).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gameday.base.catalogue import Affects, seen_by
from reports.samples import nearest_rank_with_failures
from reports.sliding import SlidingSlo, sliding_slo

CACHED_READ = "GET /items/[id]"
HASHED_ASSET = "GET /static/[asset]"
WARMUP_SHARE = 0.8
MIN_READS_PER_S = 3


def matches(values: pd.Series, predicate: Callable[[str], bool]) -> np.ndarray:
    """Pure: `predicate` of each sample's text, evaluated once per distinct value (10M samples, ~10 names)."""
    codes, uniques = pd.factorize(values)
    verdicts = np.array([bool(predicate(str(u))) for u in uniques] + [False], dtype=bool)
    return verdicts[codes]  # code -1 (missing) picks the trailing False


def is_cache_hit(x_cache: str) -> bool:
    """Pure: whether an X-Cache value says the response came from the cache: `hit` (the local stack), CloudFront's
    `Hit from cloudfront` and `RefreshHit from cloudfront` (served from the edge after revalidation), any case."""
    words = x_cache.strip().lower().split()
    return bool(words) and words[0] in ("hit", "refreshhit")


def hit_counts(samples: pd.DataFrame | None, name: str, start_s: float | None, end_s: float | None,
               closed: bool = False) -> tuple[int, int]:
    """(hits, requests): sent, successful `name` samples with intended start in the window, and their hits."""
    if samples is None or not len(samples) or start_s is None or end_s is None:
        return 0, 0
    t = samples["t_s"].to_numpy()
    member = (t >= start_s) & ((t <= end_s) if closed else (t < end_s))
    chosen = samples[member & (samples["name"] == name).to_numpy() & (~samples["dropped"]).to_numpy()
                     & samples["ok"].to_numpy()]
    hits = int(matches(chosen["cache"], is_cache_hit).sum())
    return hits, len(chosen)


def share(hits: int, requests: int) -> float | None:
    return hits / requests if requests else None


def cache_recovered_s(fault_windows: tuple[dict, ...] | list[dict]) -> float | None:
    """When the cache came back: the latest end of a fault the cache sees (gameday.base.catalogue); None if none."""
    ends = [w["end_s"] for w in fault_windows if seen_by(Affects.cache, w)]
    if not ends or None in ends:
        return None
    return max(ends)


@dataclass(frozen=True)
class Warmup:
    """How long the cache took to warm up again after it recovered."""

    recovered_s: float | None       # when the cache came back (epoch s)
    baseline_rate: float | None     # the baseline hit rate the warm-up is measured against
    target_rate: float | None       # WARMUP_SHARE x baseline_rate
    warmup_s: float | None          # None: not warm within the observed time (or not measurable)
    observed_s: float = 0.0         # seconds of samples looked at after the recovery
    seconds_counted: int = 0        # whole seconds with enough reads
    evidence: str = ""
    resolution_s: float = 1.0       # the hit-rate bucket width used (warmup_s is a bucket's start: one-sided)


def cache_warmup(samples: pd.DataFrame | None, recovered_s: float | None, end_s: float | None,
                 baseline_rate: float | None, share_of_baseline: float = WARMUP_SHARE,
                 min_reads: int = MIN_READS_PER_S) -> Warmup:
    """Pure: seconds from the cache's recovery to the first second whose hit rate reaches the target."""
    if recovered_s is None:
        return Warmup(None, baseline_rate, None, None, evidence="no cache outage or flush recovered in the ledger")
    if baseline_rate is None:
        return Warmup(recovered_s, None, None, None, evidence="no cached reads in the baseline window")
    target = share_of_baseline * baseline_rate
    end = end_s if end_s is not None else recovered_s
    observed = max(0.0, end - recovered_s)
    counted = 0
    for k in range(int(math.floor(observed))):
        hits, reads = hit_counts(samples, CACHED_READ, recovered_s + k, recovered_s + k + 1)
        if reads < min_reads:
            continue
        counted += 1
        if hits / reads >= target:
            return Warmup(recovered_s, baseline_rate, target, float(k), observed, counted,
                          f"second {k} after the cache recovered had {hits}/{reads} hits "
                          f"({hits / reads:.0%} >= {target:.0%} = {share_of_baseline:.0%} of the baseline "
                          f"{baseline_rate:.0%}); resolution 1 s")
    return Warmup(recovered_s, baseline_rate, target, None, observed, counted,
                  f"no second of the {observed:.1f} s after the cache recovered ({counted} with >= {min_reads} "
                  f"reads) reached {target:.0%} hits ({share_of_baseline:.0%} of the baseline {baseline_rate:.0%})")


@dataclass(frozen=True)
class Deployment:
    """When a bad version went live, was detected and was rolled back."""

    live_s: float | None
    detected_at_s: float | None
    restored_at_s: float | None     # rolled back by the experiment; None when only the safety net did it
    observed_until_s: float | None  # the experiment's end: how long the run watched
    evidence: str = ""

    @property
    def detect_s(self) -> float | None:
        return None if None in (self.live_s, self.detected_at_s) else max(0.0, self.detected_at_s - self.live_s)

    @property
    def restore_s(self) -> float | None:
        return None if None in (self.live_s, self.restored_at_s) else max(0.0, self.restored_at_s - self.live_s)

    @property
    def observed_s(self) -> float | None:
        return None if None in (self.live_s, self.observed_until_s) else max(0.0, self.observed_until_s - self.live_s)


def _detections(journal: dict | None) -> list[float]:
    out = []
    for record in (journal or {}).get("run") or []:
        output = record.get("output")
        if (isinstance(output, dict) and output.get("detected")
                and isinstance(output.get("detected_at_s"), (int, float))):
            out.append(float(output["detected_at_s"]))
    return sorted(out)


def deployment(fault_windows: tuple[dict, ...] | list[dict], journal: dict | None,
               experiment_end_s: float | None) -> Deployment | None:
    """Pure: the first deployment of the ledger and its detection/rollback; None when nothing was deployed."""
    deployments = [w for w in fault_windows if seen_by(Affects.deployment, w)]
    if not deployments:
        return None
    live = deployments[0]
    detected = [t for t in _detections(journal) if t >= live["start_s"]]
    end = live["end_s"]
    by_experiment = end is not None and (experiment_end_s is None or end <= experiment_end_s)
    restored = end if by_experiment else None
    parts = [f"{live['target']} went live at {live['start_s']:.3f}"]
    parts.append(f"regression detected {detected[0] - live['start_s']:.2f} s later (journal: watcher output)"
                 if detected else "no regression watcher reported a detection in the journal")
    if restored is not None:
        parts.append(f"rolled back {restored - live['start_s']:.2f} s after going live (fault ledger)")
    elif end is not None:
        parts.append("rolled back only by the safety net after the experiment ended")
    else:
        parts.append("never rolled back")
    return Deployment(live["start_s"], detected[0] if detected else None, restored,
                      experiment_end_s if experiment_end_s is not None else end, "; ".join(parts))



# --- AI gateway ------------------------------------------------------------------------------------------
# The recorder names an AI answer `POST /ai [<X-AI-Provider>]` (bedrock, google, meta or cache); a request
# that got no answer naming a provider (an error, a timeout) stays `POST /ai`. Every one of them is an AI sample.

AI_REQUEST = "POST /ai"
FIRST_PROVIDER = "bedrock"   # the gateway's first-priority provider (infra/local/layout.py PROVIDERS[0])


def ai_provider(name: str) -> str | None:
    """Pure: the provider in an AI request name (`POST /ai [google]` -> `google`); None when none is named."""
    prefix = AI_REQUEST + " ["
    if name.startswith(prefix) and name.endswith("]"):
        return name[len(prefix):-1] or None
    return None


def is_ai(name: str) -> bool:
    return name == AI_REQUEST or ai_provider(name) is not None


@dataclass(frozen=True)
class AiStats:
    """The AI journey's figures in one window (load samples of `POST /ai` only)."""

    requests: int = 0                # sent AI requests
    errors: int = 0                  # ... that failed
    answers: int = 0                 # sent, successful AI requests naming their provider
    fallback_answers: int = 0        # ... not served by the first-priority provider (another provider or cache)
    latency_samples: int = 0
    p95_ms: float | None = None
    providers: tuple[tuple[str, int], ...] = ()   # (provider, successful answers), most first

    @property
    def error_rate(self) -> float | None:
        return share(self.errors, self.requests)

    @property
    def fallback_share(self) -> float | None:
        return share(self.fallback_answers, self.answers)


def ai_stats(samples: pd.DataFrame | None, start_s: float | None, end_s: float | None, closed: bool = False,
             first_provider: str = FIRST_PROVIDER) -> AiStats:
    """Pure: error rate, exact nearest-rank P95 and fallback share of the AI arrivals whose intended start is
    in the window. An arrival never sent (dropped) is a failed request, and in the P95 every failure ranks above
    every success (reports.samples.nearest_rank_with_failures: a fast failure never lowers it)."""
    if samples is None or not len(samples) or start_s is None or end_s is None:
        return AiStats()
    t = samples["t_s"].to_numpy()
    member = (t >= start_s) & ((t <= end_s) if closed else (t < end_s))
    sent = samples[member & matches(samples["name"], is_ai)]      # arrivals: sent or dropped
    if not len(sent):
        return AiStats()
    ok = sent["ok"].to_numpy(dtype=bool) & ~sent["dropped"].to_numpy(dtype=bool)
    answers: dict[str, int] = {}
    for name, n in sent["name"][ok].value_counts(sort=False).items():  # once per distinct name
        provider = ai_provider(str(name))
        if provider is not None and n:
            answers[provider] = answers.get(provider, 0) + int(n)
    counts = pd.Series(answers, dtype=int).sort_values(ascending=False, kind="stable")
    latencies, failures = sent["latency_ms"].to_numpy(dtype=float)[ok], int((~ok).sum())
    return AiStats(requests=len(sent), errors=failures, answers=int(counts.sum()),
                   fallback_answers=int(counts.sum() - counts.get(first_provider, 0)),
                   latency_samples=len(sent), p95_ms=nearest_rank_with_failures(latencies, failures, 95),
                   providers=tuple((str(k), int(v)) for k, v in counts.items()))


# --- soak: per-interval figures ---------------------------------------------------------------------------
# A soak is judged interval by interval (drift, leaks): the window is cut into consecutive INTERVAL_S
# intervals from its start (a last partial interval counts when it has enough requests) and the worst
# interval's P95 and error rate are the window's figures. P95 is over the sent non-AI samples (the AI journey
# has its own SLO: ai_p95_ms); the error rate over every sent load sample. Intervals with fewer than
# min_requests such samples are skipped. They are sliding windows that step by their own length
# (reports.sliding.sliding_slo), so a soak interval and a sliding SLO window are computed alike.

INTERVAL_S = 10.0


def interval_stats(samples: pd.DataFrame | None, start_s: float | None, end_s: float | None, closed: bool = False,
                   interval_s: float = INTERVAL_S, min_requests: int = 20) -> SlidingSlo:
    """Pure: the worst per-interval P95 (non-AI samples) and error rate (all samples) of the window."""
    if samples is None or not len(samples) or start_s is None or end_s is None or end_s <= start_s:
        return SlidingSlo(interval_s, interval_s)
    t = samples["t_s"].to_numpy(dtype=float)
    member = (t >= start_s) & ((t <= end_s) if closed else (t < end_s)) & (~samples["dropped"]).to_numpy()
    sent = samples[member]
    return sliding_slo(sent["t_s"].to_numpy(dtype=float), sent["latency_ms"].to_numpy(dtype=float),
                       sent["ok"].to_numpy(dtype=bool), start_s, end_s, interval_s, interval_s,
                       min_requests=min_requests, cover_end=True, closed=closed,
                       latency_counted=~matches(sent["name"], is_ai), min_latencies=min_requests)
