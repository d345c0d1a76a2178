"""The fault proxy: TCP/HTTP links with Toxiproxy's toxics, run as a process with Toxiproxy's HTTP API.

    python -m infra.local.faultproxy --host 127.0.0.1 --port 8474 [--config proxies.json] [--seed N]

The config file is Toxiproxy's: a JSON list of {name, listen, upstream, enabled?, protocol?}. This module
is the data plane (links, connections, toxics applied per chunk) and the entry point; the admin API
and the set of proxies live in `faultproxy_api`, the pure toxic logic in `toxics`. Toxics are looked
up per chunk, so changes apply to live connections; disabling a proxy stops listening and cuts every
live connection at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import socket
import struct
import sys
import time

from infra.local.faultproxy_api import ApiError, Installed, Registry, log, start_api
from infra.local.toxics import (
    RequestBody,
    RequestFramer,
    RequestStart,
    Toxic,
    bandwidth_delay_s,
    http_error_response,
    latency_delay_s,
    limit_take,
    split_address,
    toxic_applies,
)

READ_BYTES = 256 * 1024
STREAM_LIMIT = 1024 * 1024
QUEUE_CHUNKS = 256  # chunks held back by latency/bandwidth per direction before reading pauses
CONNECT_TIMEOUT_S = 5.0


def _tune(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Pipe:
    """One direction of a connection: reads `reader`, applies the stream's toxics, writes `writer`."""

    def __init__(self, conn: Connection, stream: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.conn, self.stream, self.reader, self.writer = conn, stream, reader, writer
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_CHUNKS)
        self.busy = False
        self.sent: dict[int, int] = {}  # limit_data serial -> bytes let through
        self.framer = RequestFramer() if conn.proxy.protocol == "http" and stream == "upstream" else None
        self.fault: bytes | None = None  # the answer to the request being dropped
        self.keep_alive = True

    async def read_loop(self) -> None:
        while data := await self.reader.read(READ_BYTES):
            if self.framer is None:
                await self.send(data)
            else:
                await self._send_framed(data)
        delay_ms = max((t.attributes["delay"] for t in self.conn.active(self.stream) if t.type == "slow_close"),
                       default=0)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        await self.queue.put(("eof",))

    async def _send_framed(self, data: bytes) -> None:
        for event in self.framer.feed(data):
            if isinstance(event, RequestStart):
                toxic = self.conn.http_fault() if event.faultable else None
                if toxic is None:
                    await self.send(event.head)
                    continue
                self.fault = http_error_response(toxic.attributes["status"], toxic.attributes["body"],
                                                  head_only=event.method == "HEAD", keep_alive=event.keep_alive)
                if event.complete:
                    await self._answer(event.keep_alive)
                self.keep_alive = event.keep_alive
            elif isinstance(event, RequestBody) and self.fault is not None:
                if event.last:
                    await self._answer(self.keep_alive)
            else:
                await self.send(event.data)

    async def _answer(self, keep_alive: bool) -> None:
        answer, self.fault = self.fault, None
        other = self.conn.pipes["downstream"]
        await other.send(answer)
        if not keep_alive:
            await other.queue.put(("close",))

    async def send(self, data: bytes) -> None:
        """Forward `data` through this stream's toxics (in the order they were added)."""
        toxics = self.conn.active(self.stream)
        if not toxics and not self.busy and self.queue.empty():
            self.writer.write(data)
            await self.writer.drain()
            return
        delay_s, rate, close = 0.0, 0, False
        for installed, toxic in toxics:
            kind, attrs = toxic.type, toxic.attributes
            if kind == "timeout":
                return  # dropped: the timer in Connection closes the link if the toxic says so
            if kind == "latency":
                delay_s += latency_delay_s(attrs["latency"], attrs["jitter"], self.conn.rng)
            elif kind == "bandwidth" and attrs["rate"] > 0:
                rate = min(rate, attrs["rate"]) if rate else attrs["rate"]
            elif kind == "limit_data":
                sent = self.sent.get(installed.serial, 0)
                allowed, close = limit_take(attrs["bytes"], sent, len(data))
                self.sent[installed.serial] = sent + allowed
                data = data[:allowed]
                if close:
                    break
        if data:
            await self.queue.put(("data", time.monotonic() + delay_s, data, rate))
        if close:
            await self.queue.put(("close",))

    async def write_loop(self) -> None:
        while True:
            item = await self.queue.get()
            self.busy = True
            if item[0] == "eof":
                if self.writer.can_write_eof():
                    with contextlib.suppress(OSError, RuntimeError):
                        self.writer.write_eof()
                self.conn.finished(self.stream)
                return
            if item[0] == "close":
                self.conn.abort()
                return
            _, release_at, data, rate = item
            wait_s = release_at - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            if rate:
                step = max(1, rate * 100)  # 100 ms worth of bytes per write
                for i in range(0, len(data), step):
                    self.writer.write(data[i:i + step])
                    await self.writer.drain()
                    await asyncio.sleep(bandwidth_delay_s(rate, len(data[i:i + step])))
            else:
                self.writer.write(data)
                await self.writer.drain()
            self.busy = False


