"""The `gameday` command line: stack control now; runs, GameDays and reports as they land.

Exit codes: 0 success / all criteria pass; 1 a criterion failed or an operation failed; 2 invalid
input (nothing was touched); 3 aborted by a stop condition or signal (rollbacks ran).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gameday import __version__
from gameday.base.errors import GameDayError, InvalidInput, RunAborted, StackError
from gameday.base.settings import Settings

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_ABORTED = 3
ORPHAN_WAIT_S = 600.0  # recover waits this long for a killed run's Chaos Toolkit child to finish its rollbacks


def _settings(base_port: int | None) -> Settings:
    from pydantic import ValidationError

    from infra.targets.local import with_base_port

    try:
        settings = Settings()
    except ValidationError as exc:  # a bad GAMEDAY_* variable, gameday.toml or [tool.gameday]: exit 2, one line each
        lines = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors())
        _fail(InvalidInput(f"reading of settings failed: {lines}",
                           hint="check the GAMEDAY_* environment, gameday.toml and [tool.gameday] in pyproject.toml"))
    return with_base_port(settings, base_port) if base_port is not None else settings


def _stack(base_port: int | None, **kwargs):
    """The local reference stack of `--base-port` (or the GAMEDAY_* settings)."""
    from infra.local.supervisor import LocalStack
    from infra.targets.local import stack_config

    return LocalStack(stack_config(_settings(base_port)), **kwargs)


def _target_config(target: str, profile: Path | None):
    """What the target's driver reads before anything is touched (e.g. the aws profile); InvalidInput else."""
    from infra.targets.base import TargetOptions
    from infra.targets.registry import driver_class

    return driver_class(target).configure(TargetOptions(profile=profile))


pdf_option = click.option("--pdf", is_flag=True, help="Also print the HTML (a GameDay: the certificate and each "
                                                      "run's report) to PDF with headless Chromium.")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the result as one JSON document on stdout (progress goes to stderr).")


def _progress(as_json: bool):
    """Where progress lines go: stdout, or stderr when stdout carries the JSON result. The stream is looked up for
    each line: on a terminal a run's live region (gameday.terminal_view) takes them to print above itself."""
    return (lambda line: click.echo(line, file=sys.stderr)) if as_json else (
        lambda line: click.echo(line, file=sys.stdout))


def _print_json(document) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


def _summary_of(directory: Path | None, name: str) -> dict | None:
    path = directory / name if directory is not None else None
    return json.loads(path.read_text()) if path is not None and path.is_file() else None


def _fail(exc: GameDayError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_INVALID if isinstance(exc, InvalidInput) else EXIT_ABORTED if isinstance(exc, RunAborted)
             else EXIT_FAILED)


base_port_option = click.option(
    "--base-port", type=click.IntRange(1024, 65000), default=None,
    help="Lay the whole stack out from this port (router = N, Toxiproxy API = N+1, the rest N+10..N+79) "
         "so two stacks can coexist. Default: router 8080, Toxiproxy API 8474, components from 15400.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gameday")
def cli() -> None:
    """Chaos and load-testing GameDays with measured RTO/RPO, P95/P99, error rate and scaling."""


@cli.group()
def stack() -> None:
    """Control the local reference stack: two regions of PostgreSQL, Redis, API, a router, a fault proxy."""


@stack.command("up")
@base_port_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON when up.")
def stack_up(base_port: int | None, as_json: bool) -> None:
    """Start every component and wait until all are healthy (data directories are reused)."""
    stack_ = _stack(base_port, progress=lambda line: click.echo(f"stack: {line}", err=True))
    try:
        status = stack_.up()
    except GameDayError as exc:
        _fail(exc)
    _print_status(status, as_json)


