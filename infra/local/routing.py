"""Pure failover-routing state (the Route 53 failover record): health counts, decision, TTL cache, history.

No I/O and no clock reads: every time is passed in as epoch seconds, so tests drive it with plain floats.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

DEFAULT_HISTORY_SIZE = 10_000
DEFAULT_SWITCHES_SIZE = 1_000


def iso_utc(at_s: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string (None stays None)."""
    if at_s is None:
        return None
    return datetime.fromtimestamp(at_s, tz=UTC).isoformat()


@dataclass(frozen=True)
class CheckResult:
    """One health check of one region: `status` is the HTTP status if one came back, `error` why not."""

    at_s: float
    region: str
    ok: bool
    status: int | None
    error: str | None
    latency_ms: float

    def as_dict(self) -> dict:
        return {**asdict(self), "at": iso_utc(self.at_s)}


@dataclass(frozen=True)
class Switch:
    """A change of the routing decision."""

    at_s: float
    from_region: str
    to_region: str
    reason: str

    def as_dict(self) -> dict:
        return {"at_s": self.at_s, "at": iso_utc(self.at_s), "from": self.from_region,
                "to": self.to_region, "reason": self.reason}


@dataclass
class RegionHealth:
    """Health-check counters of one region; every region starts healthy, as Route 53 health checks do."""

    name: str
    healthy: bool = True
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last_check_at_s: float | None = None
    last_ok_at_s: float | None = None

    def as_dict(self) -> dict:
        return {"healthy": self.healthy, "consecutive_failures": self.consecutive_failures,
                "consecutive_successes": self.consecutive_successes,
                "last_check_at": self.last_check_at_s, "last_check_at_iso": iso_utc(self.last_check_at_s),
                "last_ok_at": self.last_ok_at_s, "last_ok_at_iso": iso_utc(self.last_ok_at_s)}


def decide(regions: Sequence[str], healthy: dict[str, bool], override: str | None) -> str:
    """The failover decision: override, else the primary (first) while healthy, else the first healthy
    secondary, else the primary (fail open, as Route 53 does when every record is unhealthy)."""
    if override is not None:
        return override
    for region in regions:
        if healthy[region]:
            return region
    return regions[0]


class RoutingTable:
    """Health state of the regions and the routing decision derived from it (first region = primary)."""

    def __init__(self, regions: Sequence[str], *, failure_threshold: int = 3, recovery_threshold: int = 2,
                 ttl_s: float = 0.0, history_size: int = DEFAULT_HISTORY_SIZE,
                 switches_size: int = DEFAULT_SWITCHES_SIZE):
        if not regions:
            raise ValueError("a routing table needs at least one region")
        if len(set(regions)) != len(regions):
            raise ValueError(f"duplicate region in {list(regions)}")
        if failure_threshold < 1 or recovery_threshold < 1:
            raise ValueError(f"thresholds must be >= 1 (failure_threshold={failure_threshold}, "
                             f"recovery_threshold={recovery_threshold})")
        if ttl_s < 0:
            raise ValueError(f"ttl_s must be >= 0, got {ttl_s}")
        self.regions: tuple[str, ...] = tuple(regions)
        self.failure_threshold = failure_threshold
        self.recovery_threshold = recovery_threshold
        self.ttl_s = float(ttl_s)
        self.health = {name: RegionHealth(name) for name in self.regions}
        self.override: str | None = None
        self.checks: deque[CheckResult] = deque(maxlen=history_size)
        self.switches: deque[Switch] = deque(maxlen=switches_size)
        self.active_region = self.regions[0]
        self._served: str | None = None
        self._served_at_s = 0.0

    @property
    def primary(self) -> str:
        return self.regions[0]

    def check_region(self, region: str | None) -> None:
        """Raise ValueError naming the valid regions unless `region` is one of them."""
        if not isinstance(region, str) or region not in self.health:
            raise ValueError(f"unknown region {region!r}; valid regions: {', '.join(self.regions)}")

    def record_check(self, region: str, ok: bool, at_s: float, *, status: int | None = None,
                     error: str | None = None, latency_ms: float = 0.0) -> Switch | None:
        """Count one health-check result; returns the switch it caused, if any."""
        self.check_region(region)
        self.checks.append(CheckResult(at_s, region, ok, status, error, latency_ms))
        health = self.health[region]
        health.last_check_at_s = at_s
        if ok:
            health.last_ok_at_s = at_s
            health.consecutive_successes += 1
            health.consecutive_failures = 0
            if not health.healthy and health.consecutive_successes >= self.recovery_threshold:
                health.healthy = True
                return self._decide(at_s, f"{region} healthy after {health.consecutive_successes} "
                                          f"consecutive successful checks")
        else:
            health.consecutive_failures += 1
            health.consecutive_successes = 0
            if health.healthy and health.consecutive_failures >= self.failure_threshold:
                health.healthy = False
                cause = error if error is not None else f"HTTP {status}"
                return self._decide(at_s, f"{region} unhealthy after {health.consecutive_failures} "
                                          f"consecutive failed checks (last: {cause})")
        return None

    def set_override(self, region: str | None, at_s: float) -> Switch | None:
        """Force `region` (None clears the override and restores automatic routing)."""
        if region is not None:
            self.check_region(region)
        self.override = region
        reason = f"override set to {region}" if region is not None else "override cleared"
        return self._decide(at_s, reason)

    def _decide(self, at_s: float, reason: str) -> Switch | None:
        healthy = {name: h.healthy for name, h in self.health.items()}
        new = decide(self.regions, healthy, self.override)
        if new == self.active_region:
            return None
        switch = Switch(at_s, self.active_region, new, reason)
        self.active_region = new
        self.switches.append(switch)
        return switch

    def served_region(self, now_s: float) -> str:
        """The decision as a DNS client caching it for ttl_s sees it (0 = always the current one)."""
        if self.ttl_s <= 0:
            return self.active_region
        if self._served is None or now_s - self._served_at_s >= self.ttl_s or now_s < self._served_at_s:
            self._served = self.active_region
            self._served_at_s = now_s
        return self._served

    def checks_since(self, since_s: float | None = None) -> list[CheckResult]:
        """Health-check results at or after `since_s` (all kept ones when None), oldest first."""
        if since_s is None:
            return list(self.checks)
        return [c for c in self.checks if c.at_s >= since_s]

    def status(self, now_s: float) -> dict:
        """JSON-able snapshot of the state; `served_region` is what a request arriving at `now_s` gets."""
        return {"primary": self.primary, "active_region": self.active_region,
                "served_region": self.served_region(now_s), "override": self.override, "ttl_s": self.ttl_s,
                "failure_threshold": self.failure_threshold, "recovery_threshold": self.recovery_threshold,
                "regions": {name: h.as_dict() for name, h in self.health.items()},
                "switches": [s.as_dict() for s in self.switches]}


def checks_as_dicts(checks: Iterable[CheckResult]) -> list[dict]:
    return [c.as_dict() for c in checks]
