"""`chaos discover gameday-harness --no-install` works for the package: every activity experiments call is listed
with its arguments, and system discovery names the targets (Chaos Toolkit's own command, as a user runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gameday.base.models import experiment_activities, read_document

ROOT = Path(__file__).resolve().parents[2]


def test_chaos_discover_lists_every_activity_the_shipped_experiments_call(tmp_path):
    chaos = Path(sys.executable).parent / "chaos"
    out = tmp_path / "discovery.json"
    done = subprocess.run([str(chaos), "--no-version-check", "discover", "--no-install", "--discovery-path",
                           str(out), "gameday-harness"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"GAMEDAY_STACK_ROOT": str(tmp_path / "stacks"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    found = json.loads(out.read_text())
    listed = {(a["mod"], a["name"]): a for a in found["activities"]}
    assert found["extension"]["name"] == "gameday-harness" and {"local", "aws"} <= set(found["system"]["targets"])
    used = set()
    for experiment in (ROOT / "experiments").glob("*.yaml"):
        doc, _ = read_document(experiment)
        for _, activity in experiment_activities(doc):
            provider = activity["provider"]
            used.add((provider["module"], provider["func"]))
    assert used and used <= set(listed), sorted(used - set(listed))
    fail_region = listed[("gameday.faults", "fail_region")]
    assert fail_region["type"] == "action" and [a["name"] for a in fail_region["arguments"]][:2] == ["region", "mode"]
    assert listed[("probes.stack", "wait_for_impact")]["type"] == "probe"
