"""A Locust worker that gave no final report (it died): the windows after its last report are not judged, never
silently measured on part of the load; the windows before it are."""

from __future__ import annotations

from gameday.base.models import Criterion
from reports.certify import Verdict, certify
from reports.findings import analyse, load_gap_s
from tests.unit.test_findings import SPEC, T0, run_inputs


def test_the_gap_starts_at_the_earliest_last_report_of_a_worker_without_a_final_one():
    assert load_gap_s(None) is None
    assert load_gap_s({"a": {"last_report_s": 5.0, "final_report": True}}) is None
    assert load_gap_s({"a": {"last_report_s": 9.0, "final_report": False},
                       "b": {"last_report_s": 7.0, "final_report": False},
                       "c": {"last_report_s": 3.0, "final_report": True}}) == 7.0
    assert load_gap_s({"a": {"last_report_s": None, "final_report": False}}) == float("-inf")


def test_windows_after_a_dead_workers_last_report_are_inconclusive_and_say_why():
    workers = {"w1": {"last_report_s": T0 + 20, "final_report": False}, "w2": {"last_report_s": T0 + 29,
                                                                            "final_report": True}}
    criteria = [Criterion.model_validate(c) for c in ("p95_ms < 200 in baseline", "p95_ms < 200 in after",
                                                      "error_rate < 0.5")]
    found = {c.name: c for c in certify(analyse(run_inputs(load_workers=workers), SPEC), criteria).criteria}
    assert found["p95_ms < 200 in baseline"].verdict is Verdict.PASS  # it ended before the worker died
    for name in ("p95_ms < 200 in after", "error_rate < 0.5"):
        assert found[name].verdict is Verdict.INCONCLUSIVE
        assert "sent no final report" in found[name].evidence
