"""The kinds of probes.jsonl record: each sampler writes one of ProbeKind, and only judged kinds have failures."""

from __future__ import annotations

import asyncio
import json

import httpx

from gameday.base.probe_kinds import JUDGED_KINDS, ProbeKind, failed, of_kind
from probes.entry_point import canary_probe, health_probe, routing_probe
from probes.pg import DbState, replication_records
from probes.samplers import capacity_records

T0 = 1_700_000_000.0


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/status":
        return httpx.Response(200, json={"served_region": "eu-west-1", "active_region": "eu-west-1", "switches": []})
    return httpx.Response(201 if request.method == "POST" else 200, headers={"X-Region": "eu-west-1"})


async def entry_point_records() -> list[dict]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://entry") as client:
        return [await health_probe(client, "/health", T0, 1.0, lambda: T0 + 0.01),
                await canary_probe(client, "/writes", 7, T0, 1.0, lambda: T0 + 0.01),
                await routing_probe(client, "/status", T0, 1.0)]


def every_kind_of_record() -> list[dict]:
    states = [DbState("eu-central-1", True, "0/3000060", None, None),
              DbState("eu-west-1", False, "0/3000060", "0/3000000", 0.2)]
    return (asyncio.run(entry_point_records()) + replication_records(T0, states)
            + capacity_records("eu-west-1", [{"at_s": T0 + 1, "instances": 2}], after_s=T0))


def test_every_sampler_writes_a_probe_kind_and_every_kind_is_written():
    records = every_kind_of_record()
    assert [r["probe"] for r in records] == [ProbeKind.health, ProbeKind.canary, ProbeKind.routing,
                                             ProbeKind.writers, ProbeKind.replication, ProbeKind.capacity]
    assert {r["probe"] for r in records} == set(ProbeKind)
    lines = [json.loads(json.dumps(r)) for r in records]       # as probes.jsonl stores and reads them back
    assert [len(of_kind(lines, kind)) for kind in ProbeKind] == [1] * len(ProbeKind)


def test_only_judged_kinds_have_a_failure():
    verdicts = {r["probe"]: failed(r) for r in every_kind_of_record()}
    assert verdicts == {ProbeKind.health: False, ProbeKind.canary: False, ProbeKind.routing: None,
                        ProbeKind.writers: None, ProbeKind.replication: None, ProbeKind.capacity: None}
    assert set(JUDGED_KINDS) == {kind for kind, verdict in verdicts.items() if verdict is not None}
    assert failed({"probe": "health", "ok": False}) and failed({"probe": "canary", "outcome": "uncertain"})
