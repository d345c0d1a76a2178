"""Critical journeys timed end to end, on hand-written records: the latency, the failed step, the criteria, and no
request-level figure changed by them."""

from __future__ import annotations

import random
from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gameday.base.models import Criterion, GameDaySpec
from reports.certify import Verdict, certify
from reports.findings import RunInputs, analyse
from reports.journeys import JourneyRecords, journey_stats, read_journeys
from reports.render import markdown, summary
from reports.sample_files import read_samples
from reports.samples import nearest_rank
from scenarios import journeys
from scenarios.profiles import load_profile
from scenarios.recorder import JOURNEY_PREFIX, FileSink, JourneyRecorder, SampleRecorder

T0 = 1_700_000_000.0
STEPS = journeys.FLOW_STEPS["critical"]   # GET /index.html -> GET /items/[id] -> POST /writes -> POST /ai


class Answer:
    def __init__(self, status_code: int, error: Exception | None = None):
        self.status_code, self.error, self.text = status_code, error, ""


class Target:
    """Answers every request 200, except the paths in `failing` (500, which Locust puts on `response.error`);
    keeps each request's URL and context."""

    def __init__(self, failing: tuple[str, ...] = ()):
        self.failing, self.asked = failing, []

    def _answer(self, url: str, context: dict) -> Answer:
        self.asked.append((url, dict(context)))
        if any(url.startswith(path) for path in self.failing):
            return Answer(500, RuntimeError("500 Internal Server Error"))
        return Answer(200)

    def get(self, url: str, context: dict, **_kw) -> Answer:
        return self._answer(url, context)

    def post(self, url: str, context: dict, **_kw) -> Answer:
        return self._answer(url, context)


def test_a_flow_sends_its_steps_in_order_with_the_schedule_on_the_first_only():
    target = Target()
    assert journeys.run_flow(journeys.FLOWS["critical"], target, random.Random(1), {"t_intended": T0}) == (4, True)
    assert [url.split("/")[1] for url, _ in target.asked] == ["index.html", "items", "writes", "ai"]
    assert [ctx for _, ctx in target.asked] == [{"t_intended": T0}, {}, {}, {}]


def test_one_failed_step_fails_the_journey_and_the_steps_after_it_are_never_sent():
    target = Target(failing=("/writes",))
    assert journeys.run_flow(journeys.FLOWS["critical"], target, random.Random(1), {}) == (3, False)
    assert [url for url, _ in target.asked][-1] == "/writes"
    assert not journeys.step_ok(Answer(0, ConnectionRefusedError())) and journeys.step_ok(Answer(204))


def test_journey_records_go_to_files_of_their_own_and_time_the_whole_journey(tmp_path):
    steps = SampleRecorder()                     # the request samples of the same worker
    for i, name in enumerate(STEPS):
        steps.on_request("GET", name, 50.0, context={"t_intended": T0} if i == 0 else None,
                         start_time=T0 + 0.1 + 0.05 * i)
    flows = JourneyRecorder(journeys.FLOW_STEPS)
    flows.record_journey("critical", T0, T0 + 0.3, 4, True)          # intended T0, last step ended 300 ms later
    flows.record_journey("critical", T0 + 1, T0 + 1.05, 2, False)    # failed at its second step
    flows.record_dropped(T0 + 2, "critical")
    FileSink(tmp_path, steps.stem).write(steps.take(), steps.meta())
    FileSink(tmp_path, flows.stem, JOURNEY_PREFIX).write(flows.take(), flows.meta())

    requests = read_samples(tmp_path)
    assert len(requests) == 4 and set(requests["name"]) == set(STEPS)   # the journeys are no requests
    records = read_journeys(tmp_path)
    f = records.frame
    assert f["latency_ms"].iloc[0] == pytest.approx(300, abs=0.01)
    assert list(f["ok"]) == [True, False, False] and list(f["dropped"]) == [False, False, True]
    stats = journey_stats(records, T0, T0 + 3)
    assert (stats.arrivals, stats.failed, stats.dropped) == (3, 1, 1)
    assert stats.failed_at == (("GET /items/[id]", 1),)
    assert "critical (GET /index.html -> GET /items/[id] -> POST /writes -> POST /ai) x3" == stats.describe()
    assert read_journeys(tmp_path / "none") is None


def _records(latencies_ms: list[float], failed_at: dict[int, int] | None = None, start: float = T0,
             dropped: int = 0) -> JourneyRecords:
    """One journey every 0.1 s from `start`; journey i fails at step failed_at[i] (1-based) when given."""
    failed_at = failed_at or {}
    n = len(latencies_ms)
    rows = {"t_s": [start + 0.1 * i for i in range(n + dropped)],
            "latency_ms": [*latencies_ms, *[float("nan")] * dropped],
            "steps_sent": [failed_at.get(i, 4) for i in range(n)] + [0] * dropped,
            "name": ["critical"] * (n + dropped),
            "ok": [i not in failed_at for i in range(n)] + [False] * dropped,
            "dropped": [False] * n + [True] * dropped}
    return JourneyRecords(pd.DataFrame(rows), dict(journeys.FLOW_STEPS))


