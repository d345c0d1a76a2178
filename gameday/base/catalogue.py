"""The fault catalogue: every kind of fault the harness can make, in one table.

A row says which driver call makes the fault (`inject`), which driver call undoes it and with which of the
injection's arguments (`recover`, `recover_args`; the recovery written ahead to the fault ledger unless the driver
knows a more exact one, e.g. AWS's previous values), whether it is a disaster that starts the RTO clock, and which
metric families see it. The fault actions (gameday.faults), the deployment actions (remediations.deploy), the
ledger replay and the analysis (reports) all read this table; a new fault kind is one row here plus the drivers'
methods (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Affects(StrEnum):
    """Metric families a fault is seen by (besides the load's latency and errors, which see every fault)."""

    recovery = "recovery"   # RTO/RPO: the fault is a disaster that starts the clock at its injection (t0)
    cache = "cache"         # cache hit rate and warm-up: the cache recovers when the fault ends
    deployment = "deployment"  # deploy detect/restore times


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: how it is made and undone, and what it means for the analysis."""

    kind: str                        # the fault ledger's `kind`
    inject: str                      # the driver method that makes it
    recover: str | None              # the driver method that undoes it; None: nothing to undo (it heals itself)
    recover_args: tuple[str, ...] = ()  # the injection's arguments the recovery is called with
    affects: frozenset[Affects] = frozenset()
    subject_prefix: str = ""         # the metric families see it only on subjects starting so (e.g. `cache-`)
    summary: str = ""

    @property
    def disaster(self) -> bool:
        """A disaster (a region or writer lost) starts the RTO clock; other faults only prepare or degrade."""
        return Affects.recovery in self.affects

    def recovery(self, args: dict) -> dict | None:
        """The recovery to write ahead: the undo call with the injection's arguments it needs (None: none)."""
        if self.recover is None:
            return None
        return {"call": self.recover, "args": {name: args[name] for name in self.recover_args if name in args}}

    def sees(self, family: Affects, subject: str) -> bool:
        """Whether metric `family` sees this fault on `subject`."""
        return family in self.affects and str(subject).startswith(self.subject_prefix)


FAULTS: dict[str, FaultKind] = {f.kind: f for f in (
    FaultKind("region_outage", "fail_region", "restore_region", ("region",), frozenset({Affects.recovery}),
              summary="a region cut off (partition) or powered off; on aws a Route 53 or FIS region failure"),
    FaultKind("db_writer_kill", "kill_db_writer", "restore_region", ("region",), frozenset({Affects.recovery}),
              summary="the writer database lost (local SIGKILL; aws cluster failover)"),
    FaultKind("link_cut", "cut_link", "restore_link", ("link",), frozenset({Affects.cache}), subject_prefix="cache-",
              summary="a fault-proxy link disabled (aws: a kill switch, a cache failover or an origin deny)"),
    FaultKind("latency", "add_latency", "remove_latency", ("link",), summary="latency added to every chunk on a link"),
    FaultKind("bandwidth", "limit_bandwidth", "remove_bandwidth_limit", ("link",),
              summary="a link's throughput capped (KB/s), each direction"),
    FaultKind("http_error", "inject_http_error", "remove_http_error", ("link",),
              summary="HTTP requests on a link answered with a status code, with a probability"),
    FaultKind("cache_flush", "flush_cache", None, (), frozenset({Affects.cache}), subject_prefix="cache-",
              summary="a region's cache emptied (a replaced node); it refills itself"),
    FaultKind("alarm_silenced", "silence_alarm", "restore_alarm", ("alarm",),
              summary="a monitoring alarm no longer evaluated (deleted, never deployed): the detection gap"),
    FaultKind("deployment", "deploy", "rollback_deployment", ("region", "version"),
              frozenset({Affects.deployment}), summary="a release made live in a region (it may be a bad one)"),
)}

def fault_kind(kind: str) -> FaultKind:
    """The catalogue row of `kind`; KeyError naming the known kinds."""
    try:
        return FAULTS[kind]
    except KeyError:
        raise KeyError(f"fault kind {kind!r} is not in the catalogue; known kinds: {', '.join(FAULTS)}") from None


def undone_by(call: str) -> tuple[str, ...]:
    """The fault kinds whose recovery is driver call `call` (e.g. `restore_region` undoes outages and kills)."""
    return tuple(f.kind for f in FAULTS.values() if f.recover == call)


def disaster_kinds() -> tuple[str, ...]:
    """The kinds that start the RTO clock."""
    return tuple(f.kind for f in FAULTS.values() if f.disaster)


def seen_by(family: Affects, window: dict) -> bool:
    """Whether metric `family` sees the fault window `window` (a ledger fault window: kind, target)."""
    row = FAULTS.get(window.get("kind", ""))
    return row is not None and row.sees(family, window.get("target", ""))


def driver_calls() -> tuple[str, ...]:
    """Every driver method the catalogue names (injections and recoveries): the target seam must offer them."""
    calls = [f.inject for f in FAULTS.values()] + [f.recover for f in FAULTS.values() if f.recover]
    return tuple(dict.fromkeys(calls))
