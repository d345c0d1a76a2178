"""Raw-sample recorder: every request into fixed-size columnar buffers (16 bytes a sample), sealed into chunks.

Chunk format (little-endian): uint64 row count n, then the columns one after another:
t_s float64[n] (intended start, epoch s), latency_ms float32[n] (from the intended start),
status uint16[n] (0 = no response), name uint8[n] (index into the names table), flags uint8[n].
Flags: bit 0 ok, bit 1 dropped (open model: never sent), bits 2-3 X-Cache, any case (0 none, 1 hit, 2 miss,
3 other), bits 4-7 X-Region (0 none, else index+1 into the regions table).
AI answers are recorded under a per-provider request name, `POST /ai [<X-AI-Provider>]` (bedrock, google,
meta or cache), so the provider lives in the names table and the sample stays 16 bytes.
Flows (scenarios/journeys.py FLOWS) are also recorded whole by a JourneyRecorder into their own files,
`journeys-<stem>.bin/.json` (format gameday-journeys/1), never into the request samples: same chunk layout, one row
a journey: t_s its arrival's intended start, latency_ms to the end of its last step, status = steps sent, name =
the flow, flags ok / dropped.
No locust import here: the locustfile wires `on_request` to `events.request`.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from array import array
from collections.abc import Callable
from pathlib import Path
from time import monotonic
from time import time as wall_now

from gameday.base import run_clock

FORMAT = "gameday-samples/1"
COLUMNS = (("t_s", "d", "<f8"), ("latency_ms", "f", "<f4"), ("status", "H", "<u2"), ("name", "B", "u1"),
           ("flags", "B", "u1"))
BYTES_PER_SAMPLE = 16
OK, DROPPED = 1, 2
CACHE_SHIFT, REGION_SHIFT = 2, 4
CACHE_CODES = {"hit": 1, "refreshhit": 1, "miss": 2}  # CloudFront: "Hit from cloudfront", "RefreshHit ..."
MAX_REGIONS = 15
CHUNK_ROWS = 8192
AI_PROVIDER_HEADER = "x-ai-provider"
MAX_PROVIDER_CHARS = 32


def chunk_rows(chunk: bytes) -> int:
    """Pure: the number of samples in a sealed chunk (its leading uint64)."""
    return struct.unpack_from("<Q", chunk)[0]


dict_get = dict.get


def raw_header_type(headers_type: type) -> type | None:
    """`headers_type` when it is a dict of lower-case name -> (name, value), a list of them for a repeated header
    (geventhttpclient's `Headers`, what FastHttpUser answers carry), so the recorder may read it with `dict.get`;
    None when this version keeps its headers otherwise (the recorder then calls its `get`, as before)."""
    try:
        probe = headers_type()
        probe["X-Probe"] = "1"
        probe.add("X-Twice", "1")
        probe.add("X-Twice", "2")
        ok = dict_get(probe, "x-probe") == ("X-Probe", "1") and \
            [v for _, v in dict_get(probe, "x-twice")] == ["1", "2"] and probe.get("x-probe") == "1"
    except Exception:  # any other shape: not this layout
        return None
    return headers_type if ok and issubclass(headers_type, dict) else None


def last_value(value) -> str | None:
    """Pure: one header's value from a lookup: the last one sent when the header came more than once."""
    if value is None or isinstance(value, str):
        return value
    last = value[-1]
    return last[1] if isinstance(last, tuple) else last


def ai_request_name(name: str, provider: str | None) -> str:
    """Pure: the request name of a sample, `<name> [<provider>]` when the answer names its AI provider."""
    if not provider:
        return name
    return f"{name} [{provider.strip().lower()[:MAX_PROVIDER_CHARS]}]"


def encode_flags(ok: bool, dropped: bool, cache: str | None, region_code: int) -> int:
    """Pure: the flags byte of one sample."""
    # The local edge says Hit/Miss, the API hit/miss, CloudFront "<Hit|RefreshHit|Miss|Error|...> from cloudfront".
    cache_code = 0 if cache is None else CACHE_CODES.get(cache.split(" ", 1)[0].lower() if cache else "", 3)
    return int(ok) | (DROPPED if dropped else 0) | (cache_code << CACHE_SHIFT) | (region_code << REGION_SHIFT)


class SampleBuffer:
    """Preallocated columns for `capacity` samples; full buffers are sealed into chunk bytes."""

    def __init__(self, capacity: int = CHUNK_ROWS):
        self.capacity = capacity
        self.columns = [array(code, [0]) * capacity for _, code, _ in COLUMNS]  # exact size, no over-allocation
        self.t, self.latency, self.status, self.name, self.flags = self.columns
        self.n = 0

    def add(self, t_s: float, latency_ms: float, status: int, name: int, flags: int) -> bool:
        """Store one sample; True when the buffer is now full and must be sealed."""
        i = self.n
        self.t[i] = t_s
        self.latency[i] = latency_ms
        self.status[i] = status
        self.name[i] = name
        self.flags[i] = flags
        self.n = i + 1
        return self.n == self.capacity

    def seal(self) -> bytes:
        """The stored samples as one chunk; the buffer is empty afterwards."""
        n, self.n = self.n, 0
        parts = [struct.pack("<Q", n)]
        parts += [memoryview(col)[:n].tobytes() for col in self.columns]
        return b"".join(parts)


class FileSink:
    """Appends chunks to `<dir>/<prefix>-<stem>.bin` and keeps `<prefix>-<stem>.json` (format, tables) beside it."""

    def __init__(self, directory: Path, stem: str, prefix: str = "samples"):
        directory.mkdir(parents=True, exist_ok=True)
        self.data_path = directory / f"{prefix}-{stem}.bin"
        self.meta_path = directory / f"{prefix}-{stem}.json"

    def write(self, chunks: list[bytes], meta: dict) -> None:
        if chunks:
            with open(self.data_path, "ab") as f:
                f.write(b"".join(chunks))
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.meta_path)


