"""Scenario metrics on hand-written samples, ledgers and journals: hit rates, cache warm-up, deploy timings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gameday.base.models import Criterion, GameDaySpec, Metric, metric_unit
from reports.certify import Verdict, certify
from reports.findings import RunInputs, analyse
from reports.render import markdown, summary
from reports.samples import nearest_rank
from reports.scenario_metrics import (
    AI_REQUEST,
    CACHED_READ,
    HASHED_ASSET,
    ai_provider,
    ai_stats,
    cache_recovered_s,
    cache_warmup,
    deployment,
    hit_counts,
    interval_stats,
    is_ai,
)
from scenarios.recorder import SampleRecorder, ai_request_name, encode_flags

T0 = 1_700_000_000.0


def samples(rows: list[tuple[float, str, str, bool]]) -> pd.DataFrame:
    """(t_s, name, cache, ok) rows as the sample frame reports.sample_files builds."""
    return pd.DataFrame({"t_s": [r[0] for r in rows], "latency_ms": [5.0] * len(rows),
                         "status": [200 if r[3] else 500 for r in rows], "name": [r[1] for r in rows],
                         "ok": [r[3] for r in rows], "dropped": [False] * len(rows), "cache": [r[2] for r in rows],
                         "region": ["eu-central-1"] * len(rows), "source": ["w"] * len(rows)})


def reads(start: float, seconds: int, per_s: int, hit_share_at) -> list[tuple]:
    """`per_s` cached reads a second; in second k the first round(per_s * hit_share_at(k)) are hits."""
    out = []
    for k in range(seconds):
        hits = round(per_s * hit_share_at(k))
        out += [(start + k + i / per_s, CACHED_READ, "hit" if i < hits else "miss", True) for i in range(per_s)]
    return out


def window(kind: str, target: str, start: float, end: float | None) -> dict:
    return {"id": f"{kind}-{start}", "kind": kind, "target": target, "begun_s": start - 0.01, "start_s": start,
            "end_s": end}


def test_the_new_metrics_have_units():
    assert metric_unit(Metric.cache_hit_rate) == metric_unit(Metric.edge_hit_rate) == "ratio"
    assert {metric_unit(m) for m in (Metric.cache_warmup_s, Metric.deploy_detect_s, Metric.deploy_restore_s)} == {"s"}
    assert Criterion.model_validate("edge_hit_rate > 0.9 in fault").unit == "ratio"


def test_the_edges_capitalised_x_cache_is_recorded_as_a_hit():
    assert encode_flags(True, False, "Hit", 0) == encode_flags(True, False, "hit", 0)
    assert encode_flags(True, False, "Miss", 0) == encode_flags(True, False, "miss", 0)
    assert encode_flags(True, False, "bypass", 0) >> 2 & 3 == 3


def test_cloudfronts_x_cache_values_are_recorded_as_hits_and_misses():
    """CloudFront answers `X-Cache: Hit from cloudfront` (and RefreshHit, Miss, Error, LimitExceeded ...)."""
    hit, miss, other = (encode_flags(True, False, value, 0) for value in ("hit", "miss", "bypass"))
    assert encode_flags(True, False, "Hit from cloudfront", 0) == hit
    assert encode_flags(True, False, "RefreshHit from cloudfront", 0) == hit
    assert encode_flags(True, False, "Miss from cloudfront", 0) == miss
    assert encode_flags(True, False, "Error from cloudfront", 0) == other
    assert encode_flags(True, False, "LimitExceeded from cloudfront", 0) == other


def test_hit_counts_count_only_sent_successful_requests_of_the_name_in_the_window():
    frame = samples([(T0, CACHED_READ, "hit", True), (T0 + 1, CACHED_READ, "miss", True),
                     (T0 + 2, CACHED_READ, "", False), (T0 + 3, HASHED_ASSET, "hit", True),
                     (T0 + 10, CACHED_READ, "hit", True)])
    assert hit_counts(frame, CACHED_READ, T0, T0 + 10) == (1, 2)
    assert hit_counts(frame, CACHED_READ, T0, T0 + 10, closed=True) == (2, 3)
    assert hit_counts(frame, HASHED_ASSET, T0, T0 + 10) == (1, 1)
    assert hit_counts(None, CACHED_READ, T0, T0 + 10) == (0, 0)


def test_cache_recovery_is_the_latest_end_of_a_cache_cut_or_flush():
    faults = [window("link_cut", "cache-eu-central-1", T0, T0 + 5), window("cache_flush", "cache-eu-central-1",
                                                                           T0 + 6, T0 + 6),
              window("link_cut", "origin-eu-central-1", T0, T0 + 9)]
    assert cache_recovered_s(faults) == T0 + 6
    assert cache_recovered_s([window("link_cut", "cache-eu-central-1", T0, None)]) is None
    assert cache_recovered_s([]) is None


def test_warmup_is_the_first_second_reaching_80_percent_of_the_baseline():
    recovered = T0 + 10
    frame = samples(reads(recovered, 10, 10, lambda k: min(1.0, 0.1 * k)))
    w = cache_warmup(frame, recovered, recovered + 10, baseline_rate=0.5)
    assert w.target_rate == pytest.approx(0.4)
    assert w.warmup_s == 4.0 and "4/10 hits" in w.evidence


def test_a_cache_that_never_warms_has_no_warmup_and_says_how_long_it_looked():
    frame = samples(reads(T0, 6, 10, lambda k: 0.0))
    w = cache_warmup(frame, T0, T0 + 6, baseline_rate=0.5)
    assert w.warmup_s is None and w.observed_s == 6 and w.seconds_counted == 6


def test_warmup_is_not_measurable_without_a_cache_fault_or_a_baseline():
    assert cache_warmup(None, None, T0, 0.5).warmup_s is None
    assert cache_warmup(None, T0, T0 + 5, None).target_rate is None


@given(st.lists(st.floats(0, 1), min_size=1, max_size=8), st.floats(0.01, 1))
def test_warmup_is_never_negative_and_monotonic_in_the_baseline(shares, baseline):
    frame = samples(reads(T0, len(shares), 10, lambda k: shares[k]))
    low = cache_warmup(frame, T0, T0 + len(shares), baseline / 2).warmup_s
    high = cache_warmup(frame, T0, T0 + len(shares), baseline).warmup_s
    assert low is None or low >= 0
    if high is not None:
        assert low is not None and low <= high


def test_a_detected_and_rolled_back_deployment_times_both():
    faults = [window("deployment", "eu-central-1", T0, T0 + 2.5)]
    journal = {"run": [{"activity": {"name": "rollback-on-regression"},
                        "output": {"detected": True, "detected_at_s": T0 + 1.25}}]}
    d = deployment(faults, journal, experiment_end_s=T0 + 6)
    assert d.detect_s == pytest.approx(1.25) and d.restore_s == pytest.approx(2.5)


def test_a_deployment_only_the_safety_net_rolled_back_is_not_restored():
    d = deployment([window("deployment", "eu-central-1", T0, T0 + 20)], {"run": []}, experiment_end_s=T0 + 8)
    assert d.restore_s is None and d.detect_s is None and d.observed_s == pytest.approx(8)
    assert "safety net" in d.evidence
    assert deployment([], None, T0) is None


def _run(ledger: list[dict], frame: pd.DataFrame, journal: dict, experiment_end_s: float, *criteria: str):
    spec = GameDaySpec.model_validate({"criteria": list(criteria)})
    inputs = RunInputs(run={"started_s": T0 - 10, "ended_s": T0 + 20, "experiment_ended_s": experiment_end_s},
                       ledger=tuple(ledger), journal=journal, samples=frame)
    findings = analyse(inputs, spec)
    return findings, certify(findings, spec.criteria)


def _ledger(kind: str, target: str, injected: float, recovered: float) -> list[dict]:
    return [{"event": "begin", "id": "x", "at_s": injected - 0.01, "kind": kind, "target": target, "params": {},
             "recovery": {}}, {"event": "injected", "id": "x", "at_s": injected},
            {"event": "recovered", "id": "x", "at_s": recovered}]


def test_certify_judges_hit_rates_warmup_and_renders_them():
    rows = reads(T0 - 10, 10, 10, lambda k: 0.6)                      # baseline 60 % hits
    rows += [(T0 + k + i / 10, CACHED_READ, "other", True) for k in range(5) for i in range(10)]  # cut off
    rows += reads(T0 + 5, 15, 10, lambda k: 0.6)                      # back at once
    rows += [(T0 - 10 + i / 10, HASHED_ASSET, "hit", True) for i in range(300)]
    journal = {"status": "completed", "deviated": False, "run": [], "rollbacks": []}
    findings, cert = _run(_ledger("link_cut", "cache-eu-central-1", T0, T0 + 5), samples(rows), journal, T0 + 5,
                          "cache_hit_rate == 0 in fault", "cache_hit_rate > 0.5 in after", "cache_warmup_s <= 1",
                          "edge_hit_rate > 0.9 in overall")
    assert [c.verdict for c in cert.criteria] == [Verdict.PASS] * 4, cert.reasons
    doc = summary(findings, cert, {"experiment": "cache-outage"})
    assert doc["cache_warmup"]["warmup_s"] == 0 and doc["windows"]["fault"]["cache_hit_rate"] == 0
    assert "## Cache warm-up" in markdown(doc) and "Edge hit rate" in markdown(doc)


def test_an_unrestored_deployment_fails_a_restore_target_it_already_exceeds():
    journal = {"status": "completed", "deviated": False, "run": [], "rollbacks": []}
    rows = reads(T0 - 10, 30, 5, lambda k: 0.5)
    findings, cert = _run(_ledger("deployment", "eu-central-1", T0, T0 + 15), samples(rows), journal, T0 + 8,
                          "deploy_restore_s <= 5", "deploy_restore_s <= 30", "deploy_detect_s <= 5")
    got = {c.name: c for c in cert.criteria}
    assert got["deploy_restore_s <= 5"].verdict is Verdict.FAIL and "already breaks" in got[
        "deploy_restore_s <= 5"].evidence
    assert got["deploy_restore_s <= 30"].verdict is Verdict.INCONCLUSIVE
    assert got["deploy_detect_s <= 5"].verdict is Verdict.FAIL
    assert "## Deployment" in markdown(summary(findings, cert, {}))


# --- AI gateway -------------------------------------------------------------------------------------------

def ai_rows(start: float, n: int, provider: str | None, ok: bool = True, latency_ms: float = 400.0) -> pd.DataFrame:
    frame = samples([(start + i / 10, ai_request_name(AI_REQUEST, provider), "", ok) for i in range(n)])
    frame["latency_ms"] = latency_ms
    return frame


def test_ai_request_names_carry_the_provider_and_parse_back():
    assert ai_request_name(AI_REQUEST, "Google ") == "POST /ai [google]"
    assert ai_request_name(AI_REQUEST, None) == ai_request_name(AI_REQUEST, "") == AI_REQUEST
    assert ai_provider("POST /ai [cache]") == "cache" and ai_provider(AI_REQUEST) is None
    assert ai_provider("GET /items/[id]") is None and ai_provider("POST /ai []") is None
    assert is_ai(AI_REQUEST) and is_ai("POST /ai [meta]") and not is_ai("GET /health")
    assert metric_unit(Metric.ai_fallback_share) == metric_unit(Metric.ai_error_rate) == "ratio"
    assert metric_unit(Metric.ai_p95_ms) == "ms"


class _Answer:
    status_code = 200
    headers = {"x-ai-provider": "google", "x-region": "eu-central-1"}


def test_the_recorder_names_ai_samples_by_provider_and_keeps_16_byte_samples():
    recorder = SampleRecorder(capacity=4)
    recorder.on_request("POST", AI_REQUEST, 12.0, response=_Answer(), start_time=T0)
    recorder.on_request("GET", "GET /health", 3.0, response=None, start_time=T0)
    assert recorder.meta()["names"] == ["POST /ai [google]", "GET /health"]
    chunk = recorder.take()[0]
    assert len(chunk) == 8 + 2 * 16


def test_ai_stats_count_only_ai_samples_of_the_window():
    frame = pd.concat([ai_rows(T0, 30, "bedrock"), ai_rows(T0 + 3, 60, "google", latency_ms=900.0),
                       ai_rows(T0 + 9, 10, "cache"), ai_rows(T0 + 10, 2, None, ok=False, latency_ms=1000.0),
                       samples([(T0 + 1, CACHED_READ, "hit", False)] * 50)], ignore_index=True)
    got = ai_stats(frame, T0, T0 + 100)
    assert (got.requests, got.errors, got.answers, got.fallback_answers) == (102, 2, 100, 70)
    assert got.fallback_share == 0.7 and got.error_rate == 2 / 102 and got.p95_ms == 900.0
    assert dict(got.providers) == {"google": 60, "bedrock": 30, "cache": 10}
    only_bedrock = ai_stats(frame, T0, T0 + 3)
    assert only_bedrock.fallback_share == 0 and only_bedrock.p95_ms == 400.0
    assert ai_stats(None, T0, T0 + 1).error_rate is None and ai_stats(frame, None, T0).fallback_share is None


@given(st.lists(st.sampled_from(["bedrock", "google", "meta", "cache"]), min_size=1, max_size=60))
def test_the_fallback_share_is_a_ratio_of_answers_not_from_the_first_provider(providers):
    frame = samples([(T0 + i, ai_request_name(AI_REQUEST, p), "", True) for i, p in enumerate(providers)])
    got = ai_stats(frame, T0, T0 + len(providers))
    assert got.fallback_share == sum(p != "bedrock" for p in providers) / len(providers)


def test_certify_judges_the_ai_metrics_and_renders_them():
    # 70 AI requests in the fault: a P95 needs 59 (reports.samples.percentile_minimum)
    frame = pd.concat([ai_rows(T0 - 10, 100, "bedrock"), ai_rows(T0, 70, "google", latency_ms=800.0),
                       ai_rows(T0 + 7, 100, "bedrock")], ignore_index=True)
    journal = {"status": "completed", "deviated": False, "run": [], "rollbacks": []}
    findings, cert = _run(_ledger("link_cut", "provider-bedrock", T0, T0 + 7), frame, journal, T0 + 7,
                          "ai_fallback_share >= 0.9 in fault", "ai_p95_ms <= 1500 in fault",
                          "ai_error_rate < 0.05 in fault", "ai_fallback_share <= 0.5 in after",
                          "ai_fallback_share <= 0.5 in fault", "ai_error_rate < 0.01 in fault")
    got = {c.name: c for c in cert.criteria}
    # 0 errors in 70: the one-sided 95 % upper bound is 4.2 %, which proves < 5 % but not < 1 % (that takes 299)
    assert [c.verdict for c in cert.criteria] == [Verdict.PASS] * 4 + [Verdict.FAIL, Verdict.INCONCLUSIVE], \
        cert.reasons
    assert "Clopper-Pearson bounds [0, 0.04" in got["ai_error_rate < 0.01 in fault"].evidence
    assert got["ai_fallback_share >= 0.9 in fault"].measured == 1.0
    assert "google 70" in got["ai_fallback_share <= 0.5 in fault"].evidence
    assert got["ai_p95_ms <= 1500 in fault"].measured == 800.0
    doc = summary(findings, cert, {"experiment": "ai-provider-outage"})
    assert doc["windows"]["fault"]["ai_providers"] == {"google": 70}
    assert "Fallback share" in markdown(doc)


def test_ai_metrics_without_ai_samples_are_inconclusive():
    journal = {"status": "completed", "deviated": False, "run": [], "rollbacks": []}
    rows = reads(T0 - 10, 30, 5, lambda k: 0.5)
    _, cert = _run(_ledger("link_cut", "provider-bedrock", T0, T0 + 5), samples(rows), journal, T0 + 5,
                   "ai_fallback_share >= 0.9 in fault", "ai_error_rate < 0.01 in fault", "ai_p95_ms <= 1500 in fault")
    assert {c.verdict for c in cert.criteria} == {Verdict.INCONCLUSIVE}


# --- soak intervals -----------------------------------------------------------------------------------------

def test_interval_stats_find_the_worst_interval_and_leave_ai_out_of_the_p95():
    fast = samples([(T0 + i / 10, CACHED_READ, "hit", True) for i in range(300)])          # 30 s at 5 ms
    slow = samples([(T0 + 10 + i / 10, "GET /health", "", True) for i in range(100)])     # 10..20 s at 300 ms
    slow["latency_ms"] = 300.0
    errors = samples([(T0 + 20 + i / 10, "POST /writes", "", False) for i in range(5)])   # 20..30 s: 5 errors
    ai = ai_rows(T0, 300, "bedrock", latency_ms=1200.0)                                   # never in the P95
    got = interval_stats(pd.concat([fast, slow, errors, ai], ignore_index=True), T0, T0 + 30)
    assert (got.windows, got.skipped) == (3, 0)
    assert got.worst_p95_ms == 300.0 and got.worst_p95_start_s == T0 + 10
    assert got.worst_error_rate == 5 / 205 and got.worst_error_start_s == T0 + 20  # AI requests count here
    assert (got.worst_errors, got.worst_requests) == (5, 205)


def test_interval_stats_skip_thin_intervals_and_need_samples():
    rows = samples([(T0 + i / 10, CACHED_READ, "hit", True) for i in range(100)] + [(T0 + 15, CACHED_READ, "", False)])
    got = interval_stats(rows, T0, T0 + 20)
    assert (got.windows, got.skipped, got.worst_error_rate, got.worst_p95_ms) == (1, 1, 0.0, 5.0)
    assert interval_stats(None, T0, T0 + 20).windows == 0
    assert interval_stats(rows, T0, None).worst_p95_ms is None


def tumbling_by_hand(frame: pd.DataFrame, start: float, end: float, closed: bool, interval_s: float,
                     min_requests: int) -> list[tuple[float, float, float | None] | None]:
    """Per interval: (start, error rate, non-AI P95 or None), None when skipped; interval k holds the window's
    sent samples with floor((t - start) / interval_s) == k, for k < ceil((end - start) / interval_s), except that a
    last interval shorter than an interval joins the one before it."""
    t = frame["t_s"].to_numpy()
    member = (t >= start) & ((t <= end) if closed else (t < end)) & ~frame["dropped"].to_numpy(dtype=bool)
    index = np.floor((t - start) / interval_s)
    count = math.ceil((end - start) / interval_s)
    if count >= 2 and (end - start) / interval_s - (count - 1) < 1 - 1e-9:
        count -= 1
        index = np.minimum(index, count - 1)
    not_ai = ~frame["name"].map(is_ai).to_numpy(dtype=bool)
    out = []
    for k in range(count):
        inside = member & (index == k)
        if inside.sum() < min_requests:
            out.append(None)
            continue
        latency = frame["latency_ms"].to_numpy()[inside & not_ai]
        out.append((start + k * interval_s, float((~frame["ok"].to_numpy(dtype=bool)[inside]).mean()),
                    nearest_rank(latency, 95) if len(latency) >= min_requests else None))
    return out


@settings(max_examples=60, deadline=None)
@example([(345, 100, True, False, False)] * 3, 34.5, True, 10.0)     # a closed window's last sample, at its end
@given(st.lists(st.tuples(st.integers(0, 600), st.integers(1, 500), st.booleans(), st.booleans(), st.booleans()),
                min_size=1, max_size=250),
       st.sampled_from([30.0, 34.5, 60.0]), st.booleans(), st.sampled_from([5.0, 10.0]))
def test_interval_stats_are_the_worst_tumbling_interval(rows, end, closed, interval_s):
    """Sliding windows stepping by their own length give what cutting the window into intervals gives."""
    frame = samples([(T0 + tenth / 10, AI_REQUEST if ai else CACHED_READ, "", ok) for tenth, _, ok, ai, _ in rows])
    frame["latency_ms"] = [float(r[1]) for r in rows]
    frame["dropped"] = [r[4] and r[0] % 7 == 0 for r in rows]
    got = interval_stats(frame, T0, T0 + end, closed, interval_s, min_requests=3)
    by_hand = tumbling_by_hand(frame, T0, T0 + end, closed, interval_s, 3)
    kept = [i for i in by_hand if i is not None]
    assert (got.windows, got.skipped) == (len(kept), len(by_hand) - len(kept))
    if kept:
        worst = max(kept, key=lambda i: i[1])                   # the first of equal worst ones
        assert (got.worst_error_rate, got.worst_error_start_s) == pytest.approx((worst[1], worst[0]))
    p95s = [i for i in kept if i[2] is not None]
    if p95s:
        worst = max(p95s, key=lambda i: i[2])
        assert (got.worst_p95_ms, got.worst_p95_start_s) == (worst[2], worst[0])
    else:
        assert got.worst_p95_ms is None


def test_certify_judges_interval_criteria_and_renders_them():
    rows = samples([(T0 - 10 + i / 10, CACHED_READ, "hit", True) for i in range(300)])
    rows.loc[rows["t_s"] >= T0 + 10, "latency_ms"] = 250.0
    journal = {"status": "completed", "deviated": False, "run": [], "rollbacks": []}
    findings, cert = _run([], rows, journal, T0 + 20, "interval_p95_ms < 200 in overall",
                          "interval_error_rate < 0.05 in overall", "interval_p95_ms < 300 in overall",
                          "interval_error_rate < 0.01 in overall")
    # 100 requests an interval, none failed: every interval's upper bound (2.9 %) is below 5 %, not below 1 %
    assert [c.verdict for c in cert.criteria] == [Verdict.FAIL, Verdict.PASS, Verdict.PASS, Verdict.INCONCLUSIVE], \
        cert.reasons
    assert cert.criteria[0].measured == 250.0 and "10 s intervals" in cert.criteria[0].evidence
    assert metric_unit(Metric.interval_p95_ms) == "ms" and metric_unit(Metric.interval_error_rate) == "ratio"
    assert "Worst interval P95" in markdown(summary(findings, cert, {}))
