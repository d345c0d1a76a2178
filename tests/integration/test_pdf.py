"""`gameday report RUN_DIR --pdf`: headless Chromium prints the report; the PDF is read back as a person would
see it: rendered to PNG (pdftoppm) and its text extracted (pdftotext): the verdict and every criterion are there,
and the pages are not blank."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from gameday.cli import cli
from tests.unit.test_render import write_run

pytestmark = [pytest.mark.integration]


def test_the_report_pdf_shows_the_verdict_and_every_criterion_on_rendered_pages(tmp_path):
    run_dir = write_run(tmp_path / "run")
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--pdf"])
    assert f"pdf: {run_dir / 'report.pdf'}" in result.output, result.output
    pdf = run_dir / "report.pdf"
    raw = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(raw.split())  # a table cell may wrap a name over lines
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] in text
    for criterion in summary["criteria"]:
        assert criterion["name"] in text, criterion["name"]
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages, "pdftoppm rendered no page"
    first = imread(pages[0])
    assert first.std() > 0.01, "the first page is blank"


def test_without_chromium_the_pdf_is_refused_with_a_hint_and_the_html_report_stands(tmp_path, monkeypatch):
    run_dir = write_run(tmp_path / "run")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--pdf"])
    assert result.exit_code == 2
    assert "printing of a PDF failed: no Chromium on PATH" in result.output and (run_dir / "report.html").is_file()
