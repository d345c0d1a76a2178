"""Fault-proxy toxics: validated models with Toxiproxy's defaults, and the pure per-chunk/per-request decisions.

Streams follow Toxiproxy: "downstream" is upstream server -> client, "upstream" is client -> server.
`http_error` is our own request-level toxic (Toxiproxy lacks it); it needs a proxy of protocol "http"
and applies to the client's requests whatever its stream.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

STREAMS = ("upstream", "downstream")
DEFAULT_STREAM = "downstream"
PROTOCOLS = ("tcp", "http")

# Every toxic type with its attributes and their defaults (Toxiproxy's where the type is Toxiproxy's).
TOXIC_DEFAULTS: dict[str, dict[str, Any]] = {
    "latency": {"latency": 0, "jitter": 0},        # ms added to every chunk, +- jitter ms
    "bandwidth": {"rate": 0},                      # KB/s (1 KB = 1000 bytes); 0 = unlimited
    "timeout": {"timeout": 0},                     # ms until the connection is closed; 0 = never
    "reset_peer": {"timeout": 0},                  # ms until the connection is reset (RST)
    "limit_data": {"bytes": 0},                    # bytes let through before the connection is closed
    "slow_close": {"delay": 0},                    # ms by which a close is delayed
    "http_error": {"status": 503, "body": ""},     # status answered instead of forwarding a request
}
TOXIC_TYPES = tuple(TOXIC_DEFAULTS)
HTTP_ONLY_TYPES = frozenset({"http_error"})
FAULT_HEADER = "X-Fault-Injected"


@dataclass(frozen=True)
class Toxic:
    """One toxic as the Toxiproxy API describes it; `attributes` holds every attribute of its type."""

    name: str
    type: str
    stream: str = DEFAULT_STREAM
    toxicity: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": dict(self.attributes)}


def split_address(address: str) -> tuple[str, int]:
    """("127.0.0.1", 8080) from "127.0.0.1:8080"; ValueError naming the address otherwise."""
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"address {address!r} is not HOST:PORT")
    return host, int(port)


def _valid(kind: str, choices) -> str:
    return f"valid {kind}: {', '.join(choices)}"


def validate_attributes(toxic_type: str, given: Any) -> dict[str, Any]:
    """The full attribute dict of `toxic_type`: defaults overlaid with `given`; ValueError on bad input."""
    if toxic_type not in TOXIC_DEFAULTS:
        raise ValueError(f"unknown toxic type {toxic_type!r}; {_valid('types', TOXIC_TYPES)}")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError(f"attributes of a {toxic_type} toxic must be an object, not {type(given).__name__}")
    defaults = TOXIC_DEFAULTS[toxic_type]
    out = dict(defaults)
    for key, value in given.items():
        if key not in defaults:
            raise ValueError(f"unknown attribute {key!r} of a {toxic_type} toxic; "
                             f"{_valid('attributes', defaults)}")
        if isinstance(defaults[key], str):
            if not isinstance(value, str):
                raise ValueError(f"attribute {key!r} of a {toxic_type} toxic must be a string")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
            raise ValueError(f"attribute {key!r} of a {toxic_type} toxic must be a whole number >= 0, "
                             f"not {value!r}")
        else:
            value = int(value)
        out[key] = value
    if toxic_type == "http_error" and not 200 <= out["status"] <= 599:
        raise ValueError(f"attribute 'status' of an http_error toxic must be 200..599, not {out['status']}")
    return out


def _toxicity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"toxicity must be a number from 0 to 1, not {value!r}")
    return float(value)


def parse_toxic(body: Any, *, protocol: str = "tcp") -> Toxic:
    """A Toxic from a `POST /proxies/{name}/toxics` body; ValueError names what is wrong and the valid choices."""
    if not isinstance(body, dict):
        raise ValueError("a toxic must be a JSON object with at least a 'type'")
    toxic_type = body.get("type")
    if toxic_type not in TOXIC_DEFAULTS:
        raise ValueError(f"unknown toxic type {toxic_type!r}; {_valid('types', TOXIC_TYPES)}")
    if toxic_type in HTTP_ONLY_TYPES and protocol != "http":
        raise ValueError(f"a {toxic_type} toxic needs a proxy of protocol 'http', this one is {protocol!r}")
    stream = body.get("stream") or DEFAULT_STREAM
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; {_valid('streams', STREAMS)}")
    name = body.get("name") or f"{toxic_type}_{stream}"
    if not isinstance(name, str):
        raise ValueError(f"toxic name must be a string, not {name!r}")
    toxicity = _toxicity(body.get("toxicity", 1.0))
    return Toxic(name, toxic_type, stream, toxicity, validate_attributes(toxic_type, body.get("attributes")))


def updated_toxic(toxic: Toxic, body: Any) -> Toxic:
    """`toxic` with the toxicity and attributes of an update body merged in (name, type, stream are kept)."""
    if not isinstance(body, dict):
        raise ValueError("a toxic update must be a JSON object")
    if body.get("type") not in (None, toxic.type):
        raise ValueError(f"the type of toxic {toxic.name!r} cannot change ({toxic.type} -> {body['type']})")
    merged = {**toxic.attributes, **(body.get("attributes") or {})}
    toxicity = _toxicity(body["toxicity"]) if "toxicity" in body else toxic.toxicity
    return Toxic(toxic.name, toxic.type, toxic.stream, toxicity, validate_attributes(toxic.type, merged))


def toxic_applies(toxicity: float, rng: random.Random) -> bool:
    """Whether a toxic of this toxicity hits one draw (a connection, or for http_error a request)."""
    if toxicity >= 1.0:
        return True
    if toxicity <= 0.0:
        return False
    return rng.random() < toxicity


def latency_delay_s(latency_ms: int, jitter_ms: int, rng: random.Random) -> float:
    """Delay of one chunk: latency +- jitter (uniform), never negative."""
    delay_ms = latency_ms + (rng.uniform(-jitter_ms, jitter_ms) if jitter_ms > 0 else 0.0)
    return max(0.0, delay_ms) / 1000.0


def bandwidth_delay_s(rate_kb_s: int, nbytes: int) -> float:
    """Time `nbytes` take at `rate_kb_s` KB/s (1 KB = 1000 bytes); 0 when the rate is unlimited (0)."""
    return nbytes / (rate_kb_s * 1000.0) if rate_kb_s > 0 else 0.0


def limit_take(limit_bytes: int, sent_bytes: int, nbytes: int) -> tuple[int, bool]:
    """(bytes of a chunk to let through, whether to close after them) under a limit_data toxic."""
    allowed = max(0, min(nbytes, limit_bytes - sent_bytes))
    return allowed, sent_bytes + allowed >= limit_bytes


def http_error_response(status: int, body: str = "", *, head_only: bool = False, keep_alive: bool = True) -> bytes:
    """The raw HTTP/1.1 response the proxy answers a faulted request with."""
    payload = (body or json.dumps({"error": "fault injected by the fault proxy", "status": status})).encode()
    content_type = "application/json" if not body else "text/plain; charset=utf-8"
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Injected Fault')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
            f"{FAULT_HEADER}: http_error\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode("latin-1") + (b"" if head_only else payload)


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


# --- HTTP/1.1 request framing (client -> server) ------------------------------------------------

MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class RequestStart:
    """The head of one request. `faultable` is False when its body cannot be framed (chunked, upgrade)."""

    head: bytes
    method: str
    body_length: int
    keep_alive: bool
    faultable: bool

    @property
    def complete(self) -> bool:
        return self.body_length == 0


@dataclass(frozen=True)
class RequestBody:
    """Body bytes of the current request; `last` marks its final piece."""

    data: bytes
    last: bool


@dataclass(frozen=True)
class Passthrough:
    """Bytes that are not framed (after a chunked body, an upgrade, or input that is not HTTP)."""

    data: bytes


def _parse_head(head: bytes) -> RequestStart | None:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, _target, version = lines[0].split(" ")
        if not version.startswith("HTTP/1."):
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    except ValueError:
        return None
    connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep_alive = ("keep-alive" in connection) if version == "HTTP/1.0" else ("close" not in connection)
    unframed = "transfer-encoding" in headers or "upgrade" in connection or method == "CONNECT"
    length = 0
    if not unframed and "content-length" in headers:
        value = headers["content-length"].split(",")[0].strip()
        if not value.isdigit():
            return None
        length = int(value)
    return RequestStart(head, method, length, keep_alive, faultable=not unframed)


class RequestFramer:
    """Splits a client's byte stream into requests (head, then Content-Length body); lossless.

    Feeding the bytes in any split yields events whose bytes concatenate to the input (minus bytes
    still buffered in an incomplete head). Once a request cannot be framed the rest passes through.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0
        self._raw = False

    def feed(self, data: bytes) -> list[RequestStart | RequestBody | Passthrough]:
        events: list[RequestStart | RequestBody | Passthrough] = []
        if self._raw:
            return [Passthrough(data)] if data else []
        while data:
            if self._remaining:
                piece, data = data[:self._remaining], data[self._remaining:]
                self._remaining -= len(piece)
                events.append(RequestBody(piece, last=self._remaining == 0))
                continue
            self._buffer += data
            data = b""
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    self._raw, data, self._buffer = True, self._buffer, b""
                    events.append(Passthrough(data))
                    return events
                break
            head, data, self._buffer = self._buffer[:end + 4], self._buffer[end + 4:], b""
            start = _parse_head(head.lstrip(b"\r\n")) if head.lstrip(b"\r\n") else None
            if start is None:
                self._raw = True
                events.append(Passthrough(head + data))
                return events
            events.append(RequestStart(head, start.method, start.body_length, start.keep_alive, start.faultable))
            if not start.faultable:
                self._raw = True
                if data:
                    events.append(Passthrough(data))
                return events
            self._remaining = start.body_length
        return events
