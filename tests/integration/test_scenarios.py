"""The scenario catalogue end to end on the real stack: every experiment's quick run passes on a healthy stack,
and every deliberately misconfigured variant fails (exit 1) on the criterion its hypothesis rests on."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import redis

from gameday import faults
from gameday.base.ledger import open_from, read_entries
from infra.local.layout import HOST, PRIMARY_REGION, SECONDARY_REGION
from infra.targets.local import LocalTarget
from tests.support import gameday_run, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.scenario]

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "experiments"
NEGATIVE = ROOT / "tests" / "data" / "experiments"


@pytest.fixture(scope="module")
def target(stack_root: Path):
    with running_stack(stack_root, "scenarios") as driver:
        yield driver


def _run(target: LocalTarget, experiment: Path, out: Path, *more: str) -> tuple[subprocess.CompletedProcess, dict]:
    result = gameday_run(target, experiment, out, *more, timeout_s=240)
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return result, summary


def _criteria(summary: dict) -> dict[str, dict]:
    return {c["name"]: c for c in summary["criteria"]}


def _assert_clean(target: LocalTarget) -> None:
    assert open_from(read_entries(target.stack.dir / "faults.jsonl")) == []
    assert target.writer_regions() == [PRIMARY_REGION]


def _passes(target: LocalTarget, name: str, tmp_path: Path) -> dict:
    result, summary = _run(target, CATALOGUE / f"{name}.yaml", tmp_path / "run", "--quick")
    assert result.returncode == 0, (summary.get("reasons"), result.stdout[-3000:], result.stderr[-3000:])
    assert summary["verdict"] == "PASS" and summary["quick"] is True
    _assert_clean(target)
    return summary


def _fails_on(target: LocalTarget, name: str, criterion: str, tmp_path: Path) -> dict:
    result, summary = _run(target, NEGATIVE / f"{name}.yaml", tmp_path / "run")
    assert result.returncode == 1, (summary.get("reasons"), result.stdout[-3000:], result.stderr[-3000:])
    got = _criteria(summary)[criterion]
    assert got["verdict"] == "FAIL", got
    assert got["evidence"], got
    _assert_clean(target)
    return got


def test_db_writer_failover_passes(target, tmp_path):
    summary = _passes(target, "db-writer-failover", tmp_path)
    assert summary["rto"]["write_recovered"] is True
    assert summary["split_brain_events"] == 0 and summary["failback_ok"] is True


def test_db_writer_failover_without_promotion_fails_the_write_rto(target, tmp_path):
    got = _fails_on(target, "db-writer-no-promotion", "rto_write_s <= 5", tmp_path)
    assert got["measured"] is None or got["measured"] > 5


def test_cache_outage_passes(target, tmp_path):
    summary = _passes(target, "cache-outage", tmp_path)
    assert summary["windows"]["fault"]["cache_hit_rate"] < 0.05  # reads bypass the cut-off cache (bar the cut's edge)
    assert summary["cache_warmup"]["warmup_s"] is not None


def test_cache_outage_without_a_database_fallback_fails_the_error_rate(target, tmp_path):
    got = _fails_on(target, "cache-outage-no-db-fallback", "error_rate < 0.01 in fault", tmp_path)
    assert got["measured"] > 0.01


def test_flush_cache_empties_the_regions_redis_and_is_closed_in_the_ledger(target, monkeypatch):
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(target.settings.stack_root))  # the driver reads settings
    client = redis.Redis(host="127.0.0.1", port=target.layout.redis_port(PRIMARY_REGION), socket_timeout=2)
    try:
        client.set("item:flush-probe", "1")
        details = faults.flush_cache(PRIMARY_REGION, {"gameday_base_port": target.layout.router_port})
        assert details["keys_flushed"] >= 1 and client.dbsize() == 0
    finally:
        client.close()
    entries = [e for e in read_entries(target.stack.dir / "faults.jsonl") if e.get("kind") == "cache_flush"]
    assert entries and open_from(read_entries(target.stack.dir / "faults.jsonl")) == []


def test_edge_origin_failover_passes(target, tmp_path):
    summary = _passes(target, "edge-origin-failover", tmp_path)
    assert summary["windows"]["fault"]["edge_hit_rate"] > 0.9


def test_edge_with_both_origins_down_fails_the_error_rate(target, tmp_path):
    got = _fails_on(target, "edge-both-origins-down", "error_rate < 0.01 in fault", tmp_path)
    assert got["measured"] > 0.01


def test_bad_deploy_rollback_passes(target, tmp_path):
    summary = _passes(target, "bad-deploy-rollback", tmp_path)
    assert summary["deployment"]["detect_s"] <= summary["deployment"]["restore_s"]


def test_bad_deploy_without_rollback_fails_the_restore_time_and_the_safety_net_rolls_back(target, tmp_path):
    got = _fails_on(target, "bad-deploy-no-rollback", "deploy_restore_s <= 5", tmp_path)
    assert "safety net" in got["evidence"]


def test_ai_provider_outage_passes(target, tmp_path):
    summary = _passes(target, "ai-provider-outage", tmp_path)
    fault, after = summary["windows"]["fault"], summary["windows"]["after"]
    # The next providers answer; a rare double timeout on a busy machine may fall through to the cache.
    assert fault["ai_fallback_share"] >= 0.9, fault
    assert fault["ai_providers"].get("cache", 0) <= 0.05 * sum(fault["ai_providers"].values()), fault
    assert after["ai_providers"].get("bedrock", 0) > 0, after


def test_ai_with_every_provider_cut_answers_from_cache_and_fails_the_fallback_share(target, tmp_path):
    got = _fails_on(target, "ai-all-providers-cut", "ai_fallback_share <= 0.5 in fault", tmp_path)
    assert got["measured"] > 0.9 and "cache" in got["evidence"], got


def test_ai_provider_throttle_passes(target, tmp_path):
    summary = _passes(target, "ai-provider-throttle", tmp_path)
    fault = summary["windows"]["fault"]
    # The next providers answer; a rare double timeout on a busy machine may fall through to the cache.
    assert fault["ai_fallback_share"] >= 0.9, fault
    assert fault["ai_providers"].get("cache", 0) <= 0.05 * sum(fault["ai_providers"].values()), fault
    entries = [e for e in read_entries(target.stack.dir / "faults.jsonl") if e.get("kind") == "http_error"]
    assert entries and all(e["target"] == "provider-bedrock" for e in entries)


def test_ai_with_every_provider_throttled_fails_the_fallback_share(target, tmp_path):
    got = _fails_on(target, "ai-all-providers-throttled", "ai_fallback_share <= 0.5 in fault", tmp_path)
    assert got["measured"] > 0.9 and "cache" in got["evidence"], got


def test_soak_smoke_passes(target, tmp_path):
    summary = _passes(target, "soak-smoke", tmp_path)
    overall = summary["windows"]["overall"]
    assert overall["intervals"] >= 3 and overall["ai_requests"] > 0 and overall["edge_requests"] > 0, overall


def test_soak_with_a_latency_regression_fails_the_per_interval_p95(target, tmp_path):
    got = _fails_on(target, "soak-latency-regression", "interval_p95_ms < 200", tmp_path)
    assert got["measured"] >= 200 and "intervals" in got["evidence"], got


@contextlib.contextmanager
def _scaling_pinned(target: LocalTarget):
    """The primary region's autoscaling misconfigured: max_instances = min_instances (it cannot scale out);
    the original policy is restored afterwards, and the test waits for the region to be back at its minimum."""
    gateway = httpx.Client(base_url=f"http://{HOST}:{target.layout.app_port(PRIMARY_REGION)}", timeout=5)
    original = gateway.get("/_region/status").json()["policy"]
    gateway.post("/_region/policy", json={"max_instances": original["min_instances"]}).raise_for_status()
    try:
        _wait_for_minimum(gateway, original["min_instances"])
        yield
    finally:
        gateway.post("/_region/policy", json=original).raise_for_status()
        gateway.close()


def _wait_for_minimum(gateway: httpx.Client, minimum: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while gateway.get("/_region/status").json()["instances"] > minimum and time.monotonic() < deadline:
        time.sleep(0.2)


def test_spike_10x_passes(target, tmp_path):
    gateway = httpx.Client(base_url=f"http://{HOST}:{target.layout.app_port(PRIMARY_REGION)}", timeout=5)
    _wait_for_minimum(gateway, gateway.get("/_region/status").json()["policy"]["min_instances"])
    summary = _passes(target, "spike-10x", tmp_path)
    scaling, spike = summary["scaling"], summary["windows"]["spike"]
    assert scaling["region"] == PRIMARY_REGION and scaling["factor"] == 10
    assert scaling["held_ready"] > scaling["ready_at_step"] and scaling["peak_instances"] <= scaling["cap"]
    assert spike["throttle_rate"] < 0.01 and spike["load_requests"] > 1000, spike
    records = [json.loads(line) for line in (tmp_path / "run" / "probes.jsonl").read_text().splitlines()]
    capacity = [r for r in records if r["probe"] == "capacity"]
    assert {r["region"] for r in capacity} == {PRIMARY_REGION, SECONDARY_REGION}
    assert set(capacity[0]) == {"probe", "at_s", "region", "instances", "ready", "in_flight", "utilisation",
                                "throttles_total", "requests_total", "max_instances", "min_instances", "slot"}


def test_spike_10x_with_autoscaling_max_equal_to_min_fails_the_scale_out_lag(target, tmp_path):
    with _scaling_pinned(target):
        result, summary = _run(target, CATALOGUE / "spike-10x.yaml", tmp_path / "run", "--quick")
    assert result.returncode == 1, (summary.get("reasons"), result.stdout[-3000:], result.stderr[-3000:])
    criteria = _criteria(summary)
    out = criteria["scale_out_lag_s <= 12"]
    assert out["verdict"] == "FAIL" and out["measured"] is None and "never rose above" in out["evidence"], out
    # One instance then runs near its concurrency limit: the spike's bursts are throttled (a few to hundreds).
    assert criteria["throttle_rate < 0.01 in spike"]["evidence"]
    assert criteria["capacity_max_ratio <= 1"]["verdict"] == "PASS"
    assert summary["scaling"]["cap"] == summary["scaling"]["min_instances"]
    _assert_clean(target)
