"""A short load against the local stack from 2 worker processes: every request Locust counted has a raw sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gameday.base.settings import Settings
from gameday.load import LoadSpec, run_load
from infra.local.layout import PRIMARY_REGION, REGIONS
from infra.local.supervisor import LocalStack
from infra.targets.local import stack_config, with_base_port
from reports.sample_files import read_samples
from reports.samples import per_second, summary
from scenarios.profiles import Profile
from tests.conftest import free_base_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(stack_root: Path):
    local = LocalStack(stack_config(with_base_port(Settings(stack_root=stack_root), free_base_port())))
    local.up()
    yield local
    local.down()


def test_two_worker_processes_record_one_sample_per_request_and_exact_percentiles(stack, tmp_path):
    profile = Profile.model_validate({
        "name": "short", "mix": {"health": 1, "item": 3, "write": 1}, "wait_s": [0, 0.05],
        "stages": [{"duration_s": 4, "users": 8, "spawn_rate": 8}]})
    result = run_load(LoadSpec(profile=profile, target=stack.layout.router_url, out_dir=tmp_path / "run",
                               processes=2, timeout_s=60))

    assert result.exit_code == 0 and not result.timed_out
    files = sorted(result.samples_dir.glob("samples-*.bin"))
    assert len(files) == 2, "one sample file per worker process"
    samples = read_samples(result.samples_dir)
    assert set(samples["source"]) == {p.stem.removeprefix("samples-") for p in files}
    assert len(samples) == result.locust_requests > 100
    assert set(samples["name"]) == {"GET /health", "GET /items/[id]", "POST /writes"}
    # The serving region (X-Region) is recorded; a loaded, shared box may make the router fail over briefly.
    assert PRIMARY_REGION in set(samples["region"]) and set(samples["region"]) <= {*REGIONS, ""}
    assert (samples["ok"] == samples["status"].between(200, 399)).all(), "ok flag follows the HTTP status"
    writes = samples[(samples["name"] == "POST /writes") & samples["ok"]]
    assert len(writes) > 0 and set(writes["status"]) <= {200, 201}

    latencies = samples["latency_ms"].to_numpy()
    figures = summary(samples)
    for q in (50, 95, 99):
        assert figures[f"p{q}_ms"] == np.percentile(latencies, q, method="inverted_cdf")
    table = per_second(samples)
    assert table["requests"].sum() == len(samples)
    second = table.iloc[1]["second"]
    in_second = samples[np.floor(samples["t_s"] - samples["t_s"].min()) == second]["latency_ms"].to_numpy()
    assert table.iloc[1]["p95_ms"] == np.percentile(in_second, 95, method="inverted_cdf")


def test_two_worker_processes_share_an_open_model_rate_instead_of_each_running_it(stack, tmp_path):
    profile = Profile.model_validate({"name": "open", "mix": {"health": 1},
                                      "stages": [{"duration_s": 5, "rate_per_s": 40}]})
    result = run_load(LoadSpec(profile=profile, target=stack.layout.router_url, out_dir=tmp_path / "run",
                               processes=2, timeout_s=60))
    assert result.exit_code == 0 and not result.timed_out
    samples = read_samples(result.samples_dir)
    assert samples["source"].nunique() == 2, "both workers scheduled arrivals"
    assert abs(len(samples) - 40 * 5) <= 40 * 5 * 0.1, f"{len(samples)} requests, the profile asks for 200"
