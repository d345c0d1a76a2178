"""The global router as a real process in front of two tiny fake regions (aiohttp servers in a thread)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from infra.local.layout import HOST, PRIMARY_REGION, SECONDARY_REGION
from tests.support import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 0.2
SLACK_S = 1.5  # scheduling slack on a busy 2-core machine



class FakeRegion:
    """A region's API stand-in: `/health` answers a settable status, every other path echoes the request."""

    def __init__(self, name: str):
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.health_status = 200
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name=f"fake-{name}")

    def _app(self) -> web.Application:
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"region": self.name}, status=self.health_status)

        async def set_health(request: web.Request) -> web.Response:
            self.health_status = int((await request.json())["status"])
            return web.json_response({"status": self.health_status})

        async def echo(request: web.Request) -> web.StreamResponse:
            if request.path == "/slow":
                await asyncio.sleep(float(request.query["s"]))
            if request.path == "/big":
                n = int(request.query["n"])
                resp = web.StreamResponse(headers={"X-Region": self.name})  # chunked, no Content-Length
                await resp.prepare(request)
                for i in range(0, n, 10_000):
                    await resp.write(b"x" * min(10_000, n - i))
                await resp.write_eof()
                return resp
            body = await request.read()
            return web.json_response({
                "region": self.name, "method": request.method, "path": request.path,
                "query": [[k, v] for k, v in request.query.items()], "raw_path": request.raw_path,
                "body_len": len(body), "body": body.decode("latin-1") if len(body) < 4096 else None,
                "x_test": request.headers.get("X-Test"), "host": request.headers.get("Host")},
                headers={"X-Region": self.name})

        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/health", health)
        app.router.add_post("/_fake/health", set_health)
        app.router.add_route("*", "/{tail:.*}", echo)
        return app

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, self.port).start()

    def start(self) -> FakeRegion:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection (the region is down); idempotent."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
            self._runner = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def set_health(self, status: int) -> None:
        httpx.post(f"{self.url}/_fake/health", json={"status": status}, timeout=2).raise_for_status()


