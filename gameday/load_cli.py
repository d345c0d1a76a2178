"""`gameday load` and `gameday load-worker`: run a load profile alone and print exact per-second figures."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from gameday.base.errors import GameDayError, InvalidInput
from gameday.base.settings import Settings
from gameday.load import DEFAULT_MASTER_PORT, LoadSpec, run_load, run_worker

EXIT_FAILED, EXIT_INVALID = 1, 2


def _fail(exc: GameDayError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_INVALID if isinstance(exc, InvalidInput) else EXIT_FAILED)


def _ms(value: float) -> str:
    return f"{value:9.2f}" if value == value else f"{'-':>9}"


def print_report(per_second, summary: dict, locust_requests: int | None) -> None:
    click.echo(f"{'second':>6} {'requests':>9} {'errors':>7} {'dropped':>8} {'p50_ms':>9} {'p95_ms':>9} "
               f"{'p99_ms':>9} {'max_ms':>9}")
    for row in per_second.itertuples():
        click.echo(f"{row.second:>6} {row.requests:>9} {row.errors:>7} {row.dropped:>8} {_ms(row.p50_ms)} "
                   f"{_ms(row.p95_ms)} {_ms(row.p99_ms)} {_ms(row.max_ms)}")
    click.echo(f"requests {summary['requests']} (Locust counted {locust_requests}), "
               f"{summary['rps']:.1f} RPS, error rate {summary['error_rate']:.2%}, dropped {summary['dropped']}")
    click.echo(f"exact P50 {summary['p50_ms']:.2f} ms, P95 {summary['p95_ms']:.2f} ms, "
               f"P99 {summary['p99_ms']:.2f} ms, max {summary['max_ms']:.2f} ms")


@click.command("load")
@click.argument("profile")
@click.option("--target", required=True, help="Base URL, e.g. http://127.0.0.1:8080 (the local stack's router).")
@click.option("--duration", type=click.FloatRange(min=0.5), default=None,
              help="Stretch or shrink the profile to this many seconds, keeping its stages' proportions.")
@click.option("--processes", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Locust worker processes on this host (one file of samples each).")
@click.option("--workers", type=click.IntRange(0, 4096), default=0, show_default=True,
              help="Act as master and wait for this many `gameday load-worker` processes (other hosts).")
@click.option("--master-bind", default="127.0.0.1", show_default=True, help="Address the master listens on.")
@click.option("--master-port", type=click.IntRange(1024, 65535), default=DEFAULT_MASTER_PORT, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=None,
              help="Stop Locust (by PID) after this many seconds. Default: profile length + 60 s.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory (default <runs dir>/<UTC time>-load-<profile>/).")
@click.option("--edge-url", default=None, help="A CDN (e.g. CloudFront) base URL the static and index journeys "
                                               "load from; default: --target.")
def load(profile: str, target: str, duration: float | None, processes: int, workers: int, master_bind: str,
         master_port: int, timeout_s: float | None, out: Path | None, edge_url: str | None) -> None:
    """Run load PROFILE (shipped name or YAML file) against --target; print per-second and exact P50/P95/P99."""
    from reports.sample_files import read_samples
    from reports.samples import per_second, summary
    from scenarios.profiles import load_profile, scaled

    try:
        resolved = load_profile(profile)
        if duration is not None:
            resolved = scaled(resolved, duration)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir = out or Settings().runs_dir / f"{stamp}-load-{resolved.name}"
        spec = LoadSpec(profile=resolved, target=target, out_dir=out_dir, processes=processes, workers=workers,
                        master_bind=master_bind, master_port=master_port, timeout_s=timeout_s, edge_url=edge_url)
    except GameDayError as exc:
        _fail(exc)
    click.echo(f"load: {resolved.name} against {target} -> {out_dir}", err=True)
    result = run_load(spec)
    samples = read_samples(result.samples_dir)
    print_report(per_second(samples), summary(samples), result.locust_requests)
    if result.timed_out or result.exit_code != 0:
        click.echo(f"error: Locust {'timed out and was stopped' if result.timed_out else 'failed'} "
                   f"(exit {result.exit_code}); see {out_dir / 'locust.out'}", err=True)
        sys.exit(EXIT_FAILED)


@click.command("load-worker")
@click.option("--master", "master_host", required=True, help="Host of the `gameday load --workers N` master.")
@click.option("--master-port", type=click.IntRange(1024, 65535), default=DEFAULT_MASTER_PORT, show_default=True)
@click.option("--processes", type=click.IntRange(1, 256), default=1, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=86400.0, show_default=True)
@click.option("--log", "log_path", type=click.Path(path_type=Path), default=Path("load-worker.log"),
              show_default=True)
def load_worker(master_host: str, master_port: int, processes: int, timeout_s: float, log_path: Path) -> None:
    """Serve a remote `gameday load` master; samples travel to the master's run directory. Ends with the test."""
    code = run_worker(master_host, master_port, processes, log_path, timeout_s)
    sys.exit(EXIT_FAILED if code else 0)