class SampleRecorder:
    """Records requests and dropped arrivals; `take` hands over sealed chunks (memory stays bounded)."""

    def __init__(self, capacity: int = CHUNK_ROWS, on_full: Callable[[], None] | None = None,
                 raw_headers: type | None = None):
        self.buffer = SampleBuffer(capacity)
        self.sealed: list[bytes] = []
        self.names: dict[str, int] = {}
        self.regions: dict[str, int] = {}
        self._coded: dict[tuple, tuple[int, int]] = {}  # (name, ok, cache header, region) -> (name index, flags)
        self.on_full = on_full
        self.stem = f"{socket.gethostname()}-{os.getpid()}"
        anchor = run_clock.anchor()  # a load generator's time base: read from its environment once
        # run clock now = wall at the anchor + (monotonic now - monotonic at the anchor): the constant part, once
        self.run_minus_monotonic = None if anchor is None else anchor[0] - anchor[1]
        self._last: tuple = (None, None, None, (0, 0))  # the last successful request's (name, cache, region, coded)
        self.raw_headers = raw_headers  # answers' header map type read with dict.get (raw_header_type checked it)

    def _name_id(self, name: str) -> int:
        found = self.names.get(name)
        if found is None:
            found = self.names[name] = min(len(self.names), 255)  # 255 = "other" once the table is full
        return found

    def _region_code(self, region: str | None) -> int:
        if region is None:
            return 0
        found = self.regions.get(region)
        if found is None:
            found = self.regions[region] = len(self.regions) + 1 if len(self.regions) < MAX_REGIONS else 0
        return found

    def on_request(self, request_type, name, response_time, response_length=0, response=None, context=None,
                   exception=None, start_time=None, url=None, **_kwargs) -> None:
        """`events.request` listener; with `context["t_intended"]` latency runs from the intended start.
        Runs once a request in the load generator's only core: a request answered as the one before it was (most
        are) costs three comparisons and five stores, no table lookup; every argument Locust 2 passes is named (a
        call that packs none into `**_kwargs` costs half as much: ~0.2 us)."""
        intended = context.get("t_intended") if context else None
        # Locust stamps the start with its wall clock: onto the run's time base, as `t_intended` already is
        # (run_clock.from_wall, inlined: wall stamp + (run clock now - wall clock now)).
        shift = self.run_minus_monotonic
        start = 0.0 if start_time is None else start_time if shift is None else \
            start_time + (shift + monotonic() - wall_now())
        headers = getattr(response, "headers", None)
        cache = region = None
        if headers is not None:  # not `if headers`: the client's header map counts itself for that (~1 %)
            if type(headers) is self.raw_headers:  # one C lookup a header, not three Python calls (~1 %)
                cache, region = dict_get(headers, "x-cache"), dict_get(headers, "x-region")
                cache = cache[1] if type(cache) is tuple else cache and last_value(cache)  # absent: None
                region = region[1] if type(region) is tuple else region and last_value(region)
            else:
                cache, region = last_value(headers.get("x-cache")), last_value(headers.get("x-region"))
            if "/ai" in name:  # only the AI gateway's answers name a provider: one header lookup less a request
                name = ai_request_name(name, headers.get(AI_PROVIDER_HEADER))
        last = self._last  # most requests answer as the one before did: three comparisons, no key to hash
        if exception is None and name is last[0] and cache == last[1] and region == last[2]:
            coded = last[3]
        else:
            key = (name, exception is None, cache, region)
            coded = self._coded.get(key)
            if coded is None:  # a few distinct keys a run: (name index, flags byte), computed once each
                coded = self._coded[key] = (self._name_id(name), encode_flags(exception is None, False, cache,
                                                                              self._region_code(region)))
            if exception is None:
                self._last = (name, cache, region, coded)
        buffer = self.buffer  # SampleBuffer.add, inlined: two calls a request less
        i = buffer.n
        if intended is None:
            buffer.t[i], buffer.latency[i] = start, response_time
        else:
            buffer.t[i], buffer.latency[i] = intended, (start - intended) * 1000.0 + response_time
        status = getattr(response, "status_code", 0) or 0
        buffer.status[i] = status if status < 65535 else 65535  # not min(): a third of the listener's time
        buffer.name[i], buffer.flags[i] = coded
        buffer.n = i + 1
        if buffer.n == buffer.capacity:
            self._seal()

    def record_dropped(self, t_intended: float, name: str) -> None:
        """An open-model arrival that could not start on time (never sent)."""
        self._add(t_intended, float("nan"), 0, self._name_id(name), DROPPED)

    def _add(self, t: float, latency: float, status: int, name: int, flags: int) -> None:
        if self.buffer.add(t, latency, min(status, 65535), name, flags):
            self._seal()

    def _seal(self) -> None:
        self.sealed.append(self.buffer.seal())
        if self.on_full is not None:
            self.on_full()

    def take(self) -> list[bytes]:
        """Every sample not handed over yet, as chunks."""
        chunks, self.sealed = self.sealed, []
        if self.buffer.n:
            chunks.append(self.buffer.seal())
        return chunks

    def meta(self) -> dict:
        return {"format": FORMAT, "columns": [[name, dtype] for name, _, dtype in COLUMNS],
                "names": list(self.names), "regions": list(self.regions), "stem": self.stem}


JOURNEY_FORMAT = "gameday-journeys/1"
JOURNEY_PREFIX = "journeys"


class JourneyRecorder(SampleRecorder):
    """Whole flows, one row each, apart from the request samples (so no request figure counts them twice);
    `steps` (flow -> its request names) goes into the meta for the report's evidence."""

    def __init__(self, steps: dict[str, tuple[str, ...]], capacity: int = CHUNK_ROWS):
        super().__init__(capacity)
        self.steps = {name: list(names) for name, names in steps.items()}

    def record_journey(self, name: str, t_intended: float, ended: float, steps_sent: int, ok: bool) -> None:
        """One flow that started: latency from its intended start to the end of its last step sent."""
        self._add(t_intended, (ended - t_intended) * 1000.0, steps_sent, self._name_id(name), OK if ok else 0)

    def meta(self) -> dict:
        return {**super().meta(), "format": JOURNEY_FORMAT, "steps": self.steps}
