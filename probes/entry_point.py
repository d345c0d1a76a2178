"""One observation through the public entry point: a health read, a canary write, the router's status.

Each coroutine takes the *intended* time of the observation (epoch s) and never raises for a failed
request: a failure is the measurement. Canary outcomes:

    acked      a 2xx answer (200 duplicate or 201 committed): the write is durable on the writer it reached
    failed     a definite refusal: a non-2xx answer from the API, or no connection could be made
    uncertain  no answer within the client-side timeout, the connection broke after the request was
               sent, or a proxy answered 502/504 for an upstream that may have committed - it may or may
               not have been written (synchronous replication with a dead standby hangs exactly like this)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from gameday.base.probe_kinds import ProbeKind

# The request never left this process: nothing can have been written.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# A proxy (the router) lost its upstream after forwarding: the API may have committed.
GATEWAY_STATUSES = (502, 504)


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def health_probe(client: httpx.AsyncClient, url: str, at_s: float, timeout_s: float,
                       now: Callable[[], float] = time.time) -> dict:
    """GET the health URL; latency counts from the intended time `at_s` (coordinated-omission corrected)."""
    status, region, error = 0, None, None
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.get(url)
        status, region = response.status_code, response.headers.get("X-Region")
        if status != 200:
            error = f"HTTP {status}"
    except TimeoutError:
        error = f"no answer within {timeout_s} s"
    except httpx.HTTPError as exc:
        error = _error_text(exc)
    return {"probe": ProbeKind.health, "at_s": at_s, "latency_ms": round((now() - at_s) * 1000, 3), "status": status,
            "ok": status == 200, "region": region, "error": error}


async def canary_probe(client: httpx.AsyncClient, url: str, seq: int, sent_s: float, timeout_s: float,
                       now: Callable[[], float] = time.time) -> dict:
    """POST `{"seq": seq}` to the write URL and classify the outcome (see the module docstring)."""
    status, region, error, acked_s = 0, None, None, None
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.post(url, json={"seq": seq})
        status, region = response.status_code, response.headers.get("X-Region")
        if 200 <= status < 300:
            outcome, acked_s = "acked", now()
        else:
            outcome = "uncertain" if status in GATEWAY_STATUSES else "failed"
            error = f"HTTP {status}"
    except TimeoutError:
        outcome, error = "uncertain", f"no answer within {timeout_s} s"
    except NOT_SENT as exc:
        outcome, error = "failed", _error_text(exc)
    except httpx.HTTPError as exc:
        outcome, error = "uncertain", _error_text(exc)
    return {"probe": ProbeKind.canary, "seq": seq, "sent_s": sent_s, "acked_s": acked_s, "outcome": outcome,
            "status": status, "region": region, "error": error}


async def routing_probe(client: httpx.AsyncClient, url: str, at_s: float, timeout_s: float) -> dict:
    """GET the router's status: the region it serves, the region it chose, and when it last switched."""
    record = {"probe": ProbeKind.routing, "at_s": at_s, "served_region": None, "active_region": None,
              "last_switch_at_s": None, "switches": None, "error": None}
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.get(url)
        response.raise_for_status()
        body = response.json()
        switches = body.get("switches") or []
        record.update(served_region=body.get("served_region"), active_region=body.get("active_region"),
                      last_switch_at_s=switches[-1].get("at_s") if switches else None, switches=len(switches))
    except TimeoutError:
        record["error"] = f"no answer within {timeout_s} s"
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        record["error"] = _error_text(exc)
    return record
