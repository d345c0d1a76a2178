"""The fault proxy as a real process in front of a real TCP echo server and a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from gameday.base.errors import StackError
from infra.local.layout import HOST
from infra.local.toxiproxy_client import ToxiproxyClient
from tests.support import free_port
from tests.support import stop_process as stop_faultproxy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]



class Upstreams:
    """A TCP echo server and an HTTP server on one event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="upstreams")
        self.thread.start()
        self.echo_port, self.http_port = self._run(self._start())

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    async def _start(self) -> tuple[int, int]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        self.echo_server = await asyncio.start_server(echo, HOST, 0)

        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"path": request.path})

        async def upload(request: web.Request) -> web.Response:
            return web.Response(body=await request.read())

        app = web.Application()
        app.add_routes([web.get("/hello", hello), web.post("/echo", upload)])
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, HOST, 0)
        await site.start()
        return self.echo_server.sockets[0].getsockname()[1], site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self.echo_server.close()
        await self.runner.cleanup()

    def close(self) -> None:
        self._run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def upstreams():
    servers = Upstreams()
    yield servers
    servers.close()


def start_faultproxy(config: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """The fault proxy process (stderr to `log`), once its API answers; returns it and its API URL."""
    port = free_port()
    with log.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "infra.local.faultproxy", "--host", HOST, "--port", str(port),
                                 "--config", str(config), "--seed", "1"], cwd=ROOT, stderr=stderr)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{url}/version", timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_faultproxy(proc)
                pytest.fail(f"the fault proxy did not start: {log.read_text()}")
            time.sleep(0.05)




def write_config(directory: Path, upstream_port: int) -> Path:
    config = directory / "proxies.json"
    config.write_text(json.dumps([{"name": "from-config", "listen": f"{HOST}:0",
                                   "upstream": f"{HOST}:{upstream_port}"}]))
    return config


@pytest.fixture(scope="module")
def faultproxy(upstreams, tmp_path_factory):
    """The fault proxy process, started with a config file holding one proxy; yields its API URL."""
    directory = tmp_path_factory.mktemp("faultproxy")
    log = directory / "faultproxy.log"
    proc, url = start_faultproxy(write_config(directory, upstreams.echo_port), log)
    try:
        yield url
    finally:
        stop_faultproxy(proc)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture
def client(faultproxy):
    with ToxiproxyClient(faultproxy) as toxiproxy:
        yield toxiproxy
        toxiproxy.reset()
        for name in toxiproxy.proxies():
            if name != "from-config":
                toxiproxy.delete_proxy(name)


@pytest.fixture
def tcp(client, upstreams) -> tuple[str, int]:
    """(name, listen port) of a TCP proxy in front of the echo server."""
    proxy = client.create_proxy("echo", f"{HOST}:0", f"{HOST}:{upstreams.echo_port}")
    return "echo", int(proxy["listen"].rsplit(":", 1)[1])


@pytest.fixture
def http(client, upstreams) -> tuple[str, str]:
    """(name, base URL) of an HTTP proxy in front of the HTTP server."""
    proxy = client.create_proxy("web", f"{HOST}:0", f"{HOST}:{upstreams.http_port}", protocol="http")
    return "web", f"http://{proxy['listen']}"


def connect(port: int, timeout_s: float = 2.0) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(1 << 20)
        assert chunk, "connection closed mid-echo"
        got += chunk
    return got


def median_rtt_ms(sock: socket.socket, n: int = 9) -> float:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        assert round_trip(sock, b"ping %d" % i) == b"ping %d" % i
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def test_the_config_file_proxies_are_served_and_the_version_answers(client, upstreams):
    assert client.version()
    proxy = client.proxy("from-config")
    assert proxy["enabled"] and proxy["protocol"] == "tcp" and proxy["toxics"] == []
    with connect(int(proxy["listen"].rsplit(":", 1)[1])) as sock:
        assert round_trip(sock, b"hello") == b"hello"


def test_tcp_passes_through_unchanged(tcp):
    payload = os.urandom(2 * 1024 * 1024)
    with connect(tcp[1]) as sock:
        assert round_trip(sock, b"x") == b"x"
        assert round_trip(sock, payload) == payload


def test_http_passes_through_unchanged(http):
    with httpx.Client(base_url=http[1], timeout=5) as web_client:
        assert web_client.get("/hello").json() == {"path": "/hello"}
        body = os.urandom(300_000)
        assert web_client.post("/echo", content=body).content == body


def test_a_latency_toxic_adds_about_its_delay_to_live_connections(client, tcp):
    with connect(tcp[1]) as sock:
        baseline = median_rtt_ms(sock)
        client.add_toxic(tcp[0], "latency", {"latency": 100, "jitter": 0})
        delayed = median_rtt_ms(sock)
        client.remove_toxic(tcp[0], "latency_downstream")
        restored = median_rtt_ms(sock, n=3)
    assert 80 <= delayed - baseline <= 160, (baseline, delayed)
    assert restored < 50, restored


def test_disabling_cuts_live_connections_and_refuses_new_ones_until_enabled(client, tcp):
    name, port = tcp
    with connect(port) as live:
        assert round_trip(live, b"before") == b"before"
        assert client.set_enabled(name, False)["enabled"] is False
        try:
            assert live.recv(100) == b""
        except ConnectionError:
            pass
    with pytest.raises(ConnectionRefusedError):
        connect(port).close()
    client.set_enabled(name, True)
    with connect(port) as sock:
        assert round_trip(sock, b"after") == b"after"


