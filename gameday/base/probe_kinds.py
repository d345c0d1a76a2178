"""The kinds of record in probes.jsonl (each record's `probe` field): one per continuous sampler."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class ProbeKind(StrEnum):
    """What a probes.jsonl record is; the samplers write them (probes.samplers) and the analysis reads them."""

    health = "health"            # a GET /health through the entry point, `ok` or not (probes.entry_point)
    canary = "canary"            # a canary write, `outcome` acked | failed | uncertain (probes.entry_point)
    routing = "routing"          # the router's served and active region (probes.entry_point)
    writers = "writers"          # the regions whose database is writable (probes.pg)
    replication = "replication"  # one standby's replication lag (probes.pg)
    capacity = "capacity"        # one region gateway's capacity sample (probes.samplers)


#: The kinds whose every record is a success or a failure: a stop condition can judge their failure share.
JUDGED_KINDS = (ProbeKind.health, ProbeKind.canary)


def failed(record: dict) -> bool | None:
    """Whether a probe record is a failure; None for the kinds that say nothing about success."""
    kind = record.get("probe")
    if kind == ProbeKind.health:
        return not record.get("ok")
    if kind == ProbeKind.canary:
        return record.get("outcome") != "acked"
    return None


def of_kind(records: Iterable[dict], kind: ProbeKind) -> list[dict]:
    """The records of one kind, in their order."""
    return [r for r in records if r.get("probe") == kind]
