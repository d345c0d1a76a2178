"""Failover and failback on the real stack: a region powered off, the standby promoted, then a planned
switchover back with zero loss; never two writers."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from infra.local.layout import PRIMARY_REGION, SECONDARY_REGION
from infra.targets.local import LocalTarget
from tests.support import running_stack

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
