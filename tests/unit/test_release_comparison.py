"""`gameday compare BASE NEW`: the same window of two runs compared with an interval, calibrated on an injected
difference: the interval contains the injected shift and excludes 0; identical releases show no difference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from gameday.cli import cli
from reports.release_comparison import compare_releases, markdown
from tests.unit.test_render import write_run

WINDOW = {"after": {"start": "2026-12-01T12:00:00Z", "end": "2026-12-01T12:01:00Z"}}
START_S = 1796126400.0  # 2026-12-01T12:00:00Z


def _run(run_id: str, latencies: np.ndarray, failed: np.ndarray | None = None) -> dict:
    n = len(latencies)
    failed = np.zeros(n, dtype=bool) if failed is None else failed
    samples = pd.DataFrame({"t_s": START_S + np.arange(n) * 60.0 / n, "latency_ms": latencies, "ok": ~failed,
                            "dropped": np.zeros(n, dtype=bool)})
    return {"run_id": run_id, "samples": samples, "windows": WINDOW}


def test_an_injected_latency_improvement_is_found_with_an_interval_that_contains_it():
    rng = np.random.default_rng(20261201)
    slow = rng.gamma(9.0, 10.0, 1200)            # ~90 ms, skewed like a latency
    fast = rng.gamma(9.0, 10.0, 1200) - 30.0      # the new release: 30 ms faster
    result = compare_releases(_run("old", slow), _run("new", fast), "after")
    latency = result["latency"]
    assert latency["verdict"] == "NEW is faster"
    assert latency["low_ms"] <= -30.0 <= latency["high_ms"] and latency["high_ms"] < 0
    assert latency["relative_low"] <= -30.0 / result["base"]["median_ms"] <= latency["relative_high"]
    assert "**NEW is faster**" in markdown(result)


def test_the_same_release_twice_shows_no_difference_and_more_errors_show_in_the_bounds():
    rng = np.random.default_rng(7)
    same = rng.gamma(9.0, 10.0, 1000)
    failed = np.zeros(1000, dtype=bool)
    failed[::20] = True                            # 5 % errors in NEW, none in BASE
    result = compare_releases(_run("a", same), _run("b", rng.permutation(same), failed), "after")
    assert result["latency"]["verdict"] == "no difference shown"
    assert result["errors"]["difference_lower"] > 0.02 and result["new"]["error_rate"] == 0.05


def test_the_command_compares_two_run_directories(tmp_path):
    base, new = write_run(tmp_path / "base"), write_run(tmp_path / "new")
    for run_dir in (base, new):  # the runs' analysis writes their summaries
        CliRunner().invoke(cli, ["report", str(run_dir)])
    out = tmp_path / "comparison.md"
    result = CliRunner().invoke(cli, ["compare", str(base), str(new), "--window", "overall", "--json",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["window"] == "overall" and found["base"]["requests"] == found["new"]["requests"] > 0
    assert found["latency"]["verdict"] == "no difference shown"
    assert out.read_text().startswith("# Release comparison, window `overall`")
    missing = CliRunner().invoke(cli, ["compare", str(base), str(tmp_path)])
    assert missing.exit_code == 2 and "has no summary.json" in missing.output
    nowhere = CliRunner().invoke(cli, ["compare", str(base), str(new), "--out", str(tmp_path / "no" / "x.md")])
    assert nowhere.exit_code == 2 and "writing of the comparison" in nowhere.output and "Traceback" not in \
        nowhere.output
