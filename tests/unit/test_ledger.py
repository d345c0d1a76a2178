"""The fault ledger: written before injection, open entries survive crashes, concurrent appends lose nothing."""

from __future__ import annotations

import json
import multiprocessing
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.base.errors import GameDayError, InvalidInput
from gameday.base.ledger import FaultLedger, fault_windows, open_from, read_entries, stale_from

RECOVERY = {"driver": "local", "action": "enable_proxy", "proxy": "router-eu-central-1"}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_begin_is_on_disk_with_its_recovery_before_it_returns(tmp_path):
    path = tmp_path / "run" / "faults.jsonl"
    ledger = FaultLedger(path, clock=lambda: 1_700_000_000.25)
    entry_id = ledger.begin("region_outage", "eu-central-1", {"mode": "partition"}, RECOVERY)
    [line] = lines(path)
    assert line["event"] == "begin" and line["id"] == entry_id and line["v"] == 1
    assert (line["kind"], line["target"], line["params"], line["recovery"]) == (
        "region_outage", "eu-central-1", {"mode": "partition"}, RECOVERY)
    assert line["at_s"] == 1_700_000_000.25
    assert datetime.fromisoformat(line["at"]).timestamp() == 1_700_000_000.25 and line["at"].endswith("+00:00")
    assert isinstance(line["pid"], int)


def test_a_fault_is_open_until_recovered_and_failure_keeps_it_open(tmp_path):
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    a = ledger.begin("region_outage", "eu-central-1", {}, RECOVERY)
    b = ledger.begin("latency", "db-eu-west-1", {"ms": 200}, {"action": "remove_toxic"})
    ledger.injected(a, {"proxy": "router-eu-central-1"})
    ledger.failed(b, RuntimeError("proxy refused"))
    assert [(e["id"], e["state"]) for e in ledger.open_entries()] == [(a, "injected"), (b, "failed")]
    ledger.recovered(a, {"healed": True})
    ledger.failed(a, "late error after recovery")
    assert [e["id"] for e in ledger.open_entries()] == [b]
    assert ledger.open_entries()[0]["recovery"] == {"action": "remove_toxic"}
    assert [e["event"] for e in ledger.entries()] == ["begin", "begin", "injected", "failed", "recovered", "failed"]
    assert ledger.entries()[3]["error"] == "proxy refused"


def test_fault_windows_run_from_injection_to_recovery():
    entries = [
        {"event": "begin", "id": "a", "at_s": 1.0, "kind": "kill", "target": "pg", "params": {}, "recovery": {}},
        {"event": "begin", "id": "b", "at_s": 2.0, "kind": "latency", "target": "db", "params": {}, "recovery": {}},
        {"event": "begin", "id": "c", "at_s": 2.5, "kind": "never", "target": "x", "params": {}, "recovery": {}},
        {"event": "injected", "id": "b", "at_s": 3.0, "details": {}},
        {"event": "injected", "id": "a", "at_s": 4.0, "details": {}},
        {"event": "recovered", "id": "b", "at_s": 9.0, "details": {}},
        {"event": "recovered", "id": "b", "at_s": 11.0, "details": {}},
    ]
    assert fault_windows(entries) == [
        {"id": "b", "kind": "latency", "target": "db", "begun_s": 2.0, "start_s": 3.0, "end_s": 9.0},
        {"id": "a", "kind": "kill", "target": "pg", "begun_s": 1.0, "start_s": 4.0, "end_s": None}]
    assert [e["id"] for e in open_from(entries)] == ["a", "c"]


def test_an_unknown_entry_id_is_an_error(tmp_path):
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    ledger.begin("kill", "pg", {}, {})
    with pytest.raises(GameDayError, match="recording of fault 'nope' in ledger .* failed: no such entry"):
        ledger.recovered("nope")


def test_params_that_are_not_json_write_nothing(tmp_path):
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    with pytest.raises(InvalidInput, match="not JSON-serialisable"):
        ledger.begin("kill", "pg", {"when": object()}, {})
    with pytest.raises(InvalidInput, match="`target` must be a non-empty string"):
        ledger.begin("kill", "", {}, {})
    with pytest.raises(InvalidInput, match="`recovery` must be a dict"):
        ledger.begin("kill", "pg", {}, None)
    assert ledger.entries() == []


def test_a_truncated_last_line_is_ignored_and_the_next_append_starts_a_new_line(tmp_path):
    path = tmp_path / "faults.jsonl"
    ledger = FaultLedger(path)
    a = ledger.begin("kill", "pg", {}, RECOVERY)
    b = ledger.begin("kill", "redis", {}, RECOVERY)
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[-1][:40])  # a crash mid-write of a third line
    assert [e["id"] for e in ledger.entries()] == [a, b]
    ledger.recovered(a)
    assert [(e["event"], e["id"]) for e in read_entries(path)] == [("begin", a), ("begin", b), ("recovered", a)]
    assert [e["id"] for e in ledger.open_entries()] == [b]


def test_a_missing_ledger_has_no_entries(tmp_path):
    assert FaultLedger(tmp_path / "none.jsonl").open_entries() == []


ops = st.lists(st.one_of(st.just(("begin", 0)), st.tuples(st.just("recover"), st.integers(0, 50))), max_size=15)


@settings(max_examples=40, deadline=None)
@given(ops)
def test_open_entries_are_begun_minus_recovered(sequence):
    with tempfile.TemporaryDirectory() as tmp:
        ledger = FaultLedger(Path(tmp) / "faults.jsonl")
        begun, recovered = [], set()
        for op, pick in sequence:
            if op == "begin":
                begun.append(ledger.begin("kill", f"target-{len(begun)}", {}, {"n": len(begun)}))
            elif begun:
                entry_id = begun[pick % len(begun)]
                ledger.recovered(entry_id)
                recovered.add(entry_id)
        assert [e["id"] for e in ledger.open_entries()] == [i for i in begun if i not in recovered]


def _append_many(path: str, worker: int, count: int) -> None:
    ledger = FaultLedger(path)
    for n in range(count):
        ledger.begin("latency", f"worker-{worker}", {"n": n, "pad": "x" * 6000}, {"n": n})  # > PIPE_BUF


def test_two_processes_appending_at_once_lose_no_line(tmp_path):
    path = str(tmp_path / "faults.jsonl")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, w, 150)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert [w.exitcode for w in workers] == [0, 0]
    raw = Path(path).read_text().splitlines()
    entries = [json.loads(line) for line in raw]  # every line is whole
    assert len(entries) == 300 and len({e["id"] for e in entries}) == 300
    for worker in range(2):
        assert [e["params"]["n"] for e in entries if e["target"] == f"worker-{worker}"] == list(range(150))


def test_only_open_entries_older_than_the_limit_are_stale(tmp_path):
    times = iter([100.0, 100.0, 200.0, 300.0, 300.0])
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=lambda: next(times))
    old = ledger.begin("link_cut", "replication", {}, {"call": "restore_link", "args": {"link": "replication"}})
    ledger.injected(old)
    closed = ledger.begin("link_cut", "cache-eu-west-1", {}, {"call": "restore_link", "args": {}})
    ledger.recovered(closed)
    recent = ledger.begin("latency", "db-eu-west-1", {}, {"call": "remove_latency", "args": {}})
    assert [e["id"] for e in stale_from(ledger.entries(), now_s=400.0, max_age_s=150.0)] == [old]
    assert stale_from(ledger.entries(), now_s=400.0, max_age_s=400.0) == []
    assert recent in [e["id"] for e in open_from(ledger.entries())]
