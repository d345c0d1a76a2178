"""Open-model arrivals: a scheduler greenlet that starts requests at exact intended times, whatever the replies."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

import gevent
from gevent.pool import Group

IDLE_POLL_S = 0.05


def run_arrivals(rate_at: Callable[[float], float | None], fire: Callable[[float], None],
                 drop: Callable[[float], None], *, started_at: float, max_in_flight: int,
                 late_tolerance_s: float, rng: random.Random, clock: Callable[[], float] = time.time) -> None:
    """Start `fire(t_intended)` in its own greenlet at rate `rate_at(elapsed)`; `drop(t)` when it cannot start.

    A request cannot start on time when `max_in_flight` requests were in flight at its intended time (still
    running, or finished after it), or the scheduler itself is more than `late_tolerance_s` behind. Judging
    the intended time, not the moment the scheduler gets round to it, keeps a late scheduler from sending in a
    burst the arrivals an on-time one would have dropped. Returns when `rate_at` says None (no longer an open
    stage), after letting the requests in flight finish for up to `late_tolerance_s`; kills them when killed.
    """
    in_flight = Group()
    running = [0]
    finished: deque[float] = deque()  # when recent requests finished, oldest first

    def run(t_intended: float) -> None:
        try:
            fire(t_intended)
        finally:
            running[0] -= 1
            finished.append(clock())

    def in_flight_at(t_intended: float) -> int:
        while finished and finished[0] <= t_intended:  # arrivals come in order: these never count again
            finished.popleft()
        return running[0] + len(finished)

    try:
        t = clock() + rng.random() / max(rate_at(clock() - started_at) or 0.0, 1.0)  # random phase per process
        while True:
            now = clock()
            if t > now:
                gevent.sleep(t - now)
                continue
            if in_flight_at(t) >= max_in_flight or now - t > late_tolerance_s:
                drop(t)
            else:
                running[0] += 1
                in_flight.spawn(run, t)
            rate = rate_at(t - started_at)
            while rate is not None and rate <= 0:  # a pause: wait for arrivals to resume
                gevent.sleep(IDLE_POLL_S)
                t = clock()
                rate = rate_at(t - started_at)
            if rate is None:
                in_flight.join(timeout=late_tolerance_s)
                return
            t += 1.0 / rate
            if t <= now:
                gevent.sleep(0)  # catching up: let the requests run between arrivals
    finally:
        in_flight.kill(block=False)
