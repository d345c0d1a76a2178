"""Model-provider stubs (Bedrock, Google, Meta stand-ins) in one process, each on its own port.

    python -m infra.local.providers --host 127.0.0.1 --provider bedrock=15430 --provider google=15431 \\
        --provider meta=15432 [--latency bedrock=300:700] [--seed N]

Each answers `POST /generate` `{"prompt": "..."}` with `{"provider", "text", "latency_ms"}` after a
latency drawn from a lognormal distribution fixed by its median and P95 (milliseconds), and
`GET /health` with `{"provider", "ok": true}`. The stubs never fail on their own: outages, 429s,
5xx and slowness are injected by the fault proxy on the link in front of each one.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import signal
import sys
from dataclasses import dataclass

from aiohttp import web

PROVIDERS = ("bedrock", "google", "meta")
Z_95 = 1.6448536269514722  # standard normal quantile of 0.95
DEFAULT_LATENCY_MS = {"bedrock": (300.0, 700.0), "google": (350.0, 800.0), "meta": (400.0, 900.0)}
MAX_PROMPT_CHARS = 100_000


def _log(message: str) -> None:
    print(f"providers: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LatencyModel:
    """Lognormal latency given by its median and P95 in milliseconds (P95 > median > 0)."""

    median_ms: float
    p95_ms: float

    def __post_init__(self) -> None:
        if not (self.median_ms > 0 and self.p95_ms > self.median_ms):
            raise ValueError(f"latency needs p95_ms > median_ms > 0, got median {self.median_ms:g} ms, "
                             f"p95 {self.p95_ms:g} ms")

    @property
    def mu(self) -> float:
        return math.log(self.median_ms)

    @property
    def sigma(self) -> float:
        return (math.log(self.p95_ms) - math.log(self.median_ms)) / Z_95

    def draw_ms(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)


def parse_assignment(option: str, text: str, valid: tuple[str, ...]) -> tuple[str, str]:
    """`NAME=VALUE` of a CLI option; ValueError names the option and lists the valid provider names."""
    name, sep, value = text.partition("=")
    if not sep or not value:
        raise ValueError(f"{option} {text!r}: expected NAME=VALUE with NAME one of {', '.join(valid)}")
    if name not in valid:
        raise ValueError(f"{option} {text!r}: unknown provider {name!r}; valid: {', '.join(valid)}")
    return name, value


def parse_latency(text: str) -> LatencyModel:
    """`MEDIAN_MS:P95_MS` -> LatencyModel; ValueError says what is wrong."""
    median, _, p95 = text.partition(":")
    try:
        median_ms, p95_ms = float(median), float(p95)
    except ValueError:
        raise ValueError("expected MEDIAN_MS:P95_MS, e.g. 300:700") from None
    return LatencyModel(median_ms, p95_ms)


class Provider:
    """One stub: its name, latency model and random stream."""

    def __init__(self, name: str, latency: LatencyModel, rng: random.Random):
        self.name, self.latency, self.rng = name, latency, rng

    async def generate(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._bad('body must be JSON {"prompt": "..."}')
        prompt = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(prompt, str) or not prompt:
            return self._bad('body must be JSON {"prompt": "..."} with a non-empty string prompt')
        if len(prompt) > MAX_PROMPT_CHARS:
            return self._bad(f"prompt has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
        latency_ms = self.latency.draw_ms(self.rng)
        await asyncio.sleep(latency_ms / 1000.0)
        text = f"[{self.name}] answer to: {prompt[:200]}"
        return web.json_response({"provider": self.name, "text": text, "latency_ms": round(latency_ms, 3)})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"provider": self.name, "ok": True})

    def _bad(self, message: str) -> web.Response:
        return web.json_response({"provider": self.name, "error": message}, status=400)

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.post("/generate", self.generate), web.get("/health", self.health)])
        return app


def build_providers(ports: dict[str, int], latencies: dict[str, LatencyModel], seed: int | None) -> list[Provider]:
    """The stubs to serve; ValueError names a --latency provider that is not served."""
    for name in latencies:
        if name not in ports:
            raise ValueError(f"--latency for provider {name!r}, which is not served; served: {', '.join(ports)}")
    return [Provider(name, latencies.get(name) or LatencyModel(*DEFAULT_LATENCY_MS[name]),
                     random.Random(f"{seed}:{name}") if seed is not None else random.Random())
            for name in ports]


async def serve(host: str, ports: dict[str, int], providers: list[Provider]) -> int:
    runners: list[web.AppRunner] = []
    try:
        for provider in providers:
            runner = web.AppRunner(provider.app(), access_log=None)
            await runner.setup()
            runners.append(runner)
            try:
                await web.TCPSite(runner, host, ports[provider.name], reuse_address=True).start()
            except OSError as exc:
                _log(f"start failed: provider {provider.name} cannot listen on {host}:{ports[provider.name]}: "
                     f"{exc.strerror or exc}")
                return 1
        for p in providers:
            _log(f"{p.name} on http://{host}:{ports[p.name]} (median {p.latency.median_ms:g} ms, "
                 f"p95 {p.latency.p95_ms:g} ms)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        _log("stopping")
        return 0
    finally:
        for runner in runners:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--provider", action="append", default=[], metavar="NAME=PORT",
                        help=f"serve provider NAME ({', '.join(PROVIDERS)}) on PORT; repeat per provider")
    parser.add_argument("--latency", action="append", default=[], metavar="NAME=MEDIAN_MS:P95_MS",
                        help="lognormal latency of provider NAME (defaults: "
                             + ", ".join(f"{n}={m:g}:{p:g}" for n, (m, p) in DEFAULT_LATENCY_MS.items()) + ")")
    parser.add_argument("--seed", type=int, default=None, help="seed of the latency draws (per provider)")
    args = parser.parse_args(argv)
    try:
        ports: dict[str, int] = {}
        for text in args.provider:
            name, port = parse_assignment("--provider", text, PROVIDERS)
            if name in ports:
                raise ValueError(f"--provider {text!r}: provider {name!r} given twice")
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"--provider {text!r}: port of provider {name!r} must be 1..65535")
            ports[name] = int(port)
        if not ports:
            raise ValueError(f"give at least one --provider NAME=PORT; valid names: {', '.join(PROVIDERS)}")
        latencies = {}
        for text in args.latency:
            name, value = parse_assignment("--latency", text, PROVIDERS)
            try:
                latencies[name] = parse_latency(value)
            except ValueError as exc:
                raise ValueError(f"--latency {text!r} of provider {name!r}: {exc}") from exc
        providers = build_providers(ports, latencies, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    return asyncio.run(serve(args.host, ports, providers))


if __name__ == "__main__":
    sys.exit(main())
