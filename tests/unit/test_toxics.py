"""Pure logic of the fault proxy's toxics: validation, defaults, per-chunk decisions and HTTP framing."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.toxics import (
    FAULT_HEADER,
    TOXIC_TYPES,
    Passthrough,
    RequestBody,
    RequestFramer,
    RequestStart,
    Toxic,
    bandwidth_delay_s,
    http_error_response,
    latency_delay_s,
    limit_take,
    parse_toxic,
    split_address,
    toxic_applies,
    updated_toxic,
    validate_attributes,
)


def test_a_toxic_gets_toxiproxys_defaults_and_name():
    toxic = parse_toxic({"type": "latency"})
    assert toxic == Toxic("latency_downstream", "latency", "downstream", 1.0, {"latency": 0, "jitter": 0})
    assert toxic.as_dict() == {"name": "latency_downstream", "type": "latency", "stream": "downstream",
                               "toxicity": 1.0, "attributes": {"latency": 0, "jitter": 0}}


def test_given_fields_override_the_defaults():
    toxic = parse_toxic({"type": "timeout", "stream": "upstream", "name": "cut", "toxicity": 0.5,
                         "attributes": {"timeout": 250}})
    assert (toxic.name, toxic.stream, toxic.toxicity, toxic.attributes) == ("cut", "upstream", 0.5, {"timeout": 250})


def test_an_unknown_type_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        parse_toxic({"type": "packet_loss"})
    assert "'packet_loss'" in str(err.value)
    assert all(t in str(err.value) for t in TOXIC_TYPES)


@pytest.mark.parametrize("body, fragment", [
    ({"type": "latency", "attributes": {"latncy": 5}}, "valid attributes: latency, jitter"),
    ({"type": "latency", "attributes": {"latency": -1}}, "whole number >= 0"),
    ({"type": "latency", "attributes": {"latency": True}}, "whole number >= 0"),
    ({"type": "bandwidth", "attributes": {"rate": 1.5}}, "whole number >= 0"),
    ({"type": "latency", "stream": "sideways"}, "valid streams: upstream, downstream"),
    ({"type": "latency", "toxicity": 1.5}, "toxicity must be a number from 0 to 1"),
    ({"type": "http_error", "attributes": {"status": 99}}, "200..599"),
    ({"type": "http_error", "attributes": {"body": 3}}, "must be a string"),
    ("latency", "JSON object"),
])
def test_bad_input_is_refused_with_the_reason(body, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_toxic(body, protocol="http")


def test_http_error_needs_an_http_proxy():
    with pytest.raises(ValueError, match="protocol 'http'"):
        parse_toxic({"type": "http_error"}, protocol="tcp")
    assert parse_toxic({"type": "http_error"}, protocol="http").attributes == {"status": 503, "body": ""}


def test_an_update_merges_attributes_and_keeps_identity():
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 100, "jitter": 10}})
    updated = updated_toxic(toxic, {"attributes": {"jitter": 0}, "toxicity": 0.25})
    assert (updated.name, updated.type, updated.stream) == (toxic.name, toxic.type, toxic.stream)
    assert updated.attributes == {"latency": 100, "jitter": 0} and updated.toxicity == 0.25
    with pytest.raises(ValueError, match="cannot change"):
        updated_toxic(toxic, {"type": "bandwidth"})


def test_validate_attributes_of_an_unknown_type_lists_the_types():
    with pytest.raises(ValueError, match="valid types: latency"):
        validate_attributes("nope", {})


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 2**32))
def test_a_latency_delay_stays_within_latency_plus_minus_jitter(latency, jitter, seed):
    delay_s = latency_delay_s(latency, jitter, random.Random(seed))
    assert max(0, latency - jitter) / 1000 <= delay_s <= (latency + jitter) / 1000


@given(st.integers(0, 2**32))
def test_toxicity_one_always_applies_and_zero_never(seed):
    rng = random.Random(seed)
    assert toxic_applies(1.0, rng) and not toxic_applies(0.0, rng)


def test_toxicity_is_a_probability():
    rng = random.Random(7)
    hits = sum(toxic_applies(0.3, rng) for _ in range(10_000))
    assert 2700 <= hits <= 3300


@given(st.integers(1, 10_000), st.integers(0, 10**7))
def test_bandwidth_delay_is_bytes_over_rate(rate, nbytes):
    assert bandwidth_delay_s(rate, nbytes) == pytest.approx(nbytes / (rate * 1000))
    assert bandwidth_delay_s(0, nbytes) == 0


@given(st.integers(0, 10_000), st.lists(st.integers(0, 3_000), max_size=20))
def test_limit_data_lets_exactly_the_limit_through_then_closes(limit, chunks):
    sent, closed_at = 0, None
    for i, n in enumerate(chunks):
        allowed, close = limit_take(limit, sent, n)
        assert 0 <= allowed <= n
        sent += allowed
        if close:
            closed_at = i
            break
    assert sent == min(limit, sum(chunks[:closed_at + 1] if closed_at is not None else chunks))
    assert (closed_at is not None) == (bool(chunks) and sum(chunks) >= limit)


def test_split_address():
    assert split_address("127.0.0.1:8474") == ("127.0.0.1", 8474)
    for bad in ("127.0.0.1", "127.0.0.1:x", ":80", "127.0.0.1:70000"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            split_address(bad)


def _parse_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    return status_line, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


@given(st.integers(200, 599), st.text(max_size=50))
def test_an_injected_response_is_well_formed(status, body):
    status_line, headers, payload = _parse_response(http_error_response(status, body))
    assert status_line.startswith(f"HTTP/1.1 {status} ")
    assert int(headers["content-length"]) == len(payload) > 0
    assert headers[FAULT_HEADER.lower()] == "http_error" and headers["connection"] == "keep-alive"


def test_an_injected_response_to_head_has_no_body_and_can_close():
    _, headers, payload = _parse_response(http_error_response(503, head_only=True, keep_alive=False))
    assert payload == b"" and int(headers["content-length"]) > 0 and headers["connection"] == "close"


def _request(method: str, body: bytes, extra: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body or method == "POST" else ""
    return f"{method} /x HTTP/1.1\r\nHost: a\r\n{length}{extra}\r\n".encode() + body


requests_st = st.lists(st.tuples(st.sampled_from(["GET", "POST", "HEAD"]), st.binary(max_size=300)),
                       min_size=1, max_size=6)


@given(requests_st, st.lists(st.integers(1, 200), max_size=30))
def test_framing_is_lossless_and_finds_every_request(requests, cuts):
    wire = [_request(m, b if m == "POST" else b"") for m, b in requests]
    stream = b"".join(wire)
    framer, events, pos = RequestFramer(), [], 0
    for cut in cuts + [len(stream)]:
        events += framer.feed(stream[pos:pos + cut])
        pos += cut
    starts = [e for e in events if isinstance(e, RequestStart)]
    assert [s.method for s in starts] == [m for m, _ in requests]
    assert b"".join(e.head if isinstance(e, RequestStart) else e.data for e in events) == stream
    assert not any(isinstance(e, Passthrough) for e in events)
    lasts = sum(1 for e in events if isinstance(e, RequestBody) and e.last) + sum(s.complete for s in starts)
    assert lasts == len(requests)


def test_a_chunked_request_is_not_faultable_and_the_rest_passes_through():
    head = b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    events = RequestFramer().feed(head + b"5\r\nhello\r\n0\r\n\r\n" + _request("GET", b""))
    assert isinstance(events[0], RequestStart) and not events[0].faultable
    assert events[1:] == [Passthrough(b"5\r\nhello\r\n0\r\n\r\n" + _request("GET", b""))]


def test_keep_alive_follows_the_http_version_and_connection_header():
    framer = RequestFramer()
    (close,) = framer.feed(_request("GET", b"", "Connection: close\r\n"))
    (old,) = framer.feed(b"GET / HTTP/1.0\r\n\r\n")
    (old_kept,) = framer.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert (close.keep_alive, old.keep_alive, old_kept.keep_alive) == (False, False, True)


def test_input_that_is_not_http_passes_through():
    assert RequestFramer().feed(b"\x16\x03\x01garbage\r\n\r\nmore") == [Passthrough(b"\x16\x03\x01garbage\r\n\r\nmore")]
