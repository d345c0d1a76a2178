"""One region's API service (the API Gateway + Lambda stand-in): health, cached read, committed write.

It reaches its PostgreSQL and Redis through the fault proxy, so link faults hit it as they would in
production. Every response names the serving region in `X-Region`.

    python -m infra.local.app --region eu-central-1 --port 15414 --db-port 15422 --redis-port 15424
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time

import psycopg
import uvicorn
from psycopg_pool import AsyncConnectionPool
from redis import asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infra.local.ai_gateway import AIGateway, ai_routes
from infra.local.postgres import dsn
from infra.local.slots import Release

DB_TIMEOUT_S = 2.0
HEALTH_TIMEOUT_S = 0.5
CACHE_TIMEOUT_S = 0.3
CACHE_TTL_S = 60
READ_ONLY_SQLSTATE = "25006"
DEFAULT_RELEASE = Release()  # frozen, so one shared default instance is safe


class Region:
    """The region's dependencies; every call is bounded in time so a cut link cannot hang a request."""

    def __init__(self, name: str, db_port: int, redis_port: int, release: Release = DEFAULT_RELEASE,
                 providers: list[tuple[str, str]] | None = None):
        self.name = name
        self.release = release
        self.ai = AIGateway(providers) if providers else None
        # check: a pooled connection to a database that restarted since (re-cloned, failed back) is replaced
        # before use instead of failing one request with 503 (about 0.2 ms a request on loopback).
        self.pool = AsyncConnectionPool(dsn(db_port, connect_timeout_s=1), min_size=1, max_size=10,
                                        timeout=DB_TIMEOUT_S, open=False, kwargs={"autocommit": True},
                                        reconnect_timeout=3600, check=AsyncConnectionPool.check_connection)
        self.cache = aioredis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=CACHE_TIMEOUT_S,
                                    socket_connect_timeout=CACHE_TIMEOUT_S, retry=Retry(NoBackoff(), 0))

    async def query(self, sql: str, args: tuple = (), timeout_s: float = DB_TIMEOUT_S) -> list[tuple]:
        async with asyncio.timeout(timeout_s):
            async with self.pool.connection() as conn:
                cur = await conn.execute(sql, args)
                return await cur.fetchall() if cur.description else []

    def response(self, body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=headers)  # X-Region: see RegionHeaders

    async def regression(self) -> JSONResponse | None:
        """A bad release's injected latency, and its injected error (a 500) for this request, if drawn."""
        if self.release.added_latency_ms:
            await asyncio.sleep(self.release.added_latency_ms / 1000)
        if self.release.error_rate and random.random() < self.release.error_rate:
            return self.response({"error": f"release {self.release.label} failed this request (injected "
                                           f"regression, error rate {self.release.error_rate})"}, 500)
        return None


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {str(exc).strip() or 'no detail'}"


