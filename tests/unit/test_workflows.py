"""The GitHub workflows pass zizmor's audit (actions pinned to commits, no credentials persisted into artifacts,
read-only token) and install with the Python that setup-python put on the runner (sudo resets PATH)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def test_zizmor_finds_nothing_in_the_workflows():
    zizmor = Path(sys.executable).parent / "zizmor"
    done = subprocess.run([str(zizmor), "--offline", str(WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "No findings to report" in done.stdout + done.stderr


def test_every_action_is_pinned_to_a_commit_and_setup_uses_the_runners_python():
    for path in WORKFLOWS.glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
        for step in steps:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), (path.name, step["uses"])
        setups = [s["run"] for s in steps if "make setup" in s.get("run", "")]
        assert setups and all('PYTHON="$(command -v python3.11)"' in run for run in setups), (path.name, setups)