@given(st.lists(st.floats(1, 5000), min_size=1, max_size=200), st.integers(0, 20))
def test_failed_journeys_never_lower_the_p95(latencies, failures):
    failed = dict.fromkeys(range(min(failures, len(latencies))), 2)
    stats = journey_stats(_records(latencies, failed), T0, T0 + 1000)
    served = [x for i, x in enumerate(latencies) if i not in failed]
    assert stats.p95_ms >= (nearest_rank(pd.Series(served).to_numpy(), 95) if served else 0)
    assert stats.error_rate == len(failed) / len(latencies)


def _samples(n: int, start: float = T0) -> pd.DataFrame:
    """`n` open-model request samples, one every 0.025 s, every 20th a failure."""
    return pd.DataFrame({"t_s": [start + 0.025 * i for i in range(n)], "latency_ms": [10.0 + i % 50 for i in range(n)],
                         "status": [500 if i % 20 == 0 else 200 for i in range(n)],
                         "name": [STEPS[i % 4] for i in range(n)], "ok": [i % 20 != 0 for i in range(n)],
                         "dropped": [False] * n, "cache": [""] * n,
                         "region": [""] * n, "source": ["w"] * n})


def _analyse(records: JourneyRecords | None, *criteria: str, profile: dict | None = None):
    spec = GameDaySpec.model_validate({"criteria": list(criteria)})
    inputs = RunInputs(run={"started_s": T0, "ended_s": T0 + 30}, samples=_samples(1000), journeys=records,
                       load_profile=profile)
    findings = analyse(inputs, spec)
    return findings, certify(findings, spec.criteria)


def test_journey_records_change_no_request_level_figure_and_are_judged_per_window():
    latencies = [200.0 + i for i in range(200)]                     # P95 of 200 journeys: the 190th, 389 ms
    with_journeys, cert = _analyse(_records(latencies, {5: 3}), "journey_p95_ms < 1000 in overall",
                                   "journey_p95_ms < 300 in overall", "journey_error_rate < 0.05 in overall",
                                   "p95_ms < 1000 in overall")
    without, _ = _analyse(None)
    for name, w in with_journeys.windows.items():
        assert replace(w, journeys=without.windows[name].journeys) == without.windows[name], name
    assert with_journeys.comparisons == without.comparisons
    overall = with_journeys.windows["overall"].journeys
    assert overall.arrivals == 200 and overall.p95_ms == 390.0       # the failed one ranks above every success
    verdicts = [c.verdict for c in cert.criteria]
    assert verdicts[:2] == [Verdict.PASS, Verdict.FAIL], cert.criteria
    p95 = cert.criteria[0]
    assert "critical (GET /index.html -> GET /items/[id] -> POST /writes -> POST /ai)" in p95.evidence
    assert "1 at POST /writes" in p95.evidence and "intended start" in p95.evidence
    doc = summary(with_journeys, cert, {"experiment": "journeys"})
    assert doc["windows"]["overall"]["journeys"] == 200 and doc["windows"]["overall"]["journey_p95_ms"] == 390.0
    assert "| overall | 200 | 1 | 0 |" in markdown(doc)


def test_too_few_journeys_or_closed_model_load_leave_the_p95_inconclusive():
    _, few = _analyse(_records([100.0] * 30), "journey_p95_ms < 1000 in overall", "journey_error_rate < 0.5 in overall")
    assert few.criteria[0].verdict is Verdict.INCONCLUSIVE and "< 59 for a P95" in few.criteria[0].evidence
    assert few.criteria[1].verdict is Verdict.PASS                  # 0 of 30 failed: upper bound < 0.5
    closed = {"stages": [{"duration_s": 60, "users": 10}]}
    _, c = _analyse(_records([100.0] * 100), "journey_p95_ms < 1000 in overall", profile=closed)
    assert c.criteria[0].verdict is Verdict.INCONCLUSIVE and "closed-model" in c.criteria[0].evidence
    _, none = _analyse(None, "journey_error_rate < 0.01 in overall")
    assert none.criteria[0].verdict is Verdict.INCONCLUSIVE and "no critical journeys" in none.criteria[0].evidence


def test_dropped_arrivals_are_failed_journeys():
    findings, cert = _analyse(_records([100.0] * 100, dropped=10), "journey_error_rate < 0.05 in overall")
    j = findings.windows["overall"].journeys
    assert (j.arrivals, j.dropped, j.error_rate) == (110, 10, pytest.approx(10 / 110))
    assert cert.criteria[0].verdict is Verdict.FAIL and "10 never started (dropped)" in cert.criteria[0].evidence


def test_a_profile_mixes_the_flow_and_a_criterion_names_it():
    profile = load_profile('{"name": "j", "mix": {"critical": 1}, "stages": [{"duration_s": 5, "rate_per_s": 4}]}')
    assert profile.mix["critical"] == 1
    assert Criterion.model_validate("journey_p95_ms < 1000 in after").metric.value == "journey_p95_ms"
    assert journeys.REQUEST_NAMES["critical"] == "GET /index.html"     # a dropped arrival's request sample
