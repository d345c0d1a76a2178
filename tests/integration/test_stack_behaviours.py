"""Reference-stack behaviours a GameDay scenario relies on: autoscaling with caps and blue/green rollback."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from gameday.base.settings import Settings
from infra.local.layout import PRIMARY_REGION, SECONDARY_REGION, cache_link, origin_link, provider_link
from infra.local.supervisor import LocalStack
from infra.local.toxiproxy_client import ToxiproxyClient
from infra.targets.local import stack_config, with_base_port
from tests.conftest import free_base_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGION = PRIMARY_REGION


@pytest.fixture(scope="module")
def stack(stack_root: Path):
    settings = with_base_port(Settings(stack_root=stack_root / "behaviours", router_interval_s=0.5), free_base_port())
    (stack_root / "behaviours").mkdir(mode=0o755)
    local = LocalStack(stack_config(settings))
    local.up()
    yield local
    local.down()


@pytest.fixture
def gateway(stack: LocalStack):
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.layout.app_port(REGION)}", timeout=10) as client:
        yield client


def _hammer(url: str, workers: int, duration_s: float) -> list[int]:
    """`workers` closed-loop clients for `duration_s`; the status of every request."""
    statuses: list[int] = []
    stop_at = time.monotonic() + duration_s

    def work(n: int) -> None:
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < stop_at:
                try:
                    statuses.append(client.get(f"{url}/items/{n % 50 + 1}").status_code)
                except httpx.HTTPError:
                    statuses.append(0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_a_load_step_scales_out_within_the_cap_throttles_the_excess_and_scales_back_in(stack, gateway):
    policy = gateway.post("/_region/policy", json={"min_instances": 1, "max_instances": 3,
                                                   "concurrency_per_instance": 4, "scale_out_cooldown_s": 1.0,
                                                   "scale_in_cooldown_s": 1.0}).json()
    toxiproxy = ToxiproxyClient(stack.layout.toxiproxy_url)
    # Slow every request down (a slow dependency), so concurrent users pile up in flight (Little's law).
    toxiproxy.add_toxic(cache_link(REGION), "latency", {"latency": 100, "jitter": 0})
    started = time.time()
    try:
        statuses = _hammer(str(gateway.base_url).rstrip("/"), workers=20, duration_s=6)
    finally:
        toxiproxy.reset()
    load_ended = time.time()
    assert 429 in statuses, "20 users on 1 x 4 slots must be throttled before scale-out"
    assert set(statuses) <= {200, 429}, "excess load is throttled, never failed"

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and gateway.get("/_region/status").json()["instances"] > 1:
        time.sleep(0.2)
    samples = gateway.get("/_region/capacity", params={"since": started}).json()["samples"]
    during = [s for s in samples if s["at_s"] <= load_ended]
    assert max(s["instances"] for s in during) > policy["min_instances"]
    assert max(s["instances"] for s in samples) <= policy["max_instances"]
    status = gateway.get("/_region/status").json()
    assert status["instances"] == policy["min_instances"]
    assert status["throttles_total"] >= statuses.count(429)
    kinds = [e["kind"] for e in gateway.get("/_region/events").json()["events"]]
    assert "scale_out" in kinds and "scale_in" in kinds


def test_a_bad_release_fails_its_gate_and_when_forced_live_is_rolled_back(gateway):
    assert gateway.get("/items/1").headers["X-Deployment"] == "blue/v1"

    refused = gateway.post("/_region/deploy", json={"version": "v2-bad", "error_rate": 0.5})
    assert refused.status_code == 422
    assert refused.json()["gate"]["passed"] is False
    assert gateway.get("/items/1").headers["X-Deployment"] == "blue/v1"

    forced = gateway.post("/_region/deploy", json={"version": "v2-bad", "error_rate": 0.5, "force": True})
    assert forced.status_code == 200 and forced.json()["active_slot"] == "green"
    live = [gateway.get(f"/items/{n}") for n in range(1, 41)]
    assert {r.headers["X-Deployment"] for r in live} == {"green/v2-bad"}
    assert any(r.status_code == 500 for r in live)

    rolled = gateway.post("/_region/rollback")
    assert rolled.status_code == 200 and rolled.json()["active_slot"] == "blue"
    after = [gateway.get(f"/items/{n}") for n in range(1, 21)]
    assert {r.headers["X-Deployment"] for r in after} == {"blue/v1"}
    assert all(r.status_code == 200 for r in after)


def test_a_good_release_passes_its_gate_and_takes_the_traffic(gateway):
    deployed = gateway.post("/_region/deploy", json={"version": "v3"})
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["gate"]["passed"] is True
    assert gateway.get("/items/2").headers["X-Deployment"] == f"{deployed.json()['active_slot']}/v3"


def _bedrock_state(router: httpx.Client) -> str:
    return {p["name"]: p for p in router.get("/ai/status").json()["providers"]}["bedrock"]["state"]


def test_the_ai_gateway_falls_back_when_bedrock_throttles_and_closes_the_breaker_after_recovery(stack, gateway):
    # Breakers live in each API instance: pin the region to one instance so /ai/status shows the one we hit.
    gateway.post("/_region/policy", json={"min_instances": 1, "max_instances": 1})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and gateway.get("/_region/status").json()["instances"] != 1:
        time.sleep(0.2)
    toxiproxy = ToxiproxyClient(stack.layout.toxiproxy_url)
    router = httpx.Client(base_url=stack.layout.router_url, timeout=10)
    toxiproxy.add_toxic(provider_link("bedrock"), "http_error", {"status": 429}, stream="upstream")
    try:
        answers = [router.post("/ai", json={"prompt": f"question {n}"}) for n in range(10)]
    finally:
        toxiproxy.reset()
    assert all(a.status_code == 200 for a in answers)
    providers = [a.headers["X-AI-Provider"] for a in answers]
    # The next provider in priority order answers; a google timeout on a busy machine falls through to meta.
    assert "bedrock" not in providers and set(providers) <= {"google", "meta"}
    assert providers.count("google") > len(providers) / 2
    assert {a.headers["X-AI-Fallback"] for a in answers} == {"provider"}
    assert _bedrock_state(router) == "open"

    deadline = time.monotonic() + 15  # the breaker's cool-down, then one half-open probe
    while time.monotonic() < deadline:
        if router.post("/ai", json={"prompt": "after"}).headers["X-AI-Provider"] == "bedrock":
            break
        time.sleep(0.5)
    assert _bedrock_state(router) == "closed"


def test_the_edge_caches_hashed_assets_never_index_html_and_fails_over_to_the_secondary_origin(stack):
    router = httpx.Client(base_url=stack.layout.router_url, timeout=10)
    index = router.get("/index.html")
    assert index.status_code == 200 and index.headers["Cache-Control"] == "no-store"
    assets = sorted(set(re.findall(r'/static/[\w.-]+', index.text)))
    assert assets, index.text
    caches = [router.get(asset).headers["X-Cache"] for _ in range(20) for asset in assets]
    assert caches.count("Hit") / len(caches) > 0.9
    assert router.get(assets[0]).headers["Cache-Control"] == "max-age=31536000, immutable"
    assert router.get("/index.html").headers["X-Cache"] == "Miss"

    toxiproxy = ToxiproxyClient(stack.layout.toxiproxy_url)
    toxiproxy.set_enabled(origin_link(PRIMARY_REGION), False)
    try:
        again = router.get("/index.html")
        assert again.status_code == 200 and again.headers["X-Origin-Region"] == SECONDARY_REGION
        assert router.get(assets[0]).headers["X-Cache"] == "Hit"
    finally:
        toxiproxy.reset()
    assert stack.status()["edge"]["origin_failovers"] >= 1
