"""The edge cache's pure logic (CloudFront stand-in): cache policy per path, byte-bounded LRU, statistics, failover.

No I/O and no clock: the router (`infra.local.router`) asks the origins and passes the time in. Policy, as in
the production distribution: hashed static assets (`/static/app.3f9a1c2b.js`) are cached and served with
`max-age=31536000, immutable`; `/` and `/index.html` always go to the origin and are `no-store`; other
`/static/` paths go to the origin and are not cached. The cache key is the path (the query string is
neither part of the key nor sent to the origin, like CloudFront's CachingOptimized policy). Origin-group
failover follows CloudFront's criteria: a connection error, a timeout or a 5xx moves the same request on
to the next origin; every request starts at the primary again (no stickiness).
"""

from __future__ import annotations

import enum
import re
from collections import OrderedDict
from dataclasses import dataclass

DOCUMENT_PATHS = frozenset({"/", "/index.html"})
ROOT_OBJECT = "/index.html"  # CloudFront's default root object: what the origin is asked for `/`
STATIC_PREFIX = "/static/"
IMMUTABLE = "max-age=31536000, immutable"
NO_STORE = "no-store"
HIT, MISS = "Hit", "Miss"
# A file name with a content hash as its last part before the extension: app.3f9a1c2b.js, vendor-0a1b2c3d4e.js
_HASHED_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*[.-][0-9a-f]{8,64}\.[A-Za-z0-9]{1,10}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class PathKind(enum.Enum):
    """How the edge treats a request path."""

    DOCUMENT = "document"          # / and /index.html: from the origin every time, never cached
    HASHED_ASSET = "hashed_asset"  # /static/.../name.<hash>.ext: cached, immutable
    STATIC = "static"              # any other /static/ path: from the origin, not cached
    NOT_EDGE = "not_edge"          # everything else: forwarded to the API regions


class Next(enum.Enum):
    """What to do after one origin attempt."""

    SERVE = "serve"          # the origin answered (2xx-4xx): relay it
    FAIL_OVER = "fail_over"  # failed: ask the next origin of the group
    GIVE_UP = "give_up"      # failed and no origin is left


def path_kind(path: str) -> PathKind:
    """The edge's treatment of `path` (a decoded URL path, no query string)."""
    if path in DOCUMENT_PATHS:
        return PathKind.DOCUMENT
    if not path.startswith(STATIC_PREFIX):
        return PathKind.NOT_EDGE
    segments = path[len(STATIC_PREFIX):].split("/")
    if not all(_SEGMENT.match(s) and s not in (".", "..") and ".." not in s for s in segments):
        return PathKind.NOT_EDGE  # empty or odd segments (`//`, `..`): not a static object name
    return PathKind.HASHED_ASSET if _HASHED_NAME.match(segments[-1]) else PathKind.STATIC


def origin_path(path: str) -> str:
    """The object the origin is asked for: the root object for `/`, the path itself otherwise."""
    return ROOT_OBJECT if path == "/" else path


def cache_control(kind: PathKind, status: int) -> str:
    """The Cache-Control the edge answers with: immutable for a hashed asset found, no-store for the rest."""
    return IMMUTABLE if kind is PathKind.HASHED_ASSET and status == 200 else NO_STORE


def is_cacheable(kind: PathKind, status: int) -> bool:
    return kind is PathKind.HASHED_ASSET and status == 200


def is_origin_failure(status: int | None) -> bool:
    """CloudFront's origin-group failover criteria: no answer (connection error, timeout) or a 5xx."""
    return status is None or status >= 500


def after_attempt(index: int, n_origins: int, status: int | None) -> Next:
    """The failover decision after asking origin number `index` (0 = primary) of `n_origins`."""
    if not 0 <= index < n_origins:
        raise ValueError(f"origin index {index} is outside the group of {n_origins} origins")
    if not is_origin_failure(status):
        return Next.SERVE
    return Next.FAIL_OVER if index + 1 < n_origins else Next.GIVE_UP


def hit_rate(hits: int, misses: int) -> float | None:
    """hits / (hits + misses); None before the first request (no rate to report yet)."""
    if hits < 0 or misses < 0:
        raise ValueError(f"hits and misses must be >= 0, got {hits} and {misses}")
    total = hits + misses
    return hits / total if total else None


@dataclass(frozen=True)
class CachedObject:
    """One cached response body with what a hit needs to answer."""

    body: bytes
    content_type: str
    origin_region: str
    stored_at_s: float
    etag: str | None = None

    @property
    def size(self) -> int:
        return len(self.body)


