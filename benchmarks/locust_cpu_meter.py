"""Locust plugin of benchmarks/load_bench.py: one start instant for two load generators, and each process's CPU
time and requests over one common window.

    locust -f LOCUSTFILE,benchmarks/locust_cpu_meter.py ...
    (LOAD_BENCH_START_AT, LOAD_BENCH_WINDOW=<from s>,<to s> after it, LOAD_BENCH_CPU_FILE)

Both sides wait in `init` until LOAD_BENCH_START_AT (epoch s), so their tests run over the same seconds. Every
process (master, workers or the only one) counts the requests it sends (a third `events.request` listener on both
sides alike: no measurable cost) and appends its CPU seconds and requests between the window's two instants to
LOAD_BENCH_CPU_FILE as one JSON line. Both tests run past the window, so how either one ends does not matter.
"""

import json
import os
import time

import gevent
from locust import events

_sent = [0]


@events.init.add_listener
def _meter(environment, **_kwargs) -> None:
    start_at = float(os.environ.get("LOAD_BENCH_START_AT") or 0)
    time.sleep(max(0.0, start_at - time.time()))  # gevent's sleep once Locust has patched the process
    if os.environ.get("LOAD_BENCH_CPU_FILE"):
        window = [float(x) for x in os.environ["LOAD_BENCH_WINDOW"].split(",")]
        gevent.spawn(_measure, start_at + window[0], start_at + window[1], os.environ["LOAD_BENCH_CPU_FILE"])


@events.request.add_listener
def _count(**_kwargs) -> None:
    _sent[0] += 1


def _measure(begin: float, end: float, out_path: str) -> None:
    gevent.sleep(max(0.0, begin - time.time()))
    cpu_s, sent = time.process_time(), _sent[0]
    gevent.sleep(max(0.0, end - time.time()))
    with open(out_path, "a") as out:
        out.write(json.dumps({"pid": os.getpid(), "cpu_s": time.process_time() - cpu_s,
                              "requests": _sent[0] - sent}) + "\n")
