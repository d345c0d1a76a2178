"""Pure charts of one run (matplotlib Figure objects, no pyplot state): per-second timeline, RTO phases, RPO canary."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

MAX_BUCKETS = 1500          # a long soak is drawn in wider buckets, never one point per sample
PERCENTILES = (50, 95, 99)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
FAULT_COLOUR, T0_COLOUR, ERROR_COLOUR = "#f4a6a6", "#b00020", "#d62728"
PHASES = ("detection", "routing_switch", "promotion", "client_recovery")


@dataclass(frozen=True)
class Chart:
    """One chart for the report: SVG text, or a note saying why it was left out."""

    key: str
    title: str
    svg: str | None = None
    note: str | None = None
    caption: str = ""


@dataclass(frozen=True)
class Rates:
    """Requests aggregated per bucket: x is the bucket start in seconds since the origin."""

    x: np.ndarray
    requests: np.ndarray
    errors: np.ndarray
    dropped: np.ndarray
    p50_ms: np.ndarray
    p95_ms: np.ndarray
    p99_ms: np.ndarray
    bucket_s: float
    source: str

    def __len__(self) -> int:
        return len(self.x)


def bucket_width(span_s: float, max_buckets: int = MAX_BUCKETS) -> float:
    """1 s, or the smallest whole number of seconds that keeps a run under `max_buckets` buckets."""
    return float(max(1, math.ceil(span_s / max_buckets))) if span_s > 0 else 1.0


def per_bucket(t_s: np.ndarray, latency_ms: np.ndarray, ok: np.ndarray, dropped: np.ndarray, origin_s: float,
               source: str, bucket_s: float | None = None) -> Rates:
    """Pure, vectorised: counts and exact nearest-rank P50/P95/P99 (sent requests) per bucket since `origin_s`."""
    t_s = np.asarray(t_s, dtype=float)
    if len(t_s) == 0:
        empty = np.empty(0)
        return Rates(empty, empty, empty, empty, empty, empty, empty, bucket_s or 1.0, source)
    rel = t_s - origin_s
    width = bucket_s or bucket_width(float(rel.max() - rel.min()))
    rel /= width
    low = math.floor(float(rel.min()))
    size = math.floor(float(rel.max())) - low + 1
    # 16-bit bucket numbers when they fit: half the memory traffic and numpy's O(n) radix sort below
    index = np.floor(rel - low).astype(np.uint16 if size < 65536 else np.int64)
    dropped = np.asarray(dropped, dtype=bool)
    ok = np.asarray(ok, dtype=bool)
    latency = np.asarray(latency_ms)
    latency = latency if latency.dtype.kind == "f" else latency.astype(float)
    any_dropped = bool(dropped.any())
    sent = ~dropped
    requests = np.bincount(index[sent] if any_dropped else index, minlength=size)
    errors = np.bincount(index[sent & ~ok], minlength=size)
    lost = np.bincount(index[dropped], minlength=size) if any_dropped else np.zeros(size, np.int64)
    keep = sent & np.isfinite(latency)
    pct = _percentiles(index, latency, size) if keep.all() else _percentiles(index[keep], latency[keep], size)
    x = (np.arange(size) + low) * width
    return Rates(x, requests, errors, lost, pct[0], pct[1], pct[2], width, source)


def _percentiles(index: np.ndarray, latency: np.ndarray, size: int) -> np.ndarray:
    """Nearest-rank percentiles per bucket: one O(n) partition per non-empty bucket (buckets are few)."""
    out = np.full((len(PERCENTILES), size), np.nan)
    if len(index) == 0:
        return out
    if np.any(index[1:] < index[:-1]):  # worker files are each in time order; merge them
        order = np.argsort(index, kind="stable")
        index, latency = index[order], latency[order]
    bounds = np.searchsorted(index, np.arange(size + 1, dtype=index.dtype))
    for bucket in np.flatnonzero(np.diff(bounds)):
        start, end = bounds[bucket], bounds[bucket + 1]
        ranks = [max(1, math.ceil(q / 100 * (end - start))) - 1 for q in PERCENTILES]
        out[:, bucket] = np.partition(latency[start:end], ranks)[ranks]
    return out


def svg_text(fig: Figure) -> str:
    """The figure as standalone SVG text (glyphs as paths: no fonts needed to view it)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def region_colours(regions) -> dict[str, str]:
    """A stable colour per region name (sorted), shared by every chart of a report."""
    names = sorted({r for r in regions if r})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _shade_faults(ax, faults: list[tuple[float, float, str]]) -> None:
    for start, end, _ in faults:
        ax.axvspan(start, end, color=FAULT_COLOUR, alpha=0.35, lw=0, zorder=0)
    if faults:
        ax.axvline(0, color=T0_COLOUR, lw=1, ls="--", zorder=1)


