"""PDF of a report or a certificate: headless Chromium prints the self-contained HTML (charts are inline SVG, so
nothing is fetched); its print stylesheet keeps charts, tables' rows and headings whole across page breaks."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from gameday.base.errors import GameDayError, InvalidInput

__all__ = ["print_pdf", "browser", "BROWSERS"]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120.0


SNAP_CHROMIUM = Path("/snap/bin/chromium")  # Ubuntu's Chromium, when /snap/bin is not on PATH


def browser() -> str:
    """The Chromium (or Chrome) to drive headless; InvalidInput saying what to install when there is none."""
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None and SNAP_CHROMIUM.is_file():
        found = str(SNAP_CHROMIUM)
    if found is None:
        raise InvalidInput("printing of a PDF failed: no Chromium on PATH (looked for " + ", ".join(BROWSERS) + ")",
                           hint="apt-get install chromium (Debian), snap install chromium (Ubuntu), or "
                                "brew install --cask chromium; the HTML report is there without it")
    return found


def print_pdf(html: Path, pdf: Path) -> Path:
    """Print `html` to `pdf` with headless Chromium (A4, backgrounds, no header or footer); returns `pdf`."""
    if not html.is_file():
        raise InvalidInput(f"printing of {html} to PDF failed: no such file", hint="`gameday report RUN_DIR` writes it")
    with tempfile.TemporaryDirectory(prefix="gameday-pdf-") as profile:  # its own profile: prints may run side by side
        command = [browser(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", "--virtual-time-budget=5000", f"--print-to-pdf={pdf.resolve()}",
                   html.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise GameDayError(f"printing of {html} to PDF failed: Chromium did not finish within {TIMEOUT_S:.0f} s",
                               hint="try again; the HTML report is complete without the PDF") from exc
    if not pdf.is_file() or not pdf.read_bytes()[:5] == b"%PDF-":
        raise GameDayError(f"printing of {html} to PDF failed: Chromium exited {done.returncode} without a PDF: "
                           f"{done.stderr.strip()[-500:]}", hint="the HTML report is complete without the PDF")
    return pdf
