"""report.html in a real headless Chromium: every chart decodes and has a size, and the page is not blank."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.unit.test_html_report import html_of, run_dir_for

pytestmark = pytest.mark.integration
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PASS_GREEN = (0x1A, 0x7F, 0x37)


def browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.fail("no Chromium on PATH; hint: run scripts/install-system-deps.sh --test (apt-get install chromium)")
    return found


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local file with its own profile directory (tests may run side by side)."""
    command = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def render_check(dom: str) -> dict[str, str]:
    marker = re.search(r'<div id="render-check"([^>]*)>', dom)
    assert marker, f"no render-check marker in the DOM (did the page's script run?):\n{dom[-2000:]}"
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', marker.group(1)))


def test_every_chart_renders_in_chromium(tmp_path):
    run_dir = run_dir_for(tmp_path)
    html_of(run_dir)
    page = run_dir / "report.html"
    dump = chromium(page, tmp_path / "profile", "--dump-dom")
    assert dump.returncode == 0, dump.stderr[-2000:]
    assert render_check(dump.stdout) == {"data-ok": "true", "data-charts": "3"}

    shot = tmp_path / "report.png"
    done = chromium(page, tmp_path / "profile", "--window-size=1200,2400", f"--screenshot={shot}")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (2400, 1200)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # text, tables and charts, not a blank page
    top = pixels[:300]
    assert np.all(np.abs(top.astype(int) - PASS_GREEN) <= 2, axis=-1).sum() > 10_000  # the verdict banner first


def test_a_broken_chart_is_reported_by_the_check(tmp_path):
    run_dir = run_dir_for(tmp_path, load=False)
    html = html_of(run_dir)
    broken = re.sub(r'src="data:image/svg\+xml;base64,[^"]+"', 'src="data:image/svg+xml;base64,bm90IGFuIHN2Zw=="',
                    html, count=1)
    page = tmp_path / "broken.html"
    page.write_text(broken)
    dump = chromium(page, tmp_path / "profile", "--dump-dom")
    assert render_check(dump.stdout) == {"data-ok": "false", "data-charts": "2"}


def test_the_history_site_lists_the_runs_and_draws_their_trends_in_chromium(tmp_path):
    from gameday.site import write_site
    from tests.unit.test_site import make_runs_dir

    index = write_site(make_runs_dir(tmp_path), tmp_path / "site")
    shot = tmp_path / "site.png"
    done = chromium(index, tmp_path / "profile", "--window-size=1200,1600", f"--screenshot={shot}")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # tables and the trend chart, not a blank page
    assert np.all(np.abs(pixels.astype(int) - PASS_GREEN) <= 2, axis=-1).sum() > 50  # PASS verdicts and dots
    dump = chromium(index, tmp_path / "profile", "--dump-dom")
    assert dump.stdout.count("report of") == 0 and dump.stdout.count('href="runs/r') == 3
