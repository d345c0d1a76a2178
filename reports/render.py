"""Write a run's reports: summary.json (versioned), report.md (jinja2) and junit.xml, from findings and verdicts."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reports.certify import Certification, Verdict
from reports.findings import WINDOWS, Findings, iso_utc
from reports.formatting import TEMPLATES, in_unit, md_cell, show, target_in_unit
from reports.vitals import MIN_LOADS, QUANTILE, VITALS

SCHEMA = "gameday-summary/1"
DIGITS = {"s": 3, "ms": 3, "ratio": 6, "count": 0}


def _num(value: float | None, digits: int = 3) -> float | int | None:
    """JSON-safe rounding: NaN and None become None, counts stay ints."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, (bool, int)):
        return value
    return round(float(value), digits)


def _window(w) -> dict:
    return {"start": iso_utc(w.start_s), "end": iso_utc(w.end_s), "requests": w.requests, "errors": w.errors,
            "error_rate": _num(w.error_rate, 6), "availability": _num(w.availability, 6),
            "load_requests": w.load_requests, "health_requests": w.health_requests,
            "latency_source": w.latency_source, "latency_samples": w.latency_samples,
            "p50_ms": _num(w.p50_ms), "p95_ms": _num(w.p95_ms), "p99_ms": _num(w.p99_ms),
            "dropped_requests": w.dropped_requests,
            "cache_reads": w.cache_reads, "cache_hit_rate": _num(w.cache_hit_rate, 6),
            "edge_requests": w.edge_requests, "edge_hit_rate": _num(w.edge_hit_rate, 6),
            "ai_requests": w.ai.requests, "ai_errors": w.ai.errors, "ai_error_rate": _num(w.ai.error_rate, 6),
            "ai_p95_ms": _num(w.ai.p95_ms), "ai_answers": w.ai.answers,
            "ai_fallback_share": _num(w.ai.fallback_share, 6), "ai_providers": dict(w.ai.providers),
            "journeys": w.journeys.arrivals, "journey_failed": w.journeys.failed,
            "journey_dropped": w.journeys.dropped, "journey_error_rate": _num(w.journeys.error_rate, 6),
            "journey_p95_ms": _num(w.journeys.p95_ms), "journey_flows": w.journeys.describe(),
            "interval_s": w.intervals.window_s, "intervals": w.intervals.windows,
            "interval_p95_ms": _num(w.intervals.worst_p95_ms),
            "interval_error_rate": _num(w.intervals.worst_error_rate, 6),
            "throttled_requests": w.throttled.count if w.throttled else None,
            "throttle_rate": _num(w.throttled.rate, 6) if w.throttled else None,
            "capacity_max_ratio": _num(w.capacity_max[0], 6) if w.capacity_max else None}


def _sig(value: float | None, digits: int = 4) -> float | None:
    """JSON-safe significant digits (p-values: 1e-27 must not round to 0)."""
    value = _num(value, 17)
    return None if value is None else float(f"{value:.{digits}g}")


