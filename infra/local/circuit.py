"""Pure circuit breaker and exponential backoff schedule for the AI gateway (time is passed in, never read).

    closed --N consecutive failures--> open --cool-down elapsed, one probe allowed--> half_open
    half_open --probe succeeds--> closed        half_open --probe fails--> open (cool-down restarts)

Callers ask `allow(now_s)` before a call and report `record_success(now_s)` / `record_failure(now_s)`
after it. While half-open exactly one probe is let through; if its result never arrives (the caller
was cancelled) another probe is granted once a further cool-down has passed, so the breaker cannot
stick half-open.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

HISTORY_LIMIT = 256  # transitions kept per breaker; a flapping provider must not grow memory without bound


class BreakerState(StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Transition:
    """One state change: when (the caller's clock, seconds), from, to, and why."""

    at_s: float
    from_state: BreakerState
    to_state: BreakerState
    reason: str

    def as_dict(self) -> dict:
        return {"at_s": self.at_s, "from": self.from_state.value, "to": self.to_state.value, "reason": self.reason}


class CircuitBreaker:
    """Closed -> open after `failure_threshold` consecutive failures; one half-open probe after `cool_down_s`."""

    def __init__(self, name: str, *, failure_threshold: int = 3, cool_down_s: float = 5.0):
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int) or failure_threshold < 1:
            raise ValueError(f"breaker {name!r}: failure_threshold must be an integer >= 1, not {failure_threshold!r}")
        if not cool_down_s >= 0:
            raise ValueError(f"breaker {name!r}: cool_down_s must be >= 0, not {cool_down_s!r}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cool_down_s = float(cool_down_s)
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.opened_at_s: float | None = None
        self.probe_started_at_s: float | None = None
        self.history: deque[Transition] = deque(maxlen=HISTORY_LIMIT)

    def _move(self, to_state: BreakerState, now_s: float, reason: str) -> None:
        self.history.append(Transition(now_s, self.state, to_state, reason))
        self.state = to_state

    def allow(self, now_s: float) -> bool:
        """Whether a call may go out now; may move open -> half-open and hand out the one probe."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if now_s - self.opened_at_s < self.cool_down_s:
                return False
            self._move(BreakerState.HALF_OPEN, now_s, f"cool-down of {self.cool_down_s:g} s elapsed; probing")
            self.probe_started_at_s = now_s
            return True
        # Half-open: one probe at a time; a probe whose result never came back is replaced after a cool-down.
        if now_s - self.probe_started_at_s >= self.cool_down_s:
            self.probe_started_at_s = now_s
            return True
        return False

    def record_success(self, now_s: float) -> None:
        """A call succeeded: resets the failure count; a half-open probe closes the breaker."""
        self.consecutive_failures = 0
        if self.state is BreakerState.HALF_OPEN:
            self._move(BreakerState.CLOSED, now_s, "probe succeeded")
            self.opened_at_s = self.probe_started_at_s = None

    def record_failure(self, now_s: float, kind: str = "failure") -> None:
        """A call failed (`kind` names how, for the history); may open or re-open the breaker."""
        if self.state is BreakerState.OPEN:
            return  # a late answer of a call sent before the breaker opened: it is open already
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self._move(BreakerState.OPEN, now_s, f"probe failed ({kind})")
            self.opened_at_s, self.probe_started_at_s = now_s, None
        elif self.consecutive_failures >= self.failure_threshold:
            self._move(BreakerState.OPEN, now_s, f"{self.consecutive_failures} consecutive failures (last: {kind})")
            self.opened_at_s = now_s

    def as_dict(self) -> dict:
        return {"name": self.name, "state": self.state.value, "consecutive_failures": self.consecutive_failures,
                "failure_threshold": self.failure_threshold, "cool_down_s": self.cool_down_s,
                "opened_at_s": self.opened_at_s, "transitions": [t.as_dict() for t in self.history]}


def backoff_delay_s(attempt: int, *, base_s: float, factor: float = 2.0, cap_s: float,
                    jitter: float = 0.0, rng: random.Random | None = None) -> float:
    """Delay before retry `attempt` (0-based): min(cap, base * factor**attempt), less up to `jitter` of it.

    `jitter` is a fraction in [0, 1]: the delay is drawn uniformly from [(1 - jitter) * d, d] with
    `rng`, so it never exceeds the un-jittered delay nor the cap.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be an integer >= 0, not {attempt!r}")
    if not (base_s >= 0 and cap_s >= 0 and factor >= 1):
        raise ValueError(f"backoff needs base_s >= 0, cap_s >= 0, factor >= 1; got {base_s!r}, {cap_s!r}, {factor!r}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be a fraction from 0 to 1, not {jitter!r}")
    if jitter > 0 and rng is None:
        raise ValueError("jitter needs an rng (a random.Random): the schedule reads no global randomness")
    try:
        delay = min(base_s * factor ** attempt, cap_s)
    except OverflowError:  # factor**attempt beyond float range: long past the cap
        delay = cap_s if base_s > 0 else 0.0
    if jitter > 0:
        delay *= 1.0 - jitter * rng.random()
    return delay


def backoff_schedule(attempts: int, *, base_s: float, factor: float = 2.0, cap_s: float,
                     jitter: float = 0.0, rng: random.Random | None = None) -> list[float]:
    """The first `attempts` delays of `backoff_delay_s`."""
    return [backoff_delay_s(i, base_s=base_s, factor=factor, cap_s=cap_s, jitter=jitter, rng=rng)
            for i in range(attempts)]
