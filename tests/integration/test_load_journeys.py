"""The real locustfile runs the `critical` flow against a real HTTP server whose AI step takes 200 ms and whose
write step fails now and then: each step is a request sample, each arrival one journey record timed whole."""

from __future__ import annotations

import threading
import time

import pytest

from gameday.load import LoadSpec, run_load
from reports.journeys import journey_stats, read_journeys
from reports.sample_files import read_samples
from reports.samples import nearest_rank
from scenarios.journeys import FLOW_STEPS
from scenarios.profiles import Profile
from tests.support import LoopbackHTTP

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AI_DELAY_S, FAIL_EVERY_NTH_WRITE, RATE_PER_S, DURATION_S = 0.2, 5, 10, 6
INDEX, ITEM, WRITE, AI = FLOW_STEPS["critical"]


@pytest.mark.parametrize("processes", [1, 2])   # 2: the workers ship their journeys to the master
def test_a_critical_journey_is_timed_whole_from_its_intended_start_and_fails_with_its_step(tmp_path, processes):
    writes, lock = [0], threading.Lock()

    def answer(method: str, path: str, body: bytes) -> tuple[int, dict]:
        if path == "/ai":
            time.sleep(AI_DELAY_S)
        if path == "/writes":
            with lock:
                writes[0] += 1
                if writes[0] % FAIL_EVERY_NTH_WRITE == 0:
                    return 500, {}
        return 200, {}

    profile = Profile.model_validate({"name": "journeys", "mix": {"critical": 1, "health": 1},
                                      "stages": [{"duration_s": DURATION_S, "rate_per_s": RATE_PER_S}]})
    with LoopbackHTTP(answer) as target:
        result = run_load(LoadSpec(profile=profile, target=target.url, out_dir=tmp_path / "run", timeout_s=90,
                                          processes=processes))
        received = list(target.requests)

    samples = read_samples(result.samples_dir)
    sent = samples[~samples["dropped"]]
    records = read_journeys(result.samples_dir)
    assert len(list(result.samples_dir.glob("journeys-*.json"))) == processes
    assert records is not None and set(records.frame["name"]) == {"critical"}
    j = records.frame
    # One journey per arrival of the flow: its first step's sample (sent or dropped) carries the same intended
    # start. Only a journey still in flight when the load stopped (Locust kills it, as it kills a request in
    # flight, which then has no sample either) has none: its first step began in the last second.
    firsts = samples[samples["name"] == INDEX]
    assert len(firsts) >= RATE_PER_S * DURATION_S / 4
    assert set(j["t_s"]) <= set(firsts["t_s"])
    cut = firsts[~firsts["t_s"].isin(set(j["t_s"]))]
    assert (cut["t_s"] > samples["t_s"].max() - 1.0).all() and len(cut) <= RATE_PER_S, cut
    # Every step is one request sample: the target's count, but for a request cut in flight by the stop.
    assert len(sent) == result.locust_requests
    assert 0 <= len(received) - len(sent) <= len(cut) + processes, (len(received), len(sent))

    # A failed write fails its journey, and the AI step after it is never sent.
    failed_writes = int((~sent[sent["name"] == WRITE]["ok"]).sum())
    started = j[~j["dropped"]]
    assert failed_writes > 0 and int((~started["ok"]).sum()) == failed_writes
    assert set(started[~started["ok"]]["steps_sent"]) == {3}
    assert int((sent["name"].astype(str).str.startswith(AI)).sum()) == int(started["ok"].sum())

    # Timed whole: from the intended start (the first step's sample) to the end of the last step, AI delay included.
    first_latency = firsts.set_index("t_s")["latency_ms"]
    done = started[started["ok"]]
    assert (done["latency_ms"].to_numpy() >= first_latency.loc[done["t_s"]].to_numpy() + AI_DELAY_S * 1000).all()
    # Order statistics of sums: P95(journey) >= P95(AI step) + the fastest index, item and write.
    stats = journey_stats(records, float(j["t_s"].min()), float(j["t_s"].max()), closed=True)
    ai = sent[sent["name"].astype(str).str.startswith(AI) & sent["ok"]]["latency_ms"].to_numpy()
    fastest = sum(float(sent[(sent["name"] == step) & sent["ok"]]["latency_ms"].min()) for step in (INDEX, ITEM, WRITE))
    assert stats.arrivals == len(j) and stats.p95_ms >= nearest_rank(ai, 95) + fastest >= AI_DELAY_S * 1000
