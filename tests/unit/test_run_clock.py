"""One time base per run (docs/measurement.md, "Clocks"): every recorder stamps from the run's anchor, so a wall
clock that steps during a run moves no timestamp against another. The anchor below is an hour behind the wall
clock, as though the wall clock had been stepped forward an hour after the run began."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from gameday.base import run_clock
from gameday.base.ledger import FaultLedger
from probes.samplers import Clock
from reports.sample_files import decode_chunks
from scenarios.recorder import SampleRecorder

STEP_S = 3600.0
TOLERANCE_S = 0.5  # a generous bound on the few milliseconds between two readings on a busy machine


@pytest.fixture
def stepped():
    """Install an anchor whose wall time lies STEP_S before the wall clock; outside a run again afterwards."""
    run_clock.install((time.time() - STEP_S, time.monotonic()))
    yield time.time() - STEP_S
    run_clock.install(None)


def test_now_follows_the_anchor_not_the_wall_clock(stepped):
    assert abs(run_clock.now() - stepped) < TOLERANCE_S


def test_a_child_process_reads_the_same_time_base_from_its_environment(stepped):
    env = {"PATH": "/usr/bin:/bin", **run_clock.anchor_env()}
    before = run_clock.now()
    child = subprocess.run([sys.executable, "-c", "from gameday.base import run_clock; print(run_clock.now())"],
                           capture_output=True, text=True, env=env, check=True)
    after = run_clock.now()
    assert before <= float(child.stdout) <= after


def test_the_fault_ledger_stamps_on_the_run_clock(stepped, tmp_path):
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    entry = ledger.begin("link_cut", "router-eu", {}, {"call": "restore_link", "args": {}})
    ledger.injected(entry)
    stamps = [e["at_s"] for e in ledger.entries()]
    assert stamps and all(abs(at - stepped) < TOLERANCE_S for at in stamps), stamps


def test_the_samplers_clock_starts_on_the_run_clock(stepped):
    async def read() -> float:
        return Clock(asyncio.get_running_loop()).now()

    assert abs(asyncio.run(read()) - stepped) < TOLERANCE_S


def test_a_request_locust_stamped_with_the_wall_clock_lands_on_the_run_clock(stepped):
    recorder = SampleRecorder()
    wall_start = time.time()
    recorder.on_request("GET", "/health", 12.0, start_time=wall_start)
    # An open-model arrival: intended on the run clock, sent 5 ms later by Locust's wall clock.
    recorder.on_request("GET", "/api/items", 20.0, context={"t_intended": run_clock.now() - 0.005},
                        start_time=time.time())
    chunk = decode_chunks(b"".join(recorder.take() or [recorder.buffer.seal()]))
    assert abs(chunk["t_s"][0] - stepped) < TOLERANCE_S
    # Latency from the intended start: the 5 ms of lateness plus the 20 ms reply, not the hour of the step.
    assert 20.0 <= chunk["latency_ms"][1] < 20.0 + 1000 * TOLERANCE_S


def test_from_wall_moves_a_wall_clock_stamp_by_the_step(stepped):
    wall = time.time()
    assert abs(run_clock.from_wall(wall) - (wall - STEP_S)) < TOLERANCE_S


def test_outside_a_run_every_stamp_is_the_wall_clock():
    run_clock.install(None)
    assert run_clock.from_wall(1000.0) == 1000.0
    assert run_clock.anchor_env() == {}
    assert abs(run_clock.now() - time.time()) < TOLERANCE_S