class Connection:
    """One client connection and its upstream connection; draws toxicity once per toxic (per serial)."""

    def __init__(self, proxy: Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.proxy, self.rng = proxy, proxy.rng
        self.client = (reader, writer)
        self.pipes: dict[str, Pipe] = {}
        self.drawn: dict[int, bool] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.done: set[str] = set()
        self.closed = asyncio.Event()
        self.writers = [writer]

    def _applies(self, installed: Installed) -> bool:
        if installed.serial not in self.drawn:
            self.drawn[installed.serial] = toxic_applies(installed.toxic.toxicity, self.rng)
        return self.drawn[installed.serial]

    def active(self, stream: str) -> list[tuple[Installed, Toxic]]:
        """The toxics of `stream` that hit this connection, in the order they were added."""
        return [(i, i.toxic) for i in self.proxy.toxics.values()
                if i.toxic.stream == stream and i.toxic.type != "http_error" and self._applies(i)]

    def http_fault(self) -> Toxic | None:
        """The http_error toxic that answers the next request, drawn per request; None forwards it."""
        for installed in self.proxy.toxics.values():
            toxic = installed.toxic
            if toxic.type == "http_error" and toxic_applies(toxic.toxicity, self.rng):
                return toxic
        return None

    def refresh_timers(self) -> None:
        """Start the timers of timeout/reset_peer toxics new to this connection; cancel removed ones."""
        live = {i.serial: i for i in self.proxy.toxics.values()}
        for serial in [s for s in self.timers if s not in live]:
            self.timers.pop(serial).cancel()
        loop = asyncio.get_running_loop()
        for serial, installed in live.items():
            toxic = installed.toxic
            if serial in self.timers or not self._applies(installed):
                continue
            if toxic.type == "timeout" and toxic.attributes["timeout"] > 0:
                self.timers[serial] = loop.call_later(toxic.attributes["timeout"] / 1000, self.abort)
            elif toxic.type == "reset_peer":
                self.timers[serial] = loop.call_later(toxic.attributes["timeout"] / 1000, self.abort, True)

    def finished(self, stream: str) -> None:
        self.done.add(stream)
        if len(self.done) == 2:
            self.closed.set()

    def abort(self, reset: bool = False) -> None:
        """Close both sockets now; with `reset`, with SO_LINGER 0 so the peers see a RST."""
        for writer in self.writers:
            sock = writer.get_extra_info("socket")
            if reset and sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self.closed.set()

    async def run(self) -> None:
        reader, writer = self.client
        _tune(writer)
        host, port = split_address(self.proxy.upstream)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=STREAM_LIMIT), CONNECT_TIMEOUT_S)
        except (TimeoutError, OSError) as exc:
            log(f"proxy {self.proxy.name}: upstream {self.proxy.upstream} unreachable: {exc or 'timed out'}")
            self.abort()
            return
        _tune(up_writer)
        self.writers.append(up_writer)
        if self.closed.is_set():  # disabled while connecting
            self.abort()
            return
        self.pipes = {"upstream": Pipe(self, "upstream", reader, up_writer),
                      "downstream": Pipe(self, "downstream", up_reader, writer)}
        self.refresh_timers()
        tasks = [asyncio.create_task(self._guard(coro)) for pipe in self.pipes.values()
                 for coro in (pipe.read_loop(), pipe.write_loop())]
        try:
            await self.closed.wait()
        finally:
            for task in tasks:
                task.cancel()
            for timer in self.timers.values():
                timer.cancel()
            for w in self.writers:
                w.close()

    async def _guard(self, coro) -> None:
        try:
            await coro
        except (OSError, RuntimeError):  # a peer went away: the link goes with it
            self.abort()


