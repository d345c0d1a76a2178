"""Live view of a run: tails probes.jsonl, shows its status (a plain line every 2 s, or a rich region on a terminal:
gameday.terminal_view), evaluates stop conditions and keeps the health reads for the criteria's running values."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from gameday.base import run_clock
from gameday.base.models import StopCondition
from gameday.base.probe_kinds import ProbeKind, failed, of_kind
from gameday.guards import Guard

PRINT_EVERY_S = 2.0
POLL_S = 0.1
RESOURCE_CHECK_S = 1.0
SERIES_S = 180  # the console's per-second timeline reaches this far back
VIEW_EVERY_S = 0.5  # the rich region's redraw
READS_KEPT = 1_000_000  # health reads kept for the criteria's running values (~3 h at 0.01 s; 80 MB at most)


class LiveMonitor(threading.Thread):
    """`breach` turns into a message when a stop condition is breached; `phase` is set by the runner."""

    def __init__(self, probes_path: Path, conditions: list[StopCondition], echo: Callable[[str], None],
                 resource_check: Callable[[], str | None] = lambda: None, view=None):
        """`resource_check` answers, once a second, a sentence when the run cannot go on (gameday.disk_guard);
        `view`: a gameday.terminal_view.RichStatus to redraw instead of printing status lines (None: plain lines)."""
        super().__init__(daemon=True, name="gameday-live")
        self.path = probes_path
        self.resource_check = resource_check
        self.guards = [Guard(c) for c in conditions]
        self.echo = echo
        self.phase_started: dict[str, float] = {}   # when each phase began (run clock): places the windows
        self.phase = "starting"
        self.phase_ends: tuple[str, float] | None = None  # (phase, when it ends) for a phase of known length
        self.progress: tuple[int, int] | None = None      # a GameDay's experiment i of n
        self.view = view
        self.eta_s: float | None = None   # when the run should end at the earliest (run clock; set by the runner)
        self.breach: str | None = None
        self._halt = threading.Event()
        self._recent: deque[dict] = deque()
        self._series: deque[dict] = deque()      # health and canary records of the last SERIES_S (the console)
        self._served: str | None = None
        self._writers: list[str] | None = None
        self._capacity: dict[str, dict] = {}
        self._guard_view: list[dict] = []         # each stop condition and its value (made by the monitor thread)
        self._reads: deque[tuple[float, bool, float | None]] = deque(maxlen=READS_KEPT)  # every health read
        self._begun_s = run_clock.now()

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, name: str) -> None:
        self._phase = name
        self.phase_started.setdefault(name, run_clock.now())

    def health_reads(self) -> list[tuple[float, bool, float | None]]:
        """Every health read of the run so far (at_s, ok, latency_ms): gameday.live_criteria's input."""
        return list(self._reads)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=2)
        if self.view is not None:
            self.view.stop()

    def start(self) -> None:
        if self.view is not None:
            self.view.start()
        super().start()

    def run(self) -> None:
        position, partial, last_print, last_check = 0, b"", 0.0, 0.0
        while not self._halt.wait(POLL_S):
            if self.breach is None and time.monotonic() - last_check >= RESOURCE_CHECK_S:
                last_check = time.monotonic()
                self.breach = self.resource_check()
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(position)
                    data = fh.read()
                    position = fh.tell()
            except FileNotFoundError:
                continue
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            for raw in lines:
                try:
                    self._observe(json.loads(raw))
                except ValueError:
                    continue
            now = run_clock.now()
            for guard in self.guards:
                if self.breach is None and guard.breached(now):
                    self.breach = guard.describe(now)
            # the console reads these from its own threads: made here, in the one thread that touches the guards
            # and trims the series, and swapped in whole
            self._guard_view = [{"condition": g.describe(now).split(" (measured")[0].replace(
                "stop condition breached: ", ""), "value": g.value(now)} for g in self.guards]
            while self._series and (self._series[0].get("at_s") or self._series[0].get("sent_s") or 0) \
                    < now - SERIES_S:
                self._series.popleft()
            if self.view is not None and now - last_print >= VIEW_EVERY_S:
                last_print = now
                self.view.update(self.status_fields(now))
            elif self.view is None and now - last_print >= PRINT_EVERY_S:
                last_print = now
                self.echo(self.status_line(now))

    def _observe(self, record: dict) -> None:
        for guard in self.guards:
            guard.observe(record)
        if record.get("probe") == ProbeKind.routing:
            self._served = record.get("served_region") or self._served
        elif record.get("probe") in (ProbeKind.health, ProbeKind.canary):
            self._recent.append(record)
            self._series.append(record)
            if record["probe"] == ProbeKind.health and record.get("at_s") is not None:
                self._reads.append((record["at_s"], not failed(record), record.get("latency_ms")))
        elif record.get("probe") == ProbeKind.writers:
            self._writers = record.get("writable", self._writers)
        elif record.get("probe") == ProbeKind.capacity and record.get("region"):
            self._capacity[record["region"]] = {k: record.get(k) for k in ("instances", "ready", "max_instances",
                                                                           "utilisation", "at_s")}

    def snapshot(self, now: float) -> dict:
        """The console's view (gameday.console): per-second health latency percentiles and success shares, the
        serving region, the writers, capacity per region and each stop condition's current value."""
        per_second: dict[int, dict] = {}
        for r in list(self._series):
            at = r.get("at_s") or r.get("sent_s")
            if at is None:
                continue
            second = per_second.setdefault(int(at), {"lat": [], "reads": 0, "reads_ok": 0, "writes": 0,
                                                     "writes_ok": 0})
            if r.get("probe") == ProbeKind.health:
                second["reads"] += 1
                second["reads_ok"] += not failed(r)
                if r.get("latency_ms") is not None:
                    second["lat"].append(r["latency_ms"])
            else:
                second["writes"] += 1
                second["writes_ok"] += not failed(r)
        series = []
        for t in sorted(per_second):
            s = per_second[t]
            lat = sorted(s["lat"])

            def q(p: int, lat=lat):
                return lat[max(0, -(-len(lat) * p // 100) - 1)] if lat else None
            series.append({"t_s": t, "p50_ms": q(50), "p95_ms": q(95), "p99_ms": q(99), "reads": s["reads"],
                           "read_errors": s["reads"] - s["reads_ok"], "writes": s["writes"],
                           "write_errors": s["writes"] - s["writes_ok"]})
        guards = [{**g, "breached": self.breach is not None and self.breach.startswith(
            "stop condition breached: " + g["condition"])} for g in self._guard_view]
        return {"series": series, "served_region": self._served, "writers": self._writers,
                "capacity": dict(self._capacity), "stop_conditions": guards, "breach": self.breach,
                "started_s": self._begun_s}

    def status_fields(self, now: float) -> dict:
        """The status of the last PRINT_EVERY_S: phase, countdown, progress, elapsed, ETA, serving region, shares
        of reads ok and writes acked, P95 of the health reads, failed probes."""
        while (self._recent
               and (self._recent[0].get("at_s") or self._recent[0].get("sent_s") or 0) < now - PRINT_EVERY_S):
            self._recent.popleft()
        recent = list(self._recent)
        health, canary = of_kind(recent, ProbeKind.health), of_kind(recent, ProbeKind.canary)
        latencies = sorted(r["latency_ms"] for r in health if r.get("latency_ms") is not None)
        p95 = latencies[max(0, -(-len(latencies) * 95 // 100) - 1)] if latencies else None

        def succeeded(records: list[dict]) -> str:
            return f"{sum(1 for r in records if not failed(r)) / len(records):.0%}" if records else "n/a"

        timed = self.phase_ends is not None and self.phase_ends[0] == self.phase
        return {"phase": self.phase, "phase_left_s": max(0.0, self.phase_ends[1] - now) if timed else None,
                "progress": self.progress, "elapsed_s": now - self._begun_s,
                "eta_left_s": max(0.0, self.eta_s - now) if self.eta_s is not None else None,
                "served": self._served, "reads_ok": succeeded(health), "writes_acked": succeeded(canary),
                "p95_ms": p95, "errors": sum(1 for r in recent if failed(r))}

    def status_line(self, now: float) -> str:
        """The plain status line (not a terminal: CI logs); its format is kept as it is."""
        f = self.status_fields(now)
        eta = f"ETA {f['eta_left_s']:5.0f}s  " if f["eta_left_s"] is not None else ""
        p95 = f"{f['p95_ms']:.0f} ms" if f["p95_ms"] is not None else "n/a"
        return (f"t+{f['elapsed_s']:6.1f}s  {eta}{f['phase']:<10} served={f['served'] or '?':<13} "
                f"reads ok {f['reads_ok']:>4}  writes acked {f['writes_acked']:>4}  "
                f"p95(health) {p95}")