def timeline(rates: Rates, faults: list[tuple[float, float, str]], routing: list[tuple[float, str | None]],
             capacity: list[dict], origin_label: str, colours: dict[str, str]) -> Chart:
    """Latency percentiles, throughput and errors per bucket; fault windows shaded; routing and capacity below."""
    key, title = "timeline", "What users saw, second by second"
    if len(rates) == 0:
        return Chart(key, title, note="no load samples and no health probes were recorded: nothing to draw")
    rows = [3, 2] + ([0.6] if routing else []) + ([2] if capacity else [])
    fig = Figure(figsize=(10, 2.0 + 1.3 * sum(rows) / 2), layout="constrained")
    axes = fig.subplots(len(rows), 1, sharex=True, gridspec_kw={"height_ratios": rows})
    lat, load = axes[0], axes[1]
    for q, colour in zip(PERCENTILES, ("#2ca02c", "#ff7f0e", "#d62728")):
        values = getattr(rates, f"p{q}_ms")
        lat.plot(rates.x, values, color=colour, lw=1.2, label=f"P{q}", drawstyle="steps-post")
    finite = rates.p99_ms[np.isfinite(rates.p99_ms)]
    if len(finite) and finite.max() > 20 * max(np.nanmedian(rates.p50_ms), 1e-3):
        lat.set_yscale("log")
    lat.set_ylabel("latency (ms)")
    lat.set_title(f"Latency percentiles per {rates.bucket_s:g} s ({rates.source})", fontsize=10, loc="left")
    per_s = 1 / rates.bucket_s
    load.plot(rates.x, rates.requests * per_s, color="#1f77b4", lw=1.2, label="requests/s", drawstyle="steps-post")
    load.fill_between(rates.x, rates.errors * per_s, step="post", color=ERROR_COLOUR, alpha=0.6, lw=0,
                      label="errors/s")
    if rates.dropped.any():
        load.plot(rates.x, rates.dropped * per_s, color="black", lw=1, ls=":", label="dropped/s",
                  drawstyle="steps-post")
    load.set_ylabel("per second")
    load.set_ylim(bottom=0)
    for ax in (lat, load):
        _shade_faults(ax, faults)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8, ncol=4, framealpha=0.8)
    rest = list(axes[2:])
    if routing:
        _routing_band(rest.pop(0), routing, rates.x[-1] + rates.bucket_s, colours, faults)
    if capacity:
        _capacity(rest.pop(0), capacity, colours, faults)
    if faults:
        lat.text(0, 1.01, " fault injected (t0)", transform=lat.get_xaxis_transform(), color=T0_COLOUR, fontsize=8)
    axes[-1].set_xlabel(origin_label)
    caption = ("Shaded: fault in place. " if faults else "No fault was injected. ") + \
        "Latency percentiles are exact over the requests sent in each bucket."
    return Chart(key, title, svg=svg_text(fig), caption=caption)


def _routing_band(ax, routing: list[tuple[float, str | None]], end_x: float, colours: dict[str, str],
                  faults: list[tuple[float, float, str]]) -> None:
    """Which region answered through the entry point, as coloured spans (grey: no answer)."""
    xs = [x for x, _ in routing] + [max(end_x, routing[-1][0])]
    spans: dict[str | None, list[tuple[float, float]]] = {}
    run_start, run_region = xs[0], routing[0][1]
    for (x, region), nxt in zip(routing, xs[1:]):
        if region != run_region:  # one bar per uninterrupted run of a region: no seams between samples
            spans.setdefault(run_region, []).append((run_start, x - run_start))
            run_start, run_region = x, region
    spans.setdefault(run_region, []).append((run_start, xs[-1] - run_start))
    for region, parts in spans.items():
        ax.broken_barh(parts, (0, 1), facecolors=colours.get(region, "#bbbbbb") if region else "#bbbbbb",
                       label=region or "no answer")
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.set_ylabel("serving", rotation=0, ha="right", va="center")
    if faults:
        ax.axvline(0, color=T0_COLOUR, lw=1, ls="--")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.3), fontsize=8, frameon=False)


