"""The scenario catalogue end to end on the real stack: every experiment's quick run passes on a healthy stack,
and every deliberately misconfigured variant fails (exit 1) on the criterion its hypothesis rests on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from gameday import faults
from gameday.ledger import open_from, read_entries
from gameday.settings import Settings
from infra.local.layout import PRIMARY_REGION
from infra.targets.local import LocalTarget
from tests.conftest import free_base_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "experiments"
NEGATIVE = ROOT / "tests" / "data" / "experiments"


@pytest.fixture(scope="module")
def target(stack_root: Path):
    root = stack_root / "scenarios"
    root.mkdir(mode=0o755)
    # As in test_run: the router never fails over by itself, so only the experiment's actions move traffic.
    settings = Settings(stack_root=root, router_interval_s=0.2, router_failure_threshold=1000).with_base_port(
        free_base_port())
    driver = LocalTarget(settings)
    driver.stack.up()
    yield driver
    driver.stack.down()


def _run(target: LocalTarget, experiment: Path, out: Path, *more: str) -> tuple[subprocess.CompletedProcess, dict]:
    argv = [sys.executable, "-m", "gameday.cli", "run", str(experiment), "--out", str(out), "--base-port",
            str(target.layout.router_port), *more]
    env = {**os.environ, "GAMEDAY_STACK_ROOT": str(target.stack.settings.stack_root)}
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=240)
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
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(target.stack.settings.stack_root))  # the driver reads settings
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
