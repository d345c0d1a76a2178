"""The pytest plugin for real: a team's test file gates on a shipped experiment with `gameday_run`; the session
brings the local stack up once and takes it down at the end (pytester, in a child pytest process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.layout import StackLayout
from infra.local.waiting import port_is_free
from tests.conftest import free_base_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.scenario]

ROOT = Path(__file__).resolve().parents[2]


def test_a_release_gate_in_a_teams_own_suite_runs_the_experiment_and_reads_its_verdict(pytester, stack_root,
                                                                                        monkeypatch):
    base = free_base_port()
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(stack_root))
    layout = StackLayout.from_base(base)
    monkeypatch.setenv("GAMEDAY_BASE_PORT", str(layout.base_port))
    monkeypatch.setenv("GAMEDAY_ROUTER_PORT", str(layout.router_port))
    monkeypatch.setenv("GAMEDAY_TOXIPROXY_PORT", str(layout.toxiproxy_port))
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.gameday
        def test_cache_outage_gate(gameday_run):
            result = gameday_run("{ROOT / 'experiments' / 'cache-outage.yaml'}", quick=True)
            result.assert_passed()
            assert result.run_dir is not None and (result.run_dir / "report.html").is_file()
            assert result.criteria and all(c.verdict == "PASS" for c in result.criteria.values())
    """)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gameday-runs", str(pytester.path / "runs"),
                                            timeout=600)
    outcome.assert_outcomes(passed=1)
    assert all(port_is_free(p) for p in layout.all_ports()), "the session took the stack it started down"
