"""Open model against a target that stalls for 2 s: latency counts from the intended start, drops are counted."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from gameday.load import LoadSpec, run_load
from reports.sample_files import read_samples
from reports.samples import per_second
from scenarios.profiles import Profile
from tests.support import free_port, start_module, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE_PER_S, MAX_IN_FLIGHT, STALL_S = 50, 10, 2.0



@pytest.fixture(scope="module")
def echo_target():
    """A real aiohttp server in a child process; yields its base URL and stops it by PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_module("scenarios.echo_target", "--port", str(port), ready_url=f"{url}/health")
    try:
        yield url
    finally:
        stop_process(proc)


def test_a_stall_shows_in_the_latency_of_requests_scheduled_during_it_and_drops_are_counted(echo_target, tmp_path):
    profile = Profile.model_validate({
        "name": "stall", "mix": {"health": 1}, "max_in_flight": MAX_IN_FLIGHT, "late_tolerance_s": 5,
        "stages": [{"duration_s": 6, "rate_per_s": RATE_PER_S}]})
    spec = LoadSpec(profile=profile, target=echo_target, out_dir=tmp_path / "run", timeout_s=40)
    results = []
    load = threading.Thread(target=lambda: results.append(run_load(spec)))
    load.start()
    _wait_for_first_samples(spec.samples_dir)
    time.sleep(1.0)
    stall_until = httpx.post(f"{echo_target}/_stall", params={"s": STALL_S}, timeout=5).json()["stall_until"]
    stall_from = stall_until - STALL_S
    load.join(timeout=60)
    (result,) = results

    samples = read_samples(result.samples_dir)
    sent, dropped = samples[~samples["dropped"]], samples[samples["dropped"]]
    assert len(sent) == result.locust_requests
    during = sent[(sent["t_s"] >= stall_from + 0.05) & (sent["t_s"] < stall_until - 0.05)]
    assert len(during) >= 1
    waited_ms = (stall_until - during["t_s"].to_numpy()) * 1000
    assert np.all(during["latency_ms"].to_numpy() >= waited_ms - 20), "latency must include the stall"
    # Only MAX_IN_FLIGHT requests can be waiting; the rest of the stall's arrivals could not start on time.
    expected_drops = RATE_PER_S * STALL_S - MAX_IN_FLIGHT
    assert 0.6 * expected_drops <= len(dropped) <= RATE_PER_S * STALL_S
    assert dropped["t_s"].min() >= stall_from - 0.05 and dropped["t_s"].max() <= stall_until + 0.5
    # Arrivals kept their rate throughout: sent + dropped per full second stays near the target rate.
    table = per_second(samples)
    offered = (table["requests"] + table["dropped"]).to_numpy()[1:-1]
    assert np.all(np.abs(offered - RATE_PER_S) <= 0.1 * RATE_PER_S), table.to_string()
    assert table["p50_ms"].iloc[-1] < 100, "latency recovers after the stall"


def _wait_for_first_samples(directory: Path, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in directory.glob("samples-*.bin")):
            return
        time.sleep(0.05)
    raise AssertionError(f"no samples in {directory} within {timeout_s} s")
