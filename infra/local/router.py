"""The global router (the Route 53 failover record stand-in): health-checks the regions, forwards traffic.

    python -m infra.local.router --host 127.0.0.1 --port 8080 \\
        --region eu-central-1=http://127.0.0.1:15420 --region eu-west-1=http://127.0.0.1:15421

The first --region is the primary. Every forwarded response carries `X-Router-Region`. Control API:
`GET /_router/status`, `GET /_router/history[?since=EPOCH_S]`, `POST /_router/override {"region": ...}`.

With `--origin REGION=URL` (repeat; the first is the primary, the rest CloudFront's origin group) the router
is also the edge (CloudFront stand-in): `/`, `/index.html` and `/static/...` are answered from its cache or
the origins (never the API regions), with `X-Cache: Hit|Miss` and `X-Origin-Region` when an origin was
asked; policy and failover rules in `infra.local.edge`. `GET /_router/status` then has an `edge` key
(null without --origin) and `POST /_router/edge/purge` empties the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from infra.local.edge import (
    HIT,
    IMMUTABLE,
    MISS,
    NO_STORE,
    CachedObject,
    Edge,
    Next,
    PathKind,
    cache_control,
    is_cacheable,
    origin_path,
    path_kind,
)
from infra.local.layout import DEFAULT_ROUTER_PORT, HOST
from infra.local.routing import RoutingTable, Switch, checks_as_dicts
from infra.local.serving import serve_until_signal

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
CACHE_HEADER = "X-Cache"
ORIGIN_HEADER = "X-Origin-Region"
EDGE_METHODS = ("GET", "HEAD")
DEFAULT_EDGE_MAX_BYTES = 64 * 1024 * 1024


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
    """The running router: routing table, health-check tasks, the edge (with --origin) and the HTTP client sessions."""

    def __init__(self, upstreams: dict[str, str], *, interval_s: float, failure_threshold: int,
                 recovery_threshold: int, ttl_s: float, check_timeout_s: float, upstream_timeout_s: float,
                 origins: list[tuple[str, str]] | None = None, edge_max_bytes: int = DEFAULT_EDGE_MAX_BYTES,
                 origin_timeout_s: float = 2.0):
        self.edge = Edge.create(origins, edge_max_bytes) if origins else None
        self.origin_timeout_s = origin_timeout_s
        self._origin_session: aiohttp.ClientSession | None = None
        self._inflight: dict[str, asyncio.Future] = {}  # path -> the origin fetch concurrent misses share
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
        if self.edge is not None:
            self._origin_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=self.origin_timeout_s), auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar())
        self._tasks = [asyncio.create_task(self._check_loop(name)) for name in self.upstreams]

    async def stop(self, app: web.Application) -> None:
        for fetch in list(self._inflight.values()):
            fetch.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for session in (self._forward_session, self._check_session, self._origin_session):
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
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
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
        body["edge"] = self.edge.status() if self.edge is not None else None
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
                                            "POST /_router/override", "POST /_router/edge/purge"]}, status=404)

    async def edge_purge(self, request: web.Request) -> web.Response:
        if self.edge is None:
            return web.json_response({"error": "purge of the edge cache failed: the edge is off",
                                      "hint": "start the router with --origin REGION=URL"}, status=404)
        purged = self.edge.purge()
        _log(f"edge cache purged: {purged['purged_objects']} objects, {purged['purged_bytes']} bytes")
        return web.json_response(purged)

    # --- edge (CloudFront stand-in) ----------------------------------------------------------------
    async def edge_request(self, request: web.Request) -> web.StreamResponse:
        kind = path_kind(request.path)
        if kind is PathKind.NOT_EDGE:  # e.g. /static//x or /static/../x: not an object name, not ours
            return await self.forward(request)
        if request.method not in EDGE_METHODS:
            self.edge.count_miss()
            return web.json_response({"error": f"the edge serves GET and HEAD only, not {request.method} "
                                               f"{request.path}"}, status=405,
                                     headers={"Allow": ", ".join(EDGE_METHODS), CACHE_HEADER: MISS})
        if kind is PathKind.HASHED_ASSET:
            cached = self.edge.lookup(request.path)
            if cached is not None:
                headers = {"Content-Type": cached.content_type, "Cache-Control": IMMUTABLE, CACHE_HEADER: HIT,
                           "Age": str(max(0, int(time.time() - cached.stored_at_s)))}
                if cached.etag:
                    headers["ETag"] = cached.etag
                return web.Response(body=cached.body, headers=headers)
            # Request collapsing (as CloudFront does): concurrent misses of one object share one origin fetch.
            fetch = self._inflight.get(request.path)
            self.edge.count_miss(collapsed=fetch is not None)
            if fetch is None:
                fetch = self._inflight[request.path] = asyncio.ensure_future(self._from_origins(kind, request.path))
                fetch.add_done_callback(lambda _, path=request.path: self._inflight.pop(path, None))
        else:
            self.edge.count_miss()
            fetch = asyncio.ensure_future(self._from_origins(kind, request.path))
        status, headers, body = await asyncio.shield(fetch)  # a client that hangs up does not cancel the fetch
        return web.Response(status=status, body=body, headers=headers)

    async def _from_origins(self, kind: PathKind, request_path: str) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of the edge's answer from the origin group; caches what may be cached."""
        path = origin_path(request_path)
        failures: list[str] = []
        for index, origin in enumerate(self.edge.origins):
            status, origin_headers, body, error = await self._ask_origin(origin.url, path)
            if self.edge.record_attempt(index, status, error) is Next.SERVE:
                break
            failures.append(f"{origin.region} ({origin.url}): {error or f'HTTP {status}'}")
        headers = {CACHE_HEADER: MISS, ORIGIN_HEADER: origin.region}
        if status is None:  # the last origin of the group did not answer either
            self.edge.count_response(502)
            text = json.dumps({"error": f"fetch of {path} from the origin group failed: " + "; ".join(failures),
                               "origins": [o.region for o in self.edge.origins]})
            headers.update({"Content-Type": "application/json; charset=utf-8", "Cache-Control": NO_STORE})
            return 502, headers, text.encode()
        content_type = origin_headers.get("Content-Type", "application/octet-stream")
        headers.update({"Content-Type": content_type, "Cache-Control": cache_control(kind, status)})
        etag = origin_headers.get("ETag")
        if etag:
            headers["ETag"] = etag
        if is_cacheable(kind, status):
            self.edge.store(request_path, CachedObject(body, content_type, origin.region, time.time(), etag))
        self.edge.count_response(status)  # with every origin failed, the last one's 5xx is relayed (as CloudFront does)
        return status, headers, body

    async def _ask_origin(self, base_url: str, path: str) -> tuple[int | None, CIMultiDict, bytes, str | None]:
        """(status, headers, body, None) of GET `path` from one origin, or (None, {}, b"", error)."""
        url = URL(base_url + path, encoded=True)  # edge paths are plain ASCII names (see edge.path_kind)
        for attempt in range(2):
            try:
                async with self._origin_session.get(url, allow_redirects=False) as resp:
                    return resp.status, CIMultiDict(resp.headers), await resp.read(), None
            except aiohttp.ServerDisconnectedError as exc:
                if attempt == 0:  # a pooled keep-alive connection the origin had closed: once more, fresh
                    continue
                return None, CIMultiDict(), b"", _error_text(exc)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                return None, CIMultiDict(), b"", _error_text(exc)
        raise AssertionError("unreachable: the loop returns on its last attempt")

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
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
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
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
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
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
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
    app.router.add_post("/_router/edge/purge", router.edge_purge)
    app.router.add_route("*", "/_router/{tail:.*}", router.control_not_found)
    if router.edge is not None:  # without origins these paths are forwarded like any other
        for path in ("/", "/index.html", "/static/{tail:.*}"):
            app.router.add_route("*", path, router.edge_request)
    app.router.add_route("*", "/{tail:.*}", router.forward)
    app.on_startup.append(router.start)
    app.on_cleanup.append(router.stop)
    return app


