"""report.html: a self-contained page (inline CSS, charts as data: URIs) from summary.json and the run's files."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gameday.base.probe_kinds import ProbeKind, of_kind
from gameday.base.provenance import tool_versions
from reports import charts
from reports.findings import iso_utc
from reports.formatting import TEMPLATES, in_unit, show, target_in_unit
from reports.run_files import (
    EXPERIMENT_FILE,
    JOURNAL_FILE,
    PROBES_FILE,
    RUN_FILE,
    SAMPLES_DIR,
    VITALS_FILE,
    read_json,
    read_jsonl,
    read_vitals,
)
from reports.sample_files import FORMAT, decode_chunks

VERDICT_TEXT = {"PASS": "every criterion was met", "FAIL": "at least one criterion or the chaos run failed",
                "INCONCLUSIVE": "not enough evidence to decide"}

EXTRAS = {"scaling": "Scaling", "cache_warmup": "Cache warm-up", "deployment": "Deployment"}  # shown when present


@dataclass(frozen=True)
class Load:
    """Raw load-sample columns (no pandas: a 10-million-sample run stays cheap to chart)."""

    t_s: np.ndarray
    latency_ms: np.ndarray
    ok: np.ndarray
    dropped: np.ndarray


def read_load(run_dir: Path) -> Load | None:
    """Every worker's sample columns under load/samples; None when the run had no load."""
    parts = []
    for meta_path in sorted((run_dir / SAMPLES_DIR).glob("samples-*.json")):
        if json.loads(meta_path.read_text()).get("format") != FORMAT:
            continue  # the analysis already refused an unknown format with a precise error
        data_path = meta_path.with_suffix(".bin")
        parts.append(decode_chunks(data_path.read_bytes() if data_path.exists() else b""))
    if not parts or not sum(len(p["t_s"]) for p in parts):
        return None
    flags = np.concatenate([p["flags"] for p in parts])
    return Load(np.concatenate([p["t_s"] for p in parts]), np.concatenate([p["latency_ms"] for p in parts]),
                (flags & 1).astype(bool), (flags & 2).astype(bool))