def _capacity(ax, capacity: list[dict], colours: dict[str, str], faults: list[tuple[float, float, str]]) -> None:
    """Instances and ready instances per region, with the region's cap (max_instances) dashed."""
    for region in sorted({r["region"] for r in capacity}):
        rows = [r for r in capacity if r["region"] == region]
        x = [r["x"] for r in rows]
        colour = colours.get(region, "#333333")
        ax.plot(x, [r.get("instances") for r in rows], color=colour, lw=1.4, drawstyle="steps-post",
                label=f"{region} instances")
        if any(r.get("ready") is not None for r in rows):
            ax.plot(x, [r.get("ready") for r in rows], color=colour, lw=0.8, alpha=0.6, drawstyle="steps-post",
                    label=f"{region} ready")
        if any(r.get("max_instances") is not None for r in rows):
            ax.plot(x, [r.get("max_instances") for r in rows], color=colour, lw=1, ls="--", drawstyle="steps-post",
                    label=f"{region} cap")
    _shade_faults(ax, faults)
    ax.set_ylabel("instances")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def rto_phases(phases: list[tuple[str, float | None, float | None, float | None]], rto_read_s: float | None,
               rto_write_s: float | None) -> Chart:
    """Horizontal bars: each recovery phase (name, start since t0, duration, resolution) with its error bar."""
    key, title = "rto", "How recovery was spent (RTO phases)"
    known = [(n, s, d, r) for n, s, d, r in phases if s is not None and d is not None]
    if not known:
        return Chart(key, title, note="no recovery phase could be timed (no fault, or no probe evidence)")
    fig = Figure(figsize=(10, 1.3 + 0.5 * len(phases)), layout="constrained")
    ax = fig.subplots()
    labels = [n.replace("_", " ") for n, *_ in phases]
    for row, (name, start, duration, resolution) in enumerate(phases):
        if start is None or duration is None:
            ax.text(0, row, "  no evidence", va="center", fontsize=8, color="#666666")
            continue
        ax.barh(row, max(duration, 0.0), left=start, height=0.5, color=PALETTE[row % len(PALETTE)])
        if resolution:
            ax.errorbar(start + duration, row, xerr=resolution, color="black", capsize=3, lw=1)
        ax.text(start + duration + (resolution or 0), row, f"  {duration:.2f} s", va="center", fontsize=8)
    for value, label, style in ((rto_read_s, "read RTO", "-"), (rto_write_s, "write RTO", ":")):
        if value is not None:
            ax.axvline(value, color="#444444", ls=style, lw=1, label=f"{label} {value:.2f} s")
    ax.axvline(0, color=T0_COLOUR, ls="--", lw=1, label="fault injected (t0)")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the fault was injected (t0)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, fontsize=8, frameon=False)
    return Chart(key, title, svg=svg_text(fig), caption="Bars: when each phase started and how long it took; "
                 "whiskers: the measurement resolution (error bar).")


def incident(events: list[tuple[str, float | None]], resolution_s: float | None) -> Chart:
    """One row per incident event (name, seconds since t0; None: not observed), in the order of the incident."""
    key, title = "incident", "Incident timeline: fault, impact, detected, notified, mitigated, recovered"
    if not any(at is not None for _, at in events):
        return Chart(key, title, note="no incident event could be timed")
    fig = Figure(figsize=(10, 1.3 + 0.4 * len(events)), layout="constrained")
    ax = fig.subplots()
    for row, (name, at) in enumerate(events):
        if at is None:
            ax.text(0, row, "  not observed", va="center", fontsize=8, color="#666666")
            continue
        ax.hlines(row, 0, at, color=PALETTE[row % len(PALETTE)], lw=2)
        ax.plot([at], [row], "o", color=PALETTE[row % len(PALETTE)])
        if name == "detected" and resolution_s:
            ax.errorbar(at, row, xerr=[[resolution_s], [0]], color="black", capsize=3, lw=1)
        ax.text(at, row, f"  +{at:.1f} s", va="center", fontsize=8)
    ax.axvline(0, color=T0_COLOUR, ls="--", lw=1)
    ax.set_yticks(range(len(events)), [n for n, _ in events])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the fault was injected (t0)")
    ax.grid(axis="x", alpha=0.3)
    return Chart(key, title, svg=svg_text(fig), caption="Each event's time after the fault; the detection's whisker "
                 "reaches back one alarm period (an alarm changes state only at the end of one).")