class LruCache:
    """Objects by key, at most `max_bytes` of bodies; the least recently used go first when full."""

    def __init__(self, max_bytes: int):
        if max_bytes <= 0:
            raise ValueError(f"the cache's byte bound must be > 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self._objects: OrderedDict[str, CachedObject] = OrderedDict()

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, key: str) -> bool:
        return key in self._objects

    def keys(self) -> list[str]:
        """Keys from least to most recently used."""
        return list(self._objects)

    def get(self, key: str) -> CachedObject | None:
        obj = self._objects.get(key)
        if obj is not None:
            self._objects.move_to_end(key)
        return obj

    def put(self, key: str, obj: CachedObject) -> list[str]:
        """Store `obj` (replacing `key`), evicting LRU objects to fit; returns the evicted keys.

        An object larger than the whole bound is not stored (and evicts nothing).
        """
        if obj.size > self.max_bytes:
            return []
        old = self._objects.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        evicted = []
        while self.bytes + obj.size > self.max_bytes:
            victim, gone = self._objects.popitem(last=False)
            self.bytes -= gone.size
            evicted.append(victim)
        self.evictions += len(evicted)
        self._objects[key] = obj
        self.bytes += obj.size
        return evicted

    def purge(self) -> tuple[int, int]:
        """Empty the cache; returns (objects, bytes) removed."""
        removed = len(self._objects), self.bytes
        self._objects.clear()
        self.bytes = 0
        return removed


@dataclass
class OriginStats:
    """Attempts on one origin of the group."""

    region: str
    url: str
    requests: int = 0
    errors: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict:
        return {"region": self.region, "url": self.url, "requests": self.requests, "errors": self.errors,
                "last_error": self.last_error}


@dataclass
class Edge:
    """The edge's state: the origin group in order (primary first), the cache and the counters."""

    origins: list[OriginStats]
    cache: LruCache
    hits: int = 0
    misses: int = 0
    collapsed: int = 0  # misses that waited for a fetch already under way instead of asking the origin
    origin_failovers: int = 0
    responses_5xx: int = 0

    @classmethod
    def create(cls, origins: list[tuple[str, str]], max_bytes: int) -> Edge:
        if not origins:
            raise ValueError("the edge needs at least one origin")
        names = [name for name, _ in origins]
        if len(set(names)) != len(names):
            raise ValueError(f"origin names must be unique, got {names}")
        return cls([OriginStats(name, url.rstrip("/")) for name, url in origins], LruCache(max_bytes))

    def lookup(self, path: str) -> CachedObject | None:
        """The cached object for `path`, counted as a hit; None (nothing counted) when not cached."""
        obj = self.cache.get(path)
        if obj is not None:
            self.hits += 1
        return obj

    def count_miss(self, collapsed: bool = False) -> None:
        self.misses += 1
        self.collapsed += collapsed

    def record_attempt(self, index: int, status: int | None, error: str | None = None) -> Next:
        """Count one attempt on origin `index` (status None = no answer, `error` says why); decide what next."""
        decision = after_attempt(index, len(self.origins), status)
        origin = self.origins[index]
        origin.requests += 1
        if decision is not Next.SERVE:
            origin.errors += 1
            origin.last_error = error or f"HTTP {status}"
        if decision is Next.FAIL_OVER:
            self.origin_failovers += 1
        return decision

    def count_response(self, status: int) -> None:
        if status >= 500:
            self.responses_5xx += 1

    def store(self, path: str, obj: CachedObject) -> list[str]:
        return self.cache.put(path, obj)

    def purge(self) -> dict:
        objects, size = self.cache.purge()
        return {"purged_objects": objects, "purged_bytes": size}

    def status(self) -> dict:
        return {
            "hits": self.hits, "misses": self.misses, "hit_rate": hit_rate(self.hits, self.misses),
            "collapsed": self.collapsed,
            "origin_requests": sum(o.requests for o in self.origins),
            "origin_failovers": self.origin_failovers,
            "origin_errors": sum(o.errors for o in self.origins),
            "responses_5xx": self.responses_5xx,
            "cached_objects": len(self.cache), "cached_bytes": self.cache.bytes,
            "max_bytes": self.cache.max_bytes, "evictions": self.cache.evictions,
            "origins": [o.as_dict() for o in self.origins],
        }
