"""The browser vitals sampler's pure parts: metric definitions (web-vitals'), records, cadence, config errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gameday.base.errors import InvalidInput
from probes.browser_vitals import (
    METRICS,
    chromium_path,
    cls_of,
    failed_record,
    inp_of,
    load_config,
    next_tick,
    short_reason,
    vitals_record,
)

shift = st.tuples(st.floats(0, 20_000), st.floats(0, 1), st.booleans())


@given(st.lists(shift, max_size=30))
def test_cls_is_a_session_sum_between_the_largest_shift_and_the_total(shifts):
    counted = [value for _, value, recent in shifts if not recent]
    assert max(counted, default=0.0) - 1e-9 <= cls_of(shifts) <= sum(counted) + 1e-9


def test_cls_takes_the_worst_session_window_and_ignores_shifts_after_input():
    burst = [(100.0, 0.1, False), (900.0, 0.1, False), (1800.0, 0.05, False)]  # gaps < 1 s: one window
    assert cls_of(burst) == pytest.approx(0.25)
    assert cls_of([(100.0, 0.1, False), (1200.0, 0.15, False)]) == pytest.approx(0.15)  # a 1.1 s gap: two windows
    steady = [(t * 900.0, 0.01, False) for t in range(10)]  # never a 1 s gap, but a window spans at most 5 s
    assert cls_of(steady) == pytest.approx(0.06)
    assert cls_of([(100.0, 0.3, True)]) == 0.0 and cls_of([]) == 0.0


def test_inp_is_the_worst_interaction_ignoring_one_in_fifty():
    assert inp_of([]) is None
    assert inp_of([(7, 48.0), (7, 56.0), (8, 24.0)]) == 56.0  # an interaction's longest event counts
    many = [(i, float(i)) for i in range(1, 101)]  # 100 interactions: the two worst are ignored
    assert inp_of(many) == 98.0


def test_a_record_has_the_contract_fields_and_a_failure_nulls_every_metric():
    raw = {"ttfb": 5.04, "fcp": 96.0, "lcp": [80.0, 132.0], "shifts": [[400.0, 0.21043, False]],
           "events": [[3, 48.0]], "load": 100.26}
    record = vitals_record(12.5, "http://h/", raw)
    assert record == {"probe": "vitals", "at_s": 12.5, "url": "http://h/", "ok": True, "ttfb_ms": 5.0,
                      "fcp_ms": 96.0, "lcp_ms": 132.0, "cls": 0.2104, "inp_ms": 48.0, "load_ms": 100.3,
                      "error": None}
    assert vitals_record(1.0, "u", {**raw, "lcp": [], "events": []})["lcp_ms"] is None
    failed = failed_record(3.0, "u", "HTTP 502")
    assert failed.keys() == record.keys() and not failed["ok"] and failed["error"] == "HTTP 502"
    assert all(failed[m] is None for m in METRICS)


def test_playwright_errors_shrink_to_a_short_reason():
    message = "Page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/\nCall log:\n  - navigating"
    assert short_reason(message) == "net::ERR_CONNECTION_REFUSED"
    assert short_reason("") == "unknown error"


@given(st.integers(0, 1000), st.floats(0, 10_000), st.floats(0.1, 10))
def test_the_cadence_never_goes_back_and_skips_only_ticks_long_past(tick, elapsed_s, interval_s):
    run, skipped = next_tick(tick, elapsed_s, interval_s)
    assert run >= tick and skipped == list(range(tick, run))
    assert run == tick or run * interval_s <= elapsed_s < (run + 1) * interval_s + 1e-9


def test_a_bad_config_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "vitals.json"
    path.write_text(json.dumps({"out": "v.jsonl", "url": "ftp://x", "interval_s": 0, "colour": 1}))
    with pytest.raises(InvalidInput) as caught:
        load_config(path)
    text = str(caught.value)
    assert str(path) in text and "url:" in text and "interval_s:" in text and "colour:" in text
    with pytest.raises(InvalidInput, match="pass --config"):
        load_config(tmp_path / "missing.json")
    path.write_text(json.dumps({"out": "v.jsonl", "url": "http://127.0.0.1:1/"}))
    config = load_config(path)
    assert (config.interval_s, config.timeout_s, config.interact, config.duration_s) == (2.0, 10.0, True, None)


def test_a_missing_chromium_says_what_to_install(tmp_path):
    with pytest.raises(InvalidInput, match="apt-get install chromium"):
        chromium_path(str(tmp_path / "no-such-browser"))