def test_http_error_answers_every_request_at_toxicity_one_and_none_at_zero(client, http):
    name, url = http
    client.add_toxic(name, "http_error", {"status": 503}, stream="upstream", toxicity=1.0)
    with httpx.Client(base_url=url, timeout=5) as web_client:
        answers = [web_client.get("/hello") for _ in range(5)] + [web_client.post("/echo", content=b"x" * 5000)]
        assert [a.status_code for a in answers] == [503] * 6
        assert all(a.headers["X-Fault-Injected"] == "http_error" for a in answers)
        assert answers[0].json()["status"] == 503
        client.update_toxic(name, "http_error_upstream", toxicity=0.0)
        assert [web_client.get("/hello").status_code for _ in range(5)] == [200] * 5
        client.update_toxic(name, "http_error_upstream", {"status": 500, "body": "boom"}, toxicity=1.0)
        failed = web_client.get("/hello")
        assert (failed.status_code, failed.text) == (500, "boom")
        client.remove_toxic(name, "http_error_upstream")
        assert web_client.get("/hello").status_code == 200


def test_a_timeout_of_zero_blackholes_until_removed(client, tcp):
    name, port = tcp
    client.add_toxic(name, "timeout", {"timeout": 0})
    with connect(port, timeout_s=0.5) as sock:
        sock.sendall(b"anyone there?")
        with pytest.raises(socket.timeout):
            sock.recv(100)
    client.remove_toxic(name, "timeout_downstream")
    with connect(port) as sock:
        assert round_trip(sock, b"back") == b"back"


def test_reset_peer_resets_and_limit_data_closes_after_its_bytes(client, tcp):
    name, port = tcp
    client.add_toxic(name, "limit_data", {"bytes": 4})
    with connect(port) as sock:
        sock.sendall(b"0123456789")
        got = b""
        while chunk := sock.recv(100):
            got += chunk
        assert got == b"0123"
    client.remove_toxic(name, "limit_data_downstream")
    with connect(port) as sock:
        client.add_toxic(name, "reset_peer", {"timeout": 50}, stream="upstream")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_reset_enables_every_proxy_and_removes_every_toxic(client, tcp, http):
    client.add_toxic(tcp[0], "latency", {"latency": 1000})
    client.add_toxic(http[0], "http_error", stream="upstream")
    client.set_enabled(tcp[0], False)
    client.reset()
    assert all(p["enabled"] and p["toxics"] == [] for p in client.proxies().values())
    with connect(tcp[1]) as sock:
        assert round_trip(sock, b"ok") == b"ok"
    assert httpx.get(f"{http[1]}/hello", timeout=5).status_code == 200


def test_errors_have_toxiproxys_shape(faultproxy, tcp):
    api = httpx.Client(base_url=faultproxy, timeout=5)
    missing = api.get("/proxies/nope")
    assert missing.status_code == 404 and missing.json() == {"error": missing.json()["error"], "status": 404}
    assert "'nope'" in missing.json()["error"]
    assert "'ghost'" in api.delete("/proxies/echo/toxics/ghost").json()["error"]
    bad = api.post("/proxies/echo/toxics", json={"type": "packet_loss"})
    assert bad.status_code == 400 and "valid types: latency" in bad.json()["error"]
    assert api.post("/proxies/echo/toxics", json={"type": "http_error"}).status_code == 400  # tcp proxy
    assert api.post("/proxies/echo/toxics", json={"type": "latency"}).status_code == 200
    dup = api.post("/proxies/echo/toxics", json={"type": "latency"})
    assert dup.status_code == 409 and dup.json()["status"] == 409
    taken = api.post("/proxies", json={"name": "echo", "listen": f"{HOST}:0", "upstream": f"{HOST}:1"})
    assert taken.status_code == 409 and "'echo'" in taken.json()["error"]
    api.close()


def test_the_client_raises_stack_errors_naming_the_proxy(client, upstreams):
    with pytest.raises(StackError, match="proxy 'nope'.*not found"):
        client.set_enabled("nope", False)
    with pytest.raises(StackError, match="packet_loss"):
        client.add_toxic("from-config", "packet_loss")
    populated = client.populate([{"name": "pop", "listen": f"{HOST}:0", "upstream": f"{HOST}:{upstreams.echo_port}"},
                                 {"name": "from-config", "listen": client.proxy("from-config")["listen"],
                                  "upstream": f"{HOST}:{upstreams.echo_port}"}])
    assert [p["name"] for p in populated] == ["pop", "from-config"]
    assert client.add_toxic("pop", "bandwidth", {"rate": 100}, name="slow")["attributes"] == {"rate": 100}
    assert [t["name"] for t in client.toxics("pop")] == ["slow"]
    with pytest.raises(StackError, match="version query on the fault proxy.*ConnectError"):
        ToxiproxyClient(f"http://{HOST}:{free_port()}", timeout_s=1).version()


def test_sigterm_cuts_live_connections_frees_the_ports_and_exits_cleanly(upstreams, tmp_path):
    proc, url = start_faultproxy(write_config(tmp_path, upstreams.echo_port), tmp_path / "faultproxy.log")
    try:
        listen_port = int(ToxiproxyClient(url).proxy("from-config")["listen"].rsplit(":", 1)[1])
        with connect(listen_port) as live:
            assert round_trip(live, b"hi") == b"hi"
            assert stop_faultproxy(proc) == 0
            assert live.recv(10) == b""
    finally:
        stop_faultproxy(proc)
    api_port = int(url.rsplit(":", 1)[1])
    for port in (api_port, listen_port):
        with pytest.raises(ConnectionRefusedError):
            connect(port).close()
    assert "stopping" in (tmp_path / "faultproxy.log").read_text()