async def health(request: Request) -> JSONResponse:
    region: Region = request.app.state.region
    db: dict = {"ok": False}
    started = time.perf_counter()
    try:
        rows = await region.query("SELECT pg_is_in_recovery()", timeout_s=HEALTH_TIMEOUT_S)
        standby = bool(rows[0][0])
        db = {"ok": True, "writable": not standby, "role": "standby" if standby else "primary"}
    except (psycopg.Error, OSError, TimeoutError, Exception) as exc:  # any failure is an unhealthy DB
        db = {"ok": False, "writable": False, "role": "unknown", "error": _error_text(exc)}
    db["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    cache: dict
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            await region.cache.ping()
        cache = {"ok": True}
    except (RedisError, OSError, TimeoutError) as exc:
        cache = {"ok": False, "error": _error_text(exc)}
    status = "ok" if db["ok"] and cache["ok"] else ("degraded" if db["ok"] else "down")
    body = {"region": region.name, "status": status, "release": region.release.label, "db": db, "cache": cache,
            "ai_circuits": region.ai.breaker_states() if region.ai else None}
    return region.response(body, 200 if db["ok"] else 503, {"X-Db-Role": db["role"]})


async def read_item(request: Request) -> JSONResponse:
    """Cache-aside read: Redis first, the database on a miss or when the cache is unreachable."""
    region: Region = request.app.state.region
    if (failed := await region.regression()) is not None:
        return failed
    item_id = request.path_params["item_id"]
    key = f"item:{item_id}"
    cache_state = "miss"
    try:
        cached = await region.cache.get(key)
        if cached is not None:
            return region.response(json.loads(cached), headers={"X-Cache": "hit"})
    except (RedisError, OSError, TimeoutError):
        cache_state = "bypass"  # the cache is never the source of truth
    try:
        rows = await region.query("SELECT id, name, price_cents FROM items WHERE id = %s", (item_id,))
    except Exception as exc:
        return region.response({"error": f"read of item {item_id} in {region.name} failed: {_error_text(exc)}"}, 503)
    if not rows:
        return region.response({"error": f"item {item_id} not found"}, 404, {"X-Cache": cache_state})
    item = {"id": rows[0][0], "name": rows[0][1], "price_cents": rows[0][2], "region": region.name}
    if cache_state == "miss":
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await region.cache.set(key, json.dumps(item), ex=CACHE_TTL_S)
    return region.response(item, headers={"X-Cache": cache_state})


async def write(request: Request) -> JSONResponse:
    """Store the client's sequence number; answers only after the commit (201, or 200 when already stored)."""
    region: Region = request.app.state.region
    if (failed := await region.regression()) is not None:
        return failed
    try:
        body = await request.json()
        seq = int(body["seq"])
        payload = body.get("payload")
    except (ValueError, KeyError, TypeError):
        return region.response({"error": 'body must be JSON like {"seq": 42, "payload": "optional"}'}, 400)
    try:
        rows = await region.query(
            "INSERT INTO canary_writes (seq, region, payload) VALUES (%s, %s, %s) "
            "ON CONFLICT (seq) DO NOTHING RETURNING written_at", (seq, region.name, payload))
    except psycopg.Error as exc:
        if exc.sqlstate == READ_ONLY_SQLSTATE:
            return region.response({"error": f"write of seq {seq} refused: the database in {region.name} is a "
                                             "read-only standby; writes go to the writer region", "seq": seq},
                                   503, {"X-Db-Role": "standby"})
        return region.response({"error": f"write of seq {seq} in {region.name} failed: {_error_text(exc)}"}, 503)
    except Exception as exc:
        return region.response({"error": f"write of seq {seq} in {region.name} failed: {_error_text(exc)}"}, 503)
    if not rows:
        return region.response({"seq": seq, "region": region.name, "duplicate": True}, 200)
    return region.response({"seq": seq, "region": region.name, "committed_at": rows[0][0].isoformat()}, 201)


async def read_write(request: Request) -> JSONResponse:
    """Whether sequence number `seq` is stored in this region's database (the RPO canary reads this)."""
    region: Region = request.app.state.region
    seq = request.path_params["seq"]
    try:
        rows = await region.query("SELECT region, written_at FROM canary_writes WHERE seq = %s", (seq,))
    except Exception as exc:
        return region.response({"error": f"read of seq {seq} in {region.name} failed: {_error_text(exc)}"}, 503)
    if not rows:
        return region.response({"seq": seq, "found": False}, 404)
    return region.response({"seq": seq, "found": True, "region": rows[0][0], "written_at": rows[0][1].isoformat()})


async def write_stats(request: Request) -> JSONResponse:
    """Highest stored sequence number and the row count in this region's database."""
    region: Region = request.app.state.region
    try:
        rows = await region.query("SELECT coalesce(max(seq), 0), count(*) FROM canary_writes")
    except Exception as exc:
        return region.response({"error": f"read of write stats in {region.name} failed: {_error_text(exc)}"}, 503)
    return region.response({"max_seq": rows[0][0], "count": rows[0][1]})


class RegionHeaders:
    """ASGI middleware: every response (the AI routes' too) names the serving region and release."""

    def __init__(self, app, region: Region):
        self.app = app
        self.extra = [(b"x-region", region.name.encode()), (b"x-deployment", region.release.label.encode())]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in self.extra if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_app(region_name: str, db_port: int, redis_port: int, release: Release = DEFAULT_RELEASE,
              providers: list[tuple[str, str]] | None = None) -> Starlette:
    region = Region(region_name, db_port, redis_port, release, providers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.region = region
        await region.pool.open(wait=False)
        try:
            yield
        finally:
            await region.pool.close(timeout=1)
            await region.cache.aclose()
            if region.ai:
                await region.ai.close()

    routes = [
        Route("/health", health),
        Route("/items/{item_id:int}", read_item),
        Route("/writes", write, methods=["POST"]),
        Route("/writes/stats", write_stats),
        Route("/writes/{seq:int}", read_write),
        *(ai_routes(region.ai) if region.ai else []),
    ]
    return RegionHeaders(Starlette(routes=routes, lifespan=lifespan), region)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-port", type=int, required=True, help="port of the link to this region's PostgreSQL")
    parser.add_argument("--redis-port", type=int, required=True, help="port of the link to this region's Redis")
    parser.add_argument("--slot", default="blue", help="blue/green slot this instance belongs to")
    parser.add_argument("--version", default="v1", help="release version this instance runs")
    parser.add_argument("--error-rate", type=float, default=0.0, help="bad release: share of requests answered 500")
    parser.add_argument("--added-latency-ms", type=float, default=0.0, help="bad release: latency added per request")
    parser.add_argument("--provider", action="append", default=[], metavar="NAME=URL",
                        help="AI provider in priority order (repeat); without any, /ai is absent")
    args = parser.parse_args(argv)
    release = Release(args.slot, args.version, args.error_rate, args.added_latency_ms)
    providers = [tuple(p.split("=", 1)) for p in args.provider]
    app = build_app(args.region, args.db_port, args.redis_port, release, providers)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
