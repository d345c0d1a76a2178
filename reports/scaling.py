"""Pure scaling analysis of a load spike: where the spike is, how fast capacity followed it, the cap, throttles.

Inputs: the load profile as the run applied it (load/profile.json), the load samples, and the region gateways'
capacity samples (probes.jsonl `capacity` records, one per region every 0.5 s; see probes.samplers).

Spike placement (no fault is needed; the load profile states when the load steps):
- the spike stage is the profile's stage with the highest load (`rate_per_s` of an open stage, `users` of a
  closed one; the first such stage), provided an earlier stage has a lower load (the baseline);
- load start = the intended start of the first load sample (the profile's zero, within one inter-arrival time);
- step = load start + the durations of the stages before the spike stage; drop = step + the spike's duration;
- the `spike` window is [step + warmup_s, drop), `warmup_s` from the experiment's `windows.warmup_s`: the time
  the stated hypothesis allows the autoscaler to react; P95, error rate and throttles "during the spike" are
  judged there (`p95_ms < 200 in spike`, `throttled_requests == 0 in spike`).

The served region is the one whose gateway counted the most requests between step and drop; the lags are its.
- scale-out lag: step -> the first capacity sample at or after the step whose ready instances reach the
  capacity the spike held: the fewest ready instances over the spike's second half (oscillations above it do
  not count). Not measured when that is not above the ready count at the step (the region never scaled out);
  the spike's duration is then its lower bound.
- scale-in lag: drop -> the first sample at or after the drop with no more instances than at the step. Not
  measured when the region never had more (nothing to scale in), or, with the observed time as its lower
  bound, when it was not back by the last sample.
- capacity max ratio (per window): the most instances any region ran / that region's cap (`max_instances`).
- throttled requests (per window): increments of the gateways' `throttles_total` counters (every client: load,
  canary, probes), summed over the regions sampled in the window, from the last sample at or before the
  window's start (else its first) to the first at or after its end (else its last), so up to one sampling
  period (0.5 s) either side counts too; without capacity samples in the window, the load samples answered 429.
- throttle rate (per window): those throttled requests / the requests the gateways counted over the same span
  (without capacity samples: / the sent load samples).
Resolution of the lags: the median spacing of the region's capacity samples (`Scaling.resolution_s`, from the
data) plus the load start's uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.recovery import sampling_interval_s

THROTTLED = 429


@dataclass(frozen=True)
class Spike:
    """Where the load profile put the spike (epoch s)."""

    stage: int                 # index of the spike stage in the profile
    load_start_s: float
    step_s: float              # the load steps up
    drop_s: float              # the load drops back
    warmup_s: float
    baseline_load: float       # the highest load of the stages before the spike (rate/s or users)
    spike_load: float
    unit: str                  # "requests/s" or "users"

    @property
    def window_start_s(self) -> float:
        return self.step_s + self.warmup_s

    @property
    def factor(self) -> float | None:
        return self.spike_load / self.baseline_load if self.baseline_load > 0 else None


@dataclass(frozen=True)
class Lag:
    """A measured lag (s) or, when not reached, what is known about it."""

    value_s: float | None
    lower_bound_s: float | None
    evidence: str


@dataclass(frozen=True)
class Scaling:
    """The scaling figures of one spike."""

    spike: Spike | None
    region: str | None = None          # the served region the lags are about
    samples: int = 0                   # capacity samples of that region
    cap: int | None = None             # its max_instances at the step
    min_instances: int | None = None
    instances_at_step: int | None = None
    ready_at_step: int | None = None
    held_ready: int | None = None      # the fewest ready instances over the spike's second half
    peak_instances: int | None = None  # the most instances during the spike
    first_added_s: float | None = None  # step -> the first added instance ready
    scale_out: Lag = Lag(None, None, "")
    scale_in: Lag = Lag(None, None, "")
    evidence: str = ""
    resolution_s: float | None = None  # the median spacing of the region's capacity samples (the lags' resolution)


def _load(stage: dict) -> tuple[float, str]:
    if stage.get("rate_per_s") is not None:
        return float(stage["rate_per_s"]), "requests/s"
    return float(stage.get("users") or 0), "users"


def spike_stage(profile: dict | None) -> tuple[int, float, float] | None:
    """Pure: (index, offset of the step from the load start, duration) of the spike stage; None without one."""
    stages = (profile or {}).get("stages") or []
    if len(stages) < 2:
        return None
    loads = [_load(stage)[0] for stage in stages]
    peak = int(np.argmax(loads))
    if peak == 0 or min(loads[:peak]) >= loads[peak]:
        return None
    return peak, float(sum(stage["duration_s"] for stage in stages[:peak])), float(stages[peak]["duration_s"])


def place_spike(profile: dict | None, samples: pd.DataFrame | None, warmup_s: float) -> Spike | None:
    """Pure: the spike of a run, anchored at its first load sample; None without a spike stage or samples."""
    found = spike_stage(profile)
    if found is None or samples is None or not len(samples):
        return None
    index, offset_s, duration_s = found
    stages = profile["stages"]
    start = float(samples["t_s"].min())
    load, unit = _load(stages[index])
    return Spike(index, start, start + offset_s, start + offset_s + duration_s, warmup_s,
                 max(_load(stage)[0] for stage in stages[:index]), load, unit)


def _by_region(capacity: list[dict] | tuple[dict, ...]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in sorted(capacity, key=lambda r: r["at_s"]):
        out.setdefault(str(record.get("region")), []).append(record)
    return out


def _increments(records: list[dict], key: str, start_s: float, end_s: float) -> int:
    """Sum of a counter's increases from the last sample <= start to the first >= end (restarts count from 0)."""
    times = [r["at_s"] for r in records]
    first = max(0, int(np.searchsorted(times, start_s, side="right")) - 1)
    last = min(len(records) - 1, int(np.searchsorted(times, end_s, side="left")))
    total = 0
    for before, after in zip(records[first:last], records[first + 1:last + 1]):
        b, a = before.get(key) or 0, after.get(key) or 0
        total += a - b if a >= b else a
    return int(total)


