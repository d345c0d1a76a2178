"""The global router (the Route 53 failover record stand-in): health-checks the regions, forwards traffic.

    python -m infra.local.router --host 127.0.0.1 --port 8080 \\
        --region eu-central-1=http://127.0.0.1:15420 --region eu-west-1=http://127.0.0.1:15421

The first --region is the primary. Every forwarded response carries `X-Router-Region`. Control API:
`GET /_router/status`, `GET /_router/history[?since=EPOCH_S]`, `POST /_router/override {"region": ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from infra.local.layout import DEFAULT_ROUTER_PORT, HOST
from infra.local.routing import RoutingTable, Switch, checks_as_dicts

REGION_HEADER = "X-Router-Region"
CONTROL_PREFIX = "/_router/"
SMALL_BODY_BYTES = 64 * 1024  # bodies up to this size are read whole: cheaper than streaming them
CHUNK_BYTES = 64 * 1024
HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
    "TE", "Trailer", "Transfer-Encoding", "Upgrade"))
REQUEST_DROP = HOP_BY_HOP | {"host"}
RESPONSE_DROP = HOP_BY_HOP | {"content-length"}
IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))


def _log(message: str) -> None:
    print(f"router: {message}", file=sys.stderr, flush=True)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {str(exc).strip() or 'no detail'}"


def _filtered(headers, drop: frozenset[str]) -> CIMultiDict:
    """Copy of `headers` without the hop-by-hop ones (and those the Connection header names)."""
    connection = headers.get("Connection")
    if connection:
        drop = drop | {token.strip().lower() for token in connection.split(",")}
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in drop)


class Router:
    """The running router: routing table, health-check tasks and the two HTTP client sessions."""

    def __init__(self, upstreams: dict[str, str], *, interval_s: float, failure_threshold: int,
                 recovery_threshold: int, ttl_s: float, check_timeout_s: float, upstream_timeout_s: float):
        self.upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
        self.table = RoutingTable(list(upstreams), failure_threshold=failure_threshold,
                                  recovery_threshold=recovery_threshold, ttl_s=ttl_s)
        self.interval_s = interval_s
        self.check_timeout_s = check_timeout_s
        self.upstream_timeout_s = upstream_timeout_s
        self._forward_session: aiohttp.ClientSession | None = None
        self._check_session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task] = []

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self, app: web.Application) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.upstream_timeout_s,
                                        sock_read=self.upstream_timeout_s)
        self._forward_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30),
            timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"))
        # A fresh connection per check: a dead pooled keep-alive connection must not hide an outage.
        self._check_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=0),
            timeout=aiohttp.ClientTimeout(total=self.check_timeout_s), cookie_jar=aiohttp.DummyCookieJar())
        self._tasks = [asyncio.create_task(self._check_loop(name)) for name in self.upstreams]

    async def stop(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for session in (self._forward_session, self._check_session):
            if session is not None:
                await session.close()

    # --- health checks ---------------------------------------------------------------------------
    async def check_once(self, region: str) -> None:
        url = self.upstreams[region] + "/health"
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            async with self._check_session.get(url) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = _error_text(exc)
        latency_ms = (time.monotonic() - started) * 1000.0
        switch = self.table.record_check(region, status == 200 and error is None, time.time(),
                                         status=status, error=error, latency_ms=round(latency_ms, 3))
        if switch is not None:
            self._log_switch(switch)

    async def _check_loop(self, region: str) -> None:
        next_at = time.monotonic()
        while True:
            await self.check_once(region)
            next_at += self.interval_s
            delay = next_at - time.monotonic()
            if delay < 0:  # a check outlasted the interval: start the next one now, do not burst
                next_at = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)

    @staticmethod
    def _log_switch(switch: Switch) -> None:
        _log(f"switch {switch.from_region} -> {switch.to_region} at {switch.as_dict()['at']}: {switch.reason}")

    # --- control API -----------------------------------------------------------------------------
    async def status(self, request: web.Request) -> web.Response:
        body = self.table.status(time.time())
        body["interval_s"] = self.interval_s
        body["check_timeout_s"] = self.check_timeout_s
        body["upstreams"] = self.upstreams
        return web.json_response(body)

    async def history(self, request: web.Request) -> web.Response:
        since = request.query.get("since")
        try:
            since_s = float(since) if since is not None else None
        except ValueError:
            return web.json_response({"error": f"since must be epoch seconds, got {since!r}"}, status=400)
        return web.json_response({"checks": checks_as_dicts(self.table.checks_since(since_s))})

    async def override(self, request: web.Request) -> web.Response:
        valid = list(self.table.regions)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "body must be JSON like {\"region\": \"eu-west-1\"} or "
                                               "{\"region\": null}", "valid_regions": valid}, status=400)
        if not isinstance(body, dict) or "region" not in body:
            return web.json_response({"error": "body needs a \"region\" key (a region name or null)",
                                      "valid_regions": valid}, status=400)
        try:
            switch = self.table.set_override(body["region"], time.time())
        except ValueError as exc:
            return web.json_response({"error": str(exc), "valid_regions": valid}, status=400)
        _log(f"override {'cleared' if body['region'] is None else 'set to ' + body['region']}")
        if switch is not None:
            self._log_switch(switch)
        return web.json_response({"override": self.table.override, "active_region": self.table.active_region,
                                  "switch": switch.as_dict() if switch is not None else None})

    async def control_not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"error": f"unknown control endpoint {request.method} {request.path}",
                                  "valid": ["GET /_router/status", "GET /_router/history[?since=EPOCH_S]",
                                            "POST /_router/override"]}, status=404)

    # --- forwarding ------------------------------------------------------------------------------
    async def forward(self, request: web.Request) -> web.StreamResponse:
        region = self.table.served_region(time.time())
        url = URL(self.upstreams[region] + request.raw_path, encoded=True)
        headers = _filtered(request.headers, REQUEST_DROP)
        method = request.method
        data = None
        if request.body_exists:
            length = request.content_length
            if length is not None and length <= SMALL_BODY_BYTES:
                data = await request.read()
            else:
                data = request.content.iter_chunked(CHUNK_BYTES)
        attempts = 2 if method in IDEMPOTENT and not hasattr(data, "__aiter__") else 1
        session = self._forward_session
        for attempt in range(attempts):
            try:
                resp = await session.request(method, url, headers=headers, data=data, allow_redirects=False)
                break
            except aiohttp.ServerDisconnectedError as exc:
                # A pooled keep-alive connection the upstream had closed: retry once on a fresh one.
                if attempt + 1 < attempts:
                    continue
                return self._bad_gateway(region, exc)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                return self._bad_gateway(region, exc)
        try:
            return await self._relay(request, resp, region)
        finally:
            resp.release()

    async def _relay(self, request: web.Request, resp: aiohttp.ClientResponse, region: str) -> web.StreamResponse:
        headers = _filtered(resp.headers, RESPONSE_DROP)
        headers[REGION_HEADER] = region
        length = resp.content_length
        if length is not None and length <= SMALL_BODY_BYTES:
            try:
                body = await resp.read()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                return self._bad_gateway(region, exc)
            if request.method == "HEAD" or resp.status in (204, 304):
                if resp.status != 204:
                    headers["Content-Length"] = str(length)  # the length the body would have had
                return web.Response(status=resp.status, reason=resp.reason, headers=headers)
            return web.Response(status=resp.status, reason=resp.reason, headers=headers, body=body)
        out = web.StreamResponse(status=resp.status, reason=resp.reason, headers=headers)
        if length is not None:
            out.content_length = length
        await out.prepare(request)
        try:
            async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                await out.write(chunk)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            # Headers are gone already: all we can do is cut the client's connection short.
            _log(f"upstream {region} failed mid-response for {request.method} {request.path}: {_error_text(exc)}")
            if request.transport is not None:
                request.transport.close()
            return out
        await out.write_eof()
        return out

    def _bad_gateway(self, region: str, exc: BaseException) -> web.Response:
        text = f"forwarding to region {region} ({self.upstreams[region]}) failed: {_error_text(exc)}"
        return web.Response(status=502, text=json.dumps({"error": text, "region": region}),
                            content_type="application/json", headers={REGION_HEADER: region})


def build_app(router: Router) -> web.Application:
    app = web.Application(client_max_size=SMALL_BODY_BYTES * 16)
    app.router.add_get("/_router/status", router.status)
    app.router.add_get("/_router/history", router.history)
    app.router.add_post("/_router/override", router.override)
    app.router.add_route("*", "/_router/{tail:.*}", router.control_not_found)
    app.router.add_route("*", "/{tail:.*}", router.forward)
    app.on_startup.append(router.start)
    app.on_cleanup.append(router.stop)
    return app


def parse_region(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"--region wants NAME=http://HOST:PORT, got {text!r}")
    return name, url


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m infra.local.router", description=__doc__.splitlines()[0])
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, default=DEFAULT_ROUTER_PORT)
    p.add_argument("--region", type=parse_region, action="append", required=True, dest="regions",
                   help="NAME=URL of a region's upstream; repeat; the first one is the primary")
    p.add_argument("--interval-s", type=float, default=1.0, help="seconds between health checks of a region")
    p.add_argument("--failure-threshold", type=int, default=3)
    p.add_argument("--recovery-threshold", type=int, default=2)
    p.add_argument("--ttl-s", type=float, default=0.0, help="how long requests keep using a decision (0 = never)")
    p.add_argument("--check-timeout-s", type=float, default=1.0)
    p.add_argument("--upstream-timeout-s", type=float, default=10.0)
    args = p.parse_args(argv)
    names = [name for name, _ in args.regions]
    if len(set(names)) != len(names):
        p.error(f"duplicate --region name in {names}")
    if args.interval_s <= 0 or args.check_timeout_s <= 0 or args.upstream_timeout_s <= 0:
        p.error("--interval-s, --check-timeout-s and --upstream-timeout-s must be > 0")
    if args.failure_threshold < 1 or args.recovery_threshold < 1 or args.ttl_s < 0:
        p.error("thresholds must be >= 1 and --ttl-s >= 0")
    return args


async def serve(args: argparse.Namespace) -> None:
    router = Router(dict(args.regions), interval_s=args.interval_s, failure_threshold=args.failure_threshold,
                    recovery_threshold=args.recovery_threshold, ttl_s=args.ttl_s,
                    check_timeout_s=args.check_timeout_s, upstream_timeout_s=args.upstream_timeout_s)
    runner = web.AppRunner(build_app(router), access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, args.host, args.port, backlog=1024).start()
        _log(f"listening on http://{args.host}:{args.port}; regions: "
             + ", ".join(f"{n}={u}" for n, u in router.upstreams.items()) + f"; primary {router.table.primary}")
        await stop.wait()
        _log("stopping")
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:  # uvloop, when installed (uvicorn[standard] brings it), makes the proxy cheaper per request
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
