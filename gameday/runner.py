"""The run engine: sequences every side effect of one experiment run and writes the run directory.

stack up -> recover leftovers -> samplers + load -> baseline -> Chaos Toolkit child (rollbacks always)
-> after window -> recover anything still open -> stop children -> evidence files -> analysis -> exit code.
Stop conditions and Ctrl-C/SIGTERM interrupt the experiment (its rollbacks run) and end with exit code 3.

`--target aws`: no local stack; the account check (preflight) replaces `stack up`, the samplers and the load aim
at the profile's endpoints, the child acts through the AWS driver (GAMEDAY_TARGET*), the ledger is the profile's
(`infra.targets.ledger_for`), and the RPO stays unmeasured (the harness cannot read the Aurora writer's rows).
`--dry-run` on aws walks the experiment against a dry-run driver (gameday.dry_run) and changes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import psycopg

from gameday import children
from gameday.errors import InvalidInput
from gameday.faults import recover_open
from gameday.history import history_file
from gameday.ledger import read_entries
from gameday.live import LiveMonitor
from gameday.models import ExperimentSpec, load_experiment
from gameday.provenance import provenance
from gameday.redact import redact_dir, secret_values
from gameday.reporting import report_run
from gameday.settings import Settings
from gameday.validate import validate_files
from infra.targets.profile import load_profile
from infra.local import postgres
from infra.local.layout import HOST, REGIONS
from infra.targets import aws_driver, ledger_for
from infra.targets.local import LocalTarget

EXIT_INVALID = 2
EXIT_ABORTED = 3
TARGETS = ("local", "aws")
CHAOS_TIMEOUT_S = 3600.0
WRITER_LOOKUP_S = 15.0


@dataclass(frozen=True)
class RunOptions:
    experiment: Path
    target: str = "local"
    out: Path | None = None
    dry_run: bool = False
    quick: bool = False
    history: Path | None = None     # the history database; default: beside the run directory
    gameday_id: str | None = None   # the GameDay this run belongs to, if any
    profile: Path | None = None          # the target profile of an aws run
    confirm_account: str | None = None   # an aws run on a prod profile needs it equal to the profile's account


class Run:
    """One run of one experiment; `execute()` returns the exit code."""

    def __init__(self, options: RunOptions, settings: Settings, echo: Callable[[str], None] = print):
        self.options = options
        self.settings = settings
        self.echo = echo
        self.abort_reason: str | None = None
        self.aborted_at: float | None = None
        self.experiment_ended_s: float | None = None

    # --- the sequence ------------------------------------------------------------------------------
    def execute(self) -> int:
        spec = self._load()
        gd = spec.gameday.quickened() if self.options.quick else spec.gameday
        variables = spec.gameday.quick.configuration if self.options.quick else {}
        aws = self.options.target == "aws"
        if self.options.dry_run and aws:
            from gameday.dry_run import walk

            walk(spec, lambda root: self._aws(dry_run=True, state_root=root, log=self.echo), self.echo, variables)
            return 0
        if self.options.dry_run:
            self._print_plan(spec, gd)
            return 0
        target = self._aws() if aws else LocalTarget(self.settings)
        if aws:
            self.echo(f"target aws: {json.dumps(target.preflight())}")  # wrong account: exit 2, nothing started
        run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{self.options.experiment.stem}"
        run_dir = self.options.out or self.settings.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        self.echo(f"run {run_id} -> {run_dir}")
        if not aws:
            target.stack.progress = lambda line: self.echo(f"stack: {line}")
            target.stack.up()
        for done in recover_open(target, log=lambda line: self.echo(f"recover: {line}")):
            self.echo(f"recover: closed {done['kind']} of {done['target']} left open by an earlier run")
        (run_dir / "experiment.yaml").write_text(self.options.experiment.read_text())
        seq_start = int(time.time() * 1000)
        env = {**os.environ, "GAMEDAY_RUN_ID": run_id, "GAMEDAY_RUN_DIR": str(run_dir.resolve()),
               "GAMEDAY_STACK_ROOT": str(self.settings.stack_root), **self._target_env()}
        pg_ports = {} if aws else {r: target.layout.pg_port(r) for r in REGIONS}
        capacity_urls = {} if aws else {r: f"http://{HOST}:{target.layout.app_port(r)}" for r in REGIONS}
        started = time.time()
        sampler = load = chaos = None
        monitor = LiveMonitor(run_dir / "probes.jsonl", gd.stop_conditions, self.echo)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            sampler = children.start(children.sampler_argv(run_dir, gd, target.entry_url, pg_ports, seq_start,
                                                           routing=not aws, capacity_urls=capacity_urls),
                                     run_dir / "sampler.log", env, die_with_runner=True)
            load_cmd = children.load_argv(run_dir, gd, target.entry_url, quick=self.options.quick)
            load = (children.start(load_cmd, run_dir / "load" / "locust.out", env, die_with_runner=True)
                    if load_cmd else None)
            monitor.start()
            self._phase(monitor, "baseline", gd.windows.baseline_s)
            if not self._aborted(monitor):
                chaos = children.start(children.chaos_argv(run_dir, self.options.experiment.resolve(), variables),
                                       run_dir / "chaos.out", env)
                monitor.phase = "experiment"
                self._wait_chaos(chaos, monitor)
                self.experiment_ended_s = time.time()
            if not self._aborted(monitor):
                self._phase(monitor, "after", gd.windows.after_s)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            monitor.phase = "recovering"
            for done in recover_open(target, log=lambda line: self.echo(f"safety net: {line}")):
                self.echo(f"safety net: recovered {done['kind']} of {done['target']}")
            children.stop(load)
            children.stop(sampler)
            monitor.stop()
        ended = time.time()
        self._write_evidence(run_dir, run_id, spec, target, seq_start, started, ended, chaos)
        redact_dir(run_dir, secret_values(spec.raw))
        return self._analyse(run_dir)

    def _load(self) -> ExperimentSpec:
        if self.options.target not in TARGETS:
            raise InvalidInput(f"target {self.options.target!r} is unknown; valid targets: {', '.join(TARGETS)}")
        profile = None
        if self.options.target == "aws":
            if self.options.profile is None:
                raise InvalidInput("run on target aws refused: no target profile given",
                                   hint="gameday run EXPERIMENT --target aws --profile examples/targets/staging.yaml")
            profile = load_profile(self.options.profile)
        problems = validate_files([self.options.experiment], self.options.target, profile)
        if problems:
            again = f" --target aws --profile {self.options.profile}" if profile else ""
            raise InvalidInput("\n".join(str(p) for p in problems), hint=f"nothing was touched; "
                               f"`gameday validate {self.options.experiment}{again}` re-checks")
        return load_experiment(self.options.experiment)

    def _aws(self, **kwargs):
        """The AWS driver of this run (the prod confirmation is checked here, before anything is touched)."""
        return aws_driver(self.settings, {"gameday_target_profile": str(self.options.profile.resolve()),
                                          "gameday_confirm_account": self.options.confirm_account}, **kwargs)

    def _target_env(self) -> dict[str, str]:
        """What the children need to act on this run's target (driver_from reads it through Settings)."""
        if self.options.target == "aws":
            env = {"GAMEDAY_TARGET": "aws", "GAMEDAY_TARGET_PROFILE": str(self.options.profile.resolve())}
            return env | ({"GAMEDAY_CONFIRM_ACCOUNT": self.options.confirm_account}
                          if self.options.confirm_account else {})
        lay = self.settings.layout()
        return {"GAMEDAY_TARGET": "local", "GAMEDAY_ROUTER_PORT": str(lay.router_port),
                "GAMEDAY_TOXIPROXY_PORT": str(lay.toxiproxy_port), "GAMEDAY_BASE_PORT": str(lay.base_port)}

    def _print_plan(self, spec: ExperimentSpec, gd) -> None:
        raw = spec.raw
        self.echo(f"dry run of {spec.source}: {spec.title}")
        self.echo(f"would bring up the local stack (router {self.settings.layout().router_url}) and recover open faults")
        self.echo(f"would start probes (health every {gd.probes.health_interval_s} s, canary "
                  f"{gd.probes.canary_rate_per_s}/s) and load {gd.load.profile if gd.load else 'none'}")
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
            self.aborted_at = time.time()
            self.echo(f"{self.abort_reason}: stopping the experiment, its rollbacks run")

    def _aborted(self, monitor: LiveMonitor) -> bool:
        if self.abort_reason is None and monitor.breach is not None:
            self.abort_reason = monitor.breach
            self.aborted_at = time.time()
            self.echo(f"ABORT: {self.abort_reason}")
        return self.abort_reason is not None

    def _phase(self, monitor: LiveMonitor, name: str, seconds: float) -> None:
        monitor.phase = name
        self.echo(f"phase {name}: {seconds:g} s")
        children.wait_or_abort(seconds, lambda: self._aborted(monitor))

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
        ledger_lines = read_entries(ledger_for(target).path)
        ours = {e["id"] for e in ledger_lines if e["event"] == "begin" and e.get("params", {}).get("run_id") == run_id}
        with open(run_dir / "faults.jsonl", "w") as out:
            for entry in ledger_lines:
                if entry["id"] in ours:
                    out.write(json.dumps(entry) + "\n")
        deadline = time.monotonic() + WRITER_LOOKUP_S
        writers = target.writer_regions()
        while len(writers) != 1 and time.monotonic() < deadline:  # a busy database may miss one answer
            time.sleep(0.2)
            writers = target.writer_regions()
        seqs: list[int] = []
        if target.name == "aws":  # no direct database access: RPO stays unmeasured (no surviving_seqs.json)
            writers = []
        elif len(writers) == 1:
            with psycopg.connect(postgres.dsn(target.layout.pg_port(writers[0])), autocommit=True) as conn:
                seqs = [row[0] for row in conn.execute("SELECT seq FROM canary_writes WHERE seq >= %s ORDER BY seq",
                                                       (seq_start,))]
        if target.name != "aws":
            (run_dir / "surviving_seqs.json").write_text(json.dumps({"seqs": seqs, "writer_region": writers[0]
                                                                     if len(writers) == 1 else None}))
        meta = {"run_id": run_id, "experiment": str(self.options.experiment), "title": spec.title,
                "target": self.options.target, "started_s": started, "ended_s": ended, "quick": self.options.quick,
                "aborted": {"reason": self.abort_reason, "at_s": self.aborted_at} if self.abort_reason else None,
                "chaos_exit_code": chaos.returncode if chaos is not None else None,
                "experiment_ended_s": self.experiment_ended_s, "gameday_id": self.options.gameday_id,
                "history": str((self.options.history or history_file(run_dir.parent)).resolve()),
                "provenance": provenance(self.options.experiment)}
        (run_dir / "run.json").write_text(json.dumps(meta, indent=2))

    def _analyse(self, run_dir: Path) -> int:
        return report_run(run_dir, self.echo)
