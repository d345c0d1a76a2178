"""Open-model arrivals: a request is dropped when the in-flight cap was full at its intended time."""

from __future__ import annotations

import random
import time

import gevent
from gevent.event import Event

from scenarios.arrival import run_arrivals

RATE_PER_S, MAX_IN_FLIGHT, HELD_S, LAG_S = 100.0, 2, 0.1, 0.1


def _held_target_and_late_scheduler() -> tuple[list[float], dict[float, float], list[float]]:
    """The first MAX_IN_FLIGHT requests are held for HELD_S; when released, the scheduler is LAG_S behind.

    Returns the intended times of the held requests, the end time of every sent request by intended time, and
    the intended times of the dropped ones.
    """
    skew = [0.0]
    release, held, ended, dropped = Event(), [], {}, []

    def clock() -> float:
        return time.time() + skew[0]  # a jump of the skew: the scheduler did not run for that long

    def fire(t_intended: float) -> None:
        if len(held) < MAX_IN_FLIGHT:
            held.append(t_intended)
            release.wait()
        ended[t_intended] = clock()

    def release_late() -> None:
        gevent.sleep(HELD_S)
        skew[0] += LAG_S
        release.set()

    releaser = gevent.spawn(release_late)
    run_arrivals(lambda elapsed: RATE_PER_S if elapsed < 0.4 else None, fire, dropped.append, started_at=clock(),
                 max_in_flight=MAX_IN_FLIGHT, late_tolerance_s=5.0, rng=random.Random(1), clock=clock)
    releaser.join()
    return held, ended, dropped


def test_an_arrival_intended_while_the_cap_was_full_is_dropped_even_when_the_scheduler_gets_to_it_late():
    held, ended, dropped = _held_target_and_late_scheduler()
    for t in ended:
        busy = sum(1 for other, end in ended.items() if other < t < end)
        assert busy < MAX_IN_FLIGHT, f"the arrival at {t} was sent while {busy} requests were in flight"
    released_at = min(ended[t] for t in held)
    assert dropped and max(dropped) < released_at
    assert all(t >= released_at for t in ended if t not in held)


def test_every_intended_arrival_is_sent_or_dropped_once_on_one_schedule():
    _, ended, dropped = _held_target_and_late_scheduler()
    times = sorted([*ended, *dropped])
    steps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == len(set(times)) and all(abs(step - 1 / RATE_PER_S) < 1e-6 for step in steps), steps
