"""The edge cache (CloudFront stand-in) for real: two origin processes, the router, the fault proxy."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from infra.local.edge import IMMUTABLE, NO_STORE
from infra.local.layout import HOST, PRIMARY_REGION, SECONDARY_REGION
from infra.local.origin import build_site
from infra.local.toxiproxy_client import ToxiproxyClient
from tests.support import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SITE = build_site("v1")
ASSETS = sorted(SITE.assets)
READY_TIMEOUT_S = 10.0



class Child:
    """A child process of this test, stopped by its PID; ready once `ready_path` answers 200."""

    def __init__(self, argv: list[str], log_path: Path, url: str, ready_path: str):
        self.url = url
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv[1]} exited with {self.proc.returncode}: {log_path.read_text()}")
            try:
                if httpx.get(url + ready_path, timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{argv[1]} not ready after {READY_TIMEOUT_S} s: {log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL by PID: the process vanishes without closing anything gracefully."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


class Children:
    """Every process a test starts, stopped in teardown."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.started: list[Child] = []

    def _start(self, name: str, argv: list[str], ready_path: str) -> Child:
        port = free_port()
        child = Child([*argv, "--host", HOST, "--port", str(port)], self.directory / f"{name}.log",
                      f"http://{HOST}:{port}", ready_path)
        self.started.append(child)
        return child

    def origin(self, region: str) -> Child:
        return self._start(f"origin-{region}", ["-m", "infra.local.origin", "--region", region], "/health")

    def router(self, regions: list[Child], origins: list[tuple[str, str]]) -> Child:
        argv = ["-m", "infra.local.router", "--interval-s", "0.5"]
        for name, region in zip((PRIMARY_REGION, SECONDARY_REGION), regions):
            argv += ["--region", f"{name}={region.url}"]  # the origins answer /health too
        for name, url in origins:
            argv += ["--origin", f"{name}={url}"]
        return self._start(f"router-{len(self.started)}", argv, "/_router/status")

    def faultproxy(self, config: list[dict]) -> Child:
        path = self.directory / "proxies.json"
        path.write_text(json.dumps(config))
        return self._start("faultproxy", ["-m", "infra.local.faultproxy", "--config", str(path)], "/version")

    def stop_all(self) -> None:
        for child in reversed(self.started):
            child.stop()
        for child in self.started:
            if child.log_path.name.startswith("router"):
                assert "Traceback" not in child.log_path.read_text(), child.log_path.read_text()


@pytest.fixture(scope="module")
def origins(tmp_path_factory):
    """Two origins serving the same site, shared by the tests that kill nothing."""
    children = Children(tmp_path_factory.mktemp("origins"))
    try:
        yield children.origin(PRIMARY_REGION), children.origin(SECONDARY_REGION)
    finally:
        children.stop_all()


def origin_list(primary: Child, secondary: Child) -> list[tuple[str, str]]:
    return [(PRIMARY_REGION, primary.url), (SECONDARY_REGION, secondary.url)]


def edge_status(router: Child) -> dict:
    return httpx.get(router.url + "/_router/status", timeout=5).json()["edge"]


def served(resp: httpx.Response) -> tuple[str, str | None]:
    """(X-Cache, X-Origin-Region) of a successful edge response."""
    assert resp.status_code == 200, resp.text
    return resp.headers["X-Cache"], resp.headers.get("X-Origin-Region")


def origin_requests(origin: Child, path: str) -> int:
    return httpx.get(origin.url + "/_origin/stats", timeout=5).json()["requests"].get(path, 0)


