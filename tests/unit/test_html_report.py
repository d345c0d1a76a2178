"""report.html from a hand-written run directory: verdict first, criteria, embedded charts, escaping, empty inputs."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.base.models import GameDaySpec
from reports import charts
from reports.certify import certify
from reports.findings import analyse
from reports.html import build_charts, generic_tables, render
from reports.render import summary, write_reports
from reports.run_files import read_run
from reports.samples import nearest_rank
from tests.unit.test_findings import END, START, T0
from tests.unit.test_render import CRITERIA, write_run

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "region-failover.yaml"
EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def extra_probes() -> list[dict]:
    """Routing (eu-central-1, then eu-west-1 from t0 + 3 s) and capacity records of both regions."""
    out = [{"probe": "routing", "at_s": t, "served_region": "eu-central-1" if t < T0 else
            (None if t < T0 + 3 else "eu-west-1")} for t in np.arange(START, END, 0.5)]
    for t in np.arange(START, END, 1.0):
        for region, base in (("eu-central-1", 2), ("eu-west-1", 1)):
            n = base + (2 if region == "eu-west-1" and t >= T0 + 5 else 0)
            out.append({"probe": "capacity", "at_s": t, "region": region, "instances": n, "ready": n,
                        "in_flight": 3, "utilisation": 0.4, "throttles_total": 0, "requests_total": 10,
                        "max_instances": 4, "slot": "blue"})
    return out


def run_dir_for(tmp_path: Path, *, load: bool = True, title: str = "Region failover") -> Path:
    """write_run's run directory with the real experiment file, routing and capacity probes and `title`."""
    run_dir = write_run(tmp_path / "run", load=load)
    shutil.copy(EXPERIMENT, run_dir / "experiment.yaml")
    with open(run_dir / "probes.jsonl", "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in extra_probes())
    run = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**run, "title": title}))
    return run_dir


def html_of(run_dir: Path, criteria: list[str] = CRITERIA) -> str:
    inputs = read_run(run_dir)
    spec = GameDaySpec.model_validate({"criteria": criteria, "windows": {"sustain_s": 5}})
    findings = analyse(inputs, spec)
    return write_reports(run_dir, findings, certify(findings, spec.criteria), inputs.run)["html"].read_text()


def images(html: str) -> list[str]:
    return [base64.b64decode(uri).decode() for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]


def test_the_verdict_comes_first_then_every_criterion_with_its_verdict(tmp_path):
    html = html_of(run_dir_for(tmp_path), CRITERIA + ["rto_write_s <= 1"])
    body = html.split("<body", 1)[1]
    assert body.index('class="verdict FAIL"') < body.index("<h2>")
    rows = re.findall(r'<tr class="criterion">(.*?)</tr>', html, re.DOTALL)
    assert len(rows) == len(CRITERIA) + 1
    for name, row in zip(CRITERIA + ["rto_write_s &lt;= 1"], rows):
        assert f"<td>{name.replace('<', '&lt;')}</td>" in row
    assert 'tag PASS">PASS<' in rows[0] and 'tag FAIL">FAIL<' in rows[-1]
    assert "Under steady open-model load, the primary region (eu-central-1) is powered off." in html


def test_charts_are_embedded_svg_and_nothing_is_fetched(tmp_path):
    html = html_of(run_dir_for(tmp_path))
    svgs = images(html)
    assert len(svgs) == 3 and all(s.lstrip().startswith("<?xml") and "</svg>" in s for s in svgs)
    assert 'data-charts-expected="3"' in html
    assert not re.search(r'(src|href)\s*=\s*"?(https?:)?//', html, re.IGNORECASE)
    assert "@import" not in html and "url(http" not in html
    assert "fault injected" in svgs[0] and "eu-west-1 cap" in svgs[0]  # fault marked, capacity with its cap line


def test_recovery_activities_windows_and_environment_are_shown(tmp_path):
    run_dir = run_dir_for(tmp_path)
    html = html_of(run_dir)
    assert "2.90 .. 3.00 s" in html and "region_outage" in html
    assert "fail-primary-region" in html and "failback" in html and "rollback" in html
    for window in ("baseline", "fault", "recovery", "after", "overall"):
        assert f"<td>{window}</td>" in html
    import hashlib
    assert hashlib.sha256(EXPERIMENT.read_bytes()).hexdigest() in html
    assert "chaostoolkit-lib" in html and "python" in html


def test_everything_from_the_run_is_escaped(tmp_path):
    run_dir = run_dir_for(tmp_path, title=EVIL)
    text = (run_dir / "experiment.yaml").read_text()
    (run_dir / "experiment.yaml").write_text(text.replace("description: >-", f"description: >-\n  {EVIL}", 1))
    html = html_of(run_dir)
    assert EVIL not in html and "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<script>") == 1  # only the page's own render check


def test_a_run_without_load_charts_health_probe_latency(tmp_path):
    html = html_of(run_dir_for(tmp_path, load=False))
    assert "health probes" in images(html)[0] and 'data-charts-expected="3"' in html


