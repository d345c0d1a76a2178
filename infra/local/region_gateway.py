"""A region's API entry point (the API Gateway + Lambda stand-in): load balancing over instances,
per-instance concurrency limits (429 when exhausted), target-tracking autoscaling, blue/green slots.

    python -m infra.local.region_gateway --config gateway-eu-central-1.json

Control API: `GET /_region/status`, `GET /_region/capacity[?since=EPOCH_S]`, `GET /_region/events`,
`POST /_region/deploy {"version", "error_rate"?, "added_latency_ms"?, "force"?}`, `POST /_region/rollback`,
`POST /_region/policy {...ScalingPolicy fields}`. Everything else is forwarded to the active slot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace

import aiohttp
from aiohttp import web

from infra.local.scaling import Autoscaler, ScalingPolicy
from infra.local.slots import Release, gate_verdict, other_slot

HOP_BY_HOP = frozenset(("connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te",
                        "trailer", "proxy-connection"))
SAMPLE_EVERY_S = 0.1
DECIDE_EVERY_S = 0.5
READY_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 5.0
GATE_REQUESTS = 20
HEALTH_PATH = "/health"


def _log(message: str) -> None:
    print(f"gateway: {message}", file=sys.stderr, flush=True)


@dataclass
class Instance:
    port: int
    release: Release
    proc: subprocess.Popen
    ready: bool = False
    draining: bool = False
    in_flight: int = 0
    started_at_s: float = field(default_factory=time.time)

    def as_dict(self) -> dict:
        return {"port": self.port, "pid": self.proc.pid, "ready": self.ready, "draining": self.draining,
                "in_flight": self.in_flight, "release": self.release.label}


class Gateway:
    def __init__(self, config: dict):
        self.region: str = config["region"]
        self.host: str = config.get("host", "127.0.0.1")
        self.port: int = config["port"]
        self.slot_ports: dict[str, list[int]] = config["slot_ports"]
        self.app_args: list[str] = config["app_args"]
        self.policy = ScalingPolicy(**config.get("policy", {}))
        self.scaler = Autoscaler(self.policy)
        self.active = "blue"
        self.previous: str | None = None
        self.slots: dict[str, list[Instance]] = {slot: [] for slot in self.slot_ports}
        self.releases: dict[str, Release | None] = dict.fromkeys(self.slot_ports)
        self.capacity: deque[dict] = deque(maxlen=20_000)
        self.events: deque[dict] = deque(maxlen=2_000)
        self.requests_total = 0
        self.throttles_total = 0
        self.responses_total = 0   # answers given, counted when given (the monitor's error rate: errors / these)
        self.errors_total = 0      # ... of them >= 500 (infra/local/monitor.py)
        self.deploying = False
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task] = []

    # --- instances -------------------------------------------------------------------------------
    def _event(self, kind: str, **detail) -> None:
        self.events.append({"at_s": time.time(), "kind": kind, **detail})
        _log(f"{self.region} {kind} {json.dumps(detail)}")

    def _spawn(self, slot: str, release: Release) -> Instance | None:
        used = {i.port for i in self.slots[slot]}
        free = [p for p in self.slot_ports[slot] if p not in used]
        if not free:
            return None
        argv = [sys.executable, "-m", "infra.local.app", *self.app_args, "--port", str(free[0]),
                *release.app_args()]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        instance = Instance(free[0], release, proc)
        self.slots[slot].append(instance)
        asyncio.get_running_loop().create_task(self._await_ready(instance))
        return instance

    async def _await_ready(self, instance: Instance) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and instance.proc.poll() is None:
            try:
                async with self._session.get(f"http://{self.host}:{instance.port}/health",
                                             timeout=aiohttp.ClientTimeout(total=1)) as resp:
                    if resp.status == 200:
                        instance.ready = True
                        return
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.05)

    async def _stop(self, slot: str, instance: Instance, drain: bool = True) -> None:
        instance.draining = True
        deadline = time.monotonic() + (DRAIN_TIMEOUT_S if drain else 0)
        while instance.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        instance.proc.terminate()
        for _ in range(150):
            if instance.proc.poll() is not None:
                break
            await asyncio.sleep(0.02)
        else:
            instance.proc.kill()
            instance.proc.wait()
        if instance in self.slots[slot]:
            self.slots[slot].remove(instance)

    def live(self, slot: str) -> list[Instance]:
        return [i for i in self.slots[slot] if not i.draining]

    # --- autoscaling -----------------------------------------------------------------------------
    async def _autoscale_loop(self) -> None:
        last_decision = 0.0
        while True:
            await asyncio.sleep(SAMPLE_EVERY_S)
            now = time.time()
            instances = self.live(self.active)
            in_flight = sum(i.in_flight for i in instances)
            self.scaler.observe(now, in_flight)
            if now - last_decision < DECIDE_EVERY_S:
                continue
            last_decision = now
            current = len(instances)
            ready = sum(1 for i in instances if i.ready)
            self.capacity.append({"at_s": now, "instances": current, "ready": ready, "in_flight": in_flight,
                                  "utilisation": round(self.scaler.utilisation(current), 4),
                                  "throttles_total": self.throttles_total, "requests_total": self.requests_total,
                                  "max_instances": self.policy.max_instances,
                                  "min_instances": self.policy.min_instances, "slot": self.active})
            if self.deploying:
                continue
            wanted = self.scaler.decide(now, current)
            release = self.releases[self.active]
            if wanted > current and release is not None:
                for _ in range(wanted - current):
                    self._spawn(self.active, release)
                self._event("scale_out", instances_from=current, instances_to=wanted)
            elif wanted < current:
                victim = max(instances, key=lambda i: i.started_at_s)
                self._event("scale_in", instances_from=current, instances_to=current - 1)
                asyncio.get_running_loop().create_task(self._stop(self.active, victim))

    # --- forwarding ------------------------------------------------------------------------------
    def _pick(self, limited: bool = True) -> Instance | None:
        candidates = [i for i in self.slots[self.active] if i.ready and not i.draining and
                      (not limited or i.in_flight < self.policy.concurrency_per_instance)]
        return min(candidates, key=lambda i: i.in_flight) if candidates else None

    async def forward(self, request: web.Request) -> web.Response:
        answer = await self._forward(request)
        self.responses_total += 1  # counted at the answer, as the errors: a slow failure counts when it fails
        self.errors_total += answer.status >= 500
        return answer

    async def _forward(self, request: web.Request) -> web.Response:
        self.requests_total += 1
        # Health checks are never throttled: a region under load is busy, not down (the router must not
        # fail it over for being popular).
        instance = self._pick(limited=request.path != HEALTH_PATH)
        if instance is None:
            ready = any(i.ready for i in self.live(self.active))
            if ready:
                self.throttles_total += 1
                return web.json_response({"error": f"throttled: every instance in {self.region} is at its "
                                                   f"concurrency limit ({self.policy.concurrency_per_instance})"},
                                         status=429, headers={"X-Region": self.region, "X-Throttled": "true"})
            return web.json_response({"error": f"no API instance of {self.region} is ready"}, status=503,
                                     headers={"X-Region": self.region})
        instance.in_flight += 1
        try:
            body = await request.read() if request.body_exists else None
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
            async with self._session.request(request.method, f"http://{self.host}:{instance.port}{request.raw_path}",
                                             headers=headers, data=body) as resp:
                payload = await resp.read()
                out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
                out["X-Instance-Port"] = str(instance.port)
                return web.Response(status=resp.status, body=payload, headers=out)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return web.json_response({"error": f"forwarding to instance {instance.port} of {self.region} failed: "
                                               f"{type(exc).__name__}: {exc}"}, status=502,
                                     headers={"X-Region": self.region})
        finally:
            instance.in_flight -= 1

    # --- deployments -----------------------------------------------------------------------------
    async def deploy(self, release: Release, force: bool) -> dict:
        """Start `release` in the idle slot, gate it, switch traffic when the gate passes (or `force`)."""
        idle = other_slot(self.active)
        for instance in list(self.slots[idle]):
            await self._stop(idle, instance, drain=False)
        release = replace(release, slot=idle)
        count = max(self.policy.min_instances, len(self.live(self.active)))
        started = [self._spawn(idle, release) for _ in range(count)]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(i.ready for i in started if i) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        latencies, errors = await self._gate_sample([i for i in started if i and i.ready])
        verdict = gate_verdict(latencies, errors, expected=GATE_REQUESTS)
        if not (verdict["passed"] or force):
            self._event("gate_failed", release=release.label, gate=verdict)
            for instance in list(self.slots[idle]):
                await self._stop(idle, instance, drain=False)
            return {"deployed": False, "active_slot": self.active, "release": self._active_label(), "gate": verdict}
        self.previous, self.active = self.active, idle
        self.releases[idle] = release
        self.scaler.last_scale_out_s = time.time()  # a fresh slot is not scaled before it has seen traffic
        self._event("switch", to_slot=idle, release=release.label, forced=force and not verdict["passed"])
        return {"deployed": True, "active_slot": self.active, "release": release.label, "gate": verdict}

    async def _gate_sample(self, instances: list[Instance]) -> tuple[list[float], int]:
        latencies, errors = [], 0
        for n in range(GATE_REQUESTS if instances else 0):
            port = instances[n % len(instances)].port
            started = time.perf_counter()
            try:
                async with self._session.get(f"http://{self.host}:{port}/items/{n + 1}",
                                             timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    await resp.read()
                    errors += resp.status >= 500
            except (TimeoutError, aiohttp.ClientError, OSError):
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies, errors

    def rollback(self) -> dict:
        target = self.previous
        if target is None or not any(i.ready for i in self.live(target)):
            raise web.HTTPConflict(text=json.dumps({"error": f"rollback in {self.region} impossible: the previous "
                                                             "slot has no running instances"}),
                                   content_type="application/json")
        self.previous, self.active = self.active, target
        self._event("rollback", to_slot=target, release=self._active_label())
        return {"rolled_back": True, "active_slot": self.active, "release": self._active_label()}

    def _active_label(self) -> str | None:
        release = self.releases[self.active]
        return release.label if release else None

    def status(self) -> dict:
        return {"region": self.region, "active_slot": self.active, "release": self._active_label(),
                "previous_slot": self.previous, "policy": self.policy.as_dict(),
                "instances": len(self.live(self.active)),
                "ready_instances": sum(1 for i in self.live(self.active) if i.ready),
                "requests_total": self.requests_total, "throttles_total": self.throttles_total,
                "responses_total": self.responses_total, "errors_total": self.errors_total,
                "slots": {slot: {"release": r.label if (r := self.releases[slot]) else None,
                                 "instances": [i.as_dict() for i in self.slots[slot]]} for slot in self.slots},
                "capacity": self.capacity[-1] if self.capacity else None}

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self, app: web.Application) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
                                              timeout=aiohttp.ClientTimeout(total=30), auto_decompress=False)
        self.releases["blue"] = Release(slot="blue")
        for _ in range(self.policy.min_instances):
            self._spawn("blue", self.releases["blue"])
        self._tasks.append(asyncio.get_running_loop().create_task(self._autoscale_loop()))

    async def stop(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        for slot, instances in self.slots.items():
            for instance in list(instances):
                await self._stop(slot, instance, drain=False)
        await self._session.close()


def build_app(gateway: Gateway) -> web.Application:
    app = web.Application()

    async def status(request):
        return web.json_response(gateway.status())

    async def capacity(request):
        since = float(request.query.get("since", 0))
        return web.json_response({"samples": [s for s in gateway.capacity if s["at_s"] >= since]})

    async def events(request):
        return web.json_response({"events": list(gateway.events)})

    async def deploy(request):
        try:
            body = await request.json()
            release = Release.from_request(body)
        except (ValueError, TypeError, KeyError) as exc:
            return web.json_response({"error": f"deploy request invalid: {exc}"}, status=400)
        if gateway.deploying:
            return web.json_response({"error": f"a deployment in {gateway.region} is already running"}, status=409)
        gateway.deploying = True
        try:
            result = await gateway.deploy(release, bool(body.get("force", False)))
        finally:
            gateway.deploying = False
        return web.json_response(result, status=200 if result["deployed"] else 422)

    async def rollback(request):
        return web.json_response(gateway.rollback())

    async def policy(request):
        try:
            body = await request.json()
            gateway.policy = ScalingPolicy(**{**gateway.policy.as_dict(), **body})
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": f"scaling policy invalid: {exc}"}, status=400)
        gateway.scaler.policy = gateway.policy
        gateway._event("policy", policy=gateway.policy.as_dict())
        return web.json_response(gateway.policy.as_dict())

    app.router.add_get("/_region/status", status)
    app.router.add_get("/_region/capacity", capacity)
    app.router.add_get("/_region/events", events)
    app.router.add_post("/_region/deploy", deploy)
    app.router.add_post("/_region/rollback", rollback)
    app.router.add_post("/_region/policy", policy)
    app.router.add_route("*", "/{tail:.*}", gateway.forward)
    app.on_startup.append(gateway.start)
    app.on_cleanup.append(gateway.stop)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON: region, port, slot_ports, app_args, policy")
    args = parser.parse_args(argv)
    with open(args.config) as fh:
        config = json.load(fh)
    gateway = Gateway(config)
    web.run_app(build_app(gateway), host=gateway.host, port=gateway.port, print=None, access_log=None,
                handle_signals=True, shutdown_timeout=2)


if __name__ == "__main__":
    main()
