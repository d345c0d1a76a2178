"""The fault proxy's admin side: the set of proxies and the Toxiproxy-compatible HTTP API (aiohttp).

Routes and shapes follow Toxiproxy 2.x: `GET /version`, `GET|POST /proxies`, `POST /populate`,
`GET|POST|DELETE /proxies/{name}`, `GET|POST /proxies/{name}/toxics`,
`GET|POST|DELETE /proxies/{name}/toxics/{toxic}`, `POST /reset`. Errors are `{"error", "status"}`.
Proxies carry one field Toxiproxy lacks: `protocol` ("tcp" or "http"; "http" enables `http_error`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from itertools import count
from typing import Any, Protocol

from aiohttp import web

from infra.local.toxics import PROTOCOLS, Toxic, parse_toxic, split_address, updated_toxic

VERSION = "2.9.0-gameday"  # the Toxiproxy API version whose shapes this serves
_serials = count(1)


def log(message: str) -> None:
    print(f"faultproxy: {message}", file=sys.stderr, flush=True)


class ApiError(Exception):
    """An API failure with its HTTP status; the message names the proxy or toxic concerned."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ProxyLike(Protocol):
    """What the registry needs of a proxy (`faultproxy.Proxy` is the real one)."""

    name: str
    listen: str
    upstream: str
    protocol: str
    enabled: bool
    toxics: dict

    def as_dict(self) -> dict: ...
    async def start(self) -> None: ...
    def stop(self) -> None: ...
    async def set_enabled(self, enabled: bool) -> None: ...
    def set_toxics(self, toxics: dict) -> None: ...


ProxyFactory = Callable[[str, str, str, str], ProxyLike]  # (name, listen, upstream, protocol) -> proxy


class Installed:
    """A toxic installed on a proxy; `serial` is new on every change so connections draw toxicity again."""

    __slots__ = ("toxic", "serial")

    def __init__(self, toxic: Toxic):
        self.toxic = toxic
        self.serial = next(_serials)


class Registry:
    """Every proxy of the process, by name; each method is one API operation and raises ApiError."""

    def __init__(self, make_proxy: ProxyFactory):
        self.make_proxy = make_proxy
        self.proxies: dict[str, ProxyLike] = {}

    def get(self, name: str) -> ProxyLike:
        if name not in self.proxies:
            known = ", ".join(sorted(self.proxies)) or "none"
            raise ApiError(404, f"proxy {name!r} not found; proxies: {known}")
        return self.proxies[name]

    @staticmethod
    def _fields(body: Any) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "a proxy must be a JSON object with name, listen and upstream")
        missing = [k for k in ("name", "listen", "upstream") if not body.get(k)]
        if missing:
            raise ApiError(400, f"proxy {body.get('name', '?')!r} lacks {', '.join(missing)}")
        protocol = body.get("protocol") or "tcp"
        if protocol not in PROTOCOLS:
            raise ApiError(400, f"proxy {body['name']!r}: unknown protocol {protocol!r}; "
                                f"valid protocols: {', '.join(PROTOCOLS)}")
        return {**body, "protocol": protocol, "enabled": body.get("enabled", True) is not False}

    async def create(self, body: Any) -> ProxyLike:
        fields = self._fields(body)
        name = fields["name"]
        if name in self.proxies:
            raise ApiError(409, f"proxy {name!r} already exists")
        try:
            proxy = self.make_proxy(name, fields["listen"], fields["upstream"], fields["protocol"])
        except ValueError as exc:
            raise ApiError(400, f"proxy {name!r}: {exc}") from exc
        if fields["enabled"]:
            await self._start(proxy)
        self.proxies[name] = proxy
        log(f"proxy {name} created: {proxy.listen} -> {proxy.upstream} ({proxy.protocol}, "
            f"{'enabled' if proxy.enabled else 'disabled'})")
        return proxy

    async def _start(self, proxy: ProxyLike) -> None:
        try:
            await proxy.start()
        except OSError as exc:
            raise ApiError(409, str(exc)) from exc

    async def update(self, name: str, body: Any) -> ProxyLike:
        proxy = self.get(name)
        if not isinstance(body, dict):
            raise ApiError(400, f"an update of proxy {name!r} must be a JSON object")
        if body.get("protocol") not in (None, proxy.protocol):
            raise ApiError(400, f"the protocol of proxy {name!r} cannot change; delete and create it")
        if body.get("upstream") and body["upstream"] != proxy.upstream:
            self._check_address(name, body["upstream"])
            proxy.upstream = body["upstream"]
        if body.get("listen") and body["listen"] != proxy.listen:
            self._check_address(name, body["listen"])
            was_enabled = proxy.enabled
            proxy.stop()
            proxy.listen = body["listen"]
            if was_enabled:
                await self._start(proxy)
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise ApiError(400, f"'enabled' of proxy {name!r} must be true or false")
            try:
                await proxy.set_enabled(body["enabled"])
            except OSError as exc:
                raise ApiError(409, str(exc)) from exc
            log(f"proxy {name} {'enabled' if proxy.enabled else 'disabled'}")
        return proxy

    @staticmethod
    def _check_address(name: str, address: Any) -> None:
        try:
            split_address(address)
        except ValueError as exc:
            raise ApiError(400, f"proxy {name!r}: {exc}") from exc

    async def populate(self, bodies: Any) -> list[ProxyLike]:
        """Create the proxies that are new, update those that exist (Toxiproxy's `POST /populate`)."""
        if not isinstance(bodies, list):
            raise ApiError(400, "populate expects a JSON list of proxies")
        fields = [self._fields(body) for body in bodies]  # all validated before anything changes
        out = []
        for f in fields:
            if f["name"] in self.proxies:
                out.append(await self.update(f["name"], {k: f[k] for k in ("listen", "upstream", "enabled")}))
            else:
                out.append(await self.create(f))
        return out

    def delete(self, name: str) -> None:
        self.get(name).stop()
        del self.proxies[name]
        log(f"proxy {name} deleted")

    def toxic(self, name: str, toxic_name: str) -> Toxic:
        proxy = self.get(name)
        if toxic_name not in proxy.toxics:
            known = ", ".join(proxy.toxics) or "none"
            raise ApiError(404, f"toxic {toxic_name!r} not found on proxy {name!r}; toxics: {known}")
        return proxy.toxics[toxic_name].toxic

    def add_toxic(self, name: str, body: Any) -> Toxic:
        proxy = self.get(name)
        try:
            toxic = parse_toxic(body, protocol=proxy.protocol)
        except ValueError as exc:
            raise ApiError(400, f"toxic on proxy {name!r}: {exc}") from exc
        if toxic.name in proxy.toxics:
            raise ApiError(409, f"toxic {toxic.name!r} already exists on proxy {name!r}")
        proxy.set_toxics({**proxy.toxics, toxic.name: Installed(toxic)})
        log(f"proxy {name}: toxic added {toxic.as_dict()}")
        return toxic

    def update_toxic(self, name: str, toxic_name: str, body: Any) -> Toxic:
        proxy, old = self.get(name), self.toxic(name, toxic_name)
        try:
            toxic = updated_toxic(old, body)
        except ValueError as exc:
            raise ApiError(400, f"toxic {toxic_name!r} on proxy {name!r}: {exc}") from exc
        proxy.set_toxics({**proxy.toxics, toxic_name: Installed(toxic)})
        log(f"proxy {name}: toxic updated {toxic.as_dict()}")
        return toxic

    def remove_toxic(self, name: str, toxic_name: str) -> None:
        proxy = self.get(name)
        self.toxic(name, toxic_name)
        proxy.set_toxics({k: v for k, v in proxy.toxics.items() if k != toxic_name})
        log(f"proxy {name}: toxic {toxic_name} removed")

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's `POST /reset`)."""
        for proxy in self.proxies.values():
            proxy.set_toxics({})
            await self._start(proxy)
        log("reset: every proxy enabled, every toxic removed")

    def close_all(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def _errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc.status, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, f"{request.method} {request.path}: {exc.reason}")
        raise


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"{request.method} {request.path}: body is not JSON: {exc}") from exc


