"""The AI gateway for real: provider stubs and the fault proxy as processes, the gateway served by uvicorn."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from infra.local.ai_gateway import (
    CANNED_TEXT,
    FALLBACK_HEADER,
    PROVIDER_HEADER,
    AIGateway,
    ai_routes,
)
from infra.local.layout import HOST
from infra.local.toxiproxy_client import ToxiproxyClient
from tests.support import free_port
from tests.support import stop_process as stop
from tests.support import wait_http as wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ("bedrock", "google", "meta")
LATENCY = {"bedrock": "40:100", "google": "60:140", "meta": "80:180"}  # fast, so the suite stays short
# A healthy answer (under 0.2 s) times out only if the machine stalls for most of TIMEOUT_S; a "slow" fault is
# three timeouts long, so it is a timeout whatever the machine does.
TIMEOUT_S, THRESHOLD, COOL_DOWN_S = 1.0, 3, 1.0
SLOW_MS = int(3 * TIMEOUT_S * 1000)
SLO_P95_S = 1.5





@contextlib.contextmanager
def process(argv: list[str], log: Path, ready_url: str):
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", *argv], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(ready_url, proc, log)
        yield proc
    finally:
        stop(proc)
        assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Provider stubs behind one fault-proxy link each; yields (toxiproxy API URL, {name: link URL})."""
    directory = tmp_path_factory.mktemp("ai-gateway")
    ports = {name: free_port() for name in PROVIDERS}
    links = {name: free_port() for name in PROVIDERS}
    argv = ["infra.local.providers", "--host", HOST, "--seed", "7"]
    for name in PROVIDERS:
        argv += ["--provider", f"{name}={ports[name]}", "--latency", f"{name}={LATENCY[name]}"]
    config = directory / "proxies.json"
    config.write_text(json.dumps([{"name": f"ai-{name}", "listen": f"{HOST}:{links[name]}",
                                   "upstream": f"{HOST}:{ports[name]}", "enabled": True, "protocol": "http"}
                                  for name in PROVIDERS]))
    api_port = free_port()
    with process(argv, directory / "providers.log", f"http://{HOST}:{ports['meta']}/health"), \
            process(["infra.local.faultproxy", "--host", HOST, "--port", str(api_port), "--config", str(config),
                     "--seed", "1"], directory / "faultproxy.log", f"http://{HOST}:{api_port}/version"):
        yield f"http://{HOST}:{api_port}", {name: f"http://{HOST}:{links[name]}" for name in PROVIDERS}


@pytest.fixture
def toxiproxy(stack):
    with ToxiproxyClient(stack[0]) as client:
        yield client
        client.reset()


class ServedGateway:
    """A fresh AIGateway in a Starlette app served by uvicorn in a thread; `url` is its base URL."""

    def __init__(self, links: dict[str, str]):
        self.gateway = AIGateway([(name, links[name]) for name in PROVIDERS], timeout_s=TIMEOUT_S,
                                 failure_threshold=THRESHOLD, cool_down_s=COOL_DOWN_S)

        @contextlib.asynccontextmanager
        async def lifespan(app):
            yield
            await self.gateway.close()

        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(Starlette(routes=ai_routes(self.gateway), lifespan=lifespan),
                                                    host=HOST, port=port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="ai-gateway", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.02)
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def ask(self, prompt: str = "What is a GameDay?") -> httpx.Response:
        return self.http.post("/ai", json={"prompt": prompt})

    def status(self) -> dict:
        return {p["name"]: p for p in self.http.get("/ai/status").json()["providers"]}

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def gateway(stack, toxiproxy):
    served = ServedGateway(stack[1])
    yield served
    served.close()