def _comparisons(findings: Findings) -> dict:
    """Before vs after (reports.comparisons): latency shift and error increase per window, sliding SLO windows."""
    c = findings.comparisons
    windows = {}
    for name, w in c.windows.items():
        s, e = w.latency, w.errors
        windows[name] = {
            "latency": {"n_baseline": s.n_baseline, "n_window": s.n_window,
                        "median_baseline_ms": _num(s.median_baseline), "median_window_ms": _num(s.median_window),
                        "shift_ms": _num(s.shift),
                        "ci_low_ms": _num(s.ci_low), "ci_high_ms": _num(s.ci_high), "confidence": s.confidence,
                        "u": _num(s.u, 1), "p_two_sided": _sig(s.p_two_sided), "p_slower": _sig(s.p_slower),
                        "exact_p": s.exact, "subsampled": s.subsampled, "shift_n_baseline": s.shift_n_baseline,
                        "shift_n_window": s.shift_n_window, "enough": s.enough},
            "errors": {"baseline_errors": e.baseline_errors, "baseline_requests": e.baseline_requests,
                       "baseline_rate": _num(e.baseline_rate, 6),
                       "baseline_ci": [_num(v, 6) for v in e.baseline_ci] if e.baseline_ci else None,
                       "window_errors": e.window_errors, "window_requests": e.window_requests,
                       "window_rate": _num(e.window_rate, 6),
                       "window_ci": [_num(v, 6) for v in e.window_ci] if e.window_ci else None,
                       "increase": _num(e.diff, 6), "increase_lower": _num(e.diff_lower, 6),
                       "increase_upper": _num(e.diff_upper, 6), "confidence": e.confidence,
                       "p_higher": _sig(e.p_higher), "test": e.test, "zero_baseline": e.zero_baseline,
                       "enough": e.enough}}
    sliding = {name: {"window_s": s.window_s, "step_s": s.step_s, "windows": s.windows, "skipped": s.skipped,
                      "worst_p95_ms": _num(s.worst_p95_ms), "worst_p95_start": iso_utc(s.worst_p95_start_s),
                      "worst_error_rate": _num(s.worst_error_rate, 6),
                      "worst_error_start": iso_utc(s.worst_error_start_s),
                      "p95_max_ms": s.p95_max_ms, "error_rate_max": s.error_rate_max, "compliant": s.compliant,
                      "compliant_share": _num(s.compliant_share, 6)}
               for name, s in c.sliding.items()}
    return {"source": c.source, "windows": windows, "sliding": sliding}


def _scenario(findings: Findings) -> dict:
    """Cache warm-up and deployment timings (null when the run had no cache fault / no deployment)."""
    w, d = findings.cache_warmup, findings.deployment
    warmup = None if w is None or w.recovered_s is None else {
        "recovered": iso_utc(w.recovered_s), "baseline_hit_rate": _num(w.baseline_rate, 6),
        "target_hit_rate": _num(w.target_rate, 6), "warmup_s": _num(w.warmup_s), "observed_s": _num(w.observed_s),
        "resolution_s": w.resolution_s, "evidence": w.evidence}
    deploy = None if d is None else {
        "live": iso_utc(d.live_s), "detected": iso_utc(d.detected_at_s), "restored": iso_utc(d.restored_at_s),
        "detect_s": _num(d.detect_s), "restore_s": _num(d.restore_s), "observed_s": _num(d.observed_s),
        "evidence": d.evidence}
    return {"cache_warmup": warmup, "deployment": deploy}


def _scaling(findings: Findings) -> dict | None:
    """The load spike and the served region's scale-out/scale-in (null when the run had neither)."""
    s = findings.scaling
    if s is None:
        return None
    p = s.spike
    return {"region": s.region, "capacity_samples": s.samples, "cap": s.cap, "min_instances": s.min_instances,
            "load_start": iso_utc(p.load_start_s) if p else None, "step": iso_utc(p.step_s) if p else None,
            "drop": iso_utc(p.drop_s) if p else None, "warmup_s": p.warmup_s if p else None,
            "baseline_load": p.baseline_load if p else None, "spike_load": p.spike_load if p else None,
            "load_unit": p.unit if p else None, "factor": _num(p.factor) if p else None,
            "instances_at_step": s.instances_at_step, "ready_at_step": s.ready_at_step, "held_ready": s.held_ready,
            "peak_instances": s.peak_instances, "first_added_s": _num(s.first_added_s),
            "scale_out_lag_s": _num(s.scale_out.value_s), "scale_out_lower_bound_s": _num(s.scale_out.lower_bound_s),
            "scale_in_lag_s": _num(s.scale_in.value_s), "scale_in_lower_bound_s": _num(s.scale_in.lower_bound_s),
            "resolution_s": _num(s.resolution_s), "evidence": s.evidence, "scale_out_evidence": s.scale_out.evidence,
            "scale_in_evidence": s.scale_in.evidence}


