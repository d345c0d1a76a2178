"""Scaling analysis of a load spike on hand-written profiles, load samples and capacity records (known answers)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from gameday.base.models import Criterion, GameDaySpec, Metric, Windows, metric_unit
from reports.certify import Verdict, certify
from reports.findings import RunInputs, analyse
from reports.render import markdown, summary
from reports.scaling import (
    capacity_max,
    place_spike,
    scaling,
    served_region,
    spike_stage,
    throttles,
)

T0 = 1_700_000_000.0
REGION, OTHER = "eu-central-1", "eu-west-1"
PROFILE = {"name": "spike", "stages": [{"duration_s": 10, "rate_per_s": 10}, {"duration_s": 20, "rate_per_s": 100},
                                       {"duration_s": 20, "rate_per_s": 10}]}


def load(t_from: float, t_to: float, per_s: float, status=lambda t: 200) -> list[tuple[float, int]]:
    n = round((t_to - t_from) * per_s)
    return [(t_from + i / per_s, status(t_from + i / per_s)) for i in range(n)]


def frame(rows: list[tuple[float, int]], latency_ms: float = 20.0) -> pd.DataFrame:
    return pd.DataFrame({"t_s": [t for t, _ in rows], "latency_ms": [latency_ms] * len(rows),
                         "status": [s for _, s in rows], "name": ["GET /items/[id]"] * len(rows),
                         "ok": [s == 200 for _, s in rows], "dropped": [False] * len(rows),
                         "cache": ["hit"] * len(rows),
                         "region": [REGION] * len(rows), "source": ["w"] * len(rows)})


def capacity(region: str, until: float, instances, ready, throttles_at=lambda t: 0, cap: int = 4,
             requests_per_s: float = 100.0) -> list[dict]:
    """One record every 0.5 s from T0 to T0 + until; instances/ready/throttles_total as functions of t - T0."""
    out = []
    for k in range(int(until * 2) + 1):
        t = k / 2
        out.append({"probe": "capacity", "at_s": T0 + t, "region": region, "instances": instances(t),
                    "ready": ready(t), "in_flight": 0, "utilisation": 0.0, "throttles_total": throttles_at(t),
                    "requests_total": int(t * requests_per_s), "max_instances": cap, "min_instances": 1,
                    "slot": "blue"})
    return out


def steps(*points: tuple[float, int]):
    """A step function of t: the value of the last point at or before t."""
    def at(t: float) -> int:
        return [v for start, v in points if start <= t][-1]
    return at


# The healthy spike: step at +10, a 2nd instance decided at +12 and ready at +13.5, a 3rd decided at +16 and
# ready at +17.5; drop at +30; back to 2 at +35 and to 1 at +40. Five throttles between +11 and +13.
HEALTHY = capacity(REGION, 50, instances=steps((0, 1), (12, 2), (16, 3), (35, 2), (40, 1)),
                   ready=steps((0, 1), (13.5, 2), (17.5, 3), (35, 2), (40, 1)),
                   throttles_at=steps((0, 0), (11, 2), (12, 4), (13, 5)))
IDLE = capacity(OTHER, 50, instances=steps((0, 1)), ready=steps((0, 1)), requests_per_s=2.0)
SAMPLES = frame(load(T0, T0 + 10, 10) + load(T0 + 10, T0 + 30, 100) + load(T0 + 30, T0 + 50, 10))


def test_the_spike_stage_is_the_highest_stage_after_a_lower_one():
    assert spike_stage(PROFILE) == (1, 10.0, 20.0)
    assert spike_stage({"stages": [{"duration_s": 60, "rate_per_s": 25}]}) is None
    assert spike_stage({"stages": [{"duration_s": 5, "users": 50}, {"duration_s": 5, "users": 5}]}) is None
    assert spike_stage({"stages": [{"duration_s": 5, "users": 5}, {"duration_s": 7, "users": 50}]}) == (1, 5.0, 7.0)
    assert spike_stage(None) is None


def test_the_spike_is_anchored_at_the_first_load_sample_and_its_window_starts_after_the_warmup():
    spike = place_spike(PROFILE, SAMPLES, warmup_s=6)
    assert (spike.load_start_s, spike.step_s, spike.drop_s, spike.window_start_s) == (T0, T0 + 10, T0 + 30, T0 + 16)
    assert spike.factor == 10 and spike.unit == "requests/s"
    assert place_spike(PROFILE, None, 6) is None


def test_scale_out_and_scale_in_lags_of_the_served_region():
    result = scaling(place_spike(PROFILE, SAMPLES, 6), HEALTHY + IDLE)
    assert result.region == REGION
    assert (result.instances_at_step, result.ready_at_step, result.held_ready, result.peak_instances) == (1, 1, 3, 3)
    assert result.first_added_s == 3.5
    assert result.scale_out.value_s == 7.5 and result.scale_out.lower_bound_s is None
    assert result.scale_in.value_s == 10.0
    assert result.cap == 4 and result.min_instances == 1


def test_an_oscillation_above_the_held_capacity_does_not_stretch_the_scale_out_lag():
    wobbly = capacity(REGION, 50, instances=steps((0, 1), (12, 2), (26, 3), (28, 2), (40, 1)),
                      ready=steps((0, 1), (13.5, 2), (27, 3), (28, 2), (40, 1)))
    result = scaling(place_spike(PROFILE, SAMPLES, 6), wobbly)
    assert result.held_ready == 2 and result.peak_instances == 3
    assert result.scale_out.value_s == 3.5


def test_a_region_that_cannot_scale_out_has_no_scale_out_lag_only_a_lower_bound_and_nothing_to_scale_in():
    pinned = capacity(REGION, 50, instances=steps((0, 1)), ready=steps((0, 1)), cap=1,
                      throttles_at=lambda t: int(max(0.0, min(t, 30) - 10) * 20))
    result = scaling(place_spike(PROFILE, SAMPLES, 6), pinned)
    assert result.scale_out.value_s is None and result.scale_out.lower_bound_s == 20.0
    assert "never rose above 1" in result.scale_out.evidence
    assert result.scale_in.value_s is None and result.scale_in.lower_bound_s is None
    assert "nothing to scale in" in result.scale_in.evidence


def test_a_region_still_scaled_out_at_the_end_has_the_observed_time_as_lower_bound():
    stuck = capacity(REGION, 38, instances=steps((0, 1), (12, 3)), ready=steps((0, 1), (14, 3)))
    result = scaling(place_spike(PROFILE, SAMPLES, 6), stuck)
    assert result.scale_in.value_s is None and result.scale_in.lower_bound_s == 8.0


def test_throttles_count_the_gateway_counters_from_the_sample_before_the_window_to_the_one_after():
    assert throttles(HEALTHY, None, T0 + 16, T0 + 30).count == 0
    assert throttles(HEALTHY, None, T0 + 10, T0 + 30).count == 5
    # A window starting between two samples counts from the sample before it (conservative).
    assert throttles(HEALTHY, None, T0 + 11.9, T0 + 30).count == 3
    restarted = [{**r, "throttles_total": r["throttles_total"] if r["at_s"] < T0 + 20 else 1} for r in HEALTHY]
    assert throttles(restarted, None, T0, T0 + 50).count == 5 + 1


def test_throttles_fall_back_to_the_load_samples_without_capacity_records():
    rows = load(T0, T0 + 10, 10, status=lambda t: 429 if t < T0 + 2 else 200)
    got = throttles([], frame(rows), T0, T0 + 10)
    assert (got.count, got.source, got.load_requests) == (20, "load samples", 100)


def test_capacity_max_ratio_and_the_served_region():
    ratio, at = capacity_max(HEALTHY + IDLE, T0, T0 + 50)
    assert ratio == 0.75 and at["instances"] == 3
    assert capacity_max([], T0, T0 + 1) is None
    assert served_region(HEALTHY + IDLE, T0 + 10, T0 + 30) == REGION


def test_units_of_the_scaling_metrics():
    assert metric_unit(Metric.scale_out_lag_s) == metric_unit(Metric.scale_in_lag_s) == "s"
    assert metric_unit(Metric.capacity_max_ratio) == metric_unit(Metric.throttle_rate) == "ratio"
    assert metric_unit(Metric.throttled_requests) == "count"
    assert Criterion.model_validate("p95_ms < 200 in spike").window.value == "spike"


CRITERIA = ["p95_ms < 200 in spike", "throttled_requests == 0 in spike", "throttle_rate < 0.01 in spike",
            "scale_out_lag_s <= 10",
            "scale_in_lag_s <= 20", "capacity_max_ratio <= 1"]


def _run(records: list[dict], samples: pd.DataFrame = SAMPLES):
    spec = GameDaySpec(windows=Windows(warmup_s=6), criteria=[Criterion.model_validate(c) for c in CRITERIA])
    inputs = RunInputs(run={"started_s": T0 - 1, "ended_s": T0 + 51}, probes=tuple(records), samples=samples,
                       load_profile=PROFILE, journal={"status": "completed", "run": [], "rollbacks": []})
    findings = analyse(inputs, spec)
    return findings, certify(findings, spec.criteria)


def test_a_healthy_spike_passes_every_criterion_and_is_reported():
    findings, cert = _run(HEALTHY + IDLE)
    assert cert.verdict is Verdict.PASS, cert.reasons
    spike = findings.windows["spike"]
    assert (spike.start_s, spike.end_s) == (T0 + 16, T0 + 30) and spike.p95_ms == 20.0
    doc = summary(findings, cert, {"run_id": "r"})
    assert doc["scaling"]["scale_out_lag_s"] == 7.5 and doc["scaling"]["scale_in_lag_s"] == 10.0
    assert doc["windows"]["spike"]["throttled_requests"] == 0 and doc["windows"]["overall"]["throttled_requests"] == 5
    assert doc["windows"]["spike"]["throttle_rate"] == 0
    assert "## Scaling" in markdown(doc)


def test_a_pinned_region_fails_the_scale_out_lag_and_the_throttles_with_evidence():
    pinned = capacity(REGION, 50, instances=steps((0, 1)), ready=steps((0, 1)), cap=1,
                      throttles_at=lambda t: int(max(0.0, min(t, 30) - 10) * 20))
    slow = frame(load(T0, T0 + 10, 10) + load(T0 + 10, T0 + 30, 100, status=lambda t: 429 if int(t * 10) % 5 == 0
                                                                              else 200) + load(T0 + 30, T0 + 50, 10))
    _, cert = _run(pinned + IDLE, slow)
    by_name = {r.name: r for r in cert.criteria}
    assert cert.verdict is Verdict.FAIL
    assert by_name["scale_out_lag_s <= 10"].verdict is Verdict.FAIL
    assert "never rose above 1" in by_name["scale_out_lag_s <= 10"].evidence
    assert by_name["throttled_requests == 0 in spike"].verdict is Verdict.FAIL
    assert by_name["throttled_requests == 0 in spike"].measured > 200
    rate = by_name["throttle_rate < 0.01 in spike"]
    # both regions' requests count
    assert rate.verdict is Verdict.FAIL and rate.measured == 280 / (14 * 100 + 14 * 2), rate
    assert by_name["scale_in_lag_s <= 20"].verdict is Verdict.INCONCLUSIVE
    assert by_name["capacity_max_ratio <= 1"].verdict is Verdict.PASS


def test_without_a_spike_stage_the_spike_window_and_the_lags_are_inconclusive():
    spec = GameDaySpec(criteria=[Criterion.model_validate(c) for c in CRITERIA])
    inputs = RunInputs(run={"started_s": T0, "ended_s": T0 + 50}, probes=tuple(HEALTHY), samples=SAMPLES,
                       load_profile={"name": "flat", "stages": [{"duration_s": 50, "rate_per_s": 10}]},
                       journal={"status": "completed", "run": [], "rollbacks": []})
    findings = analyse(inputs, spec)
    by_name = {r.name: r for r in certify(findings, spec.criteria).criteria}
    assert "spike" not in findings.windows
    assert by_name["p95_ms < 200 in spike"].verdict is Verdict.INCONCLUSIVE
    assert by_name["scale_out_lag_s <= 10"].verdict is Verdict.INCONCLUSIVE
    assert by_name["capacity_max_ratio <= 1"].verdict is Verdict.PASS


@given(up=st.floats(0.5, 9.5), down=st.floats(0.5, 19.5), peak=st.integers(2, 4))
def test_lags_are_the_times_capacity_took_to_follow_the_load(up, down, peak):
    """A scale-out within the spike's first half and any scale-in are measured to the sample."""
    up, down = round(up * 2) / 2, round(down * 2) / 2
    records = capacity(REGION, 50, instances=steps((0, 1), (10 + up, peak), (30 + down, 1)),
                       ready=steps((0, 1), (10 + up, peak), (30 + down, 1)))
    result = scaling(place_spike(PROFILE, SAMPLES, 6), records)
    assert result.scale_out.value_s == up
    assert result.scale_in.value_s == down


