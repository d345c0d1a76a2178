"""Issue 13, RTO/RPO classes 1, 2, 3, 5 and 6: the adversarial corpus (tests/data/adversarial, one run directory
per case with its expected figure and verdict) and hypothesis properties of read/write RTO against a brute-force
reference written here from the definition in docs/measurement.md."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.base.models import GameDaySpec
from reports.certify import certify
from reports.findings import analyse
from reports.recovery import read_rto, write_rto
from reports.run_files import read_run

CORPUS = Path(__file__).parents[1] / "data" / "adversarial"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.yaml").is_file())


def run_case(name: str):
    expected = yaml.safe_load((CORPUS / name / "expected.yaml").read_text())
    spec = GameDaySpec.model_validate({"criteria": [expected["criterion"]], "windows": {"sustain_s": 10}})
    findings = analyse(read_run(CORPUS / name), spec)
    return expected, findings, certify(findings, spec.criteria).criteria[0]


def test_the_corpus_has_a_case_for_every_recovery_defect_class():
    classes = {yaml.safe_load((CORPUS / n / "expected.yaml").read_text())["defect"] for n in CASES}
    assert classes == {1, 2, 3, 5, 6}


@pytest.mark.parametrize("name", CASES)
def test_each_adversarial_case_gives_its_expected_figure_verdict_and_evidence(name):
    expected, f, got = run_case(name)
    assert got.verdict.value == expected["verdict"], got.evidence
    if expected["figure"] is None:
        assert got.measured is None
    else:
        assert got.measured == pytest.approx(expected["figure"], abs=expected["tolerance"] + 1e-9)
    for text in expected["evidence"]:
        assert text in got.evidence, got.evidence
    rto = f.rto_read if expected["criterion"].startswith("rto_read") else f.rto_write
    if "impact_s" in expected:
        assert rto.impact_at_s - f.t0_s == pytest.approx(expected["impact_s"], abs=0.11)
        assert f.phases.impact.duration_s == pytest.approx(expected["impact_s"], abs=0.11)
    if "relapses_s" in expected:
        assert [r - f.t0_s for r in rto.relapses] == pytest.approx(expected["relapses_s"], abs=0.11)
    if "bracket" in expected:
        assert [rto.rto_low_s, rto.rto_high_s] == pytest.approx(expected["bracket"], abs=0.011)
    if "rpo_s" in expected:
        assert f.rpo.rpo_s == pytest.approx(expected["rpo_s"], abs=expected["rpo_tolerance"])


def verdicts(name: str, *criteria: str) -> list[str]:
    spec = GameDaySpec.model_validate({"criteria": list(criteria), "windows": {"sustain_s": 10}})
    return [c.verdict.value for c in certify(analyse(read_run(CORPUS / name), spec), spec.criteria).criteria]


def test_an_unknown_writer_leaves_every_loss_figure_unknown_and_a_bound_never_passes():
    assert verdicts("writer-unknown", "lost_writes == 0", "lost_writes_after_t0 == 0", "rpo_s <= 1000") == \
        ["INCONCLUSIVE"] * 3
    # every acked write lost: the RPO is at least ~10 s; a bound that breaks the target FAILs, else INCONCLUSIVE
    assert verdicts("rpo-lower-bound", "rpo_s <= 5", "rpo_s <= 1000") == ["FAIL", "INCONCLUSIVE"]


# --- properties against a brute-force reference -----------------------------------------------------------

def reference_rto(points: list[tuple[float, bool]], t0: float, sustain_s: float, step: float, ratio: float):
    """The definition, literally: judge every window, then the first success after the last broken one."""
    after = sorted(p for p in points if p[0] >= t0)
    if not after:
        return None, False
    end = after[-1][0] + step
    due = round(sustain_s / step)

    def broken(u: float) -> bool:
        inside = [ok for t, ok in after if u <= t < u + sustain_s]
        if u + sustain_s > end + 1e-9:
            full = max(len(inside), due)
            return sum(inside) + (full - len(inside)) < ratio * full - 1e-9
        if not inside:
            return due >= 2
        return sum(inside) < ratio * len(inside) - 1e-9

    starts = [u for u in {t0, end - sustain_s, *(t for t, _ in after)} if u >= t0]
    broke = [u for u in starts if broken(u)]
    if not broke:
        recovery = t0
    else:
        recovery = next((t for t, ok in after if ok and t > max(broke)), None)
        if recovery is None:
            return None, False
    if recovery + sustain_s > end + 1e-9:
        return None, False
    return recovery - t0, True


T0 = 1_700_000_000.0


@st.composite
def streams(draw):
    step = draw(st.sampled_from([0.05, 0.1, 0.25]))
    n = draw(st.integers(0, 400))
    onset = draw(st.floats(0, 20))
    duration = draw(st.floats(0, 10))
    background = draw(st.sampled_from([0.0, 0.005, 0.02, 0.1]))
    gaps = draw(st.lists(st.tuples(st.floats(0, 40), st.floats(0, 3)), max_size=3))
    noise = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    points = []
    for i in range(n):
        t = T0 - 2 + i * step
        if any(g <= t - T0 < g + w for g, w in gaps):
            continue  # the sampler skipped it
        down = T0 + onset <= t < T0 + onset + duration
        points.append((t, not down and noise[i] >= background))
    return points, step


@settings(max_examples=300, deadline=None)
@given(stream=streams(), sustain_s=st.sampled_from([1.0, 2.0, 5.0, 10.0]), ratio=st.sampled_from([0.9, 0.99, 1.0]))
def test_read_and_write_rto_match_the_brute_force_reference(stream, sustain_s, ratio):
    points, step = stream
    want, recovered = reference_rto(points, T0, sustain_s, step, ratio)
    health = [{"probe": "health", "at_s": t, "ok": ok, "latency_ms": 5.0} for t, ok in points]
    canary = [{"probe": "canary", "seq": i, "sent_s": t, "outcome": "acked" if ok else "failed",
               "acked_s": t + 0.005 if ok else None} for i, (t, ok) in enumerate(points)]
    for got in (read_rto(health, T0, sustain_s, step, ratio), write_rto(canary, T0, sustain_s, step, ratio)):
        assert got.recovered == recovered
        assert (got.rto_s is None) == (want is None)
        if want is not None:
            assert got.rto_s == pytest.approx(want, abs=1e-9)
            assert got.rto_low_s <= got.rto_s <= got.rto_high_s
            assert got.rto_s >= 0


@settings(max_examples=200, deadline=None)
@given(onset=st.floats(0, 40), duration=st.floats(1, 10), step=st.sampled_from([0.05, 0.1]),
       lag_s=st.floats(0, 0.5), ratio=st.sampled_from([0.95, 0.99, 1.0]))
def test_the_bracket_contains_the_true_recovery_whatever_the_onset_and_the_answer_lag(onset, duration, step, lag_s,
                                                                                        ratio):
    """Ground truth: the service is down in [onset, onset + duration) (long enough to break a 95 % SLO over
    10 s); the first ok probe is answered late."""
    truth = onset + duration
    points = [T0 - 2 + i * step for i in range(round((onset + duration + 15) / step))]
    health = [{"probe": "health", "at_s": t, "ok": not T0 + onset <= t < T0 + truth,
               "latency_ms": 5.0 + (lag_s * 1000 if T0 + truth <= t < T0 + truth + step else 0)} for t in points]
    got = read_rto(health, T0, 10.0, step, ratio)
    assert got.recovered and got.rto_low_s - 1e-9 <= truth <= got.rto_high_s + 1e-9
    assert got.impact_at_s - T0 == pytest.approx(onset, abs=step + 1e-9)
    assert math.isclose(got.rto_s, truth, abs_tol=step + 1e-9)


# --- class 11: error bars come from the data, not from constants in reports/render.py -------------------------

def test_scaling_and_warmup_error_bars_are_the_resolution_actually_used():
    from reports.render import _scaling, _scenario
    from reports.scaling import place_spike, scaling
    from reports.scenario_metrics import Warmup
    from tests.unit.test_scaling_metrics import HEALTHY, PROFILE, SAMPLES

    coarse = [r for r in HEALTHY if round(r["at_s"] * 2) % 4 == 0]   # a capacity sample every 2 s, not 0.5 s
    result = scaling(place_spike(PROFILE, SAMPLES, 6), coarse)
    assert result.resolution_s == pytest.approx(2.0) and "resolution 2 s" in result.scale_out.evidence
    assert scaling(place_spike(PROFILE, SAMPLES, 6), HEALTHY).resolution_s == pytest.approx(0.5)

    class F:  # only the fields _scaling and _scenario read
        scaling, deployment = result, None
        cache_warmup = Warmup(T0, 0.9, 0.72, 3.0, 20.0, 20, "second 3", resolution_s=1.0)
    assert _scaling(F)["resolution_s"] == 2.0
    assert _scenario(F)["cache_warmup"]["resolution_s"] == 1.0