@stack.command("down")
@base_port_option
@click.option("--force", is_flag=True, help="Stop the stack even while a run or a GameDay is using it.")
def stack_down(base_port: int | None, force: bool) -> None:
    """Stop every component of the stack, also after the supervisor was killed (PIDs are in a state file)."""
    from gameday.run_lock import holder

    stack_ = _stack(base_port)
    if not force and (busy := holder(stack_.dir)) is not None:
        _fail(InvalidInput(f"stop of the local stack in {stack_.dir} refused: {busy} is using it",
                           hint="wait for it to end, or `gameday stack down --force` (the run then fails)"))
    stopped = stack_.down()
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command("status")
@base_port_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stack_status(base_port: int | None, as_json: bool) -> None:
    """Show every component (region, role, pid, address, health), the writer region and the URLs."""
    status = _stack(base_port).status()
    _print_status(status, as_json)
    if not status["running"]:
        sys.exit(EXIT_FAILED)


def _print_status(status: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(status, indent=2, default=str))
        return
    if not status["running"]:
        click.echo("stack: not running (start it with `gameday stack up`)")
        return
    state = "healthy" if status["healthy"] else "UNHEALTHY"
    routing = status.get("routing") or {}
    click.echo(f"stack: {state}; writer region: {status['writer_region'] or 'none/ambiguous'}; "
               f"router serves: {routing.get('served_region', '?')}")
    click.echo(f"router: {status['router_url']}   fault proxy (Toxiproxy API): {status['toxiproxy_url']}")
    for region, summary in (status.get("regions") or {}).items():
        cache = summary.get("data_cache") or {}
        click.echo(f"region {region}: db {summary['db_role'] or '?'}, release {summary['release'] or '?'}, "
                   f"instances {summary['ready_instances']}/{summary['instances']} (max {summary['max_instances']}), "
                   f"throttled {summary['throttles_total']}, data-cache hit rate {cache.get('hit_rate')}")
    edge = status.get("edge")
    if edge:
        click.echo(f"edge cache: hit rate {edge.get('hit_rate')}, {edge.get('cached_objects')} objects, "
                   f"origin failovers {edge.get('origin_failovers')}")
    alarms = status.get("alarms")
    if alarms is not None:
        firing = sorted(name for name, a in alarms.items() if a["state"] == "ALARM")
        off = sorted(name for name, a in alarms.items() if not a["enabled"])
        click.echo(f"alarms: {len(alarms)}, in ALARM: {', '.join(firing) or 'none'}"
                   + (f"; not evaluated: {', '.join(off)}" if off else ""))
    click.echo(f"{'component':<24}{'region':<14}{'role':<12}{'pid':>8}  {'address':<17}health")
    for c in status["components"]:
        health = "ok" if c["healthy"] else ("DOWN" if not c["alive"] else "UNHEALTHY")
        click.echo(f"{c['name']:<24}{c['region'] or '-':<14}{c['role']:<12}{c['pid']:>8}  {c['address']:<17}{health}")


class TargetName(click.ParamType):
    """A target of the registry (infra.targets.registry), looked up when the option is parsed."""

    name = "target"

    def convert(self, value, param, ctx):
        from infra.targets.registry import names

        if value in names():
            return value
        self.fail(f"{value!r} is not a known target; valid targets: {', '.join(names())}", param, ctx)

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        from infra.targets.registry import names

        return [CompletionItem(name) for name in names() if name.startswith(incomplete)]


target_option = click.option("--target", type=TargetName(), default="local", show_default=True,
                             help="local: the reference stack; aws: the resources of --profile.")
profile_option = click.option("--profile", "profile", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                              default=None,
                              help="Target profile (YAML) of --target aws, e.g. examples/targets/staging.yaml.")
confirm_option = click.option("--confirm-account", default=None, metavar="ACCOUNT_ID",
                              help="Needed for a prod profile: its account id, to confirm acting on production.")


workers_option = click.option(
    "--workers", type=click.IntRange(1, 64), default=None,
    help="Run the load as a Locust master and N local worker processes (default: the load block's `workers`, "
         "else one process); the open-model rate is split between them, every worker's raw samples kept.")


