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


def test_the_weekly_history_outlives_the_caches_seven_day_eviction():
    """The cache forgets an entry after 7 days without access; the weekly run then takes the history from the last
    weekly run's artifact (kept 90 days), which needs the token's `actions: read`."""
    workflow = yaml.safe_load((WORKFLOWS / "weekly-gameday.yml").read_text())
    assert workflow["permissions"] == {"contents": "read", "actions": "read"}
    steps = workflow["jobs"]["gameday"]["steps"]
    names = [s.get("name") for s in steps]
    cache, fallback = names.index("Restore the GameDay history"), names.index(
        "Or take the history from the last weekly run's artifact")
    assert cache < fallback < names.index("Run the GameDay")
    script = steps[fallback]["run"]
    assert "gh run download" in script and '--name "gameday-$PLAN"' in script
    assert "[ -f gameday-runs/history.sqlite ] && exit 0" in script.splitlines()[0]  # the cache's copy wins
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "gameday-${{ matrix.plan }}" and upload["with"]["retention-days"] == 90
