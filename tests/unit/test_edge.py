"""The edge cache's pure logic: path policy, the byte-bounded LRU, hit-rate arithmetic, origin failover; the site."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.edge import (
    IMMUTABLE,
    NO_STORE,
    CachedObject,
    Edge,
    LruCache,
    Next,
    PathKind,
    after_attempt,
    cache_control,
    hit_rate,
    is_cacheable,
    is_origin_failure,
    origin_path,
    path_kind,
)
from infra.local.origin import build_site


@pytest.mark.parametrize(("path", "kind"), [
    ("/", PathKind.DOCUMENT),
    ("/index.html", PathKind.DOCUMENT),
    ("/static/app.3f9a1c2b.js", PathKind.HASHED_ASSET),
    ("/static/style.0123456789abcdef.css", PathKind.HASHED_ASSET),
    ("/static/js/vendor-deadbeef.min.js", PathKind.STATIC),  # the hash is not the last part before the extension
    ("/static/js/vendor.min-deadbeef.js", PathKind.HASHED_ASSET),
    ("/static/img/logo.38a2406d.svg", PathKind.HASHED_ASSET),
    ("/static/app.js", PathKind.STATIC),
    ("/static/app.3f9a1c2.js", PathKind.STATIC),   # 7 hex digits: too short to be a content hash
    ("/static/app.3F9A1C2B.js", PathKind.STATIC),  # hashes are lower-case hex
    ("/static/app.3f9a1c2g.js", PathKind.STATIC),
    ("/static/jquery-3.7.1.min.js", PathKind.STATIC),
    ("/static/", PathKind.NOT_EDGE),
    ("/static//app.3f9a1c2b.js", PathKind.NOT_EDGE),
    ("/static/../app.3f9a1c2b.js", PathKind.NOT_EDGE),
    ("/static/a..b.3f9a1c2b.js", PathKind.NOT_EDGE),
    ("/static", PathKind.NOT_EDGE),
    ("/index.htm", PathKind.NOT_EDGE),
    ("/items/1", PathKind.NOT_EDGE),
    ("/health", PathKind.NOT_EDGE),
    ("/assets/app.3f9a1c2b.js", PathKind.NOT_EDGE),
])
def test_path_kinds(path, kind):
    assert path_kind(path) is kind


names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
hashes = st.from_regex(r"[0-9a-f]{8,20}", fullmatch=True)
extensions = st.sampled_from(["js", "css", "svg", "woff2", "png", "map"])


@given(names, hashes, extensions, st.lists(names, max_size=2))
def test_a_name_ending_in_a_content_hash_is_a_cacheable_asset(stem, digest, ext, dirs):
    path = "/static/" + "".join(d + "/" for d in dirs) + f"{stem}.{digest}.{ext}"
    assert path_kind(path) is PathKind.HASHED_ASSET
    assert is_cacheable(PathKind.HASHED_ASSET, 200) and cache_control(PathKind.HASHED_ASSET, 200) == IMMUTABLE


@given(names, extensions)
def test_a_name_without_a_hash_is_never_cached(stem, ext):
    kind = path_kind(f"/static/{stem}.{ext}")
    assert kind is PathKind.STATIC and not is_cacheable(kind, 200) and cache_control(kind, 200) == NO_STORE


@given(st.sampled_from(list(PathKind)), st.integers(100, 599))
def test_only_a_found_hashed_asset_is_cached_and_immutable(kind, status):
    cacheable = kind is PathKind.HASHED_ASSET and status == 200
    assert is_cacheable(kind, status) is cacheable
    assert cache_control(kind, status) == (IMMUTABLE if cacheable else NO_STORE)


def test_the_root_asks_the_origin_for_the_root_object():
    assert origin_path("/") == "/index.html"
    assert origin_path("/index.html") == "/index.html" and origin_path("/static/a.js") == "/static/a.js"


def obj(size: int, region: str = "eu-central-1") -> CachedObject:
    return CachedObject(b"x" * size, "application/javascript", region, 0.0)


def test_the_lru_evicts_the_least_recently_used_first():
    cache = LruCache(max_bytes=300)
    for key in "abc":
        assert cache.put(key, obj(100)) == []
    assert cache.get("a") is not None  # a becomes the most recently used: b is now the oldest
    assert cache.put("d", obj(100)) == ["b"]
    assert cache.keys() == ["c", "a", "d"] and cache.bytes == 300
    assert cache.put("e", obj(250)) == ["c", "a", "d"] and cache.keys() == ["e"]
    assert cache.evictions == 4 and cache.get("b") is None


def test_an_object_larger_than_the_bound_is_not_stored_and_evicts_nothing():
    cache = LruCache(max_bytes=100)
    cache.put("a", obj(60))
    assert cache.put("huge", obj(101)) == [] and "huge" not in cache and cache.keys() == ["a"]


def test_replacing_a_key_counts_its_bytes_once_and_purge_empties():
    cache = LruCache(max_bytes=100)
    cache.put("a", obj(60))
    assert cache.put("a", obj(70)) == [] and cache.bytes == 70 and len(cache) == 1
    assert cache.purge() == (1, 70) and cache.bytes == 0 and len(cache) == 0
    with pytest.raises(ValueError, match="byte bound must be > 0"):
        LruCache(0)


operations = st.lists(st.tuples(st.sampled_from(["put", "get"]), st.integers(0, 9), st.integers(0, 150)),
                      max_size=60)


@given(st.integers(1, 400), operations)
def test_the_lru_never_exceeds_its_bound_and_counts_bytes_exactly(max_bytes, ops):
    cache = LruCache(max_bytes)
    model: list[tuple[str, int]] = []  # (key, size), least recently used first
    for op, k, size in ops:
        key = f"k{k}"
        if op == "get":
            found = cache.get(key)
            assert (found is not None) == any(m == key for m, _ in model)
            if found is not None:
                model = [m for m in model if m[0] != key] + [(key, found.size)]
        elif size <= max_bytes:
            model = [m for m in model if m[0] != key]
            evicted = cache.put(key, obj(size))
            while sum(s for _, s in model) + size > max_bytes:
                assert evicted.pop(0) == model.pop(0)[0]
            assert evicted == []
            model.append((key, size))
        else:
            assert cache.put(key, obj(size)) == []
        assert cache.bytes == sum(s for _, s in model) <= max_bytes
        assert cache.keys() == [m for m, _ in model]


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_hit_rate_is_hits_over_lookups(hits, misses):
    rate = hit_rate(hits, misses)
    if hits + misses == 0:
        assert rate is None
    else:
        assert 0.0 <= rate <= 1.0 and rate == pytest.approx(hits / (hits + misses))
        assert rate * (hits + misses) == pytest.approx(hits)


def test_hit_rate_rejects_negative_counts():
    with pytest.raises(ValueError, match="must be >= 0"):
        hit_rate(-1, 3)


@pytest.mark.parametrize(("status", "failure"), [(None, True), (500, True), (502, True), (503, True),
                                                 (504, True), (599, True), (200, False), (304, False),
                                                 (403, False), (404, False), (429, False)])
def test_failover_criteria_are_no_answer_or_a_5xx(status, failure):
    assert is_origin_failure(status) is failure


@given(st.integers(1, 5), st.data())
def test_failover_moves_on_until_the_last_origin(n, data):
    index = data.draw(st.integers(0, n - 1))
    status = data.draw(st.one_of(st.none(), st.integers(100, 599)))
    decision = after_attempt(index, n, status)
    if not is_origin_failure(status):
        assert decision is Next.SERVE
    else:
        assert decision is (Next.FAIL_OVER if index < n - 1 else Next.GIVE_UP)


def test_after_attempt_rejects_an_index_outside_the_group():
    with pytest.raises(ValueError, match="outside the group of 2"):
        after_attempt(2, 2, 200)


def test_the_edge_counts_hits_misses_failovers_and_errors():
    edge = Edge.create([("eu-central-1", "http://127.0.0.1:1/"), ("eu-west-1", "http://127.0.0.1:2")],
                       max_bytes=1000)
    assert edge.status()["hit_rate"] is None and edge.origins[0].url == "http://127.0.0.1:1"
    assert edge.lookup("/static/a.3f9a1c2b.js") is None  # nothing counted: the caller counts the miss
    edge.count_miss()
    assert edge.record_attempt(0, None, "ConnectionRefusedError: nope") is Next.FAIL_OVER
    assert edge.record_attempt(1, 200) is Next.SERVE
    edge.store("/static/a.3f9a1c2b.js", obj(400, "eu-west-1"))
    for _ in range(9):
        assert edge.lookup("/static/a.3f9a1c2b.js").origin_region == "eu-west-1"
    edge.count_miss()
    edge.count_miss(collapsed=True)  # waited for the fetch above: no origin request of its own
    assert edge.record_attempt(0, 503) is Next.FAIL_OVER and edge.record_attempt(1, 503) is Next.GIVE_UP
    edge.count_response(503)
    status = edge.status()
    assert {k: status[k] for k in ("hits", "misses", "collapsed", "origin_requests", "origin_failovers",
                                   "origin_errors", "responses_5xx", "cached_objects", "cached_bytes")} == {
        "hits": 9, "misses": 3, "collapsed": 1, "origin_requests": 4, "origin_failovers": 2, "origin_errors": 3,
        "responses_5xx": 1, "cached_objects": 1, "cached_bytes": 400}
    assert status["hit_rate"] == pytest.approx(9 / 12)
    assert status["origins"] == [
        {"region": "eu-central-1", "url": "http://127.0.0.1:1", "requests": 2, "errors": 2, "last_error": "HTTP 503"},
        {"region": "eu-west-1", "url": "http://127.0.0.1:2", "requests": 2, "errors": 1, "last_error": "HTTP 503"}]
    assert edge.purge() == {"purged_objects": 1, "purged_bytes": 400} and edge.status()["cached_bytes"] == 0


def test_the_edge_needs_distinct_origins():
    with pytest.raises(ValueError, match="at least one origin"):
        Edge.create([], 10)
    with pytest.raises(ValueError, match="must be unique"):
        Edge.create([("a", "http://x"), ("a", "http://y")], 10)


def test_the_site_names_each_asset_by_its_content_hash_and_index_references_them_all():
    site = build_site("v1")
    assert len(site.assets) >= 4
    for path, asset in site.assets.items():
        assert path_kind(path) is PathKind.HASHED_ASSET
        digest = re.search(r"\.([0-9a-f]{8})\.\w+$", path).group(1)
        assert hashlib.sha256(asset.body).hexdigest().startswith(digest)
        assert 2_000 <= len(asset.body) <= 100_000  # some KB, like a real bundle
        assert f'"{path}"'.encode() in site.index.body
    assert build_site("v1") == site  # deterministic: every region's origin serves the same bytes
    assert set(build_site("v2").assets).isdisjoint(site.assets)  # a new version is a new set of names
