"""Live view of a run: tails probes.jsonl, prints a status line every few seconds, evaluates stop conditions."""

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


class LiveMonitor(threading.Thread):
    """`breach` turns into a message when a stop condition is breached; `phase` is set by the runner."""

    def __init__(self, probes_path: Path, conditions: list[StopCondition], echo: Callable[[str], None],
                 resource_check: Callable[[], str | None] = lambda: None):
        """`resource_check` answers, once a second, a sentence when the run cannot go on (gameday.disk_guard)."""
        super().__init__(daemon=True, name="gameday-live")
        self.path = probes_path
        self.resource_check = resource_check
        self.guards = [Guard(c) for c in conditions]
        self.echo = echo
        self.phase = "starting"
        self.breach: str | None = None
        self._halt = threading.Event()
        self._recent: deque[dict] = deque()
        self._served: str | None = None
        self._begun_s = run_clock.now()

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=2)

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
            if now - last_print >= PRINT_EVERY_S:
                last_print = now
                self.echo(self.status_line(now))

    def _observe(self, record: dict) -> None:
        for guard in self.guards:
            guard.observe(record)
        if record.get("probe") == ProbeKind.routing:
            self._served = record.get("served_region") or self._served
        elif record.get("probe") in (ProbeKind.health, ProbeKind.canary):
            self._recent.append(record)

    def status_line(self, now: float) -> str:
        while (self._recent
               and (self._recent[0].get("at_s") or self._recent[0].get("sent_s") or 0) < now - PRINT_EVERY_S):
            self._recent.popleft()
        health, canary = of_kind(self._recent, ProbeKind.health), of_kind(self._recent, ProbeKind.canary)
        latencies = sorted(r["latency_ms"] for r in health if r.get("latency_ms") is not None)
        p95 = latencies[max(0, -(-len(latencies) * 95 // 100) - 1)] if latencies else None

        def succeeded(records: list[dict]) -> str:
            return f"{sum(1 for r in records if not failed(r)) / len(records):.0%}" if records else "n/a"

        return (f"t+{now - self._begun_s:6.1f}s  {self.phase:<10} served={self._served or '?':<13} "
                f"reads ok {succeeded(health):>4}  writes acked {succeeded(canary):>4}  "
                f"p95(health) {f'{p95:.0f} ms' if p95 is not None else 'n/a'}")
