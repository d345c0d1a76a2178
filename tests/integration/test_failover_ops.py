"""Failover and failback on the real stack: a region powered off, the standby promoted, then a planned
switchover back with zero loss; never two writers. Also the fault actions that need a stack but no failover
(a bandwidth limit on a link)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import httpx
import pytest

from gameday.base.ledger import read_entries
from infra.local.layout import PRIMARY_REGION, SECONDARY_REGION
from infra.targets.local import LocalTarget
from tests.support import gameday_run, journal_activity, partition_experiment, running_stack

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def target(stack_root: Path):
    with running_stack(stack_root, "failover", router_failure_threshold=3) as driver:
        yield driver


def _write(target: LocalTarget, seq: int) -> httpx.Response:
    return httpx.post(f"{target.layout.router_url}/writes", json={"seq": seq}, timeout=5)


def test_power_off_promote_restore_and_failback_keep_one_writer_and_every_write(target: LocalTarget):
    before = int(time.time() * 1000)
    assert _write(target, before).status_code == 201
    target.fail_region(PRIMARY_REGION, "power_off")
    assert target.writer_regions() == []

    promoted = target.promote_secondary()
    assert promoted["to_region"] == SECONDARY_REGION
    assert target.writer_regions() == [SECONDARY_REGION]
    during = before + 1
    answer = _write(target, during)
    assert answer.status_code == 201 and answer.headers["X-Region"] == SECONDARY_REGION

    target.restore_region(PRIMARY_REGION)
    assert target.writer_regions() == [SECONDARY_REGION], "the old primary must come back as a standby"

    result = target.failback()
    assert result["to_region"] == PRIMARY_REGION
    assert target.writer_regions() == [PRIMARY_REGION]
    after = before + 2
    answer = _write(target, after)
    assert answer.status_code == 201 and answer.headers["X-Region"] == PRIMARY_REGION, (
        answer.status_code, answer.headers.get("X-Region"), answer.text[:300])
    primary = f"http://127.0.0.1:{target.layout.app_port(PRIMARY_REGION)}"
    for seq in (during, after):  # the write taken by the interim writer survived the switchover
        assert httpx.get(f"{primary}/writes/{seq}", timeout=5).status_code == 200
    secondary = f"http://127.0.0.1:{target.layout.app_port(SECONDARY_REGION)}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and httpx.get(f"{secondary}/writes/{after}", timeout=5).status_code != 200:
        time.sleep(0.1)
    assert httpx.get(f"{secondary}/writes/{after}", timeout=5).status_code == 200, "the secondary streams again"


def test_a_bandwidth_limit_slows_a_transfer_by_the_injected_rate_and_its_undo_restores_it(target: LocalTarget,
                                                                                          monkeypatch):
    from gameday import faults
    from gameday.base.ledger import read_entries
    from infra.local.layout import origin_link
    from infra.targets import using

    monkeypatch.setenv("GAMEDAY_RUN_ID", "bandwidth-test")
    link = origin_link(PRIMARY_REGION)
    url = f"http://{target.layout.link(link).listen}"
    index = httpx.get(f"{url}/index.html", timeout=5).text
    asset = next(part.split('"')[0] for part in index.split('src="/static/')[1:] if "vendor" in part)
    size = len(httpx.get(f"{url}/static/{asset}", timeout=5).content)

    def fetch_s() -> float:
        started = time.perf_counter()
        assert len(httpx.get(f"{url}/static/{asset}", timeout=30).content) == size
        return time.perf_counter() - started

    rate_kb_s = 100
    with using(target):
        faults.limit_bandwidth(link, rate_kb_s)
        try:
            limited = fetch_s()
        finally:
            faults.remove_bandwidth_limit(link)
    free = fetch_s()
    floor_s = size / (rate_kb_s * 1000)  # the proxy never lets the body through faster than the rate
    assert limited >= 0.8 * floor_s, f"{size} bytes at {rate_kb_s} KB/s took {limited:.2f} s (floor {floor_s:.2f} s)"
    assert free < limited / 2
    ours = [e for e in read_entries(target.ledger_path) if e.get("params", {}).get("run_id") == "bandwidth-test"]
    assert [e["recovery"] for e in ours] == [{"call": "remove_bandwidth_limit", "args": {"link": link}}]
    assert all(t["name"] != "gameday_bandwidth_upstream" for t in target.ops.toxiproxy.toxics(link))



def test_a_detection_hold_shorter_than_the_routers_reroute_time_is_raised_and_counts_from_the_impact(
        target: LocalTarget, tmp_path: Path):
    def wait_for_impact_then_hold(doc: dict) -> None:
        doc["method"][0].pop("pauses")
        doc["method"].append({"type": "probe", "name": "impact-seen", "pauses": {"after": "${hold_s}"},
                              "provider": {"type": "python", "module": "probes.stack", "func": "wait_for_impact",
                                           "arguments": {"region": PRIMARY_REGION}}})
        doc["extensions"][0]["windows"]["detection_holds"] = ["hold_s"]
    experiment = tmp_path / "short-hold.yaml"
    partition_experiment(experiment, hold_s=0.5, edit=wait_for_impact_then_hold)
    run = tmp_path / "run"
    result = gameday_run(target, experiment, run)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    floor_s = math.ceil(target.detection_timing().reroute_s)  # this stack's router: 0.2 s x 3 failed checks
    [raised] = json.loads((run / "run.json").read_text())["holds_raised"]
    assert (raised["key"], raised["declared_s"], raised["used_s"]) == ("hold_s", 0.5, floor_s)
    assert f"hold hold_s raised from 0.5 s to {floor_s} s" in result.stdout
    impact = journal_activity(run, "impact-seen")["output"]
    [recovered] = [e for e in read_entries(run / "faults.jsonl") if e["event"] == "recovered"]
    assert impact["observed"] and recovered["at_s"] - impact["at_s"] >= floor_s
    assert target.writer_regions() == [PRIMARY_REGION]
