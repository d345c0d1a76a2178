"""Critical journeys (flows of several requests, scenarios/journeys.py FLOWS) timed end to end: figures per window.

A journey record (scenarios/recorder.py JourneyRecorder, files `journeys-<stem>.bin/.json` beside the request
samples) is one arrival of a flow: latency from its intended start to the end of its last step sent (the same
coordinated-omission correction as a single request), failed when a step failed (the steps after it are never
sent), dropped when the arrival never started. Request-level figures never read these files, so no request counts
twice. Per window (arrivals placed by intended start, as request samples are): the journey error rate = (failed +
dropped) / arrivals, and the exact nearest-rank P95 over every arrival with each failed or dropped one ranked above
every success (reports.samples.nearest_rank_with_failures: a journey that failed fast never lowers it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reports.sample_files import decode_chunks
from reports.samples import nearest_rank_with_failures

FORMAT = "gameday-journeys/1"
GLOB = "journeys-*.json"


@dataclass(frozen=True, eq=False)
class JourneyRecords:
    """Every journey record of a run: `frame` columns t_s, latency_ms, steps_sent, name, ok, dropped; `steps`
    names each flow's requests in order."""

    frame: pd.DataFrame
    steps: dict[str, tuple[str, ...]] = field(default_factory=dict)


def read_journeys(directory: Path) -> JourneyRecords | None:
    """The journey files of a samples directory (None when the run recorded no journey); ValueError on a file of
    another format (the caller names the directory)."""
    frames, steps = [], {}
    for meta_path in sorted(Path(directory).glob(GLOB)):
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: unknown journey format {meta.get('format')!r}, expected {FORMAT}")
        data_path = meta_path.with_suffix(".bin")
        columns = decode_chunks(data_path.read_bytes() if data_path.exists() else b"")
        names = np.array([*meta["names"], "?"], dtype=object)
        flags = columns["flags"]
        frames.append(pd.DataFrame({
            "t_s": columns["t_s"], "latency_ms": columns["latency_ms"].astype(float),
            "steps_sent": columns["status"].astype(int),
            "name": names[np.minimum(columns["name"], len(names) - 1)],
            "ok": (flags & 1).astype(bool), "dropped": (flags & 2).astype(bool)}))
        steps.update({name: tuple(s) for name, s in (meta.get("steps") or {}).items()})
    if not frames:
        return None
    frame = pd.concat(frames, ignore_index=True).sort_values("t_s", kind="stable", ignore_index=True)
    return JourneyRecords(frame, steps)


@dataclass(frozen=True)
class JourneyStats:
    """The journeys of one window, every flow together (evidence names each one and its steps)."""

    arrivals: int = 0                 # started + dropped
    failed: int = 0                   # started, and a step failed
    dropped: int = 0                  # never started (open model: too late or too many in flight)
    p95_ms: float | None = None       # exact nearest-rank, failed and dropped ranked above every success
    flows: tuple[tuple[str, int, tuple[str, ...]], ...] = ()   # (flow, arrivals, its steps)
    failed_at: tuple[tuple[str, int], ...] = ()                 # (step that failed, journeys), most first

    @property
    def failures(self) -> int:
        return self.failed + self.dropped

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.arrivals if self.arrivals else None

    def describe(self) -> str:
        """The flows counted, each with its steps: `critical (GET /index.html -> ... -> POST /ai) x120`."""
        return ", ".join(f"{name} ({' -> '.join(steps) or 'steps unknown'}) x{n:,}" for name, n, steps in self.flows)

    def failures_text(self) -> str:
        """Where the journeys failed: the step of each failed one, and the dropped ones."""
        parts = [f"{n:,} at {step}" for step, n in self.failed_at]
        if self.dropped:
            parts.append(f"{self.dropped:,} never started (dropped)")
        return "; ".join(parts) or "none"


def journey_stats(records: JourneyRecords | None, start_s: float | None, end_s: float | None, closed: bool = False,
                  finished_before_end: bool = False) -> JourneyStats:
    """Pure: the journeys whose intended start is in the window (`closed`: its end included; with
    `finished_before_end` also ended before it, as baseline requests must)."""
    if records is None or not len(records.frame) or start_s is None or end_s is None:
        return JourneyStats()
    f = records.frame
    t = f["t_s"].to_numpy()
    member = (t >= start_s) & ((t <= end_s) if closed else (t < end_s))
    if finished_before_end:
        member &= t + np.nan_to_num(f["latency_ms"].to_numpy(dtype=float)) / 1000 < end_s
    j = f[member]
    if not len(j):
        return JourneyStats()
    ok, dropped = j["ok"].to_numpy(dtype=bool), j["dropped"].to_numpy(dtype=bool)
    succeeded = ok & ~dropped
    failed_rows = j[~ok & ~dropped]
    failed_at: dict[str, int] = {}
    for (name, sent), n in failed_rows.groupby(["name", "steps_sent"]).size().items():
        steps = records.steps.get(name, ())
        step = steps[sent - 1] if 0 < sent <= len(steps) else f"step {sent} of {name}"
        failed_at[step] = failed_at.get(step, 0) + int(n)
    flows = tuple((str(name), int(n), records.steps.get(name, ())) for name, n in j["name"].value_counts().items())
    latencies = j["latency_ms"].to_numpy(dtype=float)[succeeded]
    failures = int((~succeeded).sum())
    p95 = nearest_rank_with_failures(latencies, failures, 95)
    return JourneyStats(arrivals=len(j), failed=len(failed_rows), dropped=int(dropped.sum()),
                        p95_ms=None if math.isnan(p95) else p95, flows=flows,
                        failed_at=tuple(sorted(failed_at.items(), key=lambda kv: (-kv[1], kv[0]))))
