"""Findings on hand-written runs: windows from the ledger, per-window figures, RTO/RPO, failback, journal facts."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.base.models import GameDaySpec
from reports.findings import RunInputs, analyse, failback, journal_facts, journal_promotions, window_stats

T0 = 1_700_000_000.0
START, END = T0 - 10, T0 + 30
RECOVERED = T0 + 15
SPEC = GameDaySpec.model_validate({"probes": {"health_interval_s": 0.1, "canary_rate_per_s": 20},
                                   "windows": {"sustain_s": 5}})


def ledger(injected_s: float | None = T0, recovered_s: float | None = RECOVERED, fault_id: str = "f1") -> list[dict]:
    entries = [{"event": "begin", "id": fault_id, "at_s": (injected_s or T0) - 0.01, "kind": "region_outage",
                "target": "eu-central-1", "params": {}, "recovery": {}}]
    if injected_s is not None:
        entries.append({"event": "injected", "id": fault_id, "at_s": injected_s})
    if recovered_s is not None:
        entries.append({"event": "recovered", "id": fault_id, "at_s": recovered_s})
    return entries


def health(outage_s: float = 3.0, start: float = START, end: float = END, interval_s: float = 0.1) -> list[dict]:
    out = []
    for i in range(round((end - start) / interval_s)):
        t = start + i * interval_s
        down = T0 <= t < T0 + outage_s
        out.append({"probe": "health", "at_s": t, "latency_ms": 1000.0 if down else 5.0, "status": 0 if down else 200,
                    "ok": not down, "region": None if down else ("eu-west-1" if t >= T0 else "eu-central-1")})
    return out


def canary(outage_s: float = 4.0, start: float = START, end: float = END, rate: float = 20) -> list[dict]:
    out = []
    for seq in range(round((end - start) * rate)):
        t = start + seq / rate
        down = T0 <= t < T0 + outage_s
        out.append({"probe": "canary", "seq": seq, "sent_s": t, "acked_s": None if down else t + 0.01,
                    "outcome": "failed" if down else "acked", "status": 503 if down else 201,
                    "region": "eu-west-1" if t >= T0 else "eu-central-1"})
    return out


def surviving(records: list[dict], lost_from_s: float = T0 - 2) -> frozenset[int]:
    """Acked seqs on the new writer: everything except what was acked in the last seconds before the fault."""
    return frozenset(c["seq"] for c in records if c["outcome"] == "acked" and not lost_from_s <= c["acked_s"] < T0)


def writers(split_at: tuple[float, ...] = ()) -> list[dict]:
    return [{"probe": "writers", "at_s": t, "writable": ["eu-central-1", "eu-west-1"] if t in split_at
             else ["eu-central-1" if t < T0 else "eu-west-1"]} for t in np.arange(START, END, 0.5)]


def load(rate: float = 50, error_s: float = 3.0, dropped_every: int = 0) -> pd.DataFrame:
    t = START + np.arange(round((END - START) * rate)) / rate
    in_fault = (t >= T0) & (t < T0 + error_s)
    dropped = np.zeros(len(t), bool) if not dropped_every else (np.arange(len(t)) % dropped_every == 0)
    return pd.DataFrame({"t_s": t, "latency_ms": np.where(dropped, np.nan, np.where(in_fault, 500.0, 10.0)),
                         "status": np.where(in_fault, 503, 200), "name": "GET /items/[id]", "ok": ~in_fault,
                         "dropped": dropped, "cache": "", "region": "", "source": "w1"})


def journal(status: str = "completed", failed: tuple[str, ...] = (), failed_rollbacks: tuple[str, ...] = (),
            before: bool = True, after: bool = True, deviated: bool = False) -> dict:
    def record(name: str, failed_names: tuple[str, ...]) -> dict:
        return {"activity": {"name": name, "type": "action"}, "status": "failed" if name in failed_names
                else "succeeded", "output": None, "start": "2023-11-14T22:13:20", "end": "2023-11-14T22:13:21"}
    return {"status": status, "deviated": deviated,
            "steady_states": {"before": {"steady_state_met": before}, "after": {"steady_state_met": after},
                              "during": []},
            "run": [record(n, failed) for n in ("fail-primary-region", "promote-secondary")],
            "rollbacks": [record(n, failed_rollbacks) for n in ("restore-primary-region", "failback")]}


def run_inputs(**overrides) -> RunInputs:
    records = canary()
    fields = {"run": {"run_id": "r1", "experiment": "region-failover", "title": "Region failover",
                      "target": "local", "started_s": START, "ended_s": END, "quick": False, "aborted": None,
                      "chaos_exit_code": 0},
              "probes": tuple(health() + records + writers()), "ledger": tuple(ledger()), "journal": journal(),
              "samples": load(), "surviving_seqs": surviving(records), "writer_region": "eu-central-1",
              "remediations": ({"kind": "promotion", "start_s": T0 + 2.0, "end_s": T0 + 2.2},)}
    fields.update(overrides)
    return RunInputs(**fields)


def test_windows_come_from_the_first_injection_and_the_last_recovery():
    f = analyse(run_inputs(), SPEC)
    assert f.t0_s == T0 and f.last_recovery_s == RECOVERED
    begun = f.fault_windows[0]["begun_s"]  # the baseline ends when the injection began, a moment before t0
    assert begun < T0
    assert (f.windows["baseline"].start_s, f.windows["baseline"].end_s) == (START, begun)
    assert (f.windows["fault"].start_s, f.windows["fault"].end_s) == (T0, RECOVERED)
    assert (f.windows["after"].start_s, f.windows["after"].end_s) == (RECOVERED, END)
    assert (f.windows["overall"].start_s, f.windows["overall"].end_s) == (START, END)
    # the service was back (reads at t0+3, writes at t0+4) while the fault was still in place
    assert (f.windows["recovery"].start_s, f.windows["recovery"].end_s) == (T0 + 4, RECOVERED)


def test_per_window_figures_count_load_and_health_with_exact_percentiles():
    f = analyse(run_inputs(), SPEC)
    base, fault, after = f.windows["baseline"], f.windows["fault"], f.windows["after"]
    # the last load request (10 ms) starts 10 ms before the injection began: still in flight, not baseline
    assert (base.load_requests, base.health_requests, base.errors) == (499, 100, 0)
    assert base.error_rate == 0 and base.availability == 1 and base.p99_ms == 10.0
    assert (fault.load_requests, fault.load_errors, fault.health_errors) == (750, 150, 30)
    assert fault.error_rate == pytest.approx(180 / 900) and fault.availability == pytest.approx(1 - 180 / 900)
    # 180 of 900 failed: a failure ranks above every success, so the P95 is no served latency (+inf)
    assert fault.latency_source == "load samples" and fault.p50_ms == 10.0 and fault.p95_ms == math.inf
    assert fault.latency_failures == 150 and fault.latency_samples == 750
    assert after.errors == 0 and after.dropped_requests == 0
    assert f.windows["overall"].requests == 2000 + 400


def test_without_load_samples_latency_comes_from_the_health_probes_and_drops_are_unknown():
    f = analyse(run_inputs(samples=None), SPEC)
    fault = f.windows["fault"]
    assert fault.latency_source == "health probes" and fault.latency_samples == 150
    assert fault.p95_ms == math.inf and fault.p50_ms == 5.0 and fault.dropped_requests is None


def test_dropped_arrivals_are_counted_and_not_taken_as_requests():
    f = analyse(run_inputs(samples=load(dropped_every=10)), SPEC)
    base = f.windows["baseline"]
    assert base.dropped_requests == 50 and base.load_requests == 449 and base.load_arrivals == 499
    # an arrival never sent is a failed request (issue 13 item 4)
    assert (base.requests, base.errors) == (499 + 100, 50)


def test_rto_rpo_split_brain_and_failback():
    records = canary()
    f = analyse(run_inputs(probes=tuple(health() + records + writers(split_at=(T0 + 1.0, T0 + 1.5)))), SPEC)
    assert f.rto_read.rto_s == pytest.approx(3.0) and f.rto_write.rto_s == pytest.approx(4.0)
    assert f.rto_read.resolution_s == 0.1 and f.rto_write.resolution_s == 0.05
    assert f.rpo.lost_writes == 40 and f.rpo.rpo_s == pytest.approx(1.99, abs=1e-6)  # oldest lost acked at t0-1.99
    assert f.rpo.rpo_high_s == pytest.approx(2.04, abs=1e-6)  # the newest survivor before it at t0-2.04
    assert f.split_brain_events == 2 and f.writers_samples == 80
    assert f.failback_ok is True and f.journal.ok is True
    assert f.phases.promotion.duration_s == pytest.approx(0.2)


def test_only_the_first_hundred_lost_seqs_are_kept():
    records = canary()
    f = analyse(run_inputs(surviving_seqs=surviving(records, lost_from_s=T0 - 8)), SPEC)
    assert f.rpo.lost_writes == 160 and len(f.rpo.lost_seqs) == 100


def test_a_run_without_a_fault_has_only_baseline_and_overall():
    f = analyse(run_inputs(ledger=()), SPEC)
    assert f.t0_s is None and f.rto_read is None and f.rpo is None and f.notes
    assert f.windows["baseline"].defined and f.windows["overall"].defined
    assert not any(f.windows[w].defined for w in ("fault", "recovery", "after"))


def test_a_fault_never_recovered_runs_to_the_end_and_leaves_no_after_window():
    f = analyse(run_inputs(ledger=tuple(ledger(recovered_s=None))), SPEC)
    assert f.last_recovery_s is None and f.windows["fault"].end_s == END
    assert not f.windows["after"].defined
    assert f.fault_windows[0]["end_s"] is None


def test_unknown_surviving_seqs_leave_rpo_unmeasured():
    assert analyse(run_inputs(surviving_seqs=None), SPEC).rpo is None


def test_run_bounds_fall_back_to_the_records_when_run_json_lacks_them():
    f = analyse(run_inputs(run={}), SPEC)
    assert f.start_s == START and f.end_s == pytest.approx(END - 0.05)


def test_journal_facts_list_what_fails_the_run():
    assert journal_facts(journal()).ok is True
    assert journal_facts(None).ok is None
    bad = journal_facts(journal(status="failed", failed=("promote-secondary",), failed_rollbacks=("failback",),
                                before=False, deviated=True))
    assert bad.ok is False and bad.failed_activities == ("promote-secondary",)
    assert bad.failed_rollbacks == ("failback",) and bad.hypothesis_before_met is False
    assert len(bad.problems) == 5
    interrupted = journal()
    del interrupted["rollbacks"][0]["status"]
    assert journal_facts(interrupted).failed_rollbacks == ("restore-primary-region (interrupted)",)


def test_failback_from_journal_remediation_events_and_the_final_writer():
    assert failback(journal(), (), None, None)[0] is True
    assert failback(journal(failed_rollbacks=("failback",)), (), None, None)[0] is False
    assert failback(journal(), (), "eu-central-1", "eu-west-1")[0] is False  # the writer never came back
    no_failback = {"run": [], "rollbacks": []}
    assert failback(no_failback, ({"kind": "failback", "start_s": 1.0, "end_s": 2.0},), None, None)[0] is True
    assert failback(no_failback, ({"kind": "failback", "start_s": 1.0, "end_s": None},), None, None)[0] is False
    assert failback(no_failback, (), None, None)[0] is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.booleans(), st.floats(0, 1e4)), max_size=60),
       st.floats(0, 50), st.floats(0, 50))
def test_window_figures_are_consistent(samples, a, length):
    records = [{"probe": "health", "at_s": t, "ok": ok, "latency_ms": lat} for t, ok, lat in samples]
    w = window_stats("w", a, a + length, False, records, None)
    inside = [r for r in records if a <= r["at_s"] < a + length]
    assert w.requests == len(inside) and w.errors == sum(not r["ok"] for r in inside)
    if inside:
        assert w.availability == pytest.approx(1 - w.error_rate)
        assert w.p50_ms <= w.p95_ms <= w.p99_ms
        served = [r["latency_ms"] for r in inside if r["ok"]]
        assert w.p99_ms == math.inf or w.p99_ms <= max(served)     # a failure ranks above every success
        assert (w.p50_ms == math.inf) == (math.ceil(0.5 * len(inside)) > len(served))
    else:
        assert w.error_rate is None and w.p95_ms is None
    assert not (w.p99_ms is not None and math.isnan(w.p99_ms))


def test_the_journal_times_the_promotion_when_no_remediation_event_does():
    doc = journal()
    doc["run"][1].update(start="2023-11-14T22:13:22+00:00", end="2023-11-14T22:13:22.500000")  # naive = UTC
    f = analyse(run_inputs(journal=doc, remediations=()), SPEC)
    assert f.phases.promotion.start_s == T0 + 2 and f.phases.promotion.duration_s == pytest.approx(0.5)
    assert analyse(run_inputs(journal=doc), SPEC).phases.promotion.start_s == T0 + 2  # remediation events win
    doc["run"][1]["status"] = "failed"
    assert analyse(run_inputs(journal=doc, remediations=()), SPEC).phases.promotion is None


def test_t0_is_the_disaster_not_a_link_cut_that_prepared_it_and_after_starts_when_the_experiment_ended():
    cut = [{**e, "id": "cut", "kind": "link_cut", "target": "replication"} if e["event"] == "begin"
           else {**e, "id": "cut"} for e in ledger(injected_s=T0 - 2, recovered_s=RECOVERED, fault_id="cut")]
    experiment_end = RECOVERED + 3  # e.g. a failback rollback that ran after the last fault was recovered
    inputs = run_inputs(ledger=tuple(cut + ledger()))
    inputs = replace(inputs, run={**inputs.run, "experiment_ended_s": experiment_end})
    f = analyse(inputs, SPEC)
    assert f.t0_s == T0
    assert f.windows["baseline"].end_s == T0 - 2 - 0.01
    assert f.windows["after"].start_s == experiment_end


def test_a_writer_restored_by_restore_writer_times_the_promotion_phase_like_promote_secondary():
    def activity(name: str, func: str, status: str = "succeeded") -> dict:
        return {"activity": {"name": name, "provider": {"type": "python", "func": func}}, "status": status,
                "start": "2026-12-01T10:00:01", "end": "2026-12-01T10:00:03"}

    journal = {"run": [activity("kill-db-writer", "kill_db_writer"), activity("restore-writer", "restore_writer"),
                       activity("bring-it-back", "restore_writer", status="failed"),
                       activity("promote-secondary", "promote_secondary")]}
    events = journal_promotions(journal)
    assert [e["source"] for e in events] == ["journal: restore-writer", "journal: promote-secondary"]
    assert all(e["end_s"] - e["start_s"] == 2.0 for e in events)
