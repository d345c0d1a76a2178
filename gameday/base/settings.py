"""Settings read once from the command line, the environment (prefix GAMEDAY_), `gameday.toml` and `[tool.gameday]`
in `pyproject.toml` (both in the working directory; first wins in that order); never deeper down.

    # gameday.toml (or [tool.gameday] in pyproject.toml): the field names below
    runs_dir = "gameday-runs"
    min_free_mb = 256
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gameday.base.ports import DEFAULT_BASE_PORT, DEFAULT_ROUTER_PORT, DEFAULT_TOXIPROXY_PORT


def _default_stack_root() -> Path:
    # Under /tmp, not $HOME: Postgres runs as its own OS user and must reach its data directory.
    return Path("/tmp") / f"gameday-{os.getuid()}"


class Settings(BaseSettings):
    """Everything a `gameday` invocation may be configured with; env vars are GAMEDAY_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="GAMEDAY_", frozen=True, extra="ignore", toml_file="gameday.toml",
                                      pyproject_toml_table_header=("tool", "gameday"))

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls),
                PyprojectTomlConfigSettingsSource(settings_cls, Path("pyproject.toml")))

    router_port: int = Field(DEFAULT_ROUTER_PORT, ge=1, le=65535)
    toxiproxy_port: int = Field(DEFAULT_TOXIPROXY_PORT, ge=1, le=65535)
    base_port: int = Field(DEFAULT_BASE_PORT, ge=1024, le=65000)
    stack_root: Path = Field(default_factory=_default_stack_root)
    runs_dir: Path = Path("runs")
    min_free_mb: float = Field(64.0, ge=0)
    """A run aborts (rollbacks run, exit code 3) when its run directory's file system has less free space."""

    environment: Literal["dev", "staging", "prod"] = "staging"
    """Sets the API instance caps per region (see infra/local/scaling.py ENVIRONMENT_CAPS)."""
    router_interval_s: float = Field(1.0, gt=0)
    router_failure_threshold: int = Field(3, ge=1)
    router_recovery_threshold: int = Field(2, ge=1)
    router_ttl_s: float = Field(0.0, ge=0)
    start_timeout_s: float = Field(60.0, gt=0)
    detection_holds: bool = True
    notify_webhook_url: SecretStr | None = None
    """A Slack-compatible incoming webhook for GameDay results (gameday.notify); a secret: never printed."""
    prometheus_pushgateway: str | None = None
    """Push each run's headline results to this Prometheus Pushgateway (gameday.export)."""
    export_emf: bool = False
    """Write each run's per-second figures as CloudWatch embedded metric format (metrics.emf.jsonl)."""
    otlp_endpoint: str | None = None
    """Send each run's headline results and per-second figures to this OpenTelemetry collector (OTLP/HTTP, e.g.
    http://collector:4318; POST <endpoint>/v1/metrics)."""
    chaos_settings: Path | None = None
    """The user's Chaos Toolkit settings merged into each run's (default ~/.chaostoolkit/settings.yaml)."""
    fault_max_s: float = Field(3600.0, gt=0)
    """The longest a fault may last: on AWS its expiry schedule undoes it then (the runner sets it per run)."""
    max_replay_age_s: float = Field(6 * 3600.0, gt=0)
    """A run refuses to start while the ledger holds an open fault older than this: an old recovery is never
    replayed unattended (the target may have changed since); `gameday recover` replays it after a look."""
    """An experiment's `windows.detection_holds` are raised to the target's reroute time (gameday.holds);
    GAMEDAY_DETECTION_HOLDS=0 keeps every hold as written (the run says so)."""

    # The target a run's child processes act on (the run engine sets GAMEDAY_TARGET* for them); a name in the
    # target registry (infra.targets.registry), checked when the driver is opened.
    target: str = "local"
    target_profile: Path | None = Field(None, description="the AWS target profile (YAML) of an aws run")
    confirm_account: str | None = Field(None, description="--confirm-account: needed for a prod profile")
    dry_run: bool = False

    def as_env(self) -> dict[str, str]:
        """These settings as GAMEDAY_* variables, for a child process: it sees what this process resolved from
        its environment and settings files, whatever its working directory."""
        out = {}
        for name, value in self.model_dump().items():
            if value is not None and not isinstance(value, SecretStr):  # secrets stay in this process
                out[f"GAMEDAY_{name.upper()}"] = str(int(value)) if isinstance(value, bool) else str(value)
        return out

    @property
    def stack_dir(self) -> Path:
        """Where one stack keeps its data, logs and state file (one directory per router port)."""
        return self.stack_root / f"stack-{self.router_port}"