def epoch_s(iso: str | None) -> float | None:
    """ISO 8601 (naive means UTC) as epoch seconds; None for None or garbage."""
    if not iso:
        return None
    try:
        at = datetime.fromisoformat(str(iso))  # 3.11 reads a trailing Z
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def build_charts(doc: dict, probes: list[dict], load: Load | None,
                 vitals: tuple[dict, ...] | None = None) -> list[charts.Chart]:
    """Pure: the report's charts from the summary document, the probe records, the load samples and the page
    loads of vitals.jsonl (None: the run has none, no chart)."""
    t0, start, end = epoch_s(doc.get("t0")), epoch_s(doc.get("start")), epoch_s(doc.get("end"))
    origin = t0 if t0 is not None else (start or 0.0)
    label = "seconds since the fault was injected (t0)" if t0 is not None else "seconds since the run started"
    if load is not None:
        rates = charts.per_bucket(load.t_s, load.latency_ms, load.ok, load.dropped, origin, "load samples")
    else:
        health = [r for r in of_kind(probes, ProbeKind.health) if r.get("at_s") is not None]
        rates = charts.per_bucket(np.array([r["at_s"] for r in health], dtype=float),
                                  np.array([_num(r.get("latency_ms")) for r in health], dtype=float),
                                  np.array([bool(r.get("ok")) for r in health], dtype=bool),
                                  np.zeros(len(health), dtype=bool), origin, "health probes")
    faults = []
    for w in doc.get("fault_windows") or []:
        a = w.get("start_s", epoch_s(w.get("start")))
        b = w.get("end_s", epoch_s(w.get("end")))
        b = b if b is not None else (end if end is not None else a)
        if a is not None:
            faults.append((a - origin, b - origin, str(w.get("kind"))))
    routing = sorted((r["at_s"] - origin, r.get("served_region")) for r in of_kind(probes, ProbeKind.routing)
                     if r.get("at_s") is not None)
    capacity = [{**r, "x": r["at_s"] - origin} for r in of_kind(probes, ProbeKind.capacity)
                if r.get("at_s") is not None and r.get("region")]
    capacity.sort(key=lambda r: r["x"])
    colours = charts.region_colours([region for _, region in routing] + [r["region"] for r in capacity])
    rto, rpo = doc.get("rto") or {}, doc.get("rpo") or {}
    phases = []
    for name in charts.PHASES:
        p = (rto.get("phases") or {}).get(name)
        at = epoch_s(p.get("start")) if p else None
        phases.append((name, None if at is None or t0 is None else at - t0, p.get("duration_s") if p else None,
                       p.get("resolution_s") if p else None))
    canary = [(r.get("seq"), r["sent_s"] - origin, None if r.get("acked_s") is None else r["acked_s"] - origin,
               str(r.get("outcome"))) for r in of_kind(probes, ProbeKind.canary) if r.get("sent_s") is not None]
    lost = set(rpo.get("lost_seqs") or [])
    drawn = [charts.timeline(rates, faults, routing, capacity, label, colours),
             charts.rto_phases(phases, rto.get("read_s"), rto.get("write_s")),
             charts.rpo_canary(canary, lost, 0.0 if t0 is not None else None,
                               lost_shown_all=len(lost) >= (rpo.get("lost_writes") or 0))]
    if detection := doc.get("detection"):
        drawn.append(charts.incident([(e["event"], e["after_t0_s"]) for e in detection["timeline"]],
                                     detection.get("resolution_s")))
    if vitals is not None:
        drawn.append(charts.vitals_lcp([(r["at_s"] - origin, r.get("lcp_ms"), bool(r.get("ok"))) for r in vitals],
                                       faults, label))
    return drawn


def _num(value) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def activities(journal: dict | None, t0_iso: str | None) -> list[dict]:
    """Pure: the journal's method activities and rollbacks with their timings (seconds since t0 when known)."""
    t0, out = epoch_s(t0_iso), []
    for part, label in (("run", "method"), ("rollbacks", "rollback")):
        for record in (journal or {}).get(part) or []:
            start = epoch_s(record.get("start"))
            out.append({"name": (record.get("activity") or {}).get("name", "?"), "part": label,
                        "start": iso_utc(start), "end": iso_utc(epoch_s(record.get("end"))),
                        "duration_s": record.get("duration"), "status": record.get("status") or "interrupted",
                        "since_t0_s": None if start is None or t0 is None else start - t0})
    return out


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return show(v) if isinstance(v, (int, bool)) or v is None else (v if isinstance(v, str) else json.dumps(v))


