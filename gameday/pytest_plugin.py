"""The pytest plugin (entry point `pytest11: gameday`): gate a release in your own test suite.

    @pytest.mark.gameday
    def test_the_cache_outage_gate(gameday_run):
        result = gameday_run("experiments/cache-outage.yaml", quick=True)
        result.assert_passed()                      # names every criterion that did not pass
        assert result.rto_write_s is None or result.rto_write_s < 30

Fixtures: `gameday_stack` (session: the local reference stack up once, down at the end if this session started
it), `gameday_run(experiment, quick=False, target="local", profile=None, out=None)` and
`gameday_day(plan, quick=False, ...)`, each running the real `gameday` command in a child process (Locust and
Chaos Toolkit keep their own processes) and returning a typed result read from the run's files. Options:
`--gameday-runs DIR` (where runs go; default: pytest's temporary directory), `--gameday-keep-stack`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["Criterion", "RunResult", "DayResult"]


@dataclass(frozen=True)
class Criterion:
    name: str
    verdict: str                 # PASS | FAIL | INCONCLUSIVE
    target: float | None
    measured: float | None
    unit: str
    evidence: str

    def line(self) -> str:
        measured = "unknown" if self.measured is None else f"{self.measured:g} {self.unit}".strip()
        return f"{self.verdict:<12} {self.name} (measured {measured}): {self.evidence}"


@dataclass(frozen=True)
class RunResult:
    """One `gameday run`, as its summary.json says."""

    exit_code: int
    verdict: str | None
    criteria: dict[str, Criterion]
    rto_read_s: float | None
    rto_write_s: float | None
    rpo_s: float | None
    run_dir: Path | None
    reasons: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def report(self) -> Path | None:
        return self.run_dir / "report.html" if self.run_dir else None

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.verdict == "PASS"

    def assert_passed(self) -> None:
        """AssertionError naming every criterion that did not pass, with its evidence, and the report."""
        if self.passed:
            return
        lines = [f"GameDay run did not pass: verdict {self.verdict}, exit code {self.exit_code}"]
        lines += [f"  {c.line()}" for c in self.criteria.values() if c.verdict != "PASS"]
        lines += [f"  reason: {r}" for r in self.reasons]
        lines.append(f"  report: {self.report}" if self.report else f"  output:\n{self.output[-3000:]}")
        raise AssertionError("\n".join(lines))

    @classmethod
    def from_summary(cls, exit_code: int, run_dir: Path | None, summary: dict | None, output: str = "") -> RunResult:
        summary = summary or {}
        criteria = {c["name"]: Criterion(c["name"], c["verdict"], c.get("target"), c.get("measured"),
                                         c.get("unit", ""), c.get("evidence", "")) for c in summary.get("criteria", [])}
        rto, rpo = summary.get("rto") or {}, summary.get("rpo") or {}
        return cls(exit_code, summary.get("verdict"), criteria, rto.get("read_s"), rto.get("write_s"), rpo.get("s"),
                   run_dir, list(summary.get("reasons") or []), output)


@dataclass(frozen=True)
class DayResult:
    """One `gameday day`, as its certificate.json says."""

    exit_code: int
    certified: bool
    gameday_dir: Path | None
    certificate: dict
    output: str = ""

    def assert_certified(self) -> None:
        if self.exit_code == 0 and self.certified:
            return
        failed = [f"  {r.get('verdict'):<12} {r.get('name')} ({r.get('experiment')}: {r.get('target')}, measured "
                  f"{r.get('measured_text')}): {r.get('evidence')}"
                  for r in self.certificate.get("requirements", []) if r.get("verdict") != "PASS"]
        where = self.gameday_dir / "certificate.html" if self.gameday_dir else None
        raise AssertionError("\n".join([f"GameDay not certified (exit code {self.exit_code})", *failed,
                                        f"  certificate: {where}"]))


def _gameday(args: list[str]) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "-m", "gameday", *args, "--json"], capture_output=True, text=True)
    try:
        return done.returncode, json.loads(done.stdout), done.stderr
    except ValueError:
        return done.returncode, {}, done.stdout + done.stderr


def _common(target: str, profile: str | Path | None, out: Path) -> list[str]:
    return ["--target", target, "--out", str(out), *(["--profile", str(profile)] if profile else [])]


def pytest_addoption(parser) -> None:
    group = parser.getgroup("gameday")
    group.addoption("--gameday-runs", default=None, help="where GameDay runs go (default: pytest's tmp dir)")
    group.addoption("--gameday-keep-stack", action="store_true", help="leave the local stack up at the end")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "gameday: a GameDay gate (runs experiments on a target; minutes)")


@pytest.fixture(scope="session")
def gameday_stack(request):
    """The local reference stack, up for the session (down at the end when this session brought it up)."""
    from gameday.base.settings import Settings
    from infra.targets.local import LocalTarget

    stack = LocalTarget(Settings()).stack
    was_up = any(c.ref.alive() for c in stack.components())
    stack.up()
    yield stack
    if not was_up and not request.config.getoption("--gameday-keep-stack"):
        stack.down()


def _runs_dir(request, tmp_path_factory) -> Path:
    chosen = request.config.getoption("--gameday-runs")
    if not chosen:
        return tmp_path_factory.mktemp("gameday-runs")
    Path(chosen).mkdir(parents=True, exist_ok=True)
    return Path(chosen)


def _launcher(request, tmp_path_factory, command: str):
    """`launch(path, quick, target, profile, out) -> (exit code, the command's --json document, its output)`."""
    runs = _runs_dir(request, tmp_path_factory)

    def launch(path: str | Path, quick: bool, target: str, profile: str | Path | None,
               out: Path | None) -> tuple[int, dict, str]:
        if target == "local":
            request.getfixturevalue("gameday_stack")
        out = out or runs / f"{Path(path).stem}-{len(list(runs.iterdir()))}"
        return _gameday([command, str(path), *_common(target, profile, out), *(["--quick"] if quick else [])])
    return launch


@pytest.fixture
def gameday_run(request, tmp_path_factory):
    """`gameday_run(experiment, quick=False, target="local", profile=None, out=None) -> RunResult`."""
    launch = _launcher(request, tmp_path_factory, "run")

    def run(experiment: str | Path, quick: bool = False, target: str = "local", profile: str | Path | None = None,
            out: Path | None = None) -> RunResult:
        code, found, output = launch(experiment, quick, target, profile, out)
        run_dir = Path(found["run_dir"]) if found.get("run_dir") else None
        return RunResult.from_summary(code, run_dir, found.get("summary"), output)
    return run


@pytest.fixture
def gameday_day(request, tmp_path_factory):
    """`gameday_day(plan, quick=False, target="local", profile=None, out=None) -> DayResult`."""
    launch = _launcher(request, tmp_path_factory, "day")

    def day(plan: str | Path, quick: bool = False, target: str = "local", profile: str | Path | None = None,
            out: Path | None = None) -> DayResult:
        code, found, output = launch(plan, quick, target, profile, out)
        certificate = found.get("certificate") or {}
        gameday_dir = Path(found["gameday_dir"]) if found.get("gameday_dir") else None
        return DayResult(code, certificate.get("verdict") == "PASS", gameday_dir, certificate, output)
    return day
