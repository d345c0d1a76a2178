"""The live console in headless Chromium (Playwright driving the system Chromium) during a real `gameday run --ui`
on the local stack: its values change while the run goes on; a viewer without the token gets a read-only page and
its HALT is refused; HALT with the token aborts the run with exit 3, records who halted it, and leaves the stack
restored (ledger empty, every link enabled, the writer in the primary region)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_run import EXPERIMENTS, ROOT, _assert_restored, _ledger, _wait_injected
from tests.support import run_argv, run_env, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
    proc = subprocess.Popen(run_argv(target, EXPERIMENTS / "hold-partition.yaml", out, "--ui"), cwd=ROOT,
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
    _assert_restored(target)