class RouterProcess:
    """`python -m infra.local.router` as a child process, stopped by its PID."""

    def __init__(self, regions: list[FakeRegion], log_path: Path, **options):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        argv = [sys.executable, "-m", "infra.local.router", "--host", HOST, "--port", str(self.port)]
        for region in regions:
            argv += ["--region", f"{region.name}={region.url}"]
        options.setdefault("interval_s", INTERVAL_S)
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.client = httpx.Client(base_url=self.url, timeout=5)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"router exited with {self.proc.returncode}: {log_path.read_text()}")
            try:
                if self.client.get("/_router/status").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"router not ready after 15 s: {log_path.read_text()}")

    def status(self) -> dict:
        return self.client.get("/_router/status").json()

    def wait_for(self, predicate, timeout_s: float) -> float:
        """Poll the status until `predicate(status)`; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if predicate(self.status()):
                return time.monotonic() - started
            time.sleep(0.02)
        raise AssertionError(f"condition not met within {timeout_s} s; status: {self.status()}")

    def stop(self) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def regions():
    started = [FakeRegion(PRIMARY_REGION).start(), FakeRegion(SECONDARY_REGION).start()]
    yield started
    for region in started:
        region.close()


@pytest.fixture
def start_router(regions, tmp_path):
    routers: list[RouterProcess] = []

    def start(**options) -> RouterProcess:
        routers.append(RouterProcess(regions, tmp_path / f"router-{len(routers)}.log", **options))
        return routers[-1]

    yield start
    for router in routers:
        router.stop()


def served_by(router: RouterProcess, path: str = "/items/1") -> str:
    resp = router.client.get(path)
    assert resp.status_code == 200, resp.text
    assert resp.json()["region"] == resp.headers["X-Router-Region"]
    return resp.headers["X-Router-Region"]


def test_failover_to_the_secondary_and_back(regions, start_router):
    primary, _ = regions
    router = start_router(failure_threshold=3, recovery_threshold=2)
    assert served_by(router) == PRIMARY_REGION
    status = router.status()
    assert status["primary"] == status["active_region"] == status["served_region"] == PRIMARY_REGION
    assert status["regions"][PRIMARY_REGION]["healthy"] and status["override"] is None

    primary.set_health(503)
    router.wait_for(lambda s: s["active_region"] == SECONDARY_REGION, INTERVAL_S * 3 + SLACK_S)
    assert served_by(router) == SECONDARY_REGION
    status = router.status()
    assert not status["regions"][PRIMARY_REGION]["healthy"]
    assert status["regions"][PRIMARY_REGION]["consecutive_failures"] >= 3
    failover = status["switches"][-1]
    assert failover["from"] == PRIMARY_REGION and "3 consecutive failed checks (last: HTTP 503)" in failover["reason"]
    failed_before = [c for c in router.client.get("/_router/history").json()["checks"]
                     if c["region"] == PRIMARY_REGION and c["at_s"] <= failover["at_s"] and not c["ok"]]
    assert len(failed_before) == 3  # k - 1 failures did not switch

    recovered_at_s = time.time()
    primary.set_health(200)
    router.wait_for(lambda s: s["active_region"] == PRIMARY_REGION, INTERVAL_S * 2 + SLACK_S)
    assert served_by(router) == PRIMARY_REGION
    switches = router.status()["switches"]
    assert [(s["from"], s["to"]) for s in switches] == [(PRIMARY_REGION, SECONDARY_REGION),
                                                         (SECONDARY_REGION, PRIMARY_REGION)]
    assert "2 consecutive successful checks" in switches[-1]["reason"]

    checks = router.client.get("/_router/history", params={"since": recovered_at_s}).json()["checks"]
    assert checks and all(c["at_s"] >= recovered_at_s for c in checks)
    assert {c["region"] for c in checks} == {PRIMARY_REGION, SECONDARY_REGION}
    everything = router.client.get("/_router/history").json()["checks"]
    assert any(c["status"] == 503 and not c["ok"] for c in everything) and len(everything) > len(checks)
    assert "switch eu-central-1 -> eu-west-1" in router.log_path.read_text()


def test_override_forces_a_region_until_cleared(start_router):
    router = start_router()
    resp = router.client.post("/_router/override", json={"region": SECONDARY_REGION})
    assert resp.status_code == 200 and resp.json()["active_region"] == SECONDARY_REGION
    assert served_by(router) == SECONDARY_REGION
    assert router.status()["override"] == SECONDARY_REGION

    resp = router.client.post("/_router/override", json={"region": "mars-1"})
    assert resp.status_code == 400
    assert resp.json()["valid_regions"] == [PRIMARY_REGION, SECONDARY_REGION] and "mars-1" in resp.json()["error"]
    assert router.client.post("/_router/override", content=b"nope").status_code == 400
    assert router.status()["override"] == SECONDARY_REGION

    assert router.client.post("/_router/override", json={"region": None}).status_code == 200
    assert router.status()["override"] is None
    assert served_by(router) == PRIMARY_REGION
    assert [s["reason"] for s in router.status()["switches"]] == [f"override set to {SECONDARY_REGION}",
                                                                   "override cleared"]


def test_with_a_ttl_the_served_region_lags_the_active_one(regions, start_router):
    primary, _ = regions
    ttl_s = 1.0
    router = start_router(ttl_s=ttl_s, failure_threshold=1, recovery_threshold=1)
    time.sleep(ttl_s + 0.1)  # let the cache the readiness poll filled expire
    cached_from_s = time.time()
    assert served_by(router) == PRIMARY_REGION  # this request refreshes the cache: primary until +ttl_s

    primary.set_health(503)
    router.wait_for(lambda s: s["active_region"] == SECONDARY_REGION, INTERVAL_S + SLACK_S)
    if time.time() - cached_from_s < ttl_s * 0.8:
        assert served_by(router) == PRIMARY_REGION  # still the cached answer
        status = router.status()
        assert (status["active_region"], status["served_region"]) == (SECONDARY_REGION, PRIMARY_REGION)
    while served_by(router) == PRIMARY_REGION:
        assert time.time() - cached_from_s < ttl_s + SLACK_S
        time.sleep(0.02)
    assert time.time() - cached_from_s >= ttl_s  # never refreshed before the TTL ran out
    assert router.status()["ttl_s"] == ttl_s


def test_a_down_or_slow_upstream_gives_502(regions, start_router):
    primary, _ = regions
    router = start_router(failure_threshold=1000, upstream_timeout_s=0.5)
    resp = router.client.get("/slow", params={"s": 2})
    assert resp.status_code == 502 and resp.headers["X-Router-Region"] == PRIMARY_REGION
    assert resp.json()["region"] == PRIMARY_REGION and "timed out" in resp.json()["error"]

    primary.stop()
    resp = router.client.get("/items/1")
    assert resp.status_code == 502 and resp.headers["X-Router-Region"] == PRIMARY_REGION
    assert resp.json()["region"] == PRIMARY_REGION and PRIMARY_REGION in resp.json()["error"]
    router.wait_for(lambda s: s["regions"][PRIMARY_REGION]["consecutive_failures"] >= 2, 2 + SLACK_S)
    assert router.status()["active_region"] == PRIMARY_REGION  # below the threshold: no switch


def test_bodies_queries_and_headers_pass_through(start_router):
    router = start_router()
    resp = router.client.post("/orders?x=1&y=a%20b&y=2", json={"item": "book", "qty": 2},
                              headers={"X-Test": "yes"})
    echo = resp.json()
    assert resp.status_code == 200 and resp.headers["X-Router-Region"] == PRIMARY_REGION
    assert resp.headers["X-Region"] == PRIMARY_REGION
    assert (echo["method"], echo["path"], echo["raw_path"]) == ("POST", "/orders", "/orders?x=1&y=a%20b&y=2")
    assert echo["query"] == [["x", "1"], ["y", "a b"], ["y", "2"]]
    assert json.loads(echo["body"]) == {"item": "book", "qty": 2} and echo["x_test"] == "yes"

    echo = router.client.get("/items/7", params={"fields": "id,name"}).json()
    assert (echo["method"], echo["raw_path"], echo["body_len"]) == ("GET", "/items/7?fields=id%2Cname", 0)

    big = os.urandom(300_000)  # above the read-whole limit: streamed both ways
    echo = router.client.put("/blobs/1", content=big).json()
    assert echo["method"] == "PUT" and echo["body_len"] == len(big)

    def chunks():
        yield b"a" * 1000
        yield b"b" * 1000

    assert router.client.post("/chunked", content=chunks()).json()["body_len"] == 2000
    resp = router.client.get("/big", params={"n": 250_000})
    assert resp.status_code == 200 and resp.content == b"x" * 250_000
    assert resp.headers["X-Router-Region"] == PRIMARY_REGION

    resp = router.client.head("/items/1")
    assert resp.status_code == 200 and resp.content == b"" and resp.headers["X-Router-Region"] == PRIMARY_REGION


def test_exits_cleanly_on_sigterm(start_router):
    router = start_router()
    assert router.stop() == 0
