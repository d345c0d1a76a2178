"""The live console in headless Chromium (Playwright driving the system Chromium) during a real `gameday run --ui`
on the local stack: its values change while the run goes on; a viewer without the token gets a read-only page and
its HALT is refused; HALT with the token aborts the run with exit 3, records who halted it, and leaves the stack
restored (ledger empty, every link enabled, the writer in the primary region). Meanwhile the console shows the
criteria's running values (provisional, from the health probes) and links the Locust web UI of the running load,
which answers; Locust, run with its web UI, still stops with the run and leaves its raw samples and files."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_run import ROOT, _assert_restored, _ledger, _wait_injected
from tests.support import partition_experiment, run_argv, run_env, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOCUST_UI = "Locust web UI of the running load"
CRITERIA = ["p50_ms < 5000 in baseline", "p95_ms < 5000 in after", "rto_read_s <= 900"]


def _with_load_and_criteria(doc: dict) -> None:
    gd = doc["extensions"][0]
    gd["load"] = {"profile": "failover", "rate_per_s": 10}
    gd["windows"]["baseline_s"] = 4  # ~40 health probes: enough for a P50 (20)
    gd["criteria"] = gd["criteria"] + CRITERIA


@pytest.fixture(scope="module")
def target(stack_root: Path):
    with running_stack(stack_root, "console") as driver:
        yield driver


def _console_urls(proc: subprocess.Popen) -> tuple[str, str]:
    """The read-only URL and the URL with the token, as the run prints them."""
    plain = halt = None
    deadline = time.monotonic() + 30
    while (plain is None or halt is None) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "the run ended before it printed the console's URL"
        if line.startswith("console: "):
            plain = line.split()[1]
        elif line.startswith("console with HALT: "):
            halt = line.split()[3]
    assert plain and halt, "the run printed no console URL"
    return plain, halt


def _browser(playwright):
    from gameday.pdf import browser

    return playwright.chromium.launch(executable_path=browser(), args=["--no-sandbox", "--disable-gpu"])


def test_the_console_follows_a_live_run_and_only_the_token_can_halt_it(target, tmp_path):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "run"
    since = len(_ledger(target))
    experiment = tmp_path / "console-partition.yaml"
    partition_experiment(experiment, hold_s=60, edit=_with_load_and_criteria)
    proc = subprocess.Popen(run_argv(target, experiment, out, "--ui"), cwd=ROOT,
                            env=run_env(target), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        plain, with_token = _console_urls(proc)
        with sync_playwright() as playwright:
            browser = _browser(playwright)
            viewer = browser.new_page()
            viewer.goto(plain)
            viewer.wait_for_function("Number(document.body.dataset.updates) >= 2")
            assert viewer.locator("#halt-controls").is_hidden() and viewer.locator("#readonly").is_visible()
            refused = httpx.post(plain + "halt", json={"name": "viewer"})
            assert refused.status_code == 403

            _wait_injected(target, proc, since)
            page = browser.new_page()
            page.goto(with_token)
            page.wait_for_function("document.body.dataset.phase === 'experiment'", timeout=30_000)
            first = page.locator("#elapsed").inner_text()
            page.wait_for_function(f"document.getElementById('elapsed').textContent !== {json.dumps(first)}")
            page.wait_for_function("document.querySelectorAll('#faults tr').length >= 2")  # the partition, open
            assert "region_outage" in page.locator("#faults").inner_text()
            assert page.locator("#timeline polyline").count() == 3  # P50, P95, P99 drawn

            state = httpx.get(plain + "state").json()
            locust_ui = state["links"][LOCUST_UI]
            assert locust_ui.startswith("http://127.0.0.1:")
            answer = httpx.get(locust_ui, timeout=10)
            assert answer.status_code == 200 and "locust" in answer.text.lower()
            rows = {r["name"]: r for r in state["criteria"]["rows"]}
            assert rows["p50_ms < 5000 in baseline"]["state"] == "within"
            assert rows["p50_ms < 5000 in baseline"]["value"] > 0 and rows["p50_ms < 5000 in baseline"]["samples"] >= 20
            assert rows["p95_ms < 5000 in after"]["state"] == "not yet measurable"
            assert rows["rto_read_s <= 900"]["state"] == "judged after the run"
            assert "health probes" in state["criteria"]["source"] and "provisional" in state["criteria"]["source"]
            page.wait_for_function("document.querySelectorAll('#criteria tr').length >= 5")
            table = page.locator("#criteria").inner_text()
            assert "within" in table and "judged after the run" in table and "not yet measurable" in table
            assert "health probes" in page.locator("#criteria-source").inner_text()
            assert page.locator(f"#links a[href='{locust_ui}']").count() == 1
            page.fill("#halt-name", "Grace Hopper")
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("#halt-button")
            page.wait_for_function("document.getElementById('halt-answer').textContent.includes('halted by')")
            browser.close()
        proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 3
    meta = json.loads((out / "run.json").read_text())
    assert meta["halted_by"]["name"] == "Grace Hopper"
    assert meta["aborted"]["reason"] == "halted from the console by Grace Hopper"
    # Locust with its web UI still stopped with the run as headless does: its files written, its samples kept
    assert (out / "load" / "locust.json").is_file()
    assert any(p.stat().st_size for p in (out / "load").rglob("samples-*.bin"))
    _assert_restored(target)