def build_app(registry: Registry) -> web.Application:
    """The admin API over `registry`."""
    routes = web.RouteTableDef()
    ok = web.json_response

    @routes.get("/version")
    async def version(request):
        return ok({"version": VERSION})

    @routes.get("/proxies")
    async def list_proxies(request):
        return ok({name: p.as_dict() for name, p in registry.proxies.items()})

    @routes.post("/proxies")
    async def create_proxy(request):
        return ok((await registry.create(await _body(request))).as_dict(), status=201)

    @routes.post("/populate")
    async def populate(request):
        proxies = await registry.populate(await _body(request))
        return ok({"proxies": [p.as_dict() for p in proxies]}, status=201)

    @routes.post("/reset")
    async def reset(request):
        await registry.reset()
        return web.Response(status=204)

    @routes.get("/proxies/{proxy}")
    async def get_proxy(request):
        return ok(registry.get(request.match_info["proxy"]).as_dict())

    @routes.post("/proxies/{proxy}")
    async def update_proxy(request):
        return ok((await registry.update(request.match_info["proxy"], await _body(request))).as_dict())

    @routes.delete("/proxies/{proxy}")
    async def delete_proxy(request):
        registry.delete(request.match_info["proxy"])
        return web.Response(status=204)

    @routes.get("/proxies/{proxy}/toxics")
    async def list_toxics(request):
        proxy = registry.get(request.match_info["proxy"])
        return ok([i.toxic.as_dict() for i in proxy.toxics.values()])

    @routes.post("/proxies/{proxy}/toxics")
    async def add_toxic(request):
        return ok(registry.add_toxic(request.match_info["proxy"], await _body(request)).as_dict())

    @routes.get("/proxies/{proxy}/toxics/{toxic}")
    async def get_toxic(request):
        return ok(registry.toxic(request.match_info["proxy"], request.match_info["toxic"]).as_dict())

    @routes.post("/proxies/{proxy}/toxics/{toxic}")
    async def update_toxic(request):
        m = request.match_info
        return ok(registry.update_toxic(m["proxy"], m["toxic"], await _body(request)).as_dict())

    @routes.delete("/proxies/{proxy}/toxics/{toxic}")
    async def delete_toxic(request):
        registry.remove_toxic(request.match_info["proxy"], request.match_info["toxic"])
        return web.Response(status=204)

    app = web.Application(middlewares=[_errors])
    app.add_routes(routes)
    return app


async def start_api(registry: Registry, host: str, port: int) -> web.AppRunner:
    """Serve the API on host:port; the caller cleans the runner up. OSError when the port is taken."""
    runner = web.AppRunner(build_app(registry), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