def test_a_hashed_asset_is_a_miss_then_immutable_hits_above_ninety_percent(origins, children):
    primary, secondary = origins
    router = children.router([primary, secondary], origin_list(primary, secondary))
    asked_before = {path: origin_requests(primary, path) for path in ASSETS}
    with httpx.Client(base_url=router.url, timeout=5) as client:
        first = client.get(ASSETS[0])
        assert served(first) == ("Miss", PRIMARY_REGION)
        assert first.headers["Cache-Control"] == IMMUTABLE and first.content == SITE.assets[ASSETS[0]].body
        again = client.get(ASSETS[0])
        assert served(again) == ("Hit", None)  # the origin was not asked: no X-Origin-Region
        assert again.headers["Cache-Control"] == IMMUTABLE and again.content == first.content
        assert again.headers["Content-Type"] == first.headers["Content-Type"] == "application/javascript"
        assert client.head(ASSETS[0]).headers["X-Cache"] == "Hit"

        for _ in range(24):
            for path in ASSETS:
                assert client.get(path).status_code == 200
    status = edge_status(router)
    lookups = 2 + 1 + 24 * len(ASSETS)
    assert status["misses"] == len(ASSETS) and status["hits"] == lookups - len(ASSETS)
    assert status["hit_rate"] == pytest.approx(status["hits"] / lookups) and status["hit_rate"] > 0.9
    assert status["cached_objects"] == len(ASSETS)
    assert status["cached_bytes"] == sum(len(SITE.assets[p].body) for p in ASSETS)
    assert (status["origin_requests"], status["origin_failovers"], status["origin_errors"]) == (len(ASSETS), 0, 0)
    assert {path: origin_requests(primary, path) - asked_before[path] for path in ASSETS} == dict.fromkeys(ASSETS, 1)


def test_index_html_is_never_cached_and_purge_empties_the_cache(origins, children):
    primary, secondary = origins
    router = children.router([primary, secondary], origin_list(primary, secondary))
    asked_before = origin_requests(primary, "/index.html")
    with httpx.Client(base_url=router.url, timeout=5) as client:
        for path in ("/index.html", "/", "/index.html", "/?v=2"):
            resp = client.get(path)
            assert served(resp) == ("Miss", PRIMARY_REGION)
            assert resp.headers["Cache-Control"] == NO_STORE and resp.content == SITE.index.body
        assert origin_requests(primary, "/index.html") - asked_before == 4

        referenced = re.findall(r'(?:src|href)="(/static/[^"]+)"', resp.text)
        assert sorted(referenced) == ASSETS
        missing = client.get("/static/app.0000000000.js")
        assert missing.status_code == 404 and missing.headers["X-Cache"] == "Miss"
        assert missing.headers["Cache-Control"] == NO_STORE and PRIMARY_REGION in missing.text
        assert client.get("/static/app.0000000000.js").headers["X-Cache"] == "Miss"  # errors are not cached

        assert client.get(ASSETS[1]).headers["X-Cache"] == "Miss"
        assert client.get(ASSETS[1]).headers["X-Cache"] == "Hit"
        purge = client.post("/_router/edge/purge")
        assert purge.json() == {"purged_objects": 1, "purged_bytes": len(SITE.assets[ASSETS[1]].body)}
        assert edge_status(router)["cached_objects"] == 0
        assert client.get(ASSETS[1]).headers["X-Cache"] == "Miss"
        post = client.post(ASSETS[1], content=b"x")
        assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"
    status = edge_status(router)
    assert (status["hits"], status["misses"], status["responses_5xx"]) == (1, 9, 0)


def test_concurrent_misses_of_one_object_share_one_origin_fetch(origins, children):
    primary, secondary = origins
    router = children.router([primary, secondary], origin_list(primary, secondary))
    asked_before = origin_requests(primary, ASSETS[3])

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=router.url, timeout=5) as client:
            return await asyncio.gather(*(client.get(ASSETS[3]) for _ in range(20)))

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {200}
    assert all(r.content == SITE.assets[ASSETS[3]].body for r in responses)
    assert origin_requests(primary, ASSETS[3]) - asked_before == 1  # the rest waited for it or hit the cache
    status = edge_status(router)
    assert status["origin_requests"] == 1 and status["hits"] + status["misses"] == 20
    assert status["misses"] == 1 + status["collapsed"]


