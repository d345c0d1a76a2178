"""The local stack's notification sink (the Slack / pager stand-in): records every webhook delivery it receives.

    python -m infra.local.pager --host 127.0.0.1 --port 15437 --dir STACK_DIR/monitoring

`POST /hooks/<channel>` with a JSON body (the monitor's alarm state change) is recorded with the time it was
received, in memory and in `deliveries.jsonl`; `GET /deliveries[?since=EPOCH_S]` lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from aiohttp import web

from infra.local.serving import serve_until_signal

DELIVERIES_FILE = "deliveries.jsonl"


class Pager:
    def __init__(self, directory: Path):
        self.path = directory / DELIVERIES_FILE
        directory.mkdir(parents=True, exist_ok=True)
        self.deliveries = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()] \
            if self.path.exists() else []

    async def receive(self, request: web.Request) -> web.Response:
        received = time.time()
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body must be JSON"}, status=400)
        delivery = {"channel": request.match_info["channel"], "received_s": received, "body": body}
        self.deliveries.append(delivery)
        with open(self.path, "a") as f:
            f.write(json.dumps(delivery) + "\n")
        return web.json_response({"ok": True})

    async def since(self, request: web.Request) -> web.Response:
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            return web.json_response({"error": "since must be epoch seconds"}, status=400)
        return web.json_response({"deliveries": [d for d in self.deliveries if d["received_s"] >= since]})


def build_app(pager: Pager) -> web.Application:
    app = web.Application()
    app.router.add_post("/hooks/{channel}", pager.receive)
    app.router.add_get("/deliveries", pager.since)
    app.router.add_get("/health", lambda request: web.json_response({"ok": True}))
    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.local.pager", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", type=Path, required=True, help="where deliveries.jsonl is kept")
    args = p.parse_args(argv)
    asyncio.run(serve_until_signal(build_app(Pager(args.dir)), args.host, args.port, on_listening=lambda: print(
        f"pager: listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