def parse_region(text: str, flag: str = "--region") -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{flag} wants NAME=http://HOST:PORT, got {text!r}")
    return name, url


def parse_origin(text: str) -> tuple[str, str]:
    return parse_region(text, "--origin")


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
    p.add_argument("--origin", type=parse_origin, action="append", default=[], dest="origins",
                   help="REGION=URL of a static-site origin; repeat; the first is the primary, the others the "
                        "failover group; turns the edge cache on for /, /index.html and /static/")
    p.add_argument("--edge-max-bytes", type=int, default=DEFAULT_EDGE_MAX_BYTES,
                   help="byte bound of the edge cache (bodies; least recently used evicted first)")
    p.add_argument("--origin-timeout-s", type=float, default=2.0,
                   help="seconds an origin has to answer in full before the next one is asked")
    args = p.parse_args(argv)
    names = [name for name, _ in args.regions]
    if len(set(names)) != len(names):
        p.error(f"duplicate --region name in {names}")
    origin_names = [name for name, _ in args.origins]
    if len(set(origin_names)) != len(origin_names):
        p.error(f"duplicate --origin name in {origin_names}")
    if args.edge_max_bytes <= 0 or args.origin_timeout_s <= 0:
        p.error("--edge-max-bytes and --origin-timeout-s must be > 0")
    if args.interval_s <= 0 or args.check_timeout_s <= 0 or args.upstream_timeout_s <= 0:
        p.error("--interval-s, --check-timeout-s and --upstream-timeout-s must be > 0")
    if args.failure_threshold < 1 or args.recovery_threshold < 1 or args.ttl_s < 0:
        p.error("thresholds must be >= 1 and --ttl-s >= 0")
    return args


async def serve(args: argparse.Namespace) -> None:
    router = Router(dict(args.regions), interval_s=args.interval_s, failure_threshold=args.failure_threshold,
                    recovery_threshold=args.recovery_threshold, ttl_s=args.ttl_s,
                    check_timeout_s=args.check_timeout_s, upstream_timeout_s=args.upstream_timeout_s,
                    origins=args.origins, edge_max_bytes=args.edge_max_bytes, origin_timeout_s=args.origin_timeout_s)
    await serve_until_signal(build_app(router), args.host, args.port, backlog=1024, on_listening=lambda: _log(
        f"listening on http://{args.host}:{args.port}; regions: "
        + ", ".join(f"{n}={u}" for n, u in router.upstreams.items()) + f"; primary {router.table.primary}"
        + ("; edge origins: " + ", ".join(f"{o.region}={o.url}" for o in router.edge.origins)
           if router.edge is not None else "")))


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
