"""What one local reference stack is configured with: its ports, state directory, router tuning and environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from infra.local.layout import StackLayout


@dataclass(frozen=True)
class StackConfig:
    """A plain configuration object (the harness builds it from its settings: infra.targets.local.stack_config)."""

    dir: Path                                    # data, logs and the state file of this stack
    layout: StackLayout = field(default_factory=StackLayout)
    environment: str = "staging"                 # sets the API instance caps per region (infra.local.scaling)
    router_interval_s: float = 1.0
    router_failure_threshold: int = 3
    router_recovery_threshold: int = 2
    router_ttl_s: float = 0.0
    start_timeout_s: float = 60.0
