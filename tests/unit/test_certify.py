"""Certification: verdicts per criterion with evidence, INCONCLUSIVE without evidence, journal facts, exit codes."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gameday.base.metrics import METRICS
from gameday.base.models import Criterion, GameDaySpec, Metric
from reports.certify import Verdict, certify, exit_code
from reports.findings import RunInputs, analyse
from tests.unit.test_findings import END, SPEC, T0, canary, health, journal, run_inputs, writers

REGION_FAILOVER = ["rto_read_s <= 900", "rto_write_s <= 900", "rpo_s <= 60", "split_brain_events == 0",
                   "failback_ok == 1", "p95_ms < 200 in baseline", "error_rate < 0.01 in baseline",
                   "p95_ms < 200 in after", "error_rate < 0.01 in after", "lost_writes <= 100",
                   "availability >= 0.99 in after", "dropped_requests == 0 in overall"]
RANK = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}


def criteria(*texts: str) -> list[Criterion]:
    return [Criterion.model_validate(t) for t in texts]


@cache
def findings(variant: str = "default"):
    """A few analysed runs, built once (hypothesis calls these many times)."""
    if variant == "default":
        return analyse(run_inputs(), SPEC)
    if variant == "never-recovered":  # writes and reads fail from t0 to the end of the data
        probes = health(outage_s=60) + canary(outage_s=60)
        return analyse(run_inputs(probes=tuple(probes), samples=None), SPEC)
    if variant == "empty":  # nothing measured at all
        return analyse(RunInputs(run={}), GameDaySpec())
    raise ValueError(variant)


def by_name(certification) -> dict:
    return {c.name: c for c in certification.criteria}


def test_a_good_failover_run_passes_every_criterion_with_evidence():
    cert = certify(findings(), criteria(*REGION_FAILOVER))
    assert [c.verdict for c in cert.criteria] == [Verdict.PASS] * len(REGION_FAILOVER), cert.reasons
    assert cert.verdict is Verdict.PASS and cert.journal_ok is True and exit_code(cert, None) == 0
    got = by_name(cert)
    assert got["rto_write_s <= 900"].measured == pytest.approx(4.0)
    evidence = got["rto_write_s <= 900"].evidence
    assert "600 canary writes at 20/s" in evidence and "22:13:20Z" in evidence and "4.00 s after" in evidence
    assert got["rpo_s <= 60"].measured == pytest.approx(1.99, abs=1e-6)  # t0 - the oldest lost ack
    assert "the true RPO lies in [1.99, 2.04] s" in got["rpo_s <= 60"].evidence
    assert "P95 of 499 load samples in the baseline window" in got["p95_ms < 200 in baseline"].evidence


def test_an_erroring_fault_window_fails_an_absolute_threshold_whatever_the_baseline():
    cert = certify(findings(), criteria("error_rate < 0.01 in fault", "availability >= 0.99 in fault",
                                        "p99_ms < 200 in fault", "error_rate <= 0 in baseline"))
    verdicts = {c.name: c.verdict for c in cert.criteria}
    assert verdicts == {"error_rate < 0.01 in fault": Verdict.FAIL, "availability >= 0.99 in fault": Verdict.FAIL,
                        "p99_ms < 200 in fault": Verdict.FAIL,
                        # no error in 599 requests bounds the rate at 0.5 %, never at 0: not provable
                        "error_rate <= 0 in baseline": Verdict.INCONCLUSIVE}
    assert cert.verdict is Verdict.FAIL and exit_code(cert, None) == 1
    assert "180 errors in 900 requests (750 load sent, 150 health probes)" in by_name(cert)[
        "error_rate < 0.01 in fault"].evidence


def test_split_brain_and_a_failed_failback_fail():
    f = analyse(run_inputs(probes=tuple(health() + canary() + writers(split_at=(T0 + 1.0,))),
                           journal=journal(failed_rollbacks=("failback",))), SPEC)
    got = by_name(certify(f, criteria("split_brain_events == 0", "failback_ok == 1")))
    assert got["split_brain_events == 0"].verdict is Verdict.FAIL
    assert got["split_brain_events == 0"].measured == 1
    assert got["failback_ok == 1"].verdict is Verdict.FAIL


@pytest.mark.parametrize("journal_doc, reason", [
    (journal(status="failed"), "status is 'failed'"),
    (journal(deviated=True), "deviated"),
    (journal(before=False), "gate"),
    (journal(failed=("promote-secondary",)), "activity failed: promote-secondary"),
    (journal(failed_rollbacks=("restore-primary-region",)), "rollback failed: restore-primary-region"),
])
def test_journal_facts_fail_a_run_whose_criteria_all_pass(journal_doc, reason):
    cert = certify(analyse(run_inputs(journal=journal_doc), SPEC), criteria("rto_read_s <= 900"))
    assert cert.criteria[0].verdict is Verdict.PASS
    assert cert.verdict is Verdict.FAIL and any(reason in r for r in cert.reasons)


def test_a_missing_journal_makes_the_run_inconclusive():
    cert = certify(analyse(run_inputs(journal=None), SPEC), criteria("rto_read_s <= 900"))
    assert cert.verdict is Verdict.INCONCLUSIVE and cert.journal_ok is None and exit_code(cert, None) == 1


def test_too_few_requests_in_a_window_are_inconclusive():
    short = [r for r in health() if r["at_s"] < T0 - 10 + 1.0]  # 10 health reads in the baseline, no load
    f = analyse(run_inputs(probes=tuple(short), samples=None), SPEC)
    result = certify(f, criteria("p95_ms < 200 in baseline")).criteria[0]
    assert result.verdict is Verdict.INCONCLUSIVE and "(< 59: with fewer" in result.evidence
    # error rates: the minimum follows from the target through the Clopper-Pearson bounds (10 of 10 ok)
    for text, verdict in (("error_rate < 0.01 in baseline", Verdict.INCONCLUSIVE),
                          ("availability > 0.99 in baseline", Verdict.INCONCLUSIVE),
                          ("availability > 0.5 in baseline", Verdict.PASS)):
        result = certify(f, criteria(text)).criteria[0]
        assert result.verdict is verdict and "Clopper-Pearson bounds" in result.evidence


def test_a_recovery_not_seen_fails_once_the_observed_time_breaks_the_target():
    got = by_name(certify(findings("never-recovered"), criteria("rto_write_s <= 10", "rto_write_s <= 900",
                                                                "rto_read_s >= 1")))
    assert got["rto_write_s <= 10"].verdict is Verdict.FAIL and got["rto_write_s <= 10"].measured is None
    assert "not recovered" in got["rto_write_s <= 10"].evidence
    assert got["rto_write_s <= 900"].verdict is Verdict.INCONCLUSIVE
    assert got["rto_read_s >= 1"].verdict is Verdict.INCONCLUSIVE


def test_without_criteria_the_journal_decides():
    assert certify(findings(), []).verdict is Verdict.PASS


def test_exit_codes():
    passed, failed = certify(findings(), []), certify(findings(), criteria("rto_read_s <= 1"))
    assert (exit_code(passed, None), exit_code(failed, None)) == (0, 1)
    assert exit_code(passed, {"reason": "stop condition", "at_s": END}) == 3
    assert exit_code(failed, {"reason": "SIGTERM", "at_s": END}) == 3


targets = st.floats(-1e4, 1e4, allow_nan=False)
# every metric in every window it can be judged in (gameday.base.metrics), spike aside
judgeable = st.sampled_from([(m, w) for m in Metric for w in ("baseline", "fault", "recovery", "after", "overall")
                             if w in METRICS[m].windows])


@given(judgeable, st.sampled_from(["<", "<=", ">", ">=", "=="]), targets)
def test_a_metric_that_cannot_be_measured_is_inconclusive_never_pass(judged, op, target):
    metric, window = judged
    c = Criterion(name="c", metric=metric, op=op, target=target, window=window)
    result = certify(findings("empty"), [c])
    assert result.criteria[0].verdict is Verdict.INCONCLUSIVE and result.criteria[0].measured is None
    assert result.verdict is Verdict.INCONCLUSIVE


@given(st.sampled_from(["default", "never-recovered"]), judgeable, st.sampled_from(["<", "<=", ">", ">="]), targets,
       targets)
def test_verdicts_are_monotonic_in_the_threshold(variant, judged, op, a, b):
    metric, window = judged
    low, high = sorted((a, b))
    verdict = {t: certify(findings(variant), [Criterion(name="c", metric=metric, op=op, target=t,
                                                        window=window)]).criteria[0].verdict for t in (low, high)}
    if op in ("<", "<="):  # a looser (higher) ceiling never turns a verdict worse
        assert RANK[verdict[low]] <= RANK[verdict[high]]
    else:  # a higher floor never turns a verdict better
        assert RANK[verdict[low]] >= RANK[verdict[high]]