def test_a_run_without_load_fault_canary_or_journal_still_renders_with_notes(tmp_path):
    run_dir = run_dir_for(tmp_path, load=False)
    probes = [json.loads(line) for line in (run_dir / "probes.jsonl").read_text().splitlines()]
    (run_dir / "probes.jsonl").write_text("".join(json.dumps(p) + "\n" for p in probes if p["probe"] == "health"))
    for name in ("faults.jsonl", "journal.json", "surviving_seqs.json", "remediations.jsonl"):
        (run_dir / name).unlink()
    html = html_of(run_dir, ["p95_ms < 200"])
    assert len(images(html)) == 1 and 'data-charts-expected="1"' in html
    assert html.count('class="missing"') == 2 and "No fault was injected." in html
    assert "No Chaos Toolkit journal" in html


def test_empty_inputs_leave_every_chart_out_with_a_note():
    doc = {"t0": None, "start": None, "end": None, "fault_windows": [], "rto": {"phases": {}}, "rpo": {}}
    drawn = build_charts(doc, [], None)
    assert [c.svg for c in drawn] == [None, None, None] and all(c.note for c in drawn)


def test_comparisons_are_rendered_generically_when_present(tmp_path):
    run_dir = run_dir_for(tmp_path)
    inputs = read_run(run_dir)
    spec = GameDaySpec.model_validate({"criteria": CRITERIA, "windows": {"sustain_s": 5}})
    findings = analyse(inputs, spec)
    doc = summary(findings, certify(findings, spec.criteria), inputs.run)
    context = {"hypothesis": {"title": None, "description": None, "steady_state": None}, "activities": [],
               "environment": {"git_sha": "n/a", "experiment_sha256": "n/a", "tools": {}, "tools_source": "-",
                               "target": "local"}}
    doc.pop("comparisons", None)
    doc["scaling"], doc["deployment"] = None, None
    plain = render(doc, [], context)
    assert 'id="comparisons"' not in plain and "<h2>Scaling</h2>" not in plain
    doc["scaling"] = {"region": "eu-west-1", "scale_out_lag_s": 12.5}
    assert "<h2>Scaling</h2>" in render(doc, [], context) and "<th>scale out lag s</th><td>12.5</td>" in \
        render(doc, [], context)
    doc["comparisons"] = {"source": "load samples", "windows": {
        "fault": {"latency": {"shift_ms": 12.5, "p_slower": 1.6e-11}, "errors": {"increase": 0.2, "ci": [0.1, 0.3]}},
        "after": {"latency": {"shift_ms": 0.0, "p_slower": 1.0}, "errors": {"increase": 0.0, "test": "<fisher>"}}}}
    html = render(doc, [], context)
    assert '<div id="comparisons">' in html and "<h3>windows / latency</h3>" in html
    assert "<th>shift ms</th><td class=\"num\">12.5</td><td class=\"num\">0</td>" in html
    assert "1.6e-11" in html and "[0.1, 0.3]" in html and "&lt;fisher&gt;" in html
    rows = generic_tables([{"metric": "p95_ms", "p": 0.03}, {"metric": "error_rate", "p": 0.5}])
    assert rows == [{"title": "", "columns": ["", "0", "1"],
                     "rows": [["metric", "p95_ms", "error_rate"], ["p", "0.03", "0.5"]]}]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 30), st.floats(0.1, 5000), st.booleans(), st.booleans()), max_size=300))
def test_per_bucket_percentiles_are_exact_nearest_rank_per_second(rows):
    t = np.array([r[0] for r in rows], dtype=float)
    lat = np.array([r[1] for r in rows], dtype=float)
    ok, dropped = np.array([r[2] for r in rows], bool), np.array([r[3] for r in rows], bool)
    rates = charts.per_bucket(t, lat, ok, dropped, 0.0, "load samples", bucket_s=1.0)
    for i, x in enumerate(rates.x):
        member = (np.floor(t) == x) & ~dropped
        assert rates.requests[i] == member.sum() and rates.errors[i] == (member & ~ok).sum()
        expected = nearest_rank(lat[member], 95)
        assert (np.isnan(expected) and np.isnan(rates.p95_ms[i])) or rates.p95_ms[i] == expected


def test_a_long_run_is_charted_in_wider_buckets():
    t = np.linspace(0, 86_400, 200_000)
    rates = charts.per_bucket(t, np.ones(len(t)), np.ones(len(t), bool), np.zeros(len(t), bool), 0.0, "x")
    assert len(rates) <= charts.MAX_BUCKETS + 1 and rates.bucket_s == 58.0
    assert rates.requests.sum() == len(t)


@pytest.mark.parametrize("phases", [[], [("detection", None, None, None)]])
def test_rto_chart_without_phases_is_left_out(phases):
    assert charts.rto_phases(phases, None, None).note


def test_per_second_csv_counts_every_request_and_marks_the_fault_second():
    import pandas as pd

    from reports.render import per_second_csv

    t = [99.5, 100.2, 100.4, 100.9, 101.1]
    samples = pd.DataFrame({"t_s": t, "latency_ms": [10.0, 20.0, 30.0, 40.0, 5.0],
                            "ok": [True, True, False, True, True],
                            "dropped": [False, False, False, False, True]})
    lines = per_second_csv(samples, origin_s=100.0).splitlines()
    assert lines[0].startswith("second_since_t0,requests,errors,dropped,error_rate,p50_ms,p95_ms,p99_ms")
    assert lines[1] == "-1,1,0,0,0.000000,10.000,10.000,10.000"
    assert lines[2] == "0,3,1,0,0.333333,30.000,40.000,40.000"   # nearest rank over 20, 30, 40
    assert lines[3] == "1,0,0,1,,,,"                               # only a dropped arrival