def _vitals(findings: Findings) -> dict | None:
    """Core Web Vitals per window (reports.vitals; null when the run has no vitals.jsonl): page loads, failed
    loads, the failure rate and each vital's P75 with its sample count; a P75 that falls on a failed load is
    null and listed in `p75_on_failed_load`."""
    windows = {name: w for name in WINDOWS if (w := findings.windows.get(name)) is not None and w.vitals is not None}
    if not windows:
        return None
    out = {}
    for name, w in windows.items():
        v = w.vitals
        row = {"start": iso_utc(w.start_s), "end": iso_utc(w.end_s), "loads": v.loads, "failed": v.failed,
               "page_error_rate": _num(v.page_error_rate, 6)}
        figures = [v.vital(metric) for metric in VITALS]
        row.update({f.metric: _num(f.p75, 4) for f in figures})
        row["samples"] = {f.metric: f.samples for f in figures}
        row["missing"] = {f.metric: f.missing for f in figures}
        row["p75_on_failed_load"] = [f.metric for f in figures if f.p75 is not None and math.isinf(f.p75)]
        row["errors"] = dict(v.errors)
        out[name] = row
    return {"quantile": QUANTILE, "minimum_loads": MIN_LOADS, "windows": out}


def _rto_detail(r, t0_s: float | None) -> dict | None:
    """One RTO's bracket (two-sided: the truth lies in [low_s, high_s]), impact and relapses, relative to t0."""
    if r is None:
        return None

    def rel(t: float | None) -> float | None:
        return None if t is None or t0_s is None else _num(t - t0_s)

    return {"low_s": _num(r.rto_low_s), "high_s": _num(r.rto_high_s), "impact_s": rel(r.impact_at_s),
            "relapses_s": [rel(t) for t in r.relapses], "unknown_until_end": r.sustained_until_end,
            "max_gap_s": _num(r.max_gap_s), "samples": r.samples, "failures": r.failures}


def _phases(findings: Findings) -> dict:
    names = ("impact", "detection", "routing_switch", "promotion", "client_recovery")
    phases = findings.phases
    out = {}
    for name in names:
        phase = getattr(phases, name) if phases is not None else None
        out[name] = None if phase is None else {
            "start": iso_utc(phase.start_s), "end": iso_utc(phase.end_s), "duration_s": _num(phase.duration_s),
            "resolution_s": _num(phase.resolution_s), "source": phase.source}
    return out


def _detection(findings: Findings) -> dict | None:
    """Did the monitoring notice: the detection figures and the incident timeline (fault -> impact -> detected
    -> notified -> mitigated -> recovered -> alarm cleared), each event with its time after t0."""
    d, t0, phases = findings.detection, findings.t0_s, findings.phases
    if d is None or d.source == "none":  # no alarms.json: nothing to show (the criteria say unmeasured)
        return None
    recovered = [r.recovered_at_s for r in (findings.rto_read, findings.rto_write) if r is not None and r.recovered]
    mitigated = [p.end_s for p in (phases.routing_switch, phases.promotion) if p is not None] if phases else []
    events = [("fault injected", t0, "the fault ledger"),
              ("impact", phases.impact.end_s if phases and phases.impact else None, "the first failure after t0"),
              ("detected", d.detected_at_s, f"alarm {d.detected_alarm}" if d.detected_alarm else d.evidence),
              ("notified", d.notified_at_s, "the notification sink" if d.notified_at_s else d.notify_evidence),
              ("mitigated", max(mitigated) if mitigated else None, "routing switch and promotion"),
              ("recovered", max(recovered) if recovered else None, "the RTO's sustained recovery"),
              ("alarm cleared", d.cleared_at_s, d.cleared_evidence or "no expected alarm fired")]
    return {"source": d.source, "expected_alarms": list(d.expected), "time_to_detect_s": _num(d.detect_s),
            "resolution_s": _num(d.resolution_s), "detected_alarm": d.detected_alarm,
            "time_to_notify_s": _num(d.notify_s), "alarm_cleared_s": _num(d.cleared_s),
            "false_alarms": d.false_alarms, "false_alarm_changes": [
                {**c, "at": iso_utc(c["at_s"])} for c in d.false_alarm_changes], "evidence": d.evidence,
            "notes": list(d.notes),
            "timeline": [{"event": name, "at": iso_utc(at), "after_t0_s": _num(at - t0) if at is not None and
                          t0 is not None else None, "source": source} for name, at, source in events]}


