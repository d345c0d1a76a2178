"""Every shipped experiment runs under plain `chaos run` against the local stack (no harness: no load, no
measurement), with its rollbacks, and leaves the stack in its reference topology (Chaos Toolkit's own command, as
a user runs it, with the quick configuration passed as `--var`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.base.ledger import open_from, read_entries
from gameday.base.models import load_experiment
from tests.support import running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.scenario]

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))


@pytest.fixture(scope="module")
def target(stack_root: Path):
    with running_stack(stack_root, "plain-chaos", router_failure_threshold=3) as driver:
        yield driver


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=[e.stem for e in EXPERIMENTS])
def test_a_shipped_experiment_runs_under_plain_chaos_run_with_its_rollbacks(target, experiment, tmp_path):
    spec = load_experiment(experiment)
    variables = [arg for key, value in spec.gameday.quick.configuration.items()
                 for arg in ("--var", f"{key}:float={value}")]
    journal = tmp_path / "journal.json"
    chaos = Path(sys.executable).parent / "chaos"
    done = subprocess.run([str(chaos), "--no-version-check", "run", "--rollback-strategy", "always", "--journal-path",
                           str(journal), *variables, str(experiment)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={**target.child_env(), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran = json.loads(journal.read_text())
    assert ran["status"] == "completed", ran.get("status")
    failed = [r["activity"]["name"] for r in ran["run"] + ran["rollbacks"] if r["status"] != "succeeded"]
    assert failed == [], failed
    assert len(ran["rollbacks"]) == len(spec.raw.get("rollbacks", []))
    assert open_from(read_entries(target.ledger_path)) == []
    problems = target.reference_problems()
    assert problems == [], problems
