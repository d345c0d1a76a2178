"""Open-model arrivals: a scheduler greenlet that starts requests at exact intended times, whatever the replies."""

from __future__ import annotations

import random
import time
from typing import Callable

import gevent
from gevent.pool import Group

IDLE_POLL_S = 0.05


def run_arrivals(rate_at: Callable[[float], float | None], fire: Callable[[float], None],
                 drop: Callable[[float], None], *, started_at: float, max_in_flight: int,
                 late_tolerance_s: float, rng: random.Random, clock: Callable[[], float] = time.time) -> None:
    """Start `fire(t_intended)` in its own greenlet at rate `rate_at(elapsed)`; `drop(t)` when it cannot start.

    A request cannot start on time when `max_in_flight` are already in flight or the scheduler itself is
    more than `late_tolerance_s` behind. Returns when `rate_at` says None (no longer an open stage), after
    letting the requests in flight finish for up to `late_tolerance_s`; kills them when killed.
    """
    in_flight = Group()
    try:
        t = clock() + rng.random() / max(rate_at(clock() - started_at) or 0.0, 1.0)  # random phase per process
        while True:
            now = clock()
            if t > now:
                gevent.sleep(t - now)
                continue
            if len(in_flight) >= max_in_flight or now - t > late_tolerance_s:
                drop(t)
            else:
                in_flight.spawn(fire, t)
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