class Proxy:
    """One link: listens on `listen`, forwards to `upstream`, applies its toxics to every connection."""

    def __init__(self, name: str, listen: str, upstream: str, *, protocol: str = "tcp",
                 rng: random.Random | None = None):
        split_address(listen)
        split_address(upstream)
        self.name, self.listen, self.upstream, self.protocol = name, listen, upstream, protocol
        self.rng = rng or random.Random()
        self.enabled = False
        self.toxics: dict[str, Installed] = {}
        self.connections: set[Connection] = set()
        self.server: asyncio.Server | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": self.enabled,
                "toxics": [i.toxic.as_dict() for i in self.toxics.values()], "protocol": self.protocol}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)

    async def start(self) -> None:
        """Listen (idempotent); OSError names the proxy and address when the port is taken."""
        if self.server is not None:
            return
        host, port = split_address(self.listen)
        try:
            self.server = await asyncio.start_server(self._handle, host, port, limit=STREAM_LIMIT,
                                                     reuse_address=True)
        except OSError as exc:
            raise OSError(f"proxy {self.name} cannot listen on {self.listen}: {exc.strerror or exc}") from exc
        self.listen = f"{host}:{self.server.sockets[0].getsockname()[1]}"  # port 0 -> the port chosen
        self.enabled = True

    def stop(self) -> None:
        """Stop listening and cut every live connection (idempotent)."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for conn in list(self.connections):
            conn.abort()
        self.enabled = False

    async def set_enabled(self, enabled: bool) -> None:
        if enabled:
            await self.start()
        else:
            self.stop()

    def set_toxics(self, toxics: dict[str, Installed]) -> None:
        self.toxics = toxics
        for conn in list(self.connections):
            if conn.pipes:
                conn.refresh_timers()


def load_config(path: str) -> list[dict]:
    """The proxies of a Toxiproxy config file (a JSON list); ValueError naming the file otherwise."""
    try:
        with open(path, encoding="utf-8") as fh:
            proxies = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ValueError(f"config file {path}: {exc}") from exc
    if not isinstance(proxies, list):
        raise ValueError(f"config file {path}: expected a JSON list of proxies, got {type(proxies).__name__}")
    return proxies


async def serve(host: str, port: int, config: str | None, seed: int | None) -> int:
    rng = random.Random(seed)
    registry = Registry(lambda name, listen, upstream, protocol: Proxy(name, listen, upstream,
                                                                     protocol=protocol, rng=rng))
    try:
        if config:
            await registry.populate(load_config(config))
    except (ValueError, ApiError) as exc:
        log(f"start failed: {exc}")
        registry.close_all()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        runner = await start_api(registry, host, port)
    except OSError as exc:
        log(f"start failed: API cannot listen on {host}:{port}: {exc.strerror or exc}")
        registry.close_all()
        return 1
    log(f"API on http://{host}:{port} with {len(registry.proxies)} proxies")
    await stop.wait()
    log("stopping")
    registry.close_all()
    await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.faultproxy", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8474)
    parser.add_argument("--config", help="Toxiproxy config file: a JSON list of proxies")
    parser.add_argument("--seed", type=int, help="seed of the toxicity draws (reproducible runs)")
    args = parser.parse_args(argv)
    return asyncio.run(serve(args.host, args.port, args.config, args.seed))


if __name__ == "__main__":
    sys.exit(main())
