"""Raw samples: exact nearest-rank percentiles, per-second figures, and the 16-byte columnar file round trip."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from geventhttpclient.header import Headers  # FastHttpUser's header map (no gevent patching: a plain import)
from hypothesis import given
from hypothesis import strategies as st

from reports.sample_files import decode_chunks, read_samples
from reports.samples import nearest_rank, per_second, summary
from scenarios.recorder import BYTES_PER_SAMPLE, COLUMNS, FileSink, SampleBuffer, SampleRecorder, raw_header_type

latencies = st.lists(st.floats(0, 1e6, allow_nan=False, width=32), min_size=1, max_size=500)


@given(latencies, st.floats(0.001, 100))
def test_nearest_rank_matches_numpy_and_is_an_observed_value(values, q):
    expected = np.percentile(np.array(values), q, method="inverted_cdf")
    assert nearest_rank(np.array(values), q) == expected
    assert nearest_rank(np.array(values), q) in values


@given(latencies)
def test_at_least_q_percent_of_values_are_at_or_below_the_percentile(values):
    arr = np.array(values)
    for q in (50, 95, 99):
        assert (arr <= nearest_rank(arr, q)).mean() >= q / 100


def test_no_samples_has_no_percentile():
    assert math.isnan(nearest_rank(np.array([]), 95))


class Response:
    def __init__(self, status_code: int, headers: dict | None):
        self.status_code, self.headers = status_code, headers


def test_a_sample_survives_the_file_round_trip_with_every_field(tmp_path):
    recorder = SampleRecorder(capacity=3)
    recorder.on_request("GET", "GET /items/[id]", 12.5, response=Response(200, {"x-region": "eu-west-1",
                                                                                "x-cache": "hit"}),
                        context={}, exception=None, start_time=1000.0)
    recorder.on_request("POST", "POST /writes", 3.0, response=Response(503, {"x-region": "eu-central-1"}),
                        context={"t_intended": 999.5}, exception=RuntimeError("503"), start_time=1000.0)
    recorder.on_request("GET", "GET /health", 1.0, response=None, context={}, exception=ConnectionError("refused"),
                        start_time=1002.0)
    recorder.record_dropped(1003.0, "GET /health")
    FileSink(tmp_path, recorder.stem).write(recorder.take(), recorder.meta())
    got = read_samples(tmp_path)
    assert list(got["t_s"]) == [999.5, 1000.0, 1002.0, 1003.0]
    write, item, failed, dropped = (got.iloc[i] for i in range(4))
    assert (item["name"], item["status"], item["ok"], item["region"], item["cache"]) == \
        ("GET /items/[id]", 200, True, "eu-west-1", "hit")
    assert item["latency_ms"] == 12.5
    # open model: latency runs from the intended start (0.5 s late) plus the response time
    assert write["latency_ms"] == np.float32(503.0) and not write["ok"] and write["region"] == "eu-central-1"
    assert failed["status"] == 0 and not failed["ok"] and failed["region"] == ""
    assert dropped["dropped"] and math.isnan(dropped["latency_ms"])


def _answers() -> list[tuple[str, Headers]]:
    cdn, twice, bare, ai = Headers(), Headers(), Headers(), Headers()
    cdn["X-Cache"], cdn["X-Region"] = "Hit from cloudfront", "eu-west-1"
    twice.add("X-Region", "us-east-1")
    twice.add("X-Region", "eu-west-1")      # sent twice: the last one counts
    ai["X-AI-Provider"], ai["x-region"] = "Bedrock", "eu-west-1"
    return [("GET /items/[id]", cdn), ("GET /health", twice), ("GET /health", bare), ("POST /ai", ai)]


def test_reading_the_clients_header_map_directly_records_what_its_get_method_reads(tmp_path):
    """The load generator reads FastHttpUser's headers with dict.get (one C call, not three Python calls): only
    when the map's layout was checked, and with the very samples the map's own `get` gives."""
    assert raw_header_type(Headers) is Headers
    assert raw_header_type(dict) is None                        # another layout: the recorder calls `get`
    decoded = []
    for i, raw in enumerate((Headers, None)):
        recorder = SampleRecorder(raw_headers=raw)
        for name, headers in _answers():
            recorder.on_request("GET", name, 5.0, response=Response(200, headers), context={}, start_time=1000.0)
        FileSink(tmp_path / str(i), recorder.stem).write(recorder.take(), recorder.meta())
        decoded.append(read_samples(tmp_path / str(i)).drop(columns="source"))
    pd.testing.assert_frame_equal(decoded[0], decoded[1])
    assert list(decoded[0]["region"]) == ["eu-west-1"] * 2 + [""] + ["eu-west-1"]
    assert list(decoded[0]["cache"]) == ["hit", "", "", ""]
    assert list(decoded[0]["name"]) == ["GET /items/[id]", "GET /health", "GET /health", "POST /ai [bedrock]"]


answers = st.lists(st.tuples(st.sampled_from(["GET /health", "GET /items/[id]"]),
                             st.sampled_from([None, "Hit", "Miss"]),
                             st.sampled_from([None, "eu-west-1", "us-east-1"]), st.booleans()), min_size=1, max_size=40)


@given(answers)
def test_every_sample_is_coded_from_its_own_answer_whatever_came_before_it(sequence):
    """The recorder reuses the coding of the request before when an answer is alike (name, X-Cache, X-Region, a
    success): a sample that differs in any of them, or failed, is coded from itself."""
    recorder = SampleRecorder(raw_headers=raw_header_type(Headers))
    for name, cache, region, ok in sequence:
        headers = Headers()
        if cache:
            headers["X-Cache"] = cache
        if region:
            headers["X-Region"] = region
        recorder.on_request("GET", name, 1.0, response=Response(200 if ok else 503, headers), context={},
                            exception=None if ok else RuntimeError("503"), start_time=1000.0)
    columns = decode_chunks(b"".join(recorder.take()))
    names, regions = list(recorder.meta()["names"]), list(recorder.meta()["regions"])
    codes = {None: 0, "Hit": 1, "Miss": 2}
    for i, (name, cache, region, ok) in enumerate(sequence):
        flags = int(columns["flags"][i])
        assert names[columns["name"][i]] == name
        assert (flags & 1, (flags >> 2) & 3) == (int(ok), codes[cache])
        assert (regions[(flags >> 4) - 1] if flags >> 4 else None) == region


def test_a_sample_costs_16_bytes_in_memory_and_on_disk(tmp_path):
    buffer = SampleBuffer(capacity=1000)
    assert sum(col.itemsize for col in buffer.columns) == BYTES_PER_SAMPLE == 16
    assert sum(col.buffer_info()[1] * col.itemsize for col in buffer.columns) == 16 * 1000
    for i in range(1000):
        buffer.add(float(i), 1.0, 200, 0, 1)
    assert len(buffer.seal()) == 8 + 16 * 1000
    assert [c[0] for c in COLUMNS] == ["t_s", "latency_ms", "status", "name", "flags"]


def test_a_torn_last_chunk_is_ignored():
    buffer = SampleBuffer(capacity=10)
    buffer.add(1.0, 2.0, 200, 0, 1)
    first = buffer.seal()
    buffer.add(2.0, 2.0, 200, 0, 1)
    torn = buffer.seal()[:-3]
    assert list(decode_chunks(first + torn)["t_s"]) == [1.0]


def test_memory_stays_bounded_because_full_buffers_are_handed_over():
    recorder = SampleRecorder(capacity=100)
    for i in range(1050):
        recorder.record_dropped(float(i), "x")
    chunks = recorder.take()
    assert [len(c) for c in chunks] == [8 + 1600] * 10 + [8 + 50 * 16]
    assert recorder.take() == []


def _samples(rows: list[tuple[float, float, bool, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["t_s", "latency_ms", "ok", "dropped"])


def test_per_second_counts_errors_drops_and_exact_percentiles():
    rows = [(100.0 + i / 10, float(i), i % 5 != 0, False) for i in range(10)]  # second 0: 10 requests
    rows += [(101.5, 7.0, True, False), (101.6, math.nan, False, True)]        # second 1: 1 sent, 1 dropped
    table = per_second(_samples(rows))
    assert list(table["requests"]) == [10, 1]
    assert list(table["errors"]) == [2, 0]
    assert list(table["dropped"]) == [0, 1]
    assert table.loc[0, "p50_ms"] == 4.0 and table.loc[0, "p95_ms"] == 9.0 and table.loc[1, "p99_ms"] == 7.0


def test_summary_rps_and_error_rate_exclude_dropped_requests():
    rows = [(float(i) / 100, 10.0, i != 0, False) for i in range(100)] + [(0.5, math.nan, False, True)] * 3
    result = summary(_samples(rows))
    assert result["requests"] == 100 and result["dropped"] == 3 and result["errors"] == 1
    assert result["error_rate"] == 0.01
    assert result["duration_s"] == 0.99 + 0.01 and result["rps"] == 100 / 1.0
