"""Core Web Vitals criteria on hand-written page loads (vitals.jsonl): P75s, failed loads, windows, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.base.errors import InvalidInput
from gameday.base.models import GameDaySpec, Metric, metric_unit
from gameday.cli import cli
from gameday.validate import validate_files
from reports.certify import Verdict, certify
from reports.findings import RunInputs, analyse
from reports.run_files import read_run
from reports.samples import nearest_rank
from reports.vitals import MIN_LOADS, VITALS, vital, window_vitals
from tests.unit.test_render import reports_of, write_run

T0 = 1_700_000_000.0
START, END, RECOVERED = T0 - 30, T0 + 45, T0 + 15
JOURNAL = {"status": "completed", "deviated": False, "run": [], "rollbacks": []}
ORDER = (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS)
DATA = Path(__file__).parent.parent / "data"

latencies = st.floats(min_value=0.0, max_value=60_000.0, allow_nan=False)


def page(at_s: float, ok: bool = True, lcp: float | None = 1200.0, inp: float | None = 80.0, cls: float = 0.02,
         load_ms: float | None = 900.0) -> dict:
    """One vitals.jsonl record as probes.browser_vitals writes it (a failed load: every metric null)."""
    metrics = {"ttfb_ms": 40.0, "fcp_ms": 500.0, "lcp_ms": lcp, "cls": cls, "inp_ms": inp, "load_ms": load_ms}
    return {"probe": "vitals", "at_s": at_s, "url": "http://127.0.0.1:1/index.html", "ok": ok,
            **(metrics if ok else dict.fromkeys(metrics)), "error": None if ok else "net::ERR_CONNECTION_REFUSED"}


def ledger() -> list[dict]:
    return [{"event": "begin", "id": "x", "at_s": T0 - 0.01, "kind": "region_outage", "target": "eu-central-1",
             "params": {}, "recovery": {}}, {"event": "injected", "id": "x", "at_s": T0},
            {"event": "recovered", "id": "x", "at_s": RECOVERED}]


def judged(pages: list[dict], *criteria: str | dict):
    spec = GameDaySpec.model_validate({"criteria": list(criteria)})
    inputs = RunInputs(run={"started_s": START, "ended_s": END, "experiment_ended_s": RECOVERED},
                       ledger=tuple(ledger()), journal=JOURNAL, vitals=tuple(pages))
    findings = analyse(inputs, spec)
    return findings, certify(findings, spec.criteria)


def after(lcps: list[float], failed: int = 0) -> list[dict]:
    """Page loads in the after window: one per LCP value, then `failed` failed loads."""
    n = len(lcps) + failed
    return [page(T0 + 20 + 20 * i / max(n, 1), lcp=v) for i, v in enumerate(lcps)] + \
        [page(T0 + 20 + 20 * (len(lcps) + i) / n, ok=False) for i in range(failed)]


# --- the P75 of one vital ---------------------------------------------------------------------------------

@given(st.lists(latencies, min_size=1, max_size=200))
def test_the_p75_is_an_observed_value_and_the_exact_nearest_rank(values):
    got = vital([page(T0, lcp=v) for v in values], "lcp_p75_ms")
    assert got.p75 in values and got.p75 == nearest_rank(values, 75)
    assert got.samples == len(values) and got.failed == 0


@given(st.lists(latencies, max_size=100), st.integers(0, 40))
def test_a_failed_load_never_lowers_the_p75(values, failed):
    loads = [page(T0, lcp=v) for v in values] + [page(T0, ok=False)] * failed
    before, more = vital(loads, "lcp_p75_ms"), vital(loads + [page(T0, ok=False)], "lcp_p75_ms")
    assert more.p75 >= (before.p75 if before.p75 is not None else float("-inf"))
    assert more.samples == len(values) + failed + 1


def test_a_p75_on_a_failed_load_is_no_served_value():
    # 3 of 10 failed: rank ceil(7.5) = 8 falls on a failed load
    assert vital([page(T0, lcp=10.0)] * 7 + [page(T0, ok=False)] * 3, "lcp_p75_ms").p75 == float("inf")
    assert vital([page(T0, lcp=10.0)] * 8 + [page(T0, ok=False)] * 2, "lcp_p75_ms").p75 == 10.0


def test_inp_without_an_interaction_is_no_sample_of_inp():
    loads = [page(T0, inp=None)] * 30 + [page(T0, inp=200.0)] * 5
    inp, lcp = vital(loads, "inp_p75_ms"), vital(loads, "lcp_p75_ms")
    assert (inp.samples, inp.missing, inp.p75) == (5, 30, 200.0)
    assert (lcp.samples, lcp.missing) == (35, 0)


def test_the_minimum_is_the_projects_quantile_rule():
    assert MIN_LOADS == 20
    assert {metric_unit(Metric(m)) for m in VITALS if m != "cls_p75"} == {"ms"}
    assert metric_unit(Metric.cls_p75) == metric_unit(Metric.page_error_rate) == "ratio"


# --- windows and verdicts ----------------------------------------------------------------------------------

def test_page_loads_are_placed_in_windows_by_navigation_start():
    pages = [page(START + 1), page(T0 - 0.5, load_ms=900.0),   # still loading when the fault began: not baseline
             page(T0 - 2, load_ms=900.0), page(T0), page(RECOVERED - 0.01), page(RECOVERED + 1), page(END)]
    findings, _ = judged(pages)
    loads = {name: w.vitals.loads for name, w in findings.windows.items()}
    assert loads == {"baseline": 2, "fault": 2, "recovery": 0, "after": 2, "overall": 7}
    assert window_vitals(pages, None, None, closed=True).loads == 0


def test_certify_judges_the_vitals_per_window():
    pages = [page(START + i, lcp=1000.0 + i) for i in range(25)]                    # baseline: 25 good loads
    pages += [page(T0 + i * 0.5, ok=i % 2 == 0, lcp=3000.0) for i in range(20)]     # fault: half fail
    pages += after([1500.0] * 24, failed=1)
    _, cert = judged(pages, "lcp_p75_ms <= 2500 in baseline", "lcp_p75_ms <= 2500 in fault",
                     "lcp_p75_ms <= 2500 in after", "cls_p75 <= 0.1 in after", "inp_p75_ms <= 200 in after",
                     "ttfb_p75_ms <= 800 in after", "fcp_p75_ms <= 1800 in after", "page_error_rate < 0.3 in fault",
                     "page_error_rate > 0.2 in fault")
    got = {c.name: c for c in cert.criteria}
    assert [c.verdict for c in cert.criteria] == [Verdict.PASS, Verdict.FAIL] + [Verdict.PASS] * 5 + \
        [Verdict.FAIL, Verdict.PASS], cert.reasons
    assert got["lcp_p75_ms <= 2500 in baseline"].measured == 1018.0         # rank ceil(0.75 * 25) = 19
    assert "10 failed ranked above every success" in got["lcp_p75_ms <= 2500 in fault"].evidence
    assert "more than 25 % of them failed" in got["lcp_p75_ms <= 2500 in fault"].evidence
    assert "10 failed of 20 page loads" in got["page_error_rate > 0.2 in fault"].evidence
    assert "Clopper-Pearson" in got["page_error_rate > 0.2 in fault"].evidence


def test_fewer_loads_than_the_minimum_is_inconclusive_and_says_how_many():
    _, cert = judged(after([900.0] * (MIN_LOADS - 1)), "lcp_p75_ms <= 2500 in after", "inp_p75_ms <= 200 in after")
    assert {c.verdict for c in cert.criteria} == {Verdict.INCONCLUSIVE}
    assert f"only {MIN_LOADS - 1} page loads" in cert.criteria[0].evidence
    assert f"< {MIN_LOADS} needed for a P75" in cert.criteria[0].evidence
    _, cert = judged(after([900.0] * MIN_LOADS), "lcp_p75_ms <= 2500 in after")
    assert cert.criteria[0].verdict is Verdict.PASS


def test_inp_counts_only_loads_with_an_interaction():
    pages = [page(T0 + 20 + i * 0.5, inp=None) for i in range(30)] + [page(T0 + 36, inp=50.0)]
    _, cert = judged(pages, "inp_p75_ms <= 200 in after", "lcp_p75_ms <= 2500 in after")
    assert [c.verdict for c in cert.criteria] == [Verdict.INCONCLUSIVE, Verdict.PASS]
    assert "only 1 page loads count for inp_p75_ms" in cert.criteria[0].evidence
    assert "30 successful ones without the vital" in cert.criteria[0].evidence


def test_without_vitals_jsonl_a_vitals_criterion_is_inconclusive():
    spec = GameDaySpec.model_validate({"criteria": ["lcp_p75_ms <= 2500 in after"]})
    findings = analyse(RunInputs(run={"started_s": START, "ended_s": END}, ledger=tuple(ledger()),
                                 journal=JOURNAL), spec)
    [c] = certify(findings, spec.criteria).criteria
    assert c.verdict is Verdict.INCONCLUSIVE and "no vitals.jsonl" in c.evidence


@settings(max_examples=40, deadline=None)
@given(st.lists(latencies, min_size=0, max_size=40), st.integers(0, 10), st.floats(0, 60_000),
       st.floats(0, 60_000))
def test_the_verdict_is_monotone_in_the_target_and_in_failed_loads(values, failed, t1, t2):
    low, high = sorted((t1, t2))
    tight, loose, rate = ({"name": n, "metric": m, "op": "<=", "target": t, "window": "after"}
                          for n, m, t in (("tight", "lcp_p75_ms", low), ("loose", "lcp_p75_ms", high),
                                          ("rate", "page_error_rate", 0.1)))
    _, cert = judged(after(values, failed), tight, loose, rate)
    _, worse = judged(after(values, failed + 1), tight, rate)
    v_low, v_high, v_rate = (ORDER.index(c.verdict) for c in cert.criteria)
    assert v_low <= v_high                                          # a looser target never judges worse
    # one more failed load never improves a decided verdict (it may make an undecided one decidable: one more load)
    if cert.criteria[0].verdict is not Verdict.INCONCLUSIVE:
        assert ORDER.index(worse.criteria[0].verdict) <= v_low
    assert ORDER.index(worse.criteria[1].verdict) <= v_rate


# --- files, reports, validation --------------------------------------------------------------------------

def write_vitals(run_dir: Path, pages: list[dict]) -> None:
    (run_dir / "vitals.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pages))


def test_the_reports_show_core_web_vitals_per_window_when_the_run_has_them(tmp_path):
    run_dir = write_run(tmp_path / "run")
    # write_run's run: START T0-10 .. END T0+30, the fault from T0 to T0+15
    write_vitals(run_dir, [page(T0 - 10 + i * 0.3, lcp=2000.0 + i) for i in range(25)]
                 + [page(T0 + 1 + i, ok=False) for i in range(5)] + [page(T0 + 16 + i * 0.5) for i in range(20)])
    assert len(read_run(run_dir).vitals) == 50
    reports = reports_of(run_dir)
    doc = json.loads(reports["summary"])
    base = doc["vitals"]["windows"]["baseline"]
    assert (base["loads"], base["failed"], base["lcp_p75_ms"], base["samples"]["lcp_p75_ms"]) == (25, 0, 2018.0, 25)
    assert doc["vitals"]["windows"]["fault"]["p75_on_failed_load"] == list(VITALS)
    assert doc["vitals"]["minimum_loads"] == MIN_LOADS and doc["schema"] == "gameday-summary/1"
    assert "## Core Web Vitals" in reports["report"]
    assert "| baseline | 25 | 0 | 0.00 % | 40.0 ms | 500.0 ms | 2,018.0 ms | 0.020 | 80.0 ms |" in reports["report"]
    assert "| fault | 5 | 5 | 100.00 % | failed loads (n=5) |" in reports["report"]
    assert 'id="vitals"' in reports["html"] and 'id="chart-vitals"' in reports["html"]


def test_a_run_without_vitals_has_no_vitals_section(tmp_path):
    reports = reports_of(write_run(tmp_path / "run"))
    assert json.loads(reports["summary"])["vitals"] is None
    assert "Core Web Vitals" not in reports["report"] and "Core Web Vitals" not in reports["html"]


def test_a_malformed_page_load_names_the_file_record_and_field(tmp_path):
    run_dir = write_run(tmp_path / "run", load=False)
    write_vitals(run_dir, [page(T0), {**page(T0 + 1), "lcp_ms": "fast"}])
    with pytest.raises(InvalidInput, match=r"vitals\.jsonl failed: record 2: `lcp_ms` must be a number"):
        read_run(run_dir)
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 2 and "vitals.jsonl" in result.output and "record 2" in result.output


def experiment(tmp_path: Path, *criteria: str) -> str:
    doc = yaml.safe_load((DATA / "valid-experiment.yaml").read_text())
    doc["extensions"][0]["criteria"] = list(criteria)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_a_vitals_criterion_validates_and_an_unknown_metric_lists_the_vitals(tmp_path):
    good = experiment(tmp_path, "lcp_p75_ms <= 2500 in after", "cls_p75 <= 0.1", "page_error_rate < 0.05 in fault")
    assert validate_files([good]) == []
    assert CliRunner().invoke(cli, ["validate", good]).exit_code == 0
    [problem] = validate_files([experiment(tmp_path, "lcp_p95_ms <= 2500 in after")])
    assert "(got 'lcp_p95_ms')" in problem.message
    assert all(f"'{m}'" in problem.message for m in (*VITALS, "page_error_rate"))