def nearest_rank(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def answered_by(resp: httpx.Response) -> tuple[int, str, str]:
    return resp.status_code, resp.headers[PROVIDER_HEADER], resp.headers[FALLBACK_HEADER]


def test_healthy_requests_are_answered_by_bedrock_within_the_slo(gateway):
    durations, answers = [], []
    for i in range(40):
        started = time.perf_counter()
        resp = gateway.ask(f"question {i}")
        durations.append(time.perf_counter() - started)
        answers.append(answered_by(resp))
        assert resp.json()["text"] == f"[bedrock] answer to: question {i}" and resp.json()["degraded"] is False
    assert answers == [(200, "bedrock", "none")] * 40
    assert nearest_rank(durations, 0.95) <= SLO_P95_S
    bedrock = gateway.status()["bedrock"]
    assert (bedrock["state"], bedrock["requests"], bedrock["successes"]) == ("closed", 40, 40)


FAULTS = {
    "link disabled": ("connect", lambda c: c.set_enabled("ai-bedrock", False),
                      lambda c: c.set_enabled("ai-bedrock", True)),
    "429": ("429", lambda c: c.add_toxic("ai-bedrock", "http_error", {"status": 429}, stream="upstream"),
            lambda c: c.remove_toxic("ai-bedrock", "http_error_upstream")),
    "slow": ("timeout", lambda c: c.add_toxic("ai-bedrock", "latency", {"latency": SLOW_MS}),
             lambda c: c.remove_toxic("ai-bedrock", "latency_downstream")),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_bedrock_fault_falls_back_to_google_opens_then_closes_the_breaker(gateway, toxiproxy, fault):
    kind, inject, recover = FAULTS[fault]
    assert answered_by(gateway.ask()) == (200, "bedrock", "none")
    inject(toxiproxy)
    during = [gateway.ask(f"during {i}") for i in range(THRESHOLD + 3)]
    assert [answered_by(r) for r in during] == [(200, "google", "provider")] * len(during)
    bedrock = gateway.status()["bedrock"]
    assert bedrock["state"] == "open"
    assert bedrock["failures"][kind] == THRESHOLD and bedrock["skipped_open"] == 3
    assert [r.json()["passed_over"][0]["outcome"] for r in during] == [kind] * THRESHOLD + ["skipped"] * 3

    recover(toxiproxy)
    time.sleep(COOL_DOWN_S + 0.1)
    assert answered_by(gateway.ask()) == (200, "bedrock", "none")  # the half-open probe, answered
    bedrock = gateway.status()["bedrock"]
    assert bedrock["state"] == "closed"
    moves = [(t["from"], t["to"]) for t in bedrock["transitions"]]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    opened, probed = bedrock["transitions"][0]["at_s"], bedrock["transitions"][1]["at_s"]
    assert probed - opened >= COOL_DOWN_S


def test_all_providers_down_gives_the_cached_answer_with_no_errors(gateway, toxiproxy):
    warm = gateway.ask("cached question")
    assert answered_by(warm) == (200, "bedrock", "none")
    for name in PROVIDERS:
        toxiproxy.set_enabled(f"ai-{name}", False)
    answers = [gateway.ask("cached question") for _ in range(THRESHOLD + 1)]
    assert [answered_by(r) for r in answers] == [(200, "cache", "cache")] * len(answers)
    assert all(r.json()["degraded"] and r.json()["text"] == warm.json()["text"] for r in answers)
    assert [p["outcome"] for p in answers[-1].json()["passed_over"]] == ["skipped"] * 3  # every breaker open: fast
    unseen = gateway.ask("a question never answered")
    assert answered_by(unseen) == (200, "cache", "cache")
    assert unseen.json()["text"] == CANNED_TEXT and unseen.json()["source"] == "canned"
    totals = gateway.http.get("/ai/status").json()["totals"]
    assert totals == {"requests": THRESHOLD + 3, "fallbacks": 0, "cache_answers": THRESHOLD + 2, "canned_answers": 1}
    assert {gateway.status()[n]["state"] for n in PROVIDERS} == {"open"}


@pytest.mark.parametrize("body, message", [
    (b"not json", "not valid JSON"),
    (b'{"question": "hi"}', '"prompt" is missing'),
    (b'{"prompt": 42}', "prompt must be a non-empty string"),
    (b'{"prompt": "   "}', "prompt must be a non-empty string"),
    (b'["hi"]', '"prompt" is missing'),
])
def test_a_bad_body_gets_400_saying_what_is_expected(gateway, body, message):
    resp = gateway.http.post("/ai", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and message in resp.json()["error"]
    assert gateway.http.get("/ai/status").json()["totals"]["requests"] == 0
