"""A small synchronous client of the Toxiproxy HTTP API (our fault proxy or a real Toxiproxy)."""

from __future__ import annotations

from typing import Any

import httpx

from gameday.base.errors import StackError

_HINT = "is the fault proxy running? see `gameday stack status`"


class ToxiproxyClient:
    """Proxies and toxics over the Toxiproxy API; every failure raises StackError naming the proxy."""

    def __init__(self, base_url: str, timeout_s: float = 5):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, what: str, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise StackError(f"{what} on the fault proxy at {self.base_url} failed: "
                             f"{type(exc).__name__}: {exc}", hint=_HINT) from exc
        if resp.status_code >= 400:
            try:
                cause = resp.json().get("error") or resp.text
            except (ValueError, AttributeError):
                cause = resp.text.strip() or resp.reason_phrase
            raise StackError(f"{what} on the fault proxy at {self.base_url} failed: "
                             f"HTTP {resp.status_code}: {cause}")
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return resp.text

    def version(self) -> str:
        """The server's version (Toxiproxy answers JSON since 2.6, plain text before)."""
        answer = self._call("version query", "GET", "/version")
        return answer.get("version", "") if isinstance(answer, dict) else str(answer).strip()

    def proxies(self) -> dict[str, dict]:
        return self._call("listing of the proxies", "GET", "/proxies")

    def proxy(self, name: str) -> dict:
        return self._call(f"lookup of proxy {name!r}", "GET", f"/proxies/{name}")

    def populate(self, proxies: list[dict]) -> list[dict]:
        """Create or update every proxy of `proxies` (Toxiproxy's config-file shape); returns them."""
        names = ", ".join(str(p.get("name")) for p in proxies)
        answer = self._call(f"populate of proxies {names}", "POST", "/populate", list(proxies))
        return answer["proxies"] if isinstance(answer, dict) else answer

    def create_proxy(self, name: str, listen: str, upstream: str, *, enabled: bool = True,
                     protocol: str | None = None) -> dict:
        body: dict[str, Any] = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        if protocol is not None:  # our extension; a real Toxiproxy ignores the field
            body["protocol"] = protocol
        return self._call(f"creation of proxy {name!r}", "POST", "/proxies", body)

    def delete_proxy(self, name: str) -> None:
        self._call(f"deletion of proxy {name!r}", "DELETE", f"/proxies/{name}")

    def set_enabled(self, name: str, enabled: bool) -> dict:
        """Enable (listen) or disable (stop listening, cut live connections) proxy `name`."""
        action = "enabling" if enabled else "disabling"
        return self._call(f"{action} of proxy {name!r}", "POST", f"/proxies/{name}", {"enabled": bool(enabled)})

    def update_proxy(self, name: str, *, upstream: str | None = None, listen: str | None = None) -> dict:
        """Re-point proxy `name` (new connections go to the new upstream)."""
        body = {k: v for k, v in (("upstream", upstream), ("listen", listen)) if v is not None}
        return self._call(f"update of proxy {name!r}", "POST", f"/proxies/{name}", body)

    def toxics(self, proxy: str) -> list[dict]:
        return self._call(f"listing of the toxics of proxy {proxy!r}", "GET", f"/proxies/{proxy}/toxics")

    def add_toxic(self, proxy: str, type: str, attributes: dict | None = None, *, name: str | None = None,
                  stream: str = "downstream", toxicity: float = 1.0) -> dict:
        """Add a toxic (default name `<type>_<stream>`); returns it as the server stored it."""
        body: dict[str, Any] = {"type": type, "stream": stream, "toxicity": toxicity,
                                "attributes": dict(attributes or {})}
        if name is not None:
            body["name"] = name
        label = name or f"{type}_{stream}"
        return self._call(f"adding toxic {label!r} to proxy {proxy!r}", "POST", f"/proxies/{proxy}/toxics", body)

    def update_toxic(self, proxy: str, toxic_name: str, attributes: dict | None = None, *,
                     toxicity: float | None = None) -> dict:
        body: dict[str, Any] = {"attributes": dict(attributes or {})}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return self._call(f"update of toxic {toxic_name!r} on proxy {proxy!r}", "POST",
                          f"/proxies/{proxy}/toxics/{toxic_name}", body)

    def remove_toxic(self, proxy: str, toxic_name: str) -> None:
        self._call(f"removal of toxic {toxic_name!r} from proxy {proxy!r}", "DELETE",
                   f"/proxies/{proxy}/toxics/{toxic_name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("reset of every proxy", "POST", "/reset")