def summary(findings: Findings, certification: Certification, meta: dict) -> dict:
    """Pure: the summary.json document (schema `gameday-summary/1`)."""
    read, write, rpo = findings.rto_read, findings.rto_write, findings.rpo
    resolutions = [r.resolution_s for r in (read, write) if r is not None and r.resolution_s is not None]
    aborted = meta.get("aborted")
    duration = (findings.end_s - findings.start_s) if None not in (findings.start_s, findings.end_s) else None
    return {
        "schema": SCHEMA, "run_id": meta.get("run_id"), "experiment": meta.get("experiment"),
        "title": meta.get("title"), "target": meta.get("target"), "quick": bool(meta.get("quick")),
        "start": iso_utc(findings.start_s), "end": iso_utc(findings.end_s), "duration_s": _num(duration),
        "verdict": certification.verdict.value, "reasons": list(certification.reasons),
        "criteria": [_criterion(r.as_dict()) for r in certification.criteria],
        "t0": iso_utc(findings.t0_s),
        "rto": {"read_s": _num(read.rto_s) if read else None, "write_s": _num(write.rto_s) if write else None,
                "read_recovered": read.recovered if read else None,
                "write_recovered": write.recovered if write else None,
                "phases": _phases(findings), "resolution_s": _num(max(resolutions)) if resolutions else None,
                "read_resolution_s": _num(read.resolution_s) if read else None,
                "write_resolution_s": _num(write.resolution_s) if write else None,
                "sustain_s": findings.sustain_s, "sustain_success_ratio": findings.sustain_success_ratio,
                "read": _rto_detail(read, findings.t0_s), "write": _rto_detail(write, findings.t0_s)},
        "rpo": {"s": _num(rpo.rpo_s) if rpo else None, "acked_writes": rpo.acked_writes if rpo else None,
                "writer_known": rpo.writer_known if rpo else None,
                "high_s": _num(rpo.rpo_high_s) if rpo else None,
                "lost_writes": rpo.lost_writes if rpo and rpo.writer_known else None,
                "lost_writes_after_t0": rpo.lost_after_t0 if rpo and rpo.writer_known else None,
                "lost_after_t0_seqs": list(rpo.lost_after_t0_seqs) if rpo else [],
                "uncertain_writes": rpo.uncertain_writes if rpo else None,
                "failed_writes": rpo.failed_writes if rpo else None,
                "lost_seqs": list(rpo.lost_seqs) if rpo else [],
                "loss_from_start": rpo.loss_from_start if rpo else None,
                "resolution_s": _num(rpo.resolution_s) if rpo else None},
        "fault_windows": [{**w, "start": iso_utc(w["start_s"]), "end": iso_utc(w["end_s"]),
                           "duration_s": _num(w["end_s"] - w["start_s"]) if w["end_s"] is not None else None}
                          for w in findings.fault_windows],
        "windows": {name: _window(findings.windows[name]) for name in WINDOWS if name in findings.windows},
        "comparisons": _comparisons(findings),
        "split_brain_events": findings.split_brain_events, "failback_ok": findings.failback_ok,
        **_scenario(findings),
        "scaling": _scaling(findings),
        "detection": _detection(findings),
        "vitals": _vitals(findings),
        "writer_region": findings.writer_region,
        "journal": {**asdict(findings.journal), "failed_activities": list(findings.journal.failed_activities),
                    "failed_rollbacks": list(findings.journal.failed_rollbacks), "ok": findings.journal.ok},
        "aborted": None if not aborted else {**aborted, "at": iso_utc(aborted.get("at_s"))},
        "chaos_exit_code": meta.get("chaos_exit_code"), "notes": list(findings.notes),
    }


def _criterion(c: dict) -> dict:
    return {**c, "measured": _num(c["measured"], DIGITS.get(c["unit"], 3) or 3)}