def _master_address(ctx, param, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT (e.g. 0.0.0.0:5557)")
    return host, int(port)


def remote_load_options(f):
    f = click.option("--load-master", callback=_master_address, default=None, metavar="HOST:PORT",
                     help="Where the run's Locust master listens for --remote-workers (default 127.0.0.1:5557).")(f)
    return click.option("--remote-workers", type=click.IntRange(0, 1000), default=0,
                        help="Wait for this many Locust workers started elsewhere (`gameday load-worker`, "
                             "infra/kubernetes, infra/aws/load-workers.yaml) before the run is measured.")(f)


def ui_options(f):
    f = click.option("--ui-port", type=click.IntRange(0, 65535), default=0, show_default=True,
                     help="The console's port on 127.0.0.1 (0: a free one, printed).")(f)
    return click.option("--ui", is_flag=True, help="Serve the live console on loopback: watch the run together; "
                        "HALT with the token printed here (docs/console.md).")(f)


def _console(ui: bool, port: int, title: str, echo):
    """The live console (gameday.console) when --ui is given, started and announced; else None."""
    if not ui:
        return None
    from gameday.console import Console, ConsoleState

    try:
        console = Console(ConsoleState(title, "starting"), port).start()
    except OSError as exc:
        _fail(InvalidInput(f"start of the console on 127.0.0.1:{port} failed: {exc.strerror}",
                           hint="pick another --ui-port (0: any free port)"))
    echo(f"console: {console.url} (read-only for anyone on this machine)")
    echo(f"console with HALT: {console.halt_url}")
    return console


@cli.command("run")
@click.argument("experiment", type=click.Path(path_type=Path))
@target_option
@profile_option
@confirm_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory (default runs/<UTC time>-<experiment>/, or under GAMEDAY_RUNS_DIR).")
@click.option("--dry-run", is_flag=True, help="Print every call it would make and make none "
                                              "(aws: every AWS call, reads sent, changes not).")
@click.option("--quick", is_flag=True, help="The experiment's short CI variant (its `quick` block).")
@base_port_option
@workers_option
@remote_load_options
@ui_options
@json_option
def run(experiment: Path, target: str, profile: Path | None, confirm_account: str | None, out: Path | None,
        dry_run: bool, quick: bool, base_port: int | None, workers: int | None, remote_workers: int,
        load_master: tuple[str, int] | None, ui: bool, ui_port: int, as_json: bool) -> None:
    """Run one experiment with load and measurements; exit 0 pass, 1 fail, 2 invalid, 3 aborted."""
    from gameday.runner import Run, RunOptions

    console = _console(ui and not dry_run, ui_port, experiment.stem, _progress(as_json))
    options = RunOptions(experiment, target, out, dry_run, quick, profile=profile, confirm_account=confirm_account,
                         console=console, workers=workers, remote_workers=remote_workers,
                         load_master=load_master)
    runner = Run(options, _settings(base_port), _progress(as_json))
    try:
        code = runner.execute()
    except GameDayError as exc:
        _fail(exc)
    finally:
        if console is not None:
            console.stop()
    if as_json:
        _print_json({"exit_code": code, "run_dir": runner.run_dir, "dry_run": dry_run,
                     "summary": _summary_of(runner.run_dir, "summary.json")})
    sys.exit(code)


@cli.command("day")
@click.argument("plan", type=click.Path(path_type=Path))
@target_option
@profile_option
@confirm_option
@click.option("--quick", is_flag=True, help="Run every experiment's short CI variant.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="GameDay directory (default runs/<UTC time>-<plan>/, or under GAMEDAY_RUNS_DIR).")
@click.option("--baseline", "baselines", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              metavar="RUN_DIR", help="The baseline run of an improvement requirement's experiment (repeatable; "
                                      "default: the plan's `baseline:`, else the history's last passing run).")
@base_port_option
@pdf_option
@workers_option
@ui_options
@json_option
def day(plan: Path, target: str, profile: Path | None, confirm_account: str | None, quick: bool, out: Path | None,
        baselines: tuple[Path, ...], base_port: int | None, pdf: bool, workers: int | None, ui: bool, ui_port: int,
        as_json: bool) -> None:
    """Run a GameDay plan (an ordered list of experiments) and issue its certificate; exit 0 certified."""
    from gameday.baselines import explicit_baselines
    from gameday.day import DayOptions, GameDay
    from gameday.plans import load_plan

    try:
        loaded = load_plan(plan, force_quick=quick, target=target, config=_target_config(target, profile))
        explicit_baselines(loaded, baselines)  # checked before anything is touched
        console = _console(ui, ui_port, loaded.plan.title, _progress(as_json))
        options = DayOptions(target=target, out=out, profile=profile, confirm_account=confirm_account,
                             console=console, workers=workers, baselines=baselines)
        game = GameDay(loaded, _settings(base_port), options, _progress(as_json))
        try:
            code = game.execute()
        finally:
            if console is not None:
                console.stop()
        if pdf and game.day_dir is not None:
            _print_day_pdfs(game.day_dir, _progress(as_json))
    except GameDayError as exc:
        _fail(exc)
    if as_json:
        _print_json({"exit_code": code, "gameday_dir": game.day_dir,
                     "certificate": _summary_of(game.day_dir, "certificate.json")})
    sys.exit(code)


def _print_day_pdfs(day_dir: Path, echo) -> None:
    from gameday.pdf import print_pdf

    echo(f"pdf: {print_pdf(day_dir / 'certificate.html', day_dir / 'certificate.pdf')}")
    for report_html in sorted(day_dir.glob("*/report.html")):
        echo(f"pdf: {print_pdf(report_html, report_html.with_suffix('.pdf'))}")


@cli.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@pdf_option
@click.option("--site", "site", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
              help="Instead: RUN_DIR is a runs directory; write its history site (every recorded run and GameDay, "
                   "trends, reports) into DIR as static files.")
@json_option
def report(run_dir: Path, pdf: bool, site: Path | None, as_json: bool) -> None:
    """Analyse a run directory again, offline, and rewrite its reports (with --pdf: report.pdf too)."""
    from gameday.export import export_run
    from gameday.pdf import print_pdf
    from gameday.reporting import report_run

    if site is not None:
        from gameday.site import write_site
        try:
            index = write_site(run_dir, site, _progress(as_json))
        except GameDayError as exc:
            _fail(exc)
        if as_json:
            _print_json({"site": index})
        return
    try:
        code = report_run(run_dir, _progress(as_json))
        export_run(run_dir, _settings(None), _progress(as_json))
        if pdf:
            _progress(as_json)(f"pdf: {print_pdf(run_dir / 'report.html', run_dir / 'report.pdf')}")
    except GameDayError as exc:
        _fail(exc)
    except OSError as exc:
        click.echo(f"error: writing of reports into {run_dir} failed: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    if as_json:
        _print_json({"exit_code": code, "run_dir": run_dir, "summary": _summary_of(run_dir, "summary.json")})
    sys.exit(code)


@cli.command("ui")
@click.argument("runs_dir", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="The port on 127.0.0.1 (0: a free one, printed).")
def ui(runs_dir: Path | None, port: int) -> None:
    """Browse past runs and GameDays (verdicts, trends, reports, certificates) on loopback until Ctrl-C."""
    from gameday.site import serve_site

    try:
        serve_site(runs_dir or _settings(None).runs_dir, port)
    except GameDayError as exc:
        _fail(exc)


@cli.command("validate")
@click.argument("files", nargs=-1, type=click.Path())
@target_option
@profile_option
@json_option
def validate(files: tuple[str, ...], target: str, profile: Path | None, as_json: bool) -> None:
    """Check experiment files and GameDay plans (each experiment a plan names, its requirements) without touching
    anything; every problem with its location (with --target aws: whether each activity has an AWS meaning and the
    profile's resources)."""
    from gameday.validate import validate_files

    if not files:
        click.echo("error: validation of experiments failed: no file given\n"
                   "hint: gameday validate experiments/*.yaml", err=True)
        sys.exit(EXIT_INVALID)
    try:
        loaded = _target_config(target, profile)
    except GameDayError as exc:
        _fail(exc)
    problems = [problem for file in files for problem in (
        _plan_problems(file, target, loaded) if _is_plan(file) else validate_files([file], target, loaded))]
    failed = {problem.file for problem in problems}
    if as_json:
        _print_json([{"file": file, "ok": file not in failed, "problems": [
            {"location": p.location, "message": p.message} for p in problems if p.file == file]} for file in files])
    else:
        for problem in problems:
            click.echo(f"{problem.file}: {problem.location}: {problem.message}")
        for file in files:
            if file not in failed:
                click.echo(f"{file}: ok")
    if problems:
        sys.exit(EXIT_INVALID)


def _is_plan(file: str) -> bool:
    """A GameDay plan (experiments/gamedays/*.yaml): a mapping with `experiments` and `requirements`."""
    import yaml

    try:
        doc = yaml.safe_load(Path(file).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # the experiment check reports what is wrong with it
    return isinstance(doc, dict) and "experiments" in doc and "requirements" in doc


def _plan_problems(file: str, target: str, config) -> list:
    from gameday.plans import PlanInvalid, load_plan

    try:
        load_plan(file, target=target, config=config)
    except PlanInvalid as exc:
        return [p if p.file == file else type(p)(file, f"{p.file}: {p.location}", p.message) for p in exc.problems]
    return []


@cli.command("recover")
@target_option
@profile_option
@confirm_option
@base_port_option
@click.option("--force", is_flag=True, help="Recover even while a run or a GameDay is using the target, and write "
              "previous values back over a restore conflict (a resource changed since the fault).")
@json_option
def recover(target: str, profile: Path | None, confirm_account: str | None, base_port: int | None,
            force: bool, as_json: bool) -> None:
    """Recover faults left open by a crashed run (from the stack's, or the AWS profile's, fault ledger), then
    check the target is in its reference topology and bring it back there if not; exit 1 when it cannot."""
    from gameday.faults import recover_open
    from gameday.run_lock import lock_dir, wait_for_orphan
    from infra.targets import ledger_for
    from infra.targets.base import TargetOptions
    from infra.targets.registry import open_target

    echo, restored = _progress(as_json), None
    try:
        extra = {"force_restore": True} if force else {}  # a driver whose restores compare first obeys it
        driver = open_target(target, _settings(base_port), TargetOptions(profile=profile,
                                                                         confirm_account=confirm_account, extra=extra))
        if not force and (busy := wait_for_orphan(lock_dir(driver), ORPHAN_WAIT_S,
                                                  lambda line: echo(f"recover: {line}"))) is not None:
            raise InvalidInput(f"recovery of target {target} refused: {busy} is using it (its own rollbacks and "
                               "safety net recover its faults)", hint="wait for it to end, or `gameday recover "
                               "--force` (the two may then undo the same fault at once)")
        where = ledger_for(driver).where
        echo(f"recover: ledger {where}")
        done = recover_open(driver, log=lambda line: echo(f"recover: {line}"))
        echo(f"recovered {len(done)} open fault(s)" if done else "no open fault in the ledger")
        if problems := driver.reference_problems():
            echo(f"recover: not in the reference topology: {'; '.join(problems)}; restoring it")
            restored = driver.restore_reference()
            echo(f"recover: {json.dumps(restored, default=str)}")
            if problems := driver.reference_problems():
                raise StackError(f"recovery of target {target} incomplete: {'; '.join(problems)}",
                                 hint="a person decides what to do; `gameday stack status` shows the stack")
        echo(f"target {target} is in its reference topology")
        if as_json:
            _print_json({"ledger": where, "recovered": done, "restored_reference": restored,
                         "reference_topology": True})
    except GameDayError as exc:
        _fail(exc)
    except Exception as exc:  # a crash left something no check foresaw: say so, never a traceback
        click.echo(f"error: recovery of target {target} failed: {type(exc).__name__}: {exc}\n"
                   "hint: run `gameday recover` again; `gameday stack status` shows the stack", err=True)
        sys.exit(EXIT_FAILED)


@cli.command("compare")
@click.argument("base", type=click.Path(path_type=Path, file_okay=False))
@click.argument("new", type=click.Path(path_type=Path, file_okay=False))
@click.option("--window", default="after", show_default=True,
              type=click.Choice(["baseline", "fault", "recovery", "after", "overall"]),
              help="The window compared in both runs.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the comparison as markdown to this file.")
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the comparison as a self-contained HTML page to this file.")
@json_option
def compare(base: Path, new: Path, window: str, out: Path | None, html_out: Path | None, as_json: bool) -> None:
    """Compare a window of two runs (e.g. the last release and this one): latency shift NEW - BASE with its
    confidence interval, relative to BASE's median, and the error-rate difference with its bounds; with
    vitals.jsonl in both runs, each Core Web Vital's shift and improvement with its interval too."""
    from reports.release_comparison import compare_releases, html, markdown
    from reports.run_files import VITALS_FILE, read_vitals
    from reports.sample_files import read_samples
    from reports.vitals_comparison import compare_vitals

    runs = []
    for run_dir in (base, new):
        summary = run_dir / "summary.json"
        if not summary.is_file():
            _fail(InvalidInput(f"comparison of runs failed: {run_dir} has no summary.json",
                               hint="give two run directories (`gameday report RUN_DIR` writes the summary)"))
        try:
            found = json.loads(summary.read_text())
            samples = read_samples(run_dir / "load" / "samples")
        except (OSError, ValueError) as exc:
            _fail(InvalidInput(f"comparison of runs failed: {run_dir} cannot be read: {exc}",
                               hint="give two run directories the harness wrote"))
        try:
            vitals = read_vitals(run_dir / VITALS_FILE)
        except GameDayError as exc:
            _fail(exc)
        runs.append({"run_id": found.get("run_id"), "windows": found.get("windows") or {}, "samples": samples,
                     "start": found.get("start"), "vitals": vitals})
    result = compare_releases(runs[0], runs[1], window)
    missing = [name for name, r in (("BASE", runs[0]), ("NEW", runs[1])) if r["vitals"] is None]
    if not missing:
        result["vitals"] = compare_vitals(runs[0], runs[1], window)
    elif len(missing) == 1:
        result["vitals_missing"] = f"{missing[0]} has no {VITALS_FILE} (run without the browser sampler)"
    text = markdown(result)
    for path, body, option in ((out, text, "--out"), (html_out, html(result) if html_out else "", "--html")):
        if path is None:
            continue
        try:
            path.write_text(body, encoding="utf-8")
        except OSError as exc:
            _fail(InvalidInput(f"writing of the comparison to {path} failed: {exc.strerror}",
                               hint=f"{option} names a file in a directory that exists and is writable"))
    if as_json:
        _print_json(result)
    else:
        click.echo(text, nl=False)


@cli.command("list")
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False), default=Path("experiments"),
              show_default=True, help="Where the experiments are.")
@json_option
def list_experiments(directory: Path, as_json: bool) -> None:
    """List the experiments with their one-line titles."""
    from gameday.base.models import read_document

    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.json"))
    if not files:
        click.echo(f"error: no experiment (*.yaml, *.json) in {directory}", err=True)
        sys.exit(EXIT_INVALID)
    found = []
    for path in files:
        document, problems = read_document(path)
        found.append({"name": path.stem, "file": str(path), "title": (document or {}).get("title"),
                      "problem": problems[0].message if problems else None})
    if as_json:
        _print_json(found)
        return
    for item in found:
        click.echo(f"{item['name']:<28} {item['title'] if item['problem'] is None else 'INVALID: ' + item['problem']}")


from gameday.aws_cli import aws  # noqa: E402
from gameday.load_cli import load, load_worker  # noqa: E402

cli.add_command(load)
cli.add_command(load_worker)
cli.add_command(aws)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
