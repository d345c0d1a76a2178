"""The local reference stack for real: Postgres replication, Redis, two APIs, the router, the fault proxy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gameday.base.settings import Settings
from infra.local.layout import PRIMARY_REGION, SECONDARY_REGION, router_link
from infra.local.processes import ProcessRef, tagged_with
from infra.local.supervisor import COMPONENT_COUNT, STACK_TAG, LocalStack
from infra.local.toxiproxy_client import ToxiproxyClient
from infra.local.waiting import port_is_free
from infra.targets.local import stack_config, with_base_port
from tests.conftest import free_base_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERVAL_S = 0.2
FAILURE_THRESHOLD = 3
RECOVERY_THRESHOLD = 2


@pytest.fixture(scope="module")
def stack(stack_root: Path):
    settings = with_base_port(Settings(stack_root=stack_root, router_interval_s=INTERVAL_S,
                                       router_failure_threshold=FAILURE_THRESHOLD,
                                       router_recovery_threshold=RECOVERY_THRESHOLD), free_base_port())
    local = LocalStack(stack_config(settings))
    local.up()
    yield local
    local.down()


@pytest.fixture
def toxiproxy(stack: LocalStack):
    client = ToxiproxyClient(stack.layout.toxiproxy_url)
    yield client
    client.reset()
    _wait_for_region(stack, PRIMARY_REGION, timeout_s=10)


@pytest.fixture
def router(stack: LocalStack):
    with httpx.Client(base_url=stack.layout.router_url, timeout=5) as client:
        yield client


def _routing(stack: LocalStack) -> dict:
    return httpx.get(f"{stack.layout.router_url}/_router/status", timeout=2).json()


def _wait_for_region(stack: LocalStack, region: str, timeout_s: float) -> float:
    """Seconds until the router serves `region`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if _routing(stack)["served_region"] == region:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"router did not serve {region} within {timeout_s} s: {_routing(stack)}")


def test_status_lists_every_component_healthy_with_the_primary_as_writer(stack: LocalStack):
    status = stack.status()
    assert status["healthy"], json.dumps(status, indent=2, default=str)
    assert status["writer_region"] == PRIMARY_REGION
    assert len(status["components"]) == COMPONENT_COUNT
    for component in status["components"]:
        assert {"name", "region", "role", "pid", "address", "healthy"} <= component.keys()
    roles = {c["name"]: c["role"] for c in status["components"]}
    assert roles[f"postgres-{PRIMARY_REGION}"] == "primary"
    assert roles[f"postgres-{SECONDARY_REGION}"] == "standby"


def test_writes_through_the_router_reach_the_primary_and_replicate_to_the_standby(stack, router):
    seq = int(time.time() * 1000)
    answer = router.post("/writes", json={"seq": seq})
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Region"] == PRIMARY_REGION
    secondary = f"http://127.0.0.1:{stack.layout.app_port(SECONDARY_REGION)}"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = httpx.get(f"{secondary}/writes/{seq}", timeout=2)
        if found.status_code == 200:
            break
        time.sleep(0.05)
    assert found.status_code == 200 and found.json()["region"] == PRIMARY_REGION


def test_the_secondary_refuses_writes_while_its_database_is_a_standby(stack):
    secondary = f"http://127.0.0.1:{stack.layout.app_port(SECONDARY_REGION)}"
    answer = httpx.post(f"{secondary}/writes", json={"seq": 1}, timeout=5)
    assert answer.status_code == 503
    assert "read-only standby" in answer.json()["error"]


def test_cached_reads_hit_redis_the_second_time(router):
    first = router.get("/items/42")
    second = router.get("/items/42")
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Cache"] == "hit"
    assert second.json()["name"] == "item-42"


def test_router_fails_over_when_the_primary_link_is_down_and_back_when_it_returns(stack, toxiproxy, router):
    cut_at = time.time()
    toxiproxy.set_enabled(router_link(PRIMARY_REGION), False)
    _wait_for_region(stack, SECONDARY_REGION, timeout_s=5)
    switch = next(s for s in reversed(_routing(stack)["switches"]) if s["to"] == SECONDARY_REGION)
    detection_s = switch["at_s"] - cut_at
    # The last good check may land just before the cut; one interval of slack plus the check timeout.
    assert detection_s <= INTERVAL_S * (FAILURE_THRESHOLD + 1) + 1.0, detection_s
    read = router.get("/items/7")
    assert read.status_code == 200 and read.headers["X-Region"] == SECONDARY_REGION

    restored_at = time.time()
    toxiproxy.set_enabled(router_link(PRIMARY_REGION), True)
    _wait_for_region(stack, PRIMARY_REGION, timeout_s=5)
    back = next(s for s in reversed(_routing(stack)["switches"]) if s["to"] == PRIMARY_REGION)
    assert back["at_s"] - restored_at >= INTERVAL_S * (RECOVERY_THRESHOLD - 1)
    assert router.get("/items/7").headers["X-Region"] == PRIMARY_REGION