def served_region(capacity: list[dict] | tuple[dict, ...], start_s: float, end_s: float) -> str | None:
    """Pure: the region whose gateway counted the most requests in [start, end]; None without samples."""
    counts = {region: _increments(records, "requests_total", start_s, end_s)
              for region, records in _by_region(capacity).items() if records}
    return max(counts, key=lambda region: counts[region]) if counts else None


@dataclass(frozen=True)
class Throttles:
    count: int | None            # None: neither capacity samples nor load samples cover the window
    source: str                  # "gateway counters" | "load samples"
    load_throttled: int = 0      # load samples answered 429 in the window
    load_requests: int = 0
    by_region: tuple[tuple[str, int], ...] = ()
    requests: int = 0            # the requests counted over the same span (gateway counters or sent load samples)
    resolution_s: float | None = None  # gateway counters: the capacity samples' spacing (a counter step's timing)

    @property
    def rate(self) -> float | None:
        return self.count / self.requests if self.count is not None and self.requests else None


def throttles(capacity: list[dict] | tuple[dict, ...], samples: pd.DataFrame | None, start_s: float,
              end_s: float) -> Throttles:
    """Pure: throttled requests in [start, end] (see the module docstring)."""
    load_throttled = load_requests = 0
    if samples is not None and len(samples):
        t = samples["t_s"].to_numpy(dtype=float)
        sent = (t >= start_s) & (t <= end_s) & ~samples["dropped"].to_numpy(dtype=bool)
        load_requests = int(sent.sum())
        load_throttled = int((samples["status"].to_numpy()[sent] == THROTTLED).sum())
    covering = {region: records for region, records in _by_region(capacity).items()
                if any(start_s <= r["at_s"] <= end_s for r in records)}
    if covering:
        by_region = tuple((region, _increments(records, "throttles_total", start_s, end_s))
                          for region, records in sorted(covering.items()))
        requests = sum(_increments(records, "requests_total", start_s, end_s) for records in covering.values())
        spacing = [s for s in (sampling_interval_s(r["at_s"] for r in records) for records in covering.values()) if s]
        return Throttles(sum(n for _, n in by_region), "gateway counters", load_throttled, load_requests, by_region,
                         requests, max(spacing) if spacing else None)
    if load_requests:
        return Throttles(load_throttled, "load samples", load_throttled, load_requests, (), load_requests)
    return Throttles(None, "none", 0, 0)


