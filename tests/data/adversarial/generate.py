"""Writes the adversarial corpus of issue 13 (RTO/RPO classes): one small run directory per case, with
`expected.yaml` (the figure and verdict the analysis must give). Run `python tests/data/adversarial/generate.py`
to rebuild it; tests/unit/test_adversarial_recovery.py reads the files, not this script."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

HERE = Path(__file__).parent
T0 = 1_700_000_000.0
START, END = T0 - 10, T0 + 60
ACK_S = 0.01


def health(failing, start=START, end=END, interval=0.1, skip=lambda t: False, latency_ms=5.0):
    out = []
    for i in range(round((end - start) / interval)):
        t = round(start + i * interval, 6)
        if skip(t):
            continue
        bad = failing(t)
        out.append({"probe": "health", "at_s": t, "ok": not bad, "status": 503 if bad else 200,
                    "latency_ms": latency_ms(t) if callable(latency_ms) else latency_ms,
                    "region": "eu-central-1" if t < T0 else "eu-west-1"})
    return out


def canary(failing=lambda t: False, start=START, end=END, interval=0.05):
    out = []
    for i in range(round((end - start) / interval)):
        t = round(start + i * interval, 6)
        bad = failing(t)
        out.append({"probe": "canary", "seq": i + 1, "sent_s": t, "acked_s": None if bad else round(t + ACK_S, 6),
                    "outcome": "failed" if bad else "acked", "status": 503 if bad else 201,
                    "region": "eu-central-1" if t < T0 else "eu-west-1"})
    return out


def ledger(recovered_s=T0 + 40):
    return [{"v": 1, "event": "begin", "id": "f1", "at_s": T0 - 0.01, "kind": "region_outage",
             "target": "eu-central-1", "params": {}, "recovery": {}},
            {"v": 1, "event": "injected", "id": "f1", "at_s": T0},
            {"v": 1, "event": "recovered", "id": "f1", "at_s": recovered_s}]


def write(name, probes, expected, surviving=None, end=END):
    d = HERE / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    (d / "run.json").write_text(json.dumps({"run_id": name, "experiment": name, "title": name, "target": "local",
                                            "started_s": START, "ended_s": end, "quick": False}) + "\n")
    (d / "probes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in probes))
    (d / "faults.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ledger()))
    if surviving is not None:
        (d / "surviving_seqs.json").write_text(json.dumps(surviving) + "\n")
    (d / "expected.yaml").write_text(yaml.safe_dump(expected, sort_keys=False))


def main() -> None:
    ok = canary()
    keep_all = {"seqs": [c["seq"] for c in ok], "writer_region": "eu-west-1"}

    # class 1: impact 30 s after t0 (longer than the sustain window): not RTO 0; time to impact is its phase
    late = lambda t: T0 + 30 <= t < T0 + 35  # noqa: E731
    write("late-impact", health(late) + ok, {
        "defect": 1, "what": "a 5 s read outage that begins 30 s after t0",
        "criterion": "rto_read_s <= 20", "figure": 35.0, "tolerance": 0.11, "verdict": "FAIL",
        "impact_s": 30.0, "evidence": ["first impact +30.00 s"]}, keep_all)

    # class 1: a relapse after a recovery that held a whole sustain window moves the recovery after it
    relapse = lambda t: T0 <= t < T0 + 3 or T0 + 20 <= t < T0 + 24  # noqa: E731
    write("relapse", health(relapse) + ok, {
        "defect": 1, "what": "3 s outage, 17 s of service, then a 4 s relapse",
        "criterion": "rto_read_s <= 10", "figure": 24.0, "tolerance": 0.11, "verdict": "FAIL",
        "relapses_s": [20.0], "evidence": ["relapse"]}, keep_all)

    # class 2: not exactly one writer at the end: surviving seqs empty, writer unknown -> RPO unknown
    write("writer-unknown", health(lambda t: T0 <= t < T0 + 3) + ok, {
        "defect": 2, "what": "the final writer is unknown (two writable databases at the end)",
        "criterion": "rpo_s <= 60", "figure": None, "verdict": "INCONCLUSIVE",
        "evidence": ["final writer is unknown"]}, {"seqs": [], "writer_region": None})

    # class 2: every acked write lost: the figure is a lower bound, never a PASS
    write("rpo-lower-bound", health(lambda t: T0 <= t < T0 + 3) + ok, {
        "defect": 2, "what": "every acked canary write lost: RPO is only a lower bound",
        "criterion": "rpo_s <= 60", "figure": None, "verdict": "INCONCLUSIVE",
        "evidence": ["only a lower bound"]}, {"seqs": [], "writer_region": "eu-west-1"})

    # class 3: a 2 s loss window before t0, a survivor inside it, and writes acked after t0 lost (split brain)
    lost = {c["seq"] for c in ok if c["acked_s"] is not None and (
        T0 - 2 < c["acked_s"] <= T0 - 1 or T0 - 0.5 < c["acked_s"] <= T0 or T0 + 5 < c["acked_s"] <= T0 + 6)}
    survivor = min(c["seq"] for c in ok if c["acked_s"] > T0 - 1)  # one survivor between two losses
    lost.discard(survivor)
    write("loss-after-t0", health(lambda t: T0 <= t < T0 + 3) + ok, {
        "defect": 3, "what": "losses before t0 with a survivor between them, and 20 writes acked after t0 lost",
        "criterion": "lost_writes_after_t0 == 0", "figure": 20.0, "tolerance": 0, "verdict": "FAIL",
        "rpo_s": 1.99, "rpo_tolerance": 0.011, "evidence": ["sent after the fault and lost"]},
        {"seqs": sorted(c["seq"] for c in ok if c["seq"] not in lost), "writer_region": "eu-west-1"})

    # class 5: the sampler stalled 1.5 s at the end of the outage: the bracket widens to the gap
    gap = lambda t: T0 + 2.5 <= t < T0 + 4.0  # noqa: E731
    write("sampler-gap", health(lambda t: T0 <= t < T0 + 3, skip=gap) + ok, {
        "defect": 5, "what": "a 3 s outage whose last 0.5 s and first 1 s of recovery the sampler skipped",
        "criterion": "rto_read_s <= 10", "figure": 4.0, "tolerance": 0.11, "verdict": "PASS",
        "bracket": [2.4, 4.005], "evidence": ["widest gap 1.60 s", "lies in [2.40, 4."]}, keep_all)

    # class 5: the recovering probe was answered late (sampler lag): the bracket's upper end is its answer
    write("late-answer", health(lambda t: T0 <= t < T0 + 3,
                                latency_ms=lambda t: 800.0 if T0 + 3 <= t < T0 + 3.05 else 5.0) + ok, {
        "defect": 5, "what": "the first ok read after a 3 s outage was answered 0.8 s after its intended time",
        "criterion": "rto_read_s <= 3.5", "figure": 3.0, "tolerance": 0.11, "verdict": "INCONCLUSIVE",
        "bracket": [2.9, 3.8], "evidence": ["[2.90, 3.80] s"]}, keep_all)

    # class 6: a 5 s write outage with a 1 % background failure rate: the 95 % SLO holds after it
    background = lambda t: round((t - START) / 0.05) % 100 == 37  # noqa: E731
    write("background-failures", health(lambda t: False) + canary(lambda t: T0 <= t < T0 + 5 or background(t)), {
        "defect": 6, "what": "a 5 s write outage with one failed write in 100 before and after it",
        "criterion": "rto_write_s <= 6", "figure": 5.0, "tolerance": 0.06, "verdict": "PASS",
        "evidence": [">= 95.0% acked writes"]}, keep_all)

    # class 6: the data ends 4 s into the sustain window: INCONCLUSIVE, not PASS
    short_end = T0 + 7
    write("short-sustain", health(lambda t: T0 <= t < T0 + 3, end=short_end) + canary(end=short_end), {
        "defect": 6, "what": "recovery 3 s after t0, data ends 4 s later (sustain window 10 s)",
        "criterion": "rto_read_s <= 10", "figure": None, "verdict": "INCONCLUSIVE",
        "evidence": ["data ended"]}, {"seqs": [c["seq"] for c in canary(end=short_end)],
                                       "writer_region": "eu-west-1"}, end=short_end)


if __name__ == "__main__":
    main()
