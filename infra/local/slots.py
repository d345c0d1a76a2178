"""Blue/green releases of a region's API: what a slot runs, and the health gate a new release must pass. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.local.layout import SLOTS

GATE_MAX_ERROR_RATE = 0.05
GATE_MAX_P95_MS = 200.0


@dataclass(frozen=True)
class Release:
    """A version in a slot, and the regression a deliberately "bad" version carries."""

    slot: str = "blue"
    version: str = "v1"
    error_rate: float = 0.0
    added_latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.slot not in SLOTS:
            raise ValueError(f"unknown slot {self.slot!r}; valid slots: {', '.join(SLOTS)}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be within 0..1, got {self.error_rate}")
        if self.added_latency_ms < 0:
            raise ValueError(f"added_latency_ms must be >= 0, got {self.added_latency_ms}")

    @property
    def label(self) -> str:
        return f"{self.slot}/{self.version}"

    def app_args(self) -> list[str]:
        """The API instance's command-line flags for this release."""
        return ["--slot", self.slot, "--version", self.version, "--error-rate", str(self.error_rate),
                "--added-latency-ms", str(self.added_latency_ms)]

    @classmethod
    def from_request(cls, body: dict) -> Release:
        """From a deploy request body: `version` (required), `error_rate`, `added_latency_ms`."""
        if not isinstance(body, dict) or not isinstance(body.get("version"), str) or not body["version"]:
            raise ValueError('body must be JSON like {"version": "v2", "error_rate": 0.0, "added_latency_ms": 0}')
        return cls(version=body["version"], error_rate=float(body.get("error_rate", 0.0)),
                   added_latency_ms=float(body.get("added_latency_ms", 0.0)))


def other_slot(slot: str) -> str:
    if slot not in SLOTS:
        raise ValueError(f"unknown slot {slot!r}; valid slots: {', '.join(SLOTS)}")
    return SLOTS[1 - SLOTS.index(slot)]


def gate_verdict(latencies_ms: list[float], errors: int, expected: int, *, max_error_rate: float = GATE_MAX_ERROR_RATE,
                 max_p95_ms: float = GATE_MAX_P95_MS) -> dict:
    """Pass when all `expected` probe requests ran, errors stay within the rate and P95 (nearest rank) within bound."""
    n = len(latencies_ms)
    p95 = sorted(latencies_ms)[max(0, math.ceil(0.95 * n) - 1)] if n else None
    error_rate = errors / n if n else 1.0
    passed = n >= expected and error_rate <= max_error_rate and p95 is not None and p95 <= max_p95_ms
    return {"passed": passed, "requests": n, "errors": errors, "error_rate": round(error_rate, 4),
            "p95_ms": round(p95, 2) if p95 is not None else None, "max_error_rate": max_error_rate,
            "max_p95_ms": max_p95_ms}