def markdown(doc: dict) -> str:
    """Pure: report.md from a summary document."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(show=show, cell=md_cell, in_unit=in_unit, target_in_unit=target_in_unit,
                       clock=lambda iso: "n/a" if not iso else iso.replace("T", " "))
    return env.get_template("report.md.j2").render(doc=doc)


def junit(doc: dict) -> str:
    """Pure: junit.xml: one testcase per criterion (INCONCLUSIVE is a failure of type "inconclusive") + journal."""
    suite = ET.Element("testsuite", name=f"gameday.{doc['experiment'] or 'run'}")
    failures = 0
    for c in doc["criteria"]:
        case = ET.SubElement(suite, "testcase", classname=f"gameday.{doc['experiment'] or 'run'}", name=c["name"])
        text = (f"{c['metric']} {c['op']} {target_in_unit(c['target'], c['unit'])} in {c['window']}: measured "
                f"{in_unit(c['measured'], c['unit'])}; {c['evidence']}")
        ET.SubElement(case, "system-out").text = text
        if c["verdict"] != Verdict.PASS.value:
            failures += 1
            kind = "inconclusive" if c["verdict"] == Verdict.INCONCLUSIVE.value else "fail"
            ET.SubElement(case, "failure", type=kind, message=text).text = text
    journal = doc["journal"]
    case = ET.SubElement(suite, "testcase", classname=f"gameday.{doc['experiment'] or 'run'}", name="journal")
    if journal["ok"] is not True:
        failures += 1
        problems = [r for r in doc["reasons"] if not r.startswith("criterion ")]
        message = "; ".join(problems) or "the Chaos Toolkit journal does not pass the run"
        ET.SubElement(case, "failure", type="inconclusive" if journal["ok"] is None else "fail",
                      message=message).text = message
    if doc["aborted"]:
        ET.SubElement(suite, "properties").append(
            ET.Element("property", name="aborted", value=str(doc["aborted"].get("reason"))))
    suite.set("tests", str(len(doc["criteria"]) + 1))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suites = ET.Element("testsuites", tests=suite.get("tests"), failures=str(failures), errors="0")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_reports(run_dir: str | Path, findings: Findings, certification: Certification, meta: dict,
                  inputs=None) -> dict[str, Path]:
    """Write summary.json, report.md, junit.xml and report.html into `run_dir` (the charts from `inputs`, the
    RunInputs already parsed, when given); returns their paths by name."""
    # imported here: matplotlib is loaded only when a report is written
    from reports.html import write_html

    run_dir = Path(run_dir)
    doc = summary(findings, certification, meta)
    paths = {"summary": run_dir / "summary.json", "report": run_dir / "report.md", "junit": run_dir / "junit.xml",
             "html": run_dir / "report.html"}
    _write(paths["summary"], json.dumps(doc, indent=2, allow_nan=False) + "\n")
    _write(paths["report"], markdown(doc))
    _write(paths["junit"], junit(doc))
    _write(paths["html"], write_html(run_dir, doc, inputs))
    if inputs is not None and inputs.samples is not None and len(inputs.samples):
        paths["per_second"] = run_dir / "per_second.csv"
        _write(paths["per_second"], per_second_csv(inputs.samples, findings.t0_s or findings.start_s or 0.0))
    return paths


def per_second_csv(samples, origin_s: float) -> str:
    """Pure: per_second.csv: every second of the load (from `origin_s`, t0 when there was a fault) with its
    requests, errors, dropped arrivals, error rate and exact nearest-rank P50/P95/P99 of the sent requests."""
    from reports.charts import per_bucket

    r = per_bucket(samples["t_s"].to_numpy(), samples["latency_ms"].to_numpy(), samples["ok"].to_numpy(dtype=bool),
                   samples["dropped"].to_numpy(dtype=bool), origin_s, "load samples", bucket_s=1.0)
    lines = ["second_since_t0,requests,errors,dropped,error_rate,p50_ms,p95_ms,p99_ms"]
    for i in range(len(r)):
        n, e = int(r.requests[i]), int(r.errors[i])
        rate = f"{e / n:.6f}" if n else ""
        pcts = ",".join("" if math.isnan(v) else f"{v:.3f}" for v in (r.p50_ms[i], r.p95_ms[i], r.p99_ms[i]))
        lines.append(f"{r.x[i]:g},{n},{e},{int(r.dropped[i])},{rate},{pcts}")
    return "\n".join(lines) + "\n"
