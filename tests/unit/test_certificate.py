"""The certification document: verdict rules, requirement rows with evidence links, and its Markdown/HTML."""

from __future__ import annotations

from reports.certificate import GameDayFacts, RequirementSpec, StepResult, certificate, html, markdown

FACTS = GameDayFacts(gameday_id="g1", plan="disaster-recovery", title="Disaster recovery", description="desc",
                     certificate_name="Disaster Recovery", statement="It survives.", sign_off=("SRE lead",),
                     target="local", start="2026-01-01T00:00:00Z", end="2026-01-01T00:05:00Z",
                     environment={"git_sha": "abc123"})
RTO = RequirementSpec("Write RTO", "region-failover", "rto_write_s <= 900", "rto_write_s", "<=", 900.0, "s")
P95 = RequirementSpec("P95 after", "cache-outage", "p95_ms < 150 in fault", "p95_ms", "<", 150.0, "ms", "fault")


def _summary(verdict: str, criteria: list[dict]) -> dict:
    return {"verdict": verdict, "criteria": criteria, "duration_s": 60.0, "reasons": [] if verdict == "PASS" else ["x"]}


def _crit(name: str, measured, verdict: str, unit: str = "s") -> dict:
    return {"name": name, "measured": measured, "verdict": verdict, "unit": unit, "evidence": f"evidence of {name}"}


def _step(name: str, summary: dict | None, run_dir: str | None = "01-x") -> StepResult:
    return StepResult(name, False, run_dir, f"{run_dir}/report.html" if run_dir else None, 0, summary)


def test_every_requirement_and_experiment_passing_certifies():
    steps = [_step("region-failover", _summary("PASS", [_crit("rto_write_s <= 900", 3.2, "PASS")])),
             _step("cache-outage", _summary("PASS", [_crit("p95_ms < 150 in fault", 42.0, "PASS", "ms")]))]
    doc = certificate(FACTS, [RTO, P95], steps)
    assert doc["verdict"] == "PASS"
    rto = doc["requirements"][0]
    assert (rto["target"], rto["measured_text"], rto["link"]) == ("rto_write_s <= 900 s", "3.20 s", "01-x/report.html")
    assert doc["requirements"][1]["target"] == "p95_ms < 150 ms in fault"


def test_a_failed_experiment_fails_the_gameday_even_when_its_listed_requirements_pass():
    steps = [_step("region-failover", _summary("FAIL", [_crit("rto_write_s <= 900", 3.2, "PASS")])),
             _step("cache-outage", _summary("PASS", [_crit("p95_ms < 150 in fault", 42.0, "PASS", "ms")]))]
    assert certificate(FACTS, [RTO, P95], steps)["verdict"] == "FAIL"


def test_a_requirement_whose_experiment_did_not_run_is_inconclusive_and_so_is_the_gameday():
    steps = [_step("region-failover", _summary("PASS", [_crit("rto_write_s <= 900", 3.2, "PASS")])),
             _step("cache-outage", None, run_dir=None)]
    aborted = GameDayFacts(**{**FACTS.__dict__, "aborted": "region-failover: interrupted by SIGINT"})
    doc = certificate(aborted, [RTO, P95], steps)
    assert doc["verdict"] == "INCONCLUSIVE"
    assert doc["requirements"][1]["verdict"] == "INCONCLUSIVE"
    assert doc["requirements"][1]["evidence"] == "the experiment did not run"
    assert doc["experiments"][1]["verdict"] == "NOT RUN"


def test_a_failed_requirement_fails_and_shows_its_evidence():
    steps = [_step("region-failover", _summary("FAIL", [_crit("rto_write_s <= 900", 1200.0, "FAIL")]))]
    doc = certificate(FACTS, [RTO], steps)
    assert doc["verdict"] == "FAIL"
    assert doc["requirements"][0]["evidence"] == "evidence of rto_write_s <= 900"


def test_regressions_are_flagged_without_changing_the_verdict():
    old = {"run_id": "r1", "start": "2026-01-01", "verdict": "PASS", "rto_read_s": 1.0, "rto_write_s": 2.0,
           "rpo_s": 0.0, "p95_ms": 40.0, "error_rate": 0.0}
    new = {**old, "run_id": "r2", "start": "2026-01-02", "rto_write_s": 20.0}
    step = StepResult("region-failover", False, "01-x", "01-x/report.md", 0,
                      _summary("PASS", [_crit("rto_write_s <= 900", 20.0, "PASS")]), (old, new), new)
    doc = certificate(FACTS, [RTO], [step])
    assert doc["verdict"] == "PASS"
    assert len(doc["regressions"]) == 1 and "Write RTO" in doc["regressions"][0]
    assert [r["current"] for r in doc["trends"][0]["runs"]] == [False, True]


def test_markdown_and_html_show_verdict_first_requirements_and_sign_off():
    evil = StepResult("region-failover", False, "01-x", "01-x/report.html", 0,
                      _summary("PASS", [{**_crit("rto_write_s <= 900", 3.2, "PASS"),
                                         "evidence": "<script>x</script>|"}]))
    doc = certificate(FACTS, [RTO], [evil])
    md = markdown(doc)
    assert md.index("**Verdict: PASS") < md.index("## Requirements") < md.index("## Sign-off")
    assert "| Write RTO | [region-failover](01-x/report.html) | rto_write_s <= 900 s | 3.20 s | **PASS** |" in md
    assert "\\|" in md  # a pipe in the evidence cannot break the table
    page = html(doc)
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert page.index('class="verdict PASS"') < page.index("<h2>Requirements</h2>")
    assert "SRE lead" in page and 'href="01-x/report.html"' in page


def test_the_certificate_says_whether_the_monitoring_noticed_each_fault():
    detected = {**_summary("PASS", [_crit("rto_read_s <= 900", 2.0, "PASS")]),
                "detection": {"expected_alarms": ["region-health-eu-central-1"], "time_to_detect_s": 3.6,
                              "resolution_s": 2.0, "time_to_notify_s": 3.7, "alarm_cleared_s": 2.3,
                              "false_alarms": 0}}
    doc = certificate(FACTS, [RTO], [_step("region-failover", detected), _step("cache-outage", _summary("PASS", []),
                                                                               "02-y")])
    assert [d["experiment"] for d in doc["detection"]] == ["region-failover"]  # no monitoring read: no row
    text = markdown(doc)
    assert "## Did the monitoring notice?" in text
    assert "| region-failover | region-health-eu-central-1 | 3.6 s (± 2 s) | 3.7 s | 2.3 s | 0 |" in text
    assert '<table id="detection">' in html(doc)