def _median_ms(client: httpx.Client, url: str, n: int = 15) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def test_a_latency_toxic_adds_about_its_delay(stack, toxiproxy, router):
    baseline = _median_ms(router, "/items/3")
    toxiproxy.add_toxic(router_link(PRIMARY_REGION), "latency", {"latency": 100, "jitter": 0})
    delayed = _median_ms(router, "/items/3")
    assert 80 <= delayed - baseline <= 160, (baseline, delayed)


def test_an_http_503_fault_at_probability_one_fails_every_request_on_the_link(stack, toxiproxy):
    link = stack.layout.link(router_link(SECONDARY_REGION))
    toxiproxy.add_toxic(link.name, "http_error", {"status": 503}, stream="upstream", toxicity=1.0)
    with httpx.Client(base_url=f"http://{link.listen}", timeout=5) as client:
        statuses = [client.get("/items/1").status_code for _ in range(20)]
    assert statuses == [503] * 20
    toxiproxy.reset()
    with httpx.Client(base_url=f"http://{link.listen}", timeout=5) as client:
        assert client.get("/items/1").status_code == 200


def test_up_on_a_healthy_stack_is_idempotent(stack):
    before = {c["name"]: c["pid"] for c in stack.status()["components"]}
    stack.up()
    assert {c["name"]: c["pid"] for c in stack.status()["components"]} == before


def _gameday(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gameday.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_down_leaves_no_process_even_after_the_supervisor_was_killed(stack_root: Path):
    base = free_base_port()
    env = {**os.environ, "GAMEDAY_STACK_ROOT": str(stack_root / "killed")}
    (stack_root / "killed").mkdir(mode=0o755)
    settings = with_base_port(Settings(stack_root=stack_root / "killed"), base)
    state = settings.stack_dir / "state.json"
    up = subprocess.Popen([sys.executable, "-m", "gameday.cli", "stack", "up", "--base-port", str(base)],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state.exists() and len(json.loads(state.read_text())["components"]) >= 4:
            break
        time.sleep(0.02)
    up.send_signal(signal.SIGKILL)
    up.wait()
    recorded = [ProcessRef(c["pid"], c["start_ticks"]) for c in json.loads(state.read_text())["components"]]
    assert any(ref.alive() for ref in recorded)

    down = _gameday("stack", "down", "--base-port", str(base), env=env)
    assert down.returncode == 0, down.stderr
    assert not any(ref.alive() for ref in recorded)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(port_is_free(p) for p in stack_config(settings).layout.all_ports()):
        time.sleep(0.1)
    busy = [p for p in stack_config(settings).layout.all_ports() if not port_is_free(p)]
    listeners = subprocess.run(["ss", "-ltnpa"], capture_output=True, text=True).stdout if busy else ""
    assert busy == [], "\n".join(line for line in listeners.splitlines() if any(f":{p} " in line for p in busy))
    assert tagged_with(STACK_TAG, str(settings.stack_dir)) == []


def test_up_refuses_a_busy_port_and_starts_nothing(stack: LocalStack, stack_root: Path):
    # The running stack's router port is busy; a second stack asked to use it must refuse cleanly.
    base = free_base_port()
    env = {**os.environ, "GAMEDAY_STACK_ROOT": str(stack_root / "busy"),
           "GAMEDAY_ROUTER_PORT": str(stack.layout.router_port), "GAMEDAY_TOXIPROXY_PORT": str(base + 1),
           "GAMEDAY_BASE_PORT": str(base + 10)}
    result = _gameday("stack", "up", env=env)
    assert result.returncode == 1
    assert f"port 127.0.0.1:{stack.layout.router_port} is already in use" in result.stderr
    assert not (stack_root / "busy" / f"stack-{stack.layout.router_port}" / "state.json").exists()


def test_up_rebuilds_a_stack_whose_directory_was_deleted_under_it(stack_root: Path):
    (stack_root / "deleted").mkdir(mode=0o755)
    settings = with_base_port(Settings(stack_root=stack_root / "deleted", router_interval_s=INTERVAL_S),
                              free_base_port())
    local = LocalStack(stack_config(settings))
    local.up()
    try:
        recorded = json.loads(local.state_path.read_text())["components"]
        before = [ProcessRef(c["pid"], c["start_ticks"]) for c in recorded]
        shutil.rmtree(settings.stack_dir)  # state file, databases, logs: all gone while every process runs
        status = local.up()
        assert status["healthy"], json.dumps(status, indent=2, default=str)
        assert status["writer_region"] == PRIMARY_REGION
        assert not any(ref.alive() for ref in before), "the processes on the deleted files must be gone"
        seq = int(time.time() * 1000)
        answer = httpx.post(f"{local.layout.router_url}/writes", json={"seq": seq}, timeout=5)
        assert answer.status_code == 201, answer.text
        assert (settings.stack_dir / "pg" / PRIMARY_REGION / "PG_VERSION").exists()
    finally:
        local.down()
    assert tagged_with(STACK_TAG, str(settings.stack_dir)) == []
