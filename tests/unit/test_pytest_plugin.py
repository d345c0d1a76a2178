"""The pytest plugin (gameday.pytest_plugin), as a team's own suite uses it (pytest's pytester): its marker and
fixtures are there once the package is installed, and a failed gate reads as the criteria that failed."""

from __future__ import annotations

import json

PASSING = {"verdict": "PASS", "reasons": [], "rto": {"read_s": 1.5, "write_s": 2.5}, "rpo": {"s": 0.0},
           "criteria": [{"name": "rto_write_s <= 900", "verdict": "PASS", "target": 900.0, "measured": 2.5,
                         "unit": "s", "evidence": "bracket [2.4, 2.6] s"}]}
FAILING = {**PASSING, "verdict": "FAIL", "criteria": [
    *PASSING["criteria"], {"name": "p95_ms < 200 in after", "verdict": "FAIL", "target": 200.0, "measured": 312.5,
                           "unit": "ms", "evidence": "exact nearest-rank P95 of 812 requests"}]}


def test_the_marker_and_the_fixtures_are_registered(pytester):
    assert any("gameday: a GameDay gate" in line for line in pytester.runpytest("--markers").outlines)
    fixtures = "\n".join(pytester.runpytest("--fixtures").outlines)
    assert "gameday_run" in fixtures and "gameday_day" in fixtures and "gameday_stack" in fixtures


def test_a_failed_gate_names_the_criterion_its_measurement_and_evidence(pytester, tmp_path):
    (tmp_path / "failing.json").write_text(json.dumps(FAILING))
    (tmp_path / "passing.json").write_text(json.dumps(PASSING))
    pytester.makepyfile(f"""
        import json
        from pathlib import Path
        import pytest
        from gameday.pytest_plugin import RunResult

        @pytest.mark.gameday
        def test_passing_gate():
            summary = json.loads(Path("{tmp_path / 'passing.json'}").read_text())
            result = RunResult.from_summary(0, Path("{tmp_path}"), summary)
            result.assert_passed()
            assert result.rto_write_s == 2.5 and result.criteria["rto_write_s <= 900"].measured == 2.5

        @pytest.mark.gameday
        def test_failing_gate():
            summary = json.loads(Path("{tmp_path / 'failing.json'}").read_text())
            result = RunResult.from_summary(1, Path("{tmp_path}"), summary)
            result.assert_passed()
    """)
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1, failed=1)
    text = "\n".join(outcome.outlines)
    assert "GameDay run did not pass: verdict FAIL, exit code 1" in text
    assert "FAIL         p95_ms < 200 in after (measured 312.5 ms): exact nearest-rank P95 of 812 requests" in text
    assert f"report: {tmp_path / 'report.html'}" in text
