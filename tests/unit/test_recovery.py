"""RTO, RPO, phases and split brain on hand-written probe records and hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.recovery import read_rto, rpo, rto_phases, sampling_interval_s, split_brain_events, write_rto

T0 = 1_700_000_000.0
ACK_LATENCY_S = 0.01


def canary(start_s: float, end_s: float, interval_s: float, failing=lambda t: False, outcome="failed",
           region=lambda t: "eu-central-1") -> list[dict]:
    """Canary records every `interval_s` in [start_s, end_s); `failing(t)` picks which ones fail."""
    out, seq, t = [], 1, start_s
    while t < end_s:
        bad = failing(t)
        out.append({"probe": "canary", "seq": seq, "sent_s": t, "acked_s": None if bad else t + ACK_LATENCY_S,
                    "outcome": outcome if bad else "acked", "status": 503 if bad else 201, "region": region(t)})
        seq += 1
        t = start_s + seq * interval_s - interval_s
    return out


def health(start_s: float, end_s: float, interval_s: float, failing=lambda t: False,
           region=lambda t: "eu-central-1") -> list[dict]:
    n = round((end_s - start_s) / interval_s)
    return [{"probe": "health", "at_s": start_s + i * interval_s, "ok": not failing(start_s + i * interval_s),
             "status": 503 if failing(start_s + i * interval_s) else 200, "region": region(start_s + i * interval_s)}
            for i in range(n)]


# --- RTO on hand-written samples -------------------------------------------------------------------

def test_an_outage_of_three_seconds_gives_a_write_rto_of_three_seconds():
    records = canary(T0 - 5, T0 + 20, 0.05, failing=lambda t: T0 <= t < T0 + 3)
    result = write_rto(records, T0, sustain_s=10)
    assert result.recovered and not result.sustained_until_end
    assert 3.0 <= result.rto_s < 3.0 + 0.05 + 1e-9
    assert result.resolution_s == pytest.approx(0.05)
    assert result.first_failure_s == pytest.approx(T0)
    assert result.sustained_s == 10
    assert result.failures == 60


def test_uncertain_writes_do_not_hold_the_slo():
    records = canary(T0, T0 + 15, 0.05, failing=lambda t: t < T0 + 2, outcome="uncertain")
    assert write_rto(records, T0, sustain_s=5).rto_s == pytest.approx(2.0, abs=0.05)


def test_a_blip_inside_the_sustain_window_moves_recovery_past_it():
    def down(t: float) -> bool:
        return T0 <= t < T0 + 2 or T0 + 6 <= t < T0 + 6.5

    result = read_rto(health(T0 - 1, T0 + 30, 0.1, failing=down), T0, sustain_s=10, success_ratio=1.0)
    assert result.rto_s == pytest.approx(6.5, abs=1e-6)
    assert result.last_failure_s == pytest.approx(T0 + 6.4)


def test_a_blip_the_slo_ratio_allows_does_not_move_recovery_but_a_longer_one_does():
    def down(t: float) -> bool:
        return T0 <= t < T0 + 2 or T0 + 6 <= t < T0 + 6.3   # 3 of 100 reads: a 95 % SLO holds

    assert read_rto(health(T0 - 1, T0 + 30, 0.1, failing=down), T0, sustain_s=10).rto_s == pytest.approx(2.0)
    assert read_rto(health(T0 - 1, T0 + 30, 0.1, failing=down), T0, sustain_s=10,
                    success_ratio=0.99).rto_s == pytest.approx(6.3, abs=1e-6)


def test_no_failure_after_the_fault_means_rto_zero():
    result = read_rto(health(T0 - 5, T0 + 12, 0.1), T0, sustain_s=10)
    assert result.rto_s == 0 and result.recovered and result.recovered_at_s == T0 and result.failures == 0


def test_never_recovering_gives_none():
    result = write_rto(canary(T0 - 1, T0 + 5, 0.05, failing=lambda t: t >= T0), T0, sustain_s=10)
    assert result.rto_s is None and not result.recovered and result.failures == result.samples


def test_a_run_ending_before_the_sustain_period_is_not_a_recovery_and_says_how_far_it_got():
    result = write_rto(canary(T0, T0 + 6, 0.05, failing=lambda t: t < T0 + 2), T0, sustain_s=10)
    assert not result.recovered and result.rto_s is None and result.sustained_until_end
    assert result.recovered_at_s == pytest.approx(T0 + 2.0, abs=1e-6)
    assert result.sustained_s == pytest.approx(4.0, abs=1e-6)
    assert result.rto_low_s == pytest.approx(1.95, abs=1e-6) and result.impact_at_s == T0


def test_no_samples_after_t0_is_not_a_recovery():
    result = read_rto(health(T0 - 5, T0 - 1, 0.1), T0)
    assert result.rto_s is None and result.samples == 0


def test_rto_accepts_every_record_of_probes_jsonl_mixed():
    mixed = canary(T0, T0 + 12, 0.05, failing=lambda t: t < T0 + 1) + health(T0, T0 + 12, 0.1)
    mixed.append({"probe": "writers", "at_s": T0, "writable": ["eu-west-1"]})
    assert write_rto(mixed, T0, sustain_s=5).rto_s == pytest.approx(1.0, abs=1e-6)
    assert read_rto(mixed, T0, sustain_s=5).rto_s == 0


def test_sampling_interval_is_the_median_spacing():
    assert sampling_interval_s([0.0, 0.1, 0.2, 0.3, 5.0]) == pytest.approx(0.1)
    assert sampling_interval_s([1.0]) is None


# --- RTO properties --------------------------------------------------------------------------------

@given(outage_s=st.floats(0, 20), interval_s=st.sampled_from([0.05, 0.1, 0.25, 1.0]),
       offset_s=st.floats(0, 1), sustain_s=st.floats(0.5, 10))
def test_rto_is_within_one_resolution_of_a_synthetic_outage(outage_s, interval_s, offset_s, sustain_s):
    start = T0 - 3 + offset_s * interval_s  # samples are not aligned with t0
    records = canary(start, T0 + outage_s + sustain_s + 2, interval_s, failing=lambda t: T0 <= t < T0 + outage_s)
    result = write_rto(records, T0, sustain_s=sustain_s, interval_s=interval_s, success_ratio=1.0)
    assert result.recovered
    if result.failures == 0:
        assert result.rto_s == 0 and outage_s < interval_s + 1e-9
    else:
        assert outage_s - 1e-6 <= result.rto_s < outage_s + interval_s + 1e-6


@given(oks=st.lists(st.booleans(), max_size=200), t0_offset=st.floats(-5, 25), sustain_s=st.floats(0.1, 10))
def test_rto_is_never_negative(oks, t0_offset, sustain_s):
    records = [{"probe": "health", "at_s": T0 + 0.1 * i, "ok": ok} for i, ok in enumerate(oks)]
    result = read_rto(records, T0 + t0_offset, sustain_s=sustain_s)
    assert result.rto_s is None or result.rto_s >= 0
    assert result.recovered == (result.rto_s is not None)


# --- RPO -------------------------------------------------------------------------------------------

def test_a_two_second_loss_window_gives_rpo_two_seconds_and_names_the_lost_seqs():
    records = canary(T0 - 10, T0 + 10, 0.05, failing=lambda t: T0 <= t < T0 + 3)
    surviving = {c["seq"] for c in records if c["acked_s"] is None or not (T0 - 2 < c["acked_s"] <= T0)}
    result = rpo(records, T0, surviving)
    assert result.rpo_s == pytest.approx(2.0, abs=0.05)
    assert result.lost_writes == 40 == len(result.lost_seqs)
    assert result.failed_writes == 60 and result.uncertain_writes == 0
    assert result.resolution_s == pytest.approx(0.05)
    assert result.as_dict()["lost_seqs"] == list(result.lost_seqs)


def test_uncertain_writes_are_counted_and_checked_against_the_new_writer():
    records = canary(T0 - 1, T0 + 1, 0.1, failing=lambda t: t >= T0, outcome="uncertain")
    uncertain = [c["seq"] for c in records if c["outcome"] == "uncertain"]
    surviving = {c["seq"] for c in records if c["outcome"] == "acked"} | set(uncertain[:3])
    result = rpo(records, T0, surviving)
    assert result.rpo_s == 0 and result.lost_writes == 0
    assert result.uncertain_writes == len(uncertain) and result.uncertain_committed == 3


def test_losing_every_write_is_a_lower_bound_from_the_first_canary():
    records = canary(T0 - 4, T0, 0.5)
    result = rpo(records, T0, set())
    assert result.loss_from_start and result.rpo_s == pytest.approx(4.0 - ACK_LATENCY_S)
    assert result.rpo_high_s is None  # unbounded: the loss may have begun before the canary


@given(loss_s=st.floats(0.01, 10), interval_s=st.sampled_from([0.05, 0.1, 0.5]), offset=st.floats(0, 1))
def test_rpo_is_within_one_canary_interval_of_a_synthetic_loss_window(loss_s, interval_s, offset):
    records = canary(T0 - 12 + offset * interval_s, T0 + 3, interval_s, failing=lambda t: T0 <= t < T0 + 1)
    surviving = {c["seq"] for c in records if c["acked_s"] is None or not (T0 - loss_s < c["acked_s"] <= T0)}
    result = rpo(records, T0, surviving, interval_s=interval_s)
    if result.lost_writes:  # the truth lies in the bracket [rpo_s, rpo_high_s], one canary interval wide
        assert result.rpo_s <= loss_s + 1e-6 <= result.rpo_high_s + 2e-6
        assert result.rpo_high_s - result.rpo_s <= interval_s + 1e-6
    else:
        assert result.rpo_s == 0 and loss_s < interval_s + 1e-6


@given(outcomes=st.lists(st.sampled_from(["acked", "failed", "uncertain"]), max_size=100),
       keep=st.lists(st.booleans(), min_size=100, max_size=100))
def test_lost_writes_are_exactly_acked_minus_surviving(outcomes, keep):
    records = [{"probe": "canary", "seq": i, "sent_s": T0 - 10 + i * 0.05, "outcome": o,
                "acked_s": T0 - 10 + i * 0.05 + ACK_LATENCY_S if o == "acked" else None}
               for i, o in enumerate(outcomes)]
    surviving = {i for i in range(len(outcomes)) if keep[i]}
    result = rpo(records, T0, surviving)
    acked = {c["seq"] for c in records if c["outcome"] == "acked"}
    assert set(result.lost_seqs) == acked - surviving
    assert result.acked_writes == len(acked)
    assert result.acked_writes + result.failed_writes + result.uncertain_writes == len(records)
    assert (result.rpo_s == 0) or result.lost_writes > 0
    assert result.rpo_s >= 0


@given(outcomes=st.lists(st.sampled_from(["acked", "failed", "uncertain"]), max_size=100))
def test_no_loss_means_rpo_zero(outcomes):
    records = [{"probe": "canary", "seq": i, "sent_s": T0 - 5 + i * 0.05, "outcome": o,
                "acked_s": T0 - 5 + i * 0.05 + ACK_LATENCY_S if o == "acked" else None}
               for i, o in enumerate(outcomes)]
    result = rpo(records, T0, {c["seq"] for c in records if c["outcome"] == "acked"})
    assert result.rpo_s == 0 and result.lost_writes == 0 and not result.loss_from_start


# --- split brain and phases ------------------------------------------------------------------------

def test_split_brain_counts_samples_with_two_writers():
    samples = [{"probe": "writers", "at_s": T0 + i, "writable": w}
               for i, w in enumerate([["a"], [], ["a", "b"], ["b"], ["a", "b"]])]
    assert split_brain_events(samples) == 2
    assert split_brain_events(samples + [{"probe": "health", "at_s": T0, "ok": True}]) == 2


def test_phases_of_a_failover_with_a_router_switch_and_a_promotion():
    primary, secondary = "eu-central-1", "eu-west-1"
    switch_s, promo_start_s, promo_end_s = T0 + 3.0, T0 + 3.2, T0 + 3.35

    def where(t: float) -> str:
        return primary if t < switch_s else secondary

    routing = [{"probe": "routing", "at_s": T0 - 2 + 0.2 * i, "served_region": where(T0 - 2 + 0.2 * i),
                "active_region": where(T0 - 2 + 0.2 * i),
                "last_switch_at_s": switch_s if T0 - 2 + 0.2 * i >= switch_s else None} for i in range(40)]
    reads = health(T0 - 2, T0 + 6, 0.1, failing=lambda t: T0 <= t < switch_s, region=where)
    writes = canary(T0 - 2, T0 + 6, 0.05, failing=lambda t: T0 <= t < promo_end_s + 0.1, region=where)
    events = [{"kind": "detection", "start_s": T0 + 3.1, "end_s": T0 + 3.1},
              {"kind": "promotion", "start_s": promo_start_s, "end_s": promo_end_s}]
    phases = rto_phases(T0, reads, routing, events, canary=writes)
    assert phases.pre_fault_region == primary
    assert phases.detection.duration_s == pytest.approx(3.0)
    assert phases.detection.source == "fault ledger -> router switch"
    assert phases.routing_switch.start_s == switch_s
    assert 0 <= phases.routing_switch.duration_s <= 0.2 + 1e-6
    assert phases.promotion.duration_s == pytest.approx(0.15)
    assert phases.client_recovery.start_s == promo_end_s
    assert 0.1 <= phases.client_recovery.duration_s <= 0.1 + 0.05 + ACK_LATENCY_S + 1e-6
    assert phases.as_dict()["promotion"]["resolution_s"] == 0.0


def test_phases_without_evidence_are_none():
    phases = rto_phases(T0, health(T0 - 1, T0 + 1, 0.1), [], [])
    assert phases.detection is None and phases.routing_switch is None
    assert phases.promotion is None and phases.client_recovery is None
    assert phases.pre_fault_region == "eu-central-1"


def test_a_write_in_flight_at_the_fault_counts_toward_the_rpo_not_as_lost_after_it():
    # sent 25 ms before t0, answered 3 ms after it, then lost with the writer: committed before the fault,
    # not accepted by a writer that lost a split brain (seen on the real stack: db-writer-failover)
    t0 = 1000.0
    canary = [{"probe": "canary", "seq": 1, "sent_s": t0 - 1.0, "acked_s": t0 - 0.99, "outcome": "acked"},
              {"probe": "canary", "seq": 2, "sent_s": t0 - 0.025, "acked_s": t0 + 0.003, "outcome": "acked"},
              {"probe": "canary", "seq": 3, "sent_s": t0 + 1.0, "acked_s": t0 + 1.01, "outcome": "acked"}]
    result = rpo(canary, t0, {1, 3})
    assert (result.lost_writes, result.lost_before_t0, result.lost_after_t0) == (1, 1, 0)
    assert result.rpo_s == 0.0
    lost_later = rpo(canary, t0, {1, 2})
    assert (lost_later.lost_before_t0, lost_later.lost_after_t0) == (0, 1)

