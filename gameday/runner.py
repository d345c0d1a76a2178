"""The run engine: sequences every side effect of one experiment run and writes the run directory.

stack up -> recover leftovers -> samplers + load -> baseline -> Chaos Toolkit child (rollbacks always)
-> after window -> recover anything still open -> stop children -> evidence files -> analysis -> exit code.
Stop conditions and Ctrl-C/SIGTERM interrupt the experiment (its rollbacks run) and end with exit code 3.

The target is a driver from the registry (infra.targets.registry): it prepares itself (the local stack comes
up; on aws the account check), names what the samplers read, how the children reach it (`child_env`), where its
ledger is (`infra.targets.ledger_for`) and which canary writes survived (none measurable on aws: RPO stays
unmeasured). `--dry-run` walks the experiment against a recording driver where the target records dry runs
(gameday.dry_run), else prints the plan; either way nothing changes.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday import children, run_lock
from gameday.base import run_clock
from gameday.base.errors import InvalidInput, RunAborted, StackError
from gameday.base.ledger import stale_from
from gameday.base.models import ExperimentSpec, load_experiment
from gameday.base.provenance import provenance
from gameday.base.settings import Settings
from gameday.chaos_settings import user_settings, write_for_run
from gameday.console import loopback_port, run_faults
from gameday.disk_guard import disk_problem, is_disk_error
from gameday.export import export_run
from gameday.faults import recover_open
from gameday.history import history_file
from gameday.holds import fault_max_s, pauses_s, raise_holds
from gameday.live import LiveMonitor
from gameday.load import DEFAULT_MASTER_PORT, WORKER_WAIT_S
from gameday.notify import Notifier
from gameday.out_dir import check_out
from gameday.redact import redact_dir, secret_values
from gameday.reporting import report_run
from gameday.terminal_view import status_view
from gameday.validate import validate_files
from infra.targets import ledger_for
from infra.targets.base import TargetOptions
from infra.targets.registry import driver_class

EXIT_INVALID = 2
EXIT_ABORTED = 3
CHAOS_TIMEOUT_S = 3600.0
LOAD_WARMUP_S = 1.0          # after the first raw samples: the load's first burst is not measured
LOAD_START_TIMEOUT_S = 15.0  # a load that sends nothing by then is measured as it is (its absence shows)
LOCUST_UI = "Locust web UI of the running load"  # the console's link (a run with --ui and load)
ALARM_LOOKBACK_S = 60.0      # alarms.json starts this long before the run: the state each alarm entered it in


def vitals_browser(gd, experiment: Path) -> str | None:
    """The Chromium the experiment's vitals sampler drives (None without a `vitals` block); InvalidInput (exit 2,
    nothing touched) naming the experiment when there is none."""
    if gd.vitals is None:
        return None
    from gameday.pdf import browser

    try:
        return browser()
    except InvalidInput as exc:
        raise InvalidInput(f"run of {experiment} refused: its `vitals` block needs headless Chromium, and none was "
                           f"found ({exc.args[0]})", hint=exc.hint) from None


@dataclass(frozen=True)
class RunOptions:
    experiment: Path
    target: str = "local"
    out: Path | None = None
    dry_run: bool = False
    quick: bool = False
    history: Path | None = None     # the history database; default: beside the run directory
    gameday_id: str | None = None   # the GameDay this run belongs to, if any
    profile: Path | None = None          # the target profile, for targets that need one (aws)
    confirm_account: str | None = None   # a run on a prod profile needs it equal to the profile's account
    stack_locked: bool = False           # the caller (a GameDay) holds the stack's run lock (gameday.run_lock)
    console: Any = None                  # gameday.console.Console: the live console (`--ui`), None without it
    workers: int | None = None           # local Locust worker processes (overrides the load block's `workers`)
    remote_workers: int = 0              # Locust workers started elsewhere that attach to the run's master
    load_master: tuple[str, int] | None = None  # where the run's master listens for them (host, port)
    progress: tuple[int, int] | None = None     # a GameDay's experiment i of n (the terminal's live region)
    configuration: dict | None = None    # a GameDay step's overrides of configuration variables (over quick's)

    def target_options(self, **changes) -> TargetOptions:
        return TargetOptions(profile=self.profile.resolve() if self.profile else None,
                             confirm_account=self.confirm_account, **changes)


class Run:
    """One run of one experiment; `execute()` returns the exit code."""

    def __init__(self, options: RunOptions, settings: Settings, echo: Callable[[str], None] = print):
        self.options = options
        self.settings = settings
        self.console = options.console.state if options.console is not None else None
        self.echo = echo if self.console is None else self._echo_to(echo, self.console)
        self.halted_by: dict | None = None
        self.abort_reason: str | None = None
        self.aborted_at: float | None = None
        self.experiment_ended_s: float | None = None
        self.run_dir: Path | None = None  # once made
        self.user_chaos_settings: tuple = (None, None)  # gameday.chaos_settings.user_settings, read by execute()
        self.hold_changes: list = []  # gameday.holds.HoldChange: holds raised to the target's detection time
        self.chromium: str | None = None  # the browser of the vitals sampler, found before anything is touched

    # --- the sequence ------------------------------------------------------------------------------
    def execute(self) -> int:
        spec = self._load()
        self.user_chaos_settings = user_settings(self.settings.chaos_settings)  # a bad file: exit 2, untouched
        gd = spec.gameday.quickened() if self.options.quick else spec.gameday
        variables = {**(spec.gameday.quick.configuration if self.options.quick else {}),
                     **(self.options.configuration or {})}
        driver = driver_class(self.options.target)
        if self.options.dry_run and driver.records_dry_runs:
            from gameday.dry_run import walk

            walk(spec, lambda root: driver.open(self.settings, self.options.target_options(
                dry_run=True, state_root=root, extra={"log": self.echo})), self.echo, variables)
            return 0
        check_out(self.options.out, self.settings.runs_dir, "run directory", self.settings.min_free_mb)
        self.chromium = vitals_browser(gd, self.options.experiment)  # missing: exit 2 before anything is touched
        target = driver.open(self.settings, self.options.target_options())
        if self.options.dry_run:
            self._print_plan(spec, gd, target)
            return 0
        run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{self.options.experiment.stem}"
        # One run at a time per stack: another live run's lock refuses this one here (exit 2, nothing touched).
        # Beyond this machine (AWS with the ledger in the account): the target's lease, for the longest the run
        # can last; a lost harness gives it up then (a second harness is refused naming this one: exit 2).
        lease_s = fault_max_s(spec.raw, variables, gd.max_fault_s) + gd.windows.baseline_s + gd.windows.after_s
        with run_lock.holding(run_lock.lock_dir(target), run_id, reuse=self.options.stack_locked), \
                target.exclusive(run_id, lease_s):
            return self._execute_locked(spec, gd, variables, target, run_id)

    def _execute_locked(self, spec: ExperimentSpec, gd, variables: dict, target, run_id: str) -> int:
        # The local stack comes up; a wrong AWS account ends here (exit 2, nothing touched, no run directory).
        ready = target.prepare(lambda line: self.echo(f"stack: {line}"))
        self.echo(f"target {target.name}: {json.dumps(ready)}")
        if gd.windows.detection_holds and not self.settings.detection_holds:
            self.echo(f"holds {', '.join(gd.windows.detection_holds)} kept as written (GAMEDAY_DETECTION_HOLDS=0): "
                      "not raised to the target's reroute time")
        elif gd.windows.detection_holds:
            variables, self.hold_changes = raise_holds(spec.raw.get("configuration") or {}, variables,
                                                       gd.windows.detection_holds, target.detection_timing())
            for change in self.hold_changes:
                self.echo(change.line())
        self._refuse_stale_faults(target)
        run_dir = self.run_dir = self.options.out or self.settings.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        self.echo(f"run {run_id} -> {run_dir}")
        for done in recover_open(target, log=lambda line: self.echo(f"recover: {line}")):
            self.echo(f"recover: closed {done['kind']} of {done['target']} left open by an earlier run")
        if problems := target.reference_problems():  # a crash may leave more than the ledger knows
            self.echo(f"recover: not in the reference topology ({'; '.join(problems)}): restoring it")
            target.restore_reference()
            if problems := target.reference_problems():
                raise StackError(f"run of {self.options.experiment} refused: target {target.name} is not in its "
                                 f"reference topology: {'; '.join(problems)}",
                                 hint="`gameday recover`, or a person, brings it back first")
        try:
            return self._run_in(run_dir, spec, gd, variables, target, run_id)
        except OSError as exc:
            if not is_disk_error(exc):
                raise
            # The rollbacks and the safety net ran (or nothing was injected yet): say so in one line, exit 3.
            still_open = len(ledger_for(target).open_entries())
            raise RunAborted(f"run {run_id} aborted: writing into its run directory {run_dir} failed: "
                             f"{exc.strerror} ({exc.filename or 'a child process'}); "
                             + (f"{still_open} fault(s) still open in the ledger" if still_open
                                else "no fault is left open (rollbacks and safety net ran)"),
                             hint="free space, or make the runs directory writable; `gameday recover` recovers "
                                  "what is open; `gameday report RUN_DIR` analyses what was written") from exc
        finally:
            run_clock.install(None)  # the run's time base ends with it (a GameDay starts the next run's)

    def _refuse_stale_faults(self, target) -> None:
        """Open faults older than the replay limit are listed, not replayed: their undo may no longer fit."""
        ledger = ledger_for(target)
        stale = stale_from(ledger.entries(), run_clock.now(), self.settings.max_replay_age_s)
        if stale:
            listed = "; ".join(f"{e['kind']} of {e['target']} begun {e['at']} (run {e.get('params', {}).get('run_id')})"
                               for e in stale)
            raise InvalidInput(f"run of {self.options.experiment} refused: {len(stale)} open fault(s) in ledger "
                               f"{ledger.where} older than {self.settings.max_replay_age_s:g} s, not replayed "
                               f"unattended: {listed}", hint="check the target, then `gameday recover` replays them "
                               "(GAMEDAY_MAX_REPLAY_AGE_S sets the limit)")

    def _run_in(self, run_dir: Path, spec: ExperimentSpec, gd, variables: dict, target, run_id: str) -> int:
        (run_dir / "experiment.yaml").write_text(self.options.experiment.read_text())
        clock_env = run_clock.start()  # one time base for the runner and every child (gameday.base.run_clock)
        seq_start = int(run_clock.now() * 1000)
        env = {**os.environ, **self.settings.as_env(),  # the children see these settings, whatever their cwd
               "GAMEDAY_RUN_ID": run_id, "GAMEDAY_RUN_DIR": str(run_dir.resolve()), **target.child_env(), **clock_env,
               # the longest a fault may last: on AWS its expiry schedule undoes it then (infra/targets/aws_expiry)
               "GAMEDAY_FAULT_MAX_S": str(fault_max_s(spec.raw, variables, gd.max_fault_s))}
        sources = target.sampler_sources()
        started = run_clock.now()
        sampler = load = chaos = vitals = None
        chaos_settings = write_for_run(run_dir, self.user_chaos_settings)  # the user's, merged (private file)
        monitor = LiveMonitor(run_dir / "probes.jsonl", gd.stop_conditions, self.echo,
                              resource_check=lambda: disk_problem(run_dir, self.settings.min_free_mb),
                              view=status_view())  # a terminal: a live region; else the plain status lines
        monitor.progress = self.options.progress
        locust_ui = loopback_port() if self.console is not None else None  # the console links Locust's web UI
        # the least the run takes: its windows and the experiment's pauses (activities add their own time)
        monitor.eta_s = started + gd.windows.baseline_s + gd.windows.after_s + pauses_s(spec.raw, variables)
        if self.console is not None:
            ledger = ledger_for(target)
            self.console.monitor, self.console.on_halt, self.console.run_id = monitor, self.halt, run_id
            self.console.faults = lambda: run_faults(ledger.entries(), run_id, run_clock.now())
            self.console.eta_s = monitor.eta_s
            self.console.criteria = list(gd.criteria)  # their running values: gameday.live_criteria
            if self.options.progress and not self.console.progress:
                self.console.progress = {"index": self.options.progress[0], "of": self.options.progress[1]}
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            sampler = children.start(children.sampler_argv(run_dir, gd, target.entry_url, sources.pg_ports, seq_start,
                                                           routing=sources.routing,
                                                           capacity_urls=sources.capacity_urls,
                                                           canary_url=sources.canary_url,
                                                           fresh_connections=sources.fresh_connections),
                                     run_dir / "sampler.log", env, die_with_runner=True)
            vitals_cmd = children.vitals_argv(run_dir, gd, target.edge_url or target.entry_url, self.chromium)
            vitals = (children.start(vitals_cmd, run_dir / "vitals.log", env, die_with_runner=True)
                      if vitals_cmd else None)
            load_cmd = children.load_argv(run_dir, gd, target.entry_url, quick=self.options.quick,
                                          edge_url=target.edge_url, workers=self.options.workers,
                                          remote_workers=self.options.remote_workers,
                                          master=self.options.load_master, web_port=locust_ui)
            load = (children.start(load_cmd, run_dir / "load" / "locust.out", env, die_with_runner=True)
                    if load_cmd else None)
            if load is not None and locust_ui is not None:
                self.console.links[LOCUST_UI] = f"http://127.0.0.1:{locust_ui}/"
            monitor.start()
            started = self._warm_up(monitor, run_dir, load, started)
            self._phase(monitor, "baseline", gd.windows.baseline_s)
            if not self._aborted(monitor):
                # The child inherits the run lock: killed, the runner leaves it running the rollbacks, and the
                # stack stays locked until they are done (gameday.run_lock).
                lock_fd = run_lock.held_fd(run_lock.lock_dir(target))
                chaos = children.start(children.chaos_argv(run_dir, self.options.experiment.resolve(), variables,
                                                           chaos_settings),
                                       run_dir / "chaos.out", env, pass_fds=(lock_fd,) if lock_fd is not None else ())
                monitor.phase = "experiment"
                self._wait_chaos(chaos, monitor)
                self.experiment_ended_s = run_clock.now()
            if not self._aborted(monitor):
                self._phase(monitor, "after", gd.windows.after_s)
        finally:
            # The measured run ends here: stopping Locust below cuts the requests in flight, which would
            # otherwise count as failures of the after window's last second.
            measured_until = run_clock.now()
            chaos_settings.unlink(missing_ok=True)  # it may hold the user's tokens: gone with the chaos child
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            monitor.phase = "recovering"
            try:
                for done in recover_open(target, log=lambda line: self.echo(f"safety net: {line}")):
                    self.echo(f"safety net: recovered {done['kind']} of {done['target']}")
            finally:  # a failed recovery must not leave the load and the samplers running
                children.stop_load(load)
                children.stop(sampler)
                children.stop(vitals)
                monitor.stop()
                if self.console is not None:  # this run is over: a HALT now stops what comes next (a GameDay)
                    self.console.on_halt, self.console.monitor = (lambda name: None), None
                    self.console.links.pop(LOCUST_UI, None)
        ended = measured_until
        self._write_evidence(run_dir, run_id, spec, target, seq_start, started, ended, chaos)
        redact_dir(run_dir, secret_values(spec.raw))
        return self._analyse(run_dir)

    def _load(self) -> ExperimentSpec:
        config = driver_class(self.options.target).configure(self.options.target_options())
        problems = validate_files([self.options.experiment], self.options.target, config)
        if problems:
            again = f" --target {self.options.target}"
            again += f" --profile {self.options.profile}" if self.options.profile else ""
            raise InvalidInput("\n".join(str(p) for p in problems), hint=f"nothing was touched; "
                               f"`gameday validate {self.options.experiment}{again}` re-checks")
        return load_experiment(self.options.experiment)

    def _print_plan(self, spec: ExperimentSpec, gd, target) -> None:
        raw = spec.raw
        self.echo(f"dry run of {spec.source}: {spec.title}")
        self.echo(f"would prepare {target.describe()} and recover open faults")
        self.echo(f"would start probes (health every {gd.probes.health_interval_s} s, canary "
                  f"{gd.probes.canary_rate_per_s}/s) and load {gd.load.profile if gd.load else 'none'}")
        if gd.vitals is not None:
            self.echo(f"would open {(target.edge_url or target.entry_url).rstrip('/')}{gd.vitals.path} in headless "
                      f"Chromium ({self.chromium}) every {gd.vitals.interval_s:g} s for its Core Web Vitals")
        self.echo(f"would wait {gd.windows.baseline_s} s of baseline, then run Chaos Toolkit with rollbacks always:")
        for section in ("method", "rollbacks"):
            for activity in raw.get(section) or []:
                provider = activity.get("provider", {})
                self.echo(f"  {section}: {activity.get('name')}: {provider.get('module', '')}."
                          f"{provider.get('func', provider.get('path', ''))}({provider.get('arguments', {})})")
        self.echo(f"would wait {gd.windows.after_s} s after the experiment, then analyse "
                  f"{len(gd.criteria)} criteria; no call was made")

    # --- waiting and aborting ----------------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        if self.abort_reason is None:
            self.abort_reason = f"interrupted by {signal.Signals(signum).name}"
            self.aborted_at = run_clock.now()
            self.echo(f"{self.abort_reason}: stopping the experiment, its rollbacks run")

    def halt(self, name: str) -> None:
        """The live console's HALT (gameday.console): the same abort as Ctrl-C, recorded with who and when."""
        if self.abort_reason is None:
            self.aborted_at = run_clock.now()
            self.halted_by = {"name": name, "at_s": self.aborted_at}
            self.abort_reason = f"halted from the console by {name}"
            self.echo(f"{self.abort_reason}: stopping the experiment, its rollbacks run")

    @staticmethod
    def _echo_to(echo: Callable[[str], None], state) -> Callable[[str], None]:
        def both(line: str) -> None:
            echo(line)
            state.event(line)
        return both

    def _aborted(self, monitor: LiveMonitor) -> bool:
        if self.abort_reason is None and monitor.breach is not None:
            self.abort_reason = monitor.breach
            self.aborted_at = run_clock.now()
            self.echo(f"ABORT: {self.abort_reason}")
        return self.abort_reason is not None

    def _phase(self, monitor: LiveMonitor, name: str, seconds: float) -> None:
        monitor.phase, monitor.phase_ends = name, (name, run_clock.now() + seconds)
        if self.console is not None:
            self.console.phase, self.console.phase_ends_s = name, run_clock.now() + seconds
        self.echo(f"phase {name}: {seconds:g} s")
        children.wait_or_abort(seconds, lambda: self._aborted(monitor))

    def _warm_up(self, monitor: LiveMonitor, run_dir: Path, load, started: float) -> float:
        """Let the load's first burst pass (Locust starting, connections opening, gateways meeting their first
        requests) before anything is measured: until the first raw samples are on disk, then LOAD_WARMUP_S more.
        Returns the start of the measured run (every window begins there; docs/measurement.md)."""
        if load is None:
            return started
        monitor.phase = "warm-up"
        remote = self.options.remote_workers
        deadline = time.monotonic() + LOAD_START_TIMEOUT_S + (WORKER_WAIT_S if remote else 0)
        while (not _load_recorded(run_dir / "load")
               and time.monotonic() < deadline and load.poll() is None and not self._aborted(monitor)):
            time.sleep(0.1)
        if remote and not _load_recorded(run_dir / "load") and not self._aborted(monitor):
            host, port = self.options.load_master or ("127.0.0.1", DEFAULT_MASTER_PORT)
            raise StackError(f"start of the load of run {run_dir.name} failed: {remote} remote Locust worker(s) "
                             f"did not attach to the master on {host}:{port} within {WORKER_WAIT_S} s",
                             hint=f"start them with `gameday load-worker --master <this host> --master-port {port}` "
                                  f"(or infra/kubernetes, infra/aws/load-workers.yaml); see {run_dir}/load/locust.log")
        children.wait_or_abort(LOAD_WARMUP_S, lambda: self._aborted(monitor))
        measured_from = run_clock.now()
        self.echo(f"phase warm-up: {measured_from - started:.1f} s until the load ran steadily (not measured)")
        return measured_from

    def _wait_chaos(self, chaos, monitor: LiveMonitor) -> None:
        deadline = time.monotonic() + CHAOS_TIMEOUT_S
        interrupted = False
        while chaos.poll() is None:
            if self._aborted(monitor) and not interrupted:
                # SIGINT with --rollback-strategy always: Chaos Toolkit stops the method and runs the rollbacks.
                children.stop(chaos, signal.SIGINT, grace_s=300)
                interrupted = True
            if time.monotonic() > deadline:
                self.abort_reason = self.abort_reason or f"experiment exceeded {CHAOS_TIMEOUT_S:.0f} s"
                children.stop(chaos, signal.SIGINT, grace_s=120)
            time.sleep(0.05)

    # --- evidence and analysis ---------------------------------------------------------------------
    def _write_evidence(self, run_dir: Path, run_id: str, spec: ExperimentSpec, target, seq_start: int,
                        started: float, ended: float, chaos) -> None:
        ledger_lines = ledger_for(target).entries()
        ours = {e["id"] for e in ledger_lines if e["event"] == "begin" and e.get("params", {}).get("run_id") == run_id}
        with open(run_dir / "faults.jsonl", "w") as out:
            for entry in ledger_lines:
                if entry["id"] in ours:
                    out.write(json.dumps(entry) + "\n")
        surviving = target.surviving_writes(seq_start)
        if surviving is not None:  # None: the target cannot read the writer's canary rows; RPO stays unmeasured
            (run_dir / "surviving_seqs.json").write_text(json.dumps(surviving))
        self._write_alarms(run_dir, target, started)
        meta = {"run_id": run_id, "experiment": str(self.options.experiment), "title": spec.title,
                "target": self.options.target, "started_s": started, "ended_s": ended, "quick": self.options.quick,
                "aborted": {"reason": self.abort_reason, "at_s": self.aborted_at} if self.abort_reason else None,
                "chaos_exit_code": chaos.returncode if chaos is not None else None,
                "experiment_ended_s": self.experiment_ended_s, "gameday_id": self.options.gameday_id,
                "history": str((self.options.history or history_file(run_dir.parent)).resolve()),
                "holds_raised": [change.as_dict() for change in self.hold_changes],
                "halted_by": self.halted_by,
                "provenance": provenance(self.options.experiment)}
        (run_dir / "run.json").write_text(json.dumps(meta, indent=2))

    def _write_alarms(self, run_dir: Path, target, started: float) -> None:
        """alarms.json: the target's monitoring during the run (state changes, notifications), on the run's clock;
        absent when the target's monitoring cannot be read (the detection criteria are then unmeasured)."""
        since_wall = time.time() - (run_clock.now() - started) - ALARM_LOOKBACK_S
        try:
            record = target.alarm_record(since_wall)
        except Exception as exc:  # the evidence of the rest of the run must still be written
            self.echo(f"alarms: the target's monitoring could not be read: {type(exc).__name__}: {exc}")
            return
        if record is None:
            return
        for change in record["changes"]:
            change["at_s"] = run_clock.from_wall(change["at_s"])
        for delivery in record["deliveries"] or []:
            delivery["received_s"] = run_clock.from_wall(delivery["received_s"])
        (run_dir / "alarms.json").write_text(json.dumps(record, indent=2))

    def _analyse(self, run_dir: Path) -> int:
        code = report_run(run_dir, self.echo)
        export_run(run_dir, self.settings, self.echo)
        if self.options.gameday_id is None and self.settings.notify_webhook_url is not None:  # a GameDay says it once
            summary = run_dir / "summary.json"
            verdict = json.loads(summary.read_text()).get("verdict") if summary.is_file() else "no summary"
            Notifier.from_settings(self.settings, self.echo).send(
                f"GameDay run of {self.options.experiment.stem}: {verdict} (exit {code}); report: "
                f"{(run_dir / 'report.html').resolve()}")
        return code


def _load_recorded(load_dir: Path) -> bool:
    """Whether the load has put raw samples on disk yet (the recorder appends a chunk every second)."""
    try:
        return any(p.stat().st_size for p in load_dir.rglob("samples-*.bin"))
    except OSError:  # a file renamed or removed while looking
        return False
