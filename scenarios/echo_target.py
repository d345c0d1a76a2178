"""A tiny HTTP target for load tests and benchmarks on loopback: answers every path, stalls on demand.

    python -m scenarios.echo_target --port 8089

`POST /_stall?s=2` makes every request (new or in flight) wait until 2 s from now and answers the stall's
start and end (epoch s, `stall_from`, `stall_until`); `GET /_count` answers how many requests it answered (the
ground truth for sample counts; `?reset=1` starts again from 0); responses carry `X-Region: echo` and
`X-Cache: hit` like the stack's API.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import web

HEADERS = {"X-Region": "echo", "X-Cache": "hit"}


def build_app() -> web.Application:
    state = {"stall_until": 0.0, "answered": 0}

    async def count(request: web.Request) -> web.Response:
        answered = state["answered"]
        if request.query.get("reset"):
            state["answered"] = 0
        return web.json_response({"answered": answered})

    async def stall(request: web.Request) -> web.Response:
        stall_from = time.time()
        state["stall_until"] = stall_from + float(request.query.get("s", "2"))
        return web.json_response({"stall_from": stall_from, "stall_until": state["stall_until"]})

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        while (wait := state["stall_until"] - time.time()) > 0:
            await asyncio.sleep(wait)
        state["answered"] += 1
        return web.Response(text="ok", headers=HEADERS)

    app = web.Application()
    app.router.add_post("/_stall", stall)
    app.router.add_get("/_count", count)
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(build_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
