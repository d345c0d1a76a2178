"""The target seam: the one Protocol every driver (local reference stack, AWS, a test driver) implements whole.

Everything the harness asks of a target is listed here, grouped as lifecycle, faults, remediations, probes and
experiment checks; nothing outside `infra/targets/` branches on a target's name. The registry
(`infra.targets.registry`) refuses a driver that misses a member, naming it.

Conventions: every action returns a JSON-able dict saying what it did, with epoch-second timestamps (`at_s`).
Recoveries are idempotent: safe in rollbacks and from `gameday recover`. A fault a driver has no meaning for
raises InvalidInput, and its `check` refuses it first, before anything is touched. The fault catalogue
(`gameday.base.catalogue`) names which of the fault and remediation methods make and undo each fault kind.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from gameday.base.settings import Settings
from gameday.base.write_ahead import DEFAULT_RECOVERY

# A driver's `write_ahead` callback takes DEFAULT_RECOVERY ("the catalogue's recovery": the driver knows no more
# exact one), None ("nothing to undo") or the exact recovery (previous values included).

Problems = list[tuple[str, str]]  # (argument name, "" for the activity, or FUNC for the function itself; message)
FUNC = "<func>"


class _Unresolved:
    def __repr__(self) -> str:
        return "UNRESOLVED"


#: An activity argument known only at run time (`${key}` from an environment or secret configuration value).
UNRESOLVED = _Unresolved()


@dataclass(frozen=True)
class TargetOptions:
    """What the command line (or a child's environment) says about the target of a run."""

    profile: Path | None = None          # a target profile (YAML), for drivers that need one
    confirm_account: str | None = None   # confirmation for acting on production
    dry_run: bool = False                # record every change, send none
    state_root: Path | None = None       # where the driver keeps its ledger (default: the settings' stack root)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplerSources:
    """What the run's continuous samplers read besides the entry point (empty: not available on this target)."""

    pg_ports: dict[str, int] = field(default_factory=dict)        # region -> database port (writers, lag)
    capacity_urls: dict[str, str] = field(default_factory=dict)   # region -> gateway URL (/_region/capacity)
    routing: bool = False                                         # the router's status can be sampled
    canary_url: str | None = None          # where the canary writes go (None: the entry point's /writes)
    # A new connection (so a new DNS lookup) for every probe: a DNS failover is measured, not connection reuse
    fresh_connections: bool = False


@dataclass(frozen=True)
class DetectionTiming:
    """How long the target takes to notice a dead region and steer clients away from it: health checks every
    `check_interval_s`, `failure_threshold` failures in a row, then resolvers keep the old answer for `dns_ttl_s`.
    A fault's hold shorter than `reroute_s` ends before the target could have reacted (gameday.holds)."""

    check_interval_s: float
    failure_threshold: int
    dns_ttl_s: float
    source: str                          # where the figures come from, for the run's notes

    @property
    def detection_s(self) -> float:
        return self.check_interval_s * self.failure_threshold

    @property
    def reroute_s(self) -> float:
        return self.detection_s + self.dns_ttl_s


class Target(Protocol):
    """One target a GameDay acts on."""

    # --- identity and capabilities -----------------------------------------------------------------
    name: ClassVar[str]
    needs_profile: ClassVar[bool]        # `configure` refuses without options.profile
    records_dry_runs: ClassVar[bool]     # a dry run walks the experiment against the driver (else: prints the plan)
    replays_without_ledger: ClassVar[bool]  # an undo with no open ledger entry still runs the catalogue's recovery
    dry_run: bool
    ledger_path: Path                    # the fault ledger that outlives runs (infra.targets.ledger_for)
    ledger_store: Any                    # gameday.base.ledger.LedgerStore holding it instead (None: the file)
    entry_url: str                       # the public entry point the load, the canary and the health probe use
    edge_url: str | None                 # the CDN the static journeys load from (None: the entry point serves them)

    # --- lifecycle ---------------------------------------------------------------------------------
    @classmethod
    def configure(cls, options: TargetOptions) -> Any:
        """Read and check what the driver needs from the options (e.g. its profile), touching nothing; InvalidInput
        when something is missing or wrong. The answer is what `check` is given."""

    @classmethod
    def check(cls, activity: str, args: dict, config: Any) -> Problems:
        """The problems of Chaos Toolkit activity `activity` (`module.func`) with `args` on this target (arguments
        not known before run time are `UNRESOLVED`); [] when it can be carried out."""

    @classmethod
    def open(cls, settings: Settings, options: TargetOptions) -> Target:
        """The driver for a run (cheap: no call is made; `preflight` checks)."""

    @classmethod
    def from_environment(cls, settings: Settings, configuration: dict) -> Target:
        """The driver a Chaos Toolkit activity in the run's child acts on (from `child_env` and `gameday_*` keys)."""

    def describe(self) -> str: ...                                   # one line: what this driver acts on
    def preflight(self) -> dict: ...                                 # before anything is touched (InvalidInput)
    def prepare(self, progress: Callable[[str], None]) -> dict: ...  # bring up what a run needs; preflight included
    def child_env(self) -> dict[str, str]: ...                       # how the run's children reach this target
    def write_ahead(self, callback: Callable[[dict | None], None]) -> AbstractContextManager: ...
    def exclusive(self, run_id: str, duration_s: float) -> AbstractContextManager: ...  # a lease beyond this machine
    def dry_run_summary(self) -> dict: ...                           # after a dry-run walk: what was (not) sent
    def reference_problems(self) -> list[str]: ...  # how the target differs from its reference topology ([]: none)
    def restore_reference(self) -> dict: ...        # bring it back to the reference topology (after a crash)

    # --- faults (gameday.base.catalogue) -------------------------------------------------------------
    def fail_region(self, region: str, mode: str) -> dict: ...
    def restore_region(self, region: str, **recorded) -> dict: ...
    def cut_link(self, link: str) -> dict: ...
    def restore_link(self, link: str, **recorded) -> dict: ...
    def add_latency(self, link: str, ms: float, jitter_ms: float = 0.0) -> dict: ...
    def remove_latency(self, link: str, **recorded) -> dict: ...
    def limit_bandwidth(self, link: str, rate_kb_s: int) -> dict: ...
    def remove_bandwidth_limit(self, link: str, **recorded) -> dict: ...
    def inject_http_error(self, link: str, status: int, probability: float = 1.0) -> dict: ...
    def remove_http_error(self, link: str, **recorded) -> dict: ...
    def kill_db_writer(self, restore_writer: bool = False) -> dict: ...  # True: the undo brings the old writer back
    def flush_cache(self, region: str) -> dict: ...
    def silence_alarm(self, alarm: str) -> dict: ...   # the monitoring's alarm no longer evaluated (detection gap)
    def restore_alarm(self, alarm: str, **recorded) -> dict: ...

    # --- remediations --------------------------------------------------------------------------------
    def promote_secondary(self, allow_data_loss: bool = False) -> dict: ...  # True: the primary region is lost
    def restore_writer(self) -> dict: ...  # after kill_db_writer: a writer again, this target's way (no DR move)
    def failback(self) -> dict: ...
    def deploy(self, region: str, version: str, error_rate: float = 0.0, added_latency_ms: float = 0.0,
               force: bool = False) -> dict: ...   # `changed: False` when nothing went live (a refusing gate)
    def rollback_deployment(self, region: str, version: str | None = None, **recorded) -> dict: ...
    def release_watch_url(self, region: str) -> str: ...   # what a regression watcher reads for `region`

    # --- probes --------------------------------------------------------------------------------------
    def writer_regions(self) -> list[str]: ...
    def served_region(self) -> str: ...
    def region_capacity(self, region: str) -> dict: ...
    def surviving_writes(self, since_seq: int) -> dict | None: ...  # {"seqs", "writer_region"}; None: unmeasurable
    def sampler_sources(self) -> SamplerSources: ...
    def detection_timing(self) -> DetectionTiming: ...  # what a hold must outlast (read from the target's config)
    # The monitoring's alarms since `since_s` (epoch s): {"source", "alarms": {name: definition and state},
    # "changes": [{alarm, from, to, at_s, reason, period_s}], "deliveries": [{channel, received_s, alarm, to}] or
    # None (notifications not observable)}; None when the target's monitoring cannot be read.
    def alarm_record(self, since_s: float) -> dict | None: ...


__all__ = ["Target", "TargetOptions", "SamplerSources", "Problems", "FUNC", "UNRESOLVED", "DEFAULT_RECOVERY", "MEMBERS"]

#: Every member a driver must offer (checked when it registers).
MEMBERS: tuple[str, ...] = tuple(
    name for name in (*Target.__annotations__, *vars(Target)) if not name.startswith("_"))