def test_the_capacity_sampler_passes_the_gateways_samples_through_newer_than_the_last_seen():
    from probes.samplers import capacity_records

    gateway = [{"at_s": T0 + 1.0, "instances": 2, "ready": 1, "in_flight": 9, "utilisation": 0.6, "throttles_total": 3,
                "requests_total": 90, "max_instances": 4, "min_instances": 1, "slot": "blue"},
               {"at_s": T0 + 0.5, "instances": 1, "ready": 1, "in_flight": 4, "utilisation": 0.3, "throttles_total": 0,
                "requests_total": 40, "max_instances": 4, "slot": "blue"}]
    records = capacity_records(REGION, gateway, after_s=T0)
    assert [r["at_s"] for r in records] == [T0 + 0.5, T0 + 1.0]
    assert records[1] == {"probe": "capacity", "region": REGION, **gateway[0]}
    assert "min_instances" not in records[0]  # an older gateway without it: passed through as it is
    assert capacity_records(REGION, gateway, after_s=T0 + 0.5) == records[1:]


def test_a_run_keeps_the_stage_times_of_a_staged_profile_and_scales_them_in_quick_mode():
    from gameday.children import LOAD_CEILING_S, run_profile, until_stopped

    spec = GameDaySpec(load={"profile": PROFILE}, quick={"load_duration_s": 25})
    assert [s.duration_s for s in run_profile(spec).stages] == [10, 20, 20]
    assert [s.duration_s for s in run_profile(spec, quick=True).stages] == [5, 10, 10]
    held = until_stopped(run_profile(spec))
    assert [s.duration_s for s in held.stages[:2]] == [10, 20]
    assert sum(s.duration_s for s in held.stages) == LOAD_CEILING_S
