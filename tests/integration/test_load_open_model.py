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
from scenarios.profiles import Profile
from tests.support import free_port, start_module, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE_PER_S, MAX_IN_FLIGHT, STALL_S, DURATION_S = 50, 10, 2.0, 8  # the stall starts 2-3 s in; seconds follow it



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
        "stages": [{"duration_s": DURATION_S, "rate_per_s": RATE_PER_S}]})
    spec = LoadSpec(profile=profile, target=echo_target, out_dir=tmp_path / "run", timeout_s=40)
    results = []
    load = threading.Thread(target=lambda: results.append(run_load(spec)))
    load.start()
    _wait_for_first_samples(spec.samples_dir)
    time.sleep(1.0)
    stall = httpx.post(f"{echo_target}/_stall", params={"s": STALL_S}, timeout=5).json()
    stall_from, stall_until = stall["stall_from"], stall["stall_until"]  # as the target measured them
    load.join(timeout=60)
    (result,) = results

    samples = read_samples(result.samples_dir)
    sent, dropped = samples[~samples["dropped"]], samples[samples["dropped"]]
    assert len(sent) == result.locust_requests
    # Every intended arrival is in the samples once, sent or dropped, on one schedule (nothing sent off it, e.g.
    # after the profile's end); exact up to the float64 resolution of epoch seconds summed over the steps.
    intended = np.sort(samples["t_s"].to_numpy())
    step_s = 1.0 / RATE_PER_S
    slots = np.rint((intended - intended[0]) / step_s)
    off_s = np.abs(intended - intended[0] - slots * step_s)
    off = (off_s > len(intended) * np.spacing(intended[-1])) | (np.diff(slots, prepend=-1) != 1)
    assert not off.any(), f"{off.sum()} of {len(intended)} samples missing, doubled or off the schedule, " \
                          f"{intended[off] - intended[0]} s after the first"

    sent_t, sent_end = sent["t_s"].to_numpy(), (sent["t_s"] + sent["latency_ms"] / 1000).to_numpy()
    # The client's timing resolution as measured: one step plus the worst latency before the stall.
    before = sent_end < stall_from
    resolution_s = step_s + sent["latency_ms"].to_numpy()[before].max() / 1000
    # Latency counts from the intended start: a request intended during the stall waited for its end.
    during = (sent_t >= stall_from) & (sent_t < stall_until)
    assert during.any()
    waited_ms = (stall_until - sent_t[during]) * 1000
    assert np.all(sent["latency_ms"].to_numpy()[during] >= waited_ms - resolution_s * 1000), \
        "latency must include the stall"
    # Only MAX_IN_FLIGHT requests can wait; every other arrival of the stall could not start on time.
    offered = samples[(samples["t_s"] >= stall_from) & (samples["t_s"] < stall_until)]
    assert during.sum() <= MAX_IN_FLIGHT
    assert offered["dropped"].sum() == len(offered) - during.sum() > 0
    # Nothing is dropped while the cap was free: MAX_IN_FLIGHT requests intended earlier ended after each drop.
    for t_drop in dropped["t_s"].to_numpy():
        busy = np.sum((sent_t < t_drop) & (sent_end >= t_drop - resolution_s))
        assert busy >= MAX_IN_FLIGHT, f"an arrival {t_drop - stall_from:+.3f} s from the stall was dropped " \
                                      f"with {busy} requests in flight"
    # Requests intended once the held ones were answered are not charged for the stall.
    recovered_at = sent_end[sent_t < stall_until].max()
    after = sent["latency_ms"].to_numpy()[sent_t > recovered_at]
    assert len(after) >= RATE_PER_S, f"the stall ended {intended[-1] - recovered_at:.2f} s before the load did"
    assert np.median(after) < (stall_until - stall_from) * 1000 / 2, "latency recovers after the stall"


def _wait_for_first_samples(directory: Path, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in directory.glob("samples-*.bin")):
            return
        time.sleep(0.05)
    raise AssertionError(f"no samples in {directory} within {timeout_s} s")
