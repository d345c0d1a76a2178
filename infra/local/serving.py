"""Serve an aiohttp app until SIGTERM or SIGINT, then clean up: the loop the stack's HTTP servers share."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web


async def serve_until_signal(app: web.Application, host: str, port: int, *,
                             on_listening: Callable[[], None] = lambda: None, backlog: int = 128) -> None:
    """Listen on host:port, call `on_listening`, and return after a clean shutdown on SIGTERM/SIGINT."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port, backlog=backlog).start()
        on_listening()
        await stop.wait()
    finally:
        await runner.cleanup()
