"""A tiny stand-in for the router + API, for sampler tests: fails or stalls on demand, records committed seqs.

    python -m tests.integration.fake_entry_point --port 8099

`POST /_control/fail?s=1` answers 503 to health and writes for 1 s; `POST /_control/stall?s=1` commits
writes but holds their answers for 1 s (a write that may have committed: the canary's "uncertain");
`GET /_control/seqs` lists the committed seqs; `GET /_control/connections` the client connections (by their
source port) that health checks and writes arrived on; `POST /canary` is a second write path (a canary endpoint)
that records its seqs as well.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import web

HEADERS = {"X-Region": "fake-1", "X-Router-Region": "fake-1"}


def build_app() -> web.Application:
    state = {"fail_until": 0.0, "stall_until": 0.0, "seqs": set(), "connections": {"health": set(), "write": set()}}

    def seen(request: web.Request, path: str) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            state["connections"][path].add(peer[1])

    def failing() -> bool:
        return time.time() < state["fail_until"]

    async def control(request: web.Request) -> web.Response:
        until = time.time() + float(request.query.get("s", "1"))
        state[f"{request.match_info['mode']}_until"] = until
        return web.json_response({"until_s": until})

    async def seqs(request: web.Request) -> web.Response:
        return web.json_response(sorted(state["seqs"]))

    async def connections(request: web.Request) -> web.Response:
        return web.json_response({path: len(ports) for path, ports in state["connections"].items()})

    async def health(request: web.Request) -> web.Response:
        seen(request, "health")
        if failing():
            return web.json_response({"status": "down"}, status=503, headers=HEADERS)
        return web.json_response({"region": "fake-1", "status": "ok",
                                  "db": {"ok": True, "writable": True, "role": "primary"}}, headers=HEADERS)

    async def write(request: web.Request) -> web.Response:
        seen(request, "write")
        seq = int((await request.json())["seq"])
        if failing():
            return web.json_response({"error": "standby"}, status=503, headers=HEADERS)
        duplicate = seq in state["seqs"]
        state["seqs"].add(seq)
        while (wait := state["stall_until"] - time.time()) > 0:
            await asyncio.sleep(wait)
        return web.json_response({"seq": seq}, status=200 if duplicate else 201, headers=HEADERS)

    async def router_status(request: web.Request) -> web.Response:
        return web.json_response({"served_region": "fake-1", "active_region": "fake-1",
                                  "switches": [{"at_s": 1.0, "from": "fake-0", "to": "fake-1"}]})

    app = web.Application()
    app.router.add_post("/_control/{mode:fail|stall}", control)
    app.router.add_get("/_control/seqs", seqs)
    app.router.add_get("/_control/connections", connections)
    app.router.add_post("/canary", write)
    app.router.add_get("/health", health)
    app.router.add_post("/writes", write)
    app.router.add_get("/_router/status", router_status)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(build_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