def _records(value, path: tuple) -> list[tuple[tuple, dict]]:
    """Every dict of plain values (a record) inside `value`, with its path; lists of dicts count by index."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [r for i, v in enumerate(value) for r in _records(v, (*path, str(i)))]
    if not isinstance(value, dict):
        return [(path, {"value": value})]
    plain = {k: v for k, v in value.items() if not isinstance(v, dict) and not (
        isinstance(v, list) and v and all(isinstance(x, dict) for x in v))}
    out = [(path, plain)] if plain else []
    return out + [r for k, v in value.items() if k not in plain for r in _records(v, (*path, str(k)))]


def generic_tables(value) -> list[dict]:
    """Pure: any JSON value as tables {title, columns, rows} of text cells, for a section whose schema this page
    does not know: records that differ only in one path step (the second, or the first of a short path) share a
    table, one column each."""
    groups: dict[tuple, dict[str, dict]] = {}
    for path, record in _records(value, ()):
        at = 1 if len(path) >= 2 else 0  # which path step names the column: fault/recovery/after, or a list index
        key = (*path[:at], "*", *path[at + 1:]) if path else ()
        groups.setdefault(key, {})[path[at] if path else ""] = record
    tables = []
    for key, entries in groups.items():
        fields = list(dict.fromkeys(f for record in entries.values() for f in record))
        title = " / ".join(k for k in key if k != "*")
        tables.append({"title": title, "columns": ["", *entries],
                       "rows": [[f, *[_cell(r.get(f)) if f in r else "" for r in entries.values()]] for f in fields]})
    return tables


def environment(run_dir: Path, run: dict) -> dict:
    """Git SHA, experiment hash, tool versions (recorded at run time when run.json has them) and target."""
    recorded = run.get("provenance") or {}
    experiment = run_dir / EXPERIMENT_FILE
    sha = hashlib.sha256(experiment.read_bytes()).hexdigest() if experiment.is_file() else None
    tools = recorded.get("tools")
    return {"git_sha": recorded.get("git_sha") or run.get("git_sha") or "n/a", "experiment_sha256": sha or "n/a",
            "tools": tools or tool_versions(), "tools_source": "recorded at run time" if tools else
            "installed when this report was rendered", "target": run.get("target") or "n/a"}


def hypothesis(run_dir: Path) -> dict:
    """The experiment's description (its hypothesis in plain words) and steady-state title."""
    try:
        spec = yaml.safe_load((run_dir / EXPERIMENT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        spec = None
    spec = spec if isinstance(spec, dict) else {}
    steady = spec.get("steady-state-hypothesis")
    return {"title": spec.get("title"), "description": spec.get("description"),
            "steady_state": steady.get("title") if isinstance(steady, dict) else None}


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def render(doc: dict, chart_list: list[charts.Chart], context: dict) -> str:
    """Pure: report.html from the summary document, the charts and the page context (hypothesis, activities, ...)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(show=show, in_unit=in_unit, target_in_unit=target_in_unit, data_uri=data_uri,
                       clock=lambda iso: "n/a" if not iso else str(iso).replace("T", " "),
                       time_of_day=lambda iso: "n/a" if not iso else str(iso).split("T")[-1],
                       pct=lambda v, digits=3: show(None if v is None else v * 100, digits, "%"))
    comparisons = doc.get("comparisons")
    return env.get_template("report.html.j2").render(
        doc=doc, charts=chart_list, drawn=sum(1 for c in chart_list if c.svg), verdict_text=VERDICT_TEXT,
        comparisons=[] if comparisons in (None, [], {}) else generic_tables(comparisons),
        extras={title: generic_tables(doc[key]) for key, title in EXTRAS.items() if doc.get(key)}, **context)


def load_of(samples) -> Load | None:
    """The chart columns of an analysed run's samples (reports.sample_files frame); None without load."""
    if samples is None or not len(samples):
        return None
    return Load(samples["t_s"].to_numpy(), samples["latency_ms"].to_numpy(), samples["ok"].to_numpy(dtype=bool),
                samples["dropped"].to_numpy(dtype=bool))


def write_html(run_dir: str | Path, doc: dict, inputs=None) -> str:
    """report.html's text (the caller writes it), from the run's parsed files (`inputs`, a RunInputs, when the
    caller has them; else read from `run_dir`)."""
    run_dir = Path(run_dir)
    if inputs is None:
        probes, run = read_jsonl(run_dir / PROBES_FILE), read_json(run_dir / RUN_FILE, required=False) or {}
        journal, load = read_json(run_dir / JOURNAL_FILE, required=False), read_load(run_dir)
        vitals = read_vitals(run_dir / VITALS_FILE)
    else:
        probes, run, journal, load = list(inputs.probes), inputs.run, inputs.journal, load_of(inputs.samples)
        vitals = inputs.vitals
    context = {"hypothesis": hypothesis(run_dir), "environment": environment(run_dir, run),
               "activities": activities(journal, doc.get("t0"))}
    return render(doc, build_charts(doc, probes, load, vitals), context)