def capacity_max(capacity: list[dict] | tuple[dict, ...], start_s: float, end_s: float) -> tuple[float, dict] | None:
    """Pure: the highest instances / max_instances of any capacity sample in [start, end], with that sample."""
    inside = [r for r in capacity if start_s <= r["at_s"] <= end_s and r.get("max_instances")]
    if not inside:
        return None
    worst = max(inside, key=lambda r: r["instances"] / r["max_instances"])
    return worst["instances"] / worst["max_instances"], worst


def scaling(spike: Spike | None, capacity: list[dict] | tuple[dict, ...]) -> Scaling:
    """Pure: the scale-out and scale-in of the served region around the spike."""
    if spike is None:
        return Scaling(None, evidence="no load spike: the load profile has no stage above an earlier one, or no "
                                      "load samples")
    region = served_region(capacity, spike.step_s, spike.drop_s)
    if region is None:
        return Scaling(spike, evidence="no capacity samples (probes.jsonl `capacity` records)")
    records = _by_region(capacity)[region]
    before = [r for r in records if r["at_s"] <= spike.step_s]
    if not before:
        return Scaling(spike, region, len(records), evidence=f"no capacity sample of {region} before the load step")
    at_step = before[-1]
    resolution = sampling_interval_s(r["at_s"] for r in records)
    res = f"resolution {resolution:g} s (capacity sample spacing)" if resolution else "resolution unknown (one sample)"
    during = [r for r in records if spike.step_s <= r["at_s"] < spike.drop_s]
    half = [r for r in during if r["at_s"] >= (spike.step_s + spike.drop_s) / 2]
    cap, low = at_step.get("max_instances"), at_step.get("min_instances")
    base_n, base_ready = at_step["instances"], at_step["ready"]
    peak = max((r["instances"] for r in during), default=base_n)
    held = min((r["ready"] for r in half), default=None)
    spike_s = spike.drop_s - spike.step_s
    added = next((r["at_s"] - spike.step_s for r in during if r["ready"] > base_ready), None)
    head = (f"{region}: {base_n} instance(s), {base_ready} ready at the step (cap {cap}); "
            f"{spike.baseline_load:g} -> {spike.spike_load:g} {spike.unit} for {spike_s:.1f} s")
    if held is None or held <= base_ready:
        out = Lag(None, spike_s, f"{head}: capacity never rose above {base_ready} ready instance(s) for the "
                                 f"second half of the spike (peak {peak} instance(s))")
    else:
        reached = next(r for r in during if r["ready"] >= held)
        out = Lag(reached["at_s"] - spike.step_s, None,
                  f"{head}: {held} ready (held through the spike's second half) {reached['at_s'] - spike.step_s:.2f} s "
                  f"after the step; first added instance ready after {added:.2f} s; {res}")
    after = [r for r in records if r["at_s"] >= spike.drop_s]
    if peak <= base_n:
        back = Lag(None, None, f"{head}: never ran more than {base_n} instance(s), nothing to scale in")
    elif not after:
        back = Lag(None, 0.0, f"{head}: no capacity sample after the drop")
    else:
        done = next((r for r in after if r["instances"] <= base_n), None)
        observed = after[-1]["at_s"] - spike.drop_s
        back = (Lag(None, observed, f"{head}: still {after[-1]['instances']} instance(s) {observed:.2f} s after the "
                                    f"drop (peak {peak}), not back at {base_n}")
                if done is None else
                Lag(done["at_s"] - spike.drop_s, None, f"{head}: from a peak of {peak} back at {done['instances']} "
                                                      f"instance(s) {done['at_s'] - spike.drop_s:.2f} s after the "
                                                      f"drop; {res}"))
    return Scaling(spike, region, len(records), cap, low, base_n, base_ready, held, peak, added, out, back, head,
                   resolution_s=resolution)
