"""Stop conditions evaluated over the live probe records. Pure: the runner feeds records and the clock."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gameday.base.models import StopCondition
from gameday.base.probe_kinds import JUDGED_KINDS, failed

OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
       "==": lambda a, b: a == b}


@dataclass
class Guard:
    """One stop condition with the records of its window; `breached(now)` says when to abort."""

    condition: StopCondition
    _records: deque = field(default_factory=deque)
    _holding_since: float | None = None

    def observe(self, record: dict) -> None:
        probe = record.get("probe")
        wanted = self.condition.probe if self.condition.metric == "probe" else None
        if wanted is not None and probe != wanted:
            return
        if self.condition.metric != "probe" and probe not in JUDGED_KINDS:
            return
        at = record.get("at_s", record.get("sent_s"))
        if at is not None:
            self._records.append((at, record))

    def value(self, now_s: float) -> float | None:
        """The metric over the last window_s, or None without data."""
        while self._records and self._records[0][0] < now_s - self.condition.window_s:
            self._records.popleft()
        records = [r for _, r in self._records]
        if self.condition.metric == "p95_ms":
            latencies = sorted(r["latency_ms"] for r in records if r.get("latency_ms") is not None)
            return latencies[max(0, -(-len(latencies) * 95 // 100) - 1)] if latencies else None
        verdicts = [f for f in (failed(r) for r in records) if f is not None]
        return sum(verdicts) / len(verdicts) if verdicts else None

    def breached(self, now_s: float) -> bool:
        value = self.value(now_s)
        if value is None or not OPS[self.condition.op](value, self.condition.threshold):
            self._holding_since = None
            return False
        if self._holding_since is None:
            self._holding_since = now_s
        return now_s - self._holding_since >= self.condition.for_s

    def describe(self, now_s: float) -> str:
        c = self.condition
        name = f"{c.probe} failure share" if c.metric == "probe" else c.metric
        return (f"stop condition breached: {name} {c.op} {c.threshold} for {c.for_s:g} s "
                f"(measured {self.value(now_s)!r} over the last {c.window_s:g} s)")
