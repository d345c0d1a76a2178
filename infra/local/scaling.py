"""Target-tracking autoscaling of a region's API instances (the provisioned-concurrency analogue). Pure.

Utilisation = in-flight requests / (instances x concurrency per instance), averaged over a window. The
policy asks for ceil(instances x utilisation / target) instances, within [min, max], scaling out at once
after the scale-out cooldown and in one instance at a time after the scale-in cooldown, as AWS target
tracking does.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ScalingPolicy:
    min_instances: int = 1
    max_instances: int = 4
    target_utilisation: float = 0.7
    concurrency_per_instance: int = 16
    scale_out_cooldown_s: float = 2.0
    scale_in_cooldown_s: float = 5.0
    window_s: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_instances <= self.max_instances:
            raise ValueError(f"scaling policy needs 1 <= min_instances <= max_instances, got "
                             f"{self.min_instances}..{self.max_instances}")
        if not 0 < self.target_utilisation <= 1:
            raise ValueError(f"target_utilisation must be in (0, 1], got {self.target_utilisation}")
        if self.concurrency_per_instance < 1:
            raise ValueError(f"concurrency_per_instance must be >= 1, got {self.concurrency_per_instance}")

    def as_dict(self) -> dict:
        return asdict(self)


ENVIRONMENT_CAPS = {"dev": (1, 2), "staging": (1, 4), "prod": (2, 6)}
"""Instance caps per environment (the stack's PC budgets, scaled down to a 2-core machine)."""


def policy_for(environment: str, **overrides) -> ScalingPolicy:
    if environment not in ENVIRONMENT_CAPS:
        raise ValueError(f"unknown environment {environment!r}; valid: {', '.join(ENVIRONMENT_CAPS)}")
    low, high = ENVIRONMENT_CAPS[environment]
    return ScalingPolicy(**{"min_instances": low, "max_instances": high, **overrides})


def desired_instances(policy: ScalingPolicy, current: int, utilisation: float) -> int:
    """What target tracking asks for, before cooldowns: within [min, max]."""
    wanted = math.ceil(round(current * utilisation / policy.target_utilisation, 9)) if current else policy.min_instances
    return max(policy.min_instances, min(policy.max_instances, wanted))


@dataclass
class Autoscaler:
    """Keeps the in-flight window and the cooldown clocks; `decide` says how many instances to run now."""

    policy: ScalingPolicy
    last_scale_out_s: float = float("-inf")
    last_scale_in_s: float = float("-inf")

    def __post_init__(self) -> None:
        self._window: deque[tuple[float, int]] = deque()

    def observe(self, at_s: float, in_flight: int) -> None:
        self._window.append((at_s, in_flight))
        while self._window and self._window[0][0] < at_s - self.policy.window_s:
            self._window.popleft()

    def utilisation(self, instances: int) -> float:
        if not self._window or instances <= 0:
            return 0.0
        mean = sum(n for _, n in self._window) / len(self._window)
        return mean / (instances * self.policy.concurrency_per_instance)

    def decide(self, at_s: float, current: int) -> int:
        """The instance count to run from `at_s` on (== current when nothing should change)."""
        if current < self.policy.min_instances or current > self.policy.max_instances:
            return max(self.policy.min_instances, min(self.policy.max_instances, current))
        wanted = desired_instances(self.policy, current, self.utilisation(current))
        if wanted > current and at_s - self.last_scale_out_s >= self.policy.scale_out_cooldown_s:
            self.last_scale_out_s = at_s
            return wanted
        recent = max(self.last_scale_out_s, self.last_scale_in_s)
        if wanted < current and at_s - recent >= self.policy.scale_in_cooldown_s:
            self.last_scale_in_s = at_s
            return current - 1
        return current