def rpo_canary(canary: list[tuple[int, float, float | None, str]], lost: set[int], t0_x: float | None,
               lost_shown_all: bool = True) -> Chart:
    """Acknowledged canary writes over time (cumulative), the lost ones marked, t0 and a zoom around it."""
    key, title = "rpo", "Were acknowledged writes lost? (RPO canary)"
    acked = sorted((a, seq) for seq, _, a, outcome in canary if outcome == "acked" and a is not None)
    if not acked:
        return Chart(key, title, note="no canary write was acknowledged: there is nothing to chart")
    x = np.array([a for a, _ in acked])
    count = np.arange(1, len(x) + 1)
    is_lost = np.array([seq in lost for _, seq in acked], dtype=bool)
    refused = np.array([s for _, s, a, outcome in canary if outcome != "acked"], dtype=float)
    zoom = t0_x is not None
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    axes = fig.subplots(1, 2 if zoom else 1, gridspec_kw={"width_ratios": [3, 2]} if zoom else None, squeeze=False)[0]
    for ax in axes:
        ax.plot(x, count, color="#1f77b4", lw=1.2, label="acknowledged writes (cumulative)")
        if is_lost.any():
            ax.plot(x[is_lost], count[is_lost], "x", color=ERROR_COLOUR, ms=6, label="acked, then lost")
        if len(refused):
            ax.plot(refused, np.zeros(len(refused)), "|", color="#ff7f0e", ms=10, label="refused / uncertain")
        if t0_x is not None:
            ax.axvline(t0_x, color=T0_COLOUR, ls="--", lw=1, label="fault injected (t0)")
        ax.set_xlabel("seconds since the fault was injected (t0)" if zoom else "seconds since the run started")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("writes")
    axes[0].legend(loc="upper left", fontsize=8)
    if zoom:
        lost_x = x[is_lost]
        left = min(t0_x - 5, float(lost_x.min()) - 1) if len(lost_x) else t0_x - 5
        inside = (x >= left) & (x <= t0_x + 5)
        axes[1].set_xlim(left, t0_x + 5)
        if inside.any():
            axes[1].set_ylim(count[inside].min() - 5, count[inside].max() + 5)
        axes[1].set_title("around the fault", fontsize=9, loc="left")
    note = "" if lost_shown_all else " Only the first lost writes listed in summary.json are marked."
    return Chart(key, title, svg=svg_text(fig), caption=f"{len(x):,} writes acknowledged, {int(is_lost.sum()):,} "
                 f"of them missing from the final writer.{note}")


LCP_GOOD_MS = 2500.0   # web.dev's "good" LCP at the 75th percentile: a reference line, not a criterion


def vitals_lcp(loads: list[tuple[float, float | None, bool]], faults: list[tuple[float, float, str]],
               origin_label: str) -> Chart:
    """LCP of each page load (x since the origin, LCP ms or None, ok) over time; failed loads marked on top."""
    key, title = "vitals", "Largest contentful paint per page load (Core Web Vitals)"
    if not loads:
        return Chart(key, title, note="vitals.jsonl holds no page load: nothing to draw")
    ok = [(x, lcp) for x, lcp, good in loads if good and lcp is not None]
    failed = [x for x, _, good in loads if not good]
    fig = Figure(figsize=(10, 3.0), layout="constrained")
    ax = fig.subplots()
    if ok:
        ax.plot([x for x, _ in ok], [lcp for _, lcp in ok], "o", ms=3, color="#1f77b4", label="LCP of a page load")
    top = max([lcp for _, lcp in ok] + [LCP_GOOD_MS]) * 1.1
    if failed:
        ax.plot(failed, [top] * len(failed), "x", ms=6, color=ERROR_COLOUR, label="failed page load")
    ax.axhline(LCP_GOOD_MS, color="#444444", ls=":", lw=1, label="2.5 s (web.dev 'good' at P75)")
    _shade_faults(ax, faults)
    ax.set_ylim(0, top * 1.08)
    ax.set_ylabel("LCP (ms)")
    ax.set_xlabel(origin_label)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, fontsize=8, frameon=False)
    return Chart(key, title, svg=svg_text(fig), caption=f"{len(loads):,} page loads in headless Chromium, "
                 f"{len(failed):,} failed; shaded: fault in place. One point per load at its navigation start.")
