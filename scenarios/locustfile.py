"""The GameDay locustfile: journeys, one profile-driven shape, the raw-sample recorder. Runs under plain `locust -f`.

    locust -f scenarios/locustfile.py --headless --host http://127.0.0.1:8080 --gameday-profile steady
    locust -f scenarios/locustfile.py --headless --host http://127.0.0.1:8080 -u 5 -t 5s   # -u/-r/-t win

Raw samples are written only when `--gameday-samples-dir DIR` is given (the harness always gives it).
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from functools import lru_cache
from pathlib import Path
from time import monotonic

import gevent
from geventhttpclient.header import Headers
from locust import FastHttpUser, LoadTestShape, events, task
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner
from locust.util.timespan import parse_timespan

from gameday.base import run_clock
from scenarios.arrival import run_arrivals
from scenarios.journeys import FLOW_STEPS, FLOWS, JOURNEYS, REQUEST_NAMES, Chooser, run_flow, set_edge_url
from scenarios.profiles import Profile, Stage, load_profile, rate_at, stage_at, stage_span, tick, with_common_options
from scenarios.recorder import JOURNEY_PREFIX, FileSink, JourneyRecorder, SampleRecorder, chunk_rows, raw_header_type

LOCAL_FLUSH_S = 1.0
DRAIN_S = 10.0  # how long a stopped master waits for its workers' final reports
WORKERS_FILE = "workers.json"  # beside the samples: each worker's last report, and whether its final one came
PROFILE_OVER_POLL_S = 0.1
_state: dict = {"recorder": None, "journeys": None, "started_at": None, "started_mono": None}
# A closed-model request's context: one empty dict, never a new one a request. Locust merges it into a dict of its
# own (`{**user.context(), **context}`), so nothing writes to it; a plain dict, since merging any other mapping
# (a read-only proxy) takes CPython's slow path: 0.2 us against 0.03, ~0.6 % of a worker's CPU (py-spy).
NO_CONTEXT: dict = {}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--gameday-profile", default="steady", include_in_web_ui=True,
                        help="Load profile: a shipped name (steady, ramp, step, spike-10x, soak, failover), "
                             "a YAML/JSON file, or inline JSON; -u/-r/-t given on the command line win over it")
    parser.add_argument("--gameday-samples-dir", default="", include_in_web_ui=False,
                        help="Where raw samples go (on the master, or the only process); none are written "
                             "without it")
    parser.add_argument("--gameday-workers", type=int, default=0, include_in_web_ui=False,
                        help="Worker processes sharing the open-model rate (a worker forked by --processes does "
                             "not see the master's --expect-workers); default: --expect-workers")
    parser.add_argument("--gameday-edge-url", default="", include_in_web_ui=False,
                        help="A CDN base URL the static and index journeys load from (default: --host)")


@lru_cache(maxsize=4)
def _parse(ref: str) -> Profile:
    return load_profile(ref)


def _profile(environment) -> Profile:
    options = environment.parsed_options
    run_time = getattr(options, "run_time", None) if _given("-t", "--run-time") else None
    if isinstance(run_time, str):
        run_time = parse_timespan(run_time)
    users = getattr(options, "num_users", None) if _given("-u", "--users") else None
    spawn_rate = getattr(options, "spawn_rate", None) if _given("-r", "--spawn-rate") else None
    return _with_options(getattr(options, "gameday_profile", None) or "steady", users, spawn_rate, run_time or None)


def _given(*flags: str) -> bool:
    """Whether the command line itself names the option: Locust fills defaults in (a master sets 1 user at 1/s),
    and only what the person typed may win over the profile."""
    return any(arg in flags or arg.startswith(tuple(f"{f}=" for f in flags if f.startswith("--")))
               or any(arg.startswith(f) and len(arg) > len(f) and not f.startswith("--") for f in flags)
               for arg in sys.argv[1:])


@lru_cache(maxsize=8)
def _with_options(ref: str, users, spawn_rate, run_time_s) -> Profile:
    return with_common_options(_parse(ref), users, spawn_rate, run_time_s)


def _schedulers(environment) -> int:
    """Open-model scheduler users in the whole test: one per worker process (the rate is split evenly)."""
    options = environment.parsed_options
    return max(1, int(getattr(options, "gameday_workers", 0) or getattr(options, "expect_workers", 1) or 1))


def _elapsed() -> float:
    """Seconds since the test started, on the monotonic clock (the run clock's own: the same durations)."""
    started = _state["started_mono"]
    return 0.0 if started is None else monotonic() - started


_choosers: dict[int, Chooser] = {}  # per stage object (profiles live as long as the process)


def _chooser(profile: Profile, stage: Stage) -> Chooser:
    """The journey chooser of `stage`'s mix (the profile's when the stage names none), built once a stage."""
    chooser = _choosers.get(id(stage))
    if chooser is None:
        chooser = _choosers[id(stage)] = Chooser(dict(stage.mix if stage.mix is not None else profile.mix))
    return chooser


def _pick(profile: Profile, rng: random.Random) -> str:
    """A journey from the mix in force now (the last stage's after the end)."""
    return _chooser(profile, stage_at(profile, _elapsed()) or profile.stages[-1]).pick(rng)


@events.test_start.add_listener
def _started(environment, **_kwargs) -> None:
    _state["started_at"], _state["started_mono"] = run_clock.now(), monotonic()
    _state["cpu_at_start"] = time.process_time()  # the master's cost is counted from here (imports excluded)
    # What the imports and set-up made (profiles' models, Locust's own) lives to the end: out of the cyclic
    # collector's sight, which otherwise walks it again on every full collection (~3 % of the requests a core can
    # send, benchmarks/README.md).
    gc.freeze()


@events.init.add_listener
def _install_recorder(environment, **_kwargs) -> None:
    options = environment.parsed_options
    set_edge_url(getattr(options, "gameday_edge_url", "") or "")
    asked = getattr(options, "gameday_samples_dir", None)  # plain `locust`: nothing written unless asked
    samples_dir = Path(asked or ".")
    runner = environment.runner
    if not asked and not isinstance(runner, WorkerRunner):  # a worker ships anyway: its master decides
        return
    if isinstance(runner, MasterRunner):  # workers ship their chunks with each stats report
        reported: dict[str, float] = {}
        last_report_s: dict[str, float] = {}  # on the run's clock: where a worker's samples end
        shipped_total = {"bytes": 0, "samples": 0, "reports": 0}  # the master's own cost, in load/workers.json

        def on_worker_report(client_id, data, **_kw):
            if client_id not in runner.clients:  # a stray worker of another master on this port: not ours
                data.pop("gameday_samples", None)
                data.pop("gameday_journeys", None)
                return
            reported[client_id] = time.monotonic()
            last_report_s[client_id] = run_clock.now()
            shipped_total["reports"] += 1
            shipped = data.pop("gameday_samples", None)
            if shipped:
                FileSink(samples_dir, shipped["meta"]["stem"]).write(shipped["chunks"], shipped["meta"])
                shipped_total["bytes"] += sum(len(c) for c in shipped["chunks"]) + len(json.dumps(shipped["meta"]))
                shipped_total["samples"] += sum(chunk_rows(c) for c in shipped["chunks"])
            flows = data.pop("gameday_journeys", None)
            if flows:
                FileSink(samples_dir, flows["meta"]["stem"], JOURNEY_PREFIX).write(flows["chunks"], flows["meta"])

        locust_quit, drain = runner.quit, {"greenlet": None}

        def quit_after_final_reports() -> None:
            """Locust's quit waits 0.5 s for its workers' final reports, too little on a busy machine: ask them to
            quit first and wait (up to DRAIN_S) until each one's final report, its last raw samples, is in;
            then write down who reported to the end (load/workers.json) and quit as Locust does. The waiting runs
            in a greenlet of its own, once: the shape's greenlet calls quit when the profile ends, and Locust's
            stop() kills that greenlet when the last worker has quit, which cut the wait short and lost
            load/workers.json (1 run in 4 with two workers); a later quit (Locust's shutdown) waits for it."""
            if drain["greenlet"] is None:
                drain["greenlet"] = gevent.spawn(account_for_workers)
            drain["greenlet"].join(timeout=DRAIN_S + 2.0)
            locust_quit()

        def account_for_workers() -> None:
            asked, clients = time.monotonic(), [c.id for c in runner.clients.all]
            for client in clients:
                runner.server.send_to_client(Message("quit", None, client))
            while time.monotonic() < asked + DRAIN_S and any(reported.get(c, 0.0) < asked for c in clients):
                gevent.sleep(0.05)
            late = [c for c in clients if reported.get(c, 0.0) < asked]
            if late:
                print(f"gameday: no final report from worker(s) {', '.join(late)} within {DRAIN_S:g} s: their "
                      "last samples are missing", file=sys.stderr, flush=True)
            (samples_dir.parent / WORKERS_FILE).write_text(json.dumps({"workers": {
                c: {"last_report_s": last_report_s.get(c), "final_report": c not in late} for c in clients},
                "master": {"cpu_s": time.process_time() - _state.get("cpu_at_start", 0.0),
                           "shipped_bytes": shipped_total["bytes"], "shipped_samples": shipped_total["samples"],
                           "reports": shipped_total["reports"]}}))

        runner.quit = quit_after_final_reports
        events.worker_report.add_listener(on_worker_report)
        return
    recorder = _state["recorder"] = SampleRecorder(raw_headers=raw_header_type(Headers))
    events.request.add_listener(recorder.on_request)
    journeys = _state["journeys"] = JourneyRecorder(FLOW_STEPS)  # whole flows, in files of their own
    if isinstance(runner, WorkerRunner):
        def on_report(client_id, data, **_kw):
            data["gameday_samples"] = {"meta": recorder.meta(), "chunks": recorder.take()}
            if journeys.names:
                data["gameday_journeys"] = {"meta": journeys.meta(), "chunks": journeys.take()}
        events.report_to_master.add_listener(on_report)
        return
    sink = FileSink(samples_dir, recorder.stem)
    journey_sink = FileSink(samples_dir, journeys.stem, JOURNEY_PREFIX)
    print(f"gameday: raw samples -> {samples_dir.resolve()}", flush=True)

    def flush(**_kw):
        sink.write(recorder.take(), recorder.meta())
        if journeys.names:
            journey_sink.write(journeys.take(), journeys.meta())

    def flush_every_second():
        while True:
            gevent.sleep(LOCAL_FLUSH_S)
            flush()

    gevent.spawn(flush_every_second)
    events.test_stop.add_listener(flush)
    events.quitting.add_listener(flush)


class LoadUser(FastHttpUser):
    """Closed stages: pick a journey from the mix, wait for the reply, think, repeat.
    Open stages: one user per process starts requests at the profile's arrival rate, independent of replies.
    (One class for both: Locust's shape cannot swap user classes between stages reliably.)
    """

    def __init__(self, environment):
        self.profile = _profile(environment)
        self.concurrency = self.profile.max_in_flight  # the client's connection pool matches the in-flight cap
        super().__init__(environment)
        self.rng = random.Random()
        self.share = _schedulers(environment)
        self.span: tuple[Stage | None, float, float] = (None, 0.0, 0.0)  # the stage in force, kept until it ends
        self.chooser: Chooser | None = None  # the journey chooser of the stage in force (a closed one)
        self.wait_s = self.profile.wait_s

    def wait_time(self) -> float:
        low, high = self.wait_s
        return low + (high - low) * self.rng.random() if high else 0.0

    @task
    def journey(self) -> None:
        """Once a request: one clock read, one comparison and one pick on top of Locust's own work (what each
        costs, measured: benchmarks/README.md)."""
        started = _state["started_mono"]
        elapsed = 0.0 if started is None else monotonic() - started
        span = self.span
        if not span[1] <= elapsed < span[2]:  # the clock left the stage's span: walk the stages once
            span = self.span = stage_span(self.profile, elapsed)
            self.chooser = None if span[0] is None or span[0].is_open else _chooser(self.profile, span[0])
        stage = span[0]
        if stage is None:  # over: send nothing until the shape ends the test (<= 1 s)
            gevent.sleep(PROFILE_OVER_POLL_S)
            return
        if self.chooser is not None:  # a closed stage
            name = self.chooser.pick(self.rng)
            if name in FLOWS:
                self._flow(name, None)
            else:
                JOURNEYS[name](self.client, self.rng, NO_CONTEXT)
            return
        started = _state["started_at"] or run_clock.now()
        run_arrivals(self._rate, self._fire, self._drop, started_at=started, clock=run_clock.now,
                     max_in_flight=self.profile.max_in_flight, late_tolerance_s=self.profile.late_tolerance_s,
                     rng=self.rng)

    def _rate(self, elapsed_s: float) -> float | None:
        rate = rate_at(self.profile, elapsed_s)
        return None if rate is None else rate / self.share

    def _fire(self, t_intended: float) -> None:
        name = _pick(self.profile, self.rng)
        if name in FLOWS:  # the one branch a single-request arrival pays for flows
            self._flow(name, t_intended)
            return
        JOURNEYS[name](self.client, self.rng, {"t_intended": t_intended})

    def _flow(self, name: str, t_intended: float | None) -> None:
        """A flow's steps, each sampled as a request, and the flow timed whole from its intended start (closed
        model: its start) to the end of its last step sent. One cut in flight by the load's end (Locust kills
        it) is not recorded, as a request cut in flight is not."""
        start = run_clock.now() if t_intended is None else t_intended
        sent, ok = run_flow(FLOWS[name], self.client, self.rng, {} if t_intended is None else {"t_intended": start})
        if _state["journeys"] is not None:
            _state["journeys"].record_journey(name, start, run_clock.now(), sent, ok)

    def _drop(self, t_intended: float) -> None:
        if _state["recorder"] is not None:
            name = _pick(self.profile, self.rng)
            _state["recorder"].record_dropped(t_intended, REQUEST_NAMES[name])
            if name in FLOWS:  # a dropped arrival of a flow is a dropped journey
                _state["journeys"].record_dropped(t_intended, name)


class ProfileShape(LoadTestShape):
    """Runs the profile's stages in order (the pure `tick` decides), then ends the test. Locust's common options
    (-u, -r, -t; the web UI's fields) win over the profile when given (scenarios.profiles.with_common_options)."""

    use_common_options = True

    def tick(self):
        environment = self.runner.environment
        answer = tick(_profile(environment), self.get_run_time(), _schedulers(environment))
        if answer is None:
            return None
        return answer.users, answer.spawn_rate

