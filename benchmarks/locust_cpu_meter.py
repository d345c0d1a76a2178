"""Locust plugin of benchmarks/load_bench.py: a common start instant, and each process's CPU time under load.

    locust -f LOCUSTFILE,benchmarks/locust_cpu_meter.py ...   (with LOAD_BENCH_START_AT, LOAD_BENCH_CPU_FILE set)

Two load generators started side by side wait in `init` until LOAD_BENCH_START_AT (epoch s), so their tests run
over the same seconds; every process (master, workers or the only one) appends its CPU seconds from test start to
test stop, and the requests it counted by then, to LOAD_BENCH_CPU_FILE as one JSON line.
"""

import json
import os
import time

from locust import events

_started: dict[str, float] = {}


@events.init.add_listener
def _wait_for_the_common_start(environment, **_kwargs) -> None:
    start_at = float(os.environ.get("LOAD_BENCH_START_AT") or 0)
    time.sleep(max(0.0, start_at - time.time()))  # gevent's sleep once Locust has patched the process


@events.test_start.add_listener
def _cpu_at_start(**_kwargs) -> None:
    _started["cpu_s"] = time.process_time()


@events.test_stop.add_listener
def _cpu_at_stop(**_kwargs) -> None:
    if "cpu_s" not in _started or not os.environ.get("LOAD_BENCH_CPU_FILE"):
        return
    with open(os.environ["LOAD_BENCH_CPU_FILE"], "a") as out:
        out.write(json.dumps({"pid": os.getpid(), "cpu_s": time.process_time() - _started.pop("cpu_s")}) + "\n")