def test_without_origins_edge_paths_are_forwarded_to_the_regions(origins, children):
    primary, secondary = origins
    router = children.router([primary, secondary], origins=[])
    resp = httpx.get(router.url + "/index.html", timeout=5)
    assert resp.status_code == 200 and resp.headers["X-Router-Region"] == PRIMARY_REGION
    assert "X-Cache" not in resp.headers
    assert edge_status(router) is None
    purge = httpx.post(router.url + "/_router/edge/purge", timeout=5)
    assert purge.status_code == 404 and "--origin" in purge.json()["hint"]


def test_with_the_primary_origin_killed_the_secondary_serves(children):
    primary, secondary = children.origin(PRIMARY_REGION), children.origin(SECONDARY_REGION)
    router = children.router([primary, secondary], origin_list(primary, secondary))
    with httpx.Client(base_url=router.url, timeout=5) as client:
        assert served(client.get(ASSETS[0])) == ("Miss", PRIMARY_REGION)
        assert served(client.get("/index.html")) == ("Miss", PRIMARY_REGION)  # a pooled connection to the primary

        primary.kill()
        assert served(client.get(ASSETS[0])) == ("Hit", None)  # cached objects outlive their origin
        uncached = client.get(ASSETS[1])
        assert served(uncached) == ("Miss", SECONDARY_REGION) and uncached.content == SITE.assets[ASSETS[1]].body
        assert uncached.headers["Cache-Control"] == IMMUTABLE
        assert served(client.get(ASSETS[1])) == ("Hit", None)
        index = client.get("/index.html")
        assert served(index) == ("Miss", SECONDARY_REGION) and index.headers["Cache-Control"] == NO_STORE
    status = edge_status(router)
    assert (status["origin_failovers"], status["origin_errors"], status["responses_5xx"]) == (2, 2, 0)
    dead, alive = status["origins"]
    assert (dead["region"], dead["requests"], dead["errors"]) == (PRIMARY_REGION, 4, 2)
    assert "connect" in dead["last_error"].lower()
    assert (alive["region"], alive["requests"], alive["errors"]) == (SECONDARY_REGION, 2, 0)


def test_a_primary_origin_answering_503_fails_over_per_request(origins, children):
    primary, secondary = origins
    proxy = "origin-" + PRIMARY_REGION
    faultproxy = children.faultproxy([{"name": proxy, "listen": f"{HOST}:0", "upstream": primary.url[7:],
                                       "enabled": True, "protocol": "http"}])
    with ToxiproxyClient(faultproxy.url) as toxiproxy:
        proxied = "http://" + toxiproxy.proxy(proxy)["listen"]
        router = children.router([primary, secondary], [(PRIMARY_REGION, proxied), (SECONDARY_REGION, secondary.url)])
        with httpx.Client(base_url=router.url, timeout=5) as client:
            assert served(client.get("/index.html")) == ("Miss", PRIMARY_REGION)

            toxiproxy.add_toxic(proxy, "http_error", {"status": 503}, stream="upstream")
            index = client.get("/index.html")
            assert served(index) == ("Miss", SECONDARY_REGION) and index.content == SITE.index.body
            asset = client.get(ASSETS[2])
            assert served(asset) == ("Miss", SECONDARY_REGION) and asset.headers["Cache-Control"] == IMMUTABLE
            assert served(client.get(ASSETS[2])) == ("Hit", None)
            status = edge_status(router)
            assert (status["origin_failovers"], status["origin_errors"]) == (2, 2)
            assert status["origins"][0]["last_error"] == "HTTP 503"

            toxiproxy.remove_toxic(proxy, "http_error_upstream")
            assert served(client.get("/index.html")) == ("Miss", PRIMARY_REGION)  # no stickiness: primary first
        assert edge_status(router)["origin_failovers"] == 2
