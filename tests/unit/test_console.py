"""The live console's server: the page, the state, and HALT only with the run's token (a real HTTP server on
loopback); the live monitor's per-second view; a run's faults from the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gameday.console import Console, ConsoleState, run_faults
from gameday.live import LiveMonitor


@pytest.fixture
def console():
    state = ConsoleState("region-failover", "r1")
    halts: list[str] = []
    state.on_halt = halts.append
    served = Console(state).start()
    served.halts = halts
    yield served
    served.stop()


def test_the_page_and_the_state_are_served_to_any_viewer(console):
    page = httpx.get(console.url)
    assert page.status_code == 200 and "HALT" in page.text and "/state" in page.text
    console.state.phase = "baseline"
    console.state.event("phase baseline: 20 s")
    state = httpx.get(console.url + "state").json()
    assert state["phase"] == "baseline" and state["title"] == "region-failover"
    assert [e["text"] for e in state["events"]] == ["phase baseline: 20 s"]


@pytest.mark.parametrize("body", [{}, {"token": "wrong", "name": "mallory"}, {"token": None}])
def test_halt_without_the_token_is_refused_and_nothing_happens(console, body):
    answer = httpx.post(console.url + "halt", json=body)
    assert answer.status_code == 403 and "token" in answer.json()["error"]
    assert console.halts == [] and console.state.halted is None


def test_halt_with_the_token_aborts_once_and_records_who(console):
    answer = httpx.post(console.url + "halt", json={"token": console.token, "name": "  Ada   Lovelace "})
    assert answer.status_code == 200 and answer.json()["halted"]["by"] == "Ada Lovelace"
    again = httpx.post(console.url + "halt", json={"token": console.token, "name": "Bob"})
    assert again.json()["halted"]["by"] == "Ada Lovelace"
    assert console.halts == ["Ada Lovelace"]
    assert httpx.get(console.url + "state").json()["halted"]["by"] == "Ada Lovelace"
    assert console.halt_url.endswith(f"?token={console.token}")


def test_halt_between_runs_says_there_is_nothing_to_halt(console):
    console.state.on_halt = None
    answer = httpx.post(console.url + "halt", json={"token": console.token, "name": "x"})
    assert answer.status_code == 409


def test_a_malformed_halt_is_a_clear_400(console):
    answer = httpx.post(console.url + "halt", content=b"not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


def test_the_live_monitor_gives_per_second_percentiles_successes_writers_and_capacity(tmp_path: Path):
    monitor = LiveMonitor(tmp_path / "probes.jsonl", [], echo=lambda line: None)
    records = [{"probe": "health", "at_s": 100.1 + i * 0.01, "latency_ms": float(i + 1), "ok": i != 0, "status": 200}
               for i in range(100)]
    records += [{"probe": "canary", "sent_s": 100.5, "outcome": "failed"}, {"probe": "canary", "sent_s": 101.2,
                                                                          "outcome": "acked"},
                {"probe": "writers", "at_s": 100.3, "writable": ["eu-west-1"]},
                {"probe": "capacity", "at_s": 100.4, "region": "eu-west-1", "instances": 3, "ready": 2,
                 "max_instances": 4, "utilisation": 0.5}]
    for r in records:
        monitor._observe(json.loads(json.dumps(r)))
    view = monitor.snapshot(101.5)
    first = view["series"][0]
    # second 100 holds the first 90 probes (1..90 ms): nearest-rank P50 45, P95 86, P99 90
    assert (first["t_s"], first["p50_ms"], first["p95_ms"], first["p99_ms"]) == (100, 45.0, 86.0, 90.0)
    assert first["reads"] == 90 and first["read_errors"] == 1  # 100.1 + 0.89 is still second 100
    assert (first["writes"], first["write_errors"]) == (1, 1)
    assert view["writers"] == ["eu-west-1"] and view["capacity"]["eu-west-1"]["ready"] == 2


def test_run_faults_lists_this_runs_faults_open_or_recovered():
    entries = [
        {"event": "begin", "id": "a", "at_s": 9.9, "kind": "region_outage", "target": "eu-central-1",
         "params": {"run_id": "r1"}},
        {"event": "injected", "id": "a", "at_s": 10.0},
        {"event": "begin", "id": "b", "at_s": 11.9, "kind": "latency", "target": "db", "params": {"run_id": "r0"}},
        {"event": "injected", "id": "b", "at_s": 12.0},
        {"event": "recovered", "id": "a", "at_s": 15.0}]
    assert run_faults(entries, "r1", 20.0) == [{"kind": "region_outage", "target": "eu-central-1",
                                                "state": "recovered", "start_s": 10.0, "end_s": 15.0, "age_s": 5.0}]


def test_the_criteria_running_values_are_ranked_once_a_second_for_any_number_of_viewers(tmp_path: Path):
    from gameday.base.models import Criterion

    class Counting(LiveMonitor):
        ranked = 0

        def health_reads(self):
            Counting.ranked += 1
            return super().health_reads()

    state = ConsoleState("t", "r1")
    state.monitor = Counting(tmp_path / "probes.jsonl", [], echo=lambda line: None)
    state.criteria = [Criterion.model_validate("p95_ms < 200 in overall")]
    for i in range(100):
        state.monitor._observe({"probe": "health", "at_s": 100.0 + i * 0.1, "latency_ms": 5.0, "ok": True})
    views = [state.snapshot() for _ in range(20)]  # twenty viewers polling in the same second
    assert Counting.ranked == 1 and all(v["criteria"] == views[0]["criteria"] for v in views)
    assert views[0]["criteria"]["rows"][0]["name"] == "p95_ms < 200"
