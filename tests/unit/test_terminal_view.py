"""The run's status in the terminal: a rich live region on a terminal (phase, countdown, experiment i of n, ETA,
P95, failed probes), today's plain status lines everywhere else (CI logs grep them); the console's state carries
the criteria's running values; a run with the console starts Locust with its web UI on loopback."""

from __future__ import annotations

import io
import json
import re
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console as RichConsole

from gameday import children
from gameday.base import run_clock
from gameday.base.models import Criterion, load_experiment
from gameday.cli import _progress
from gameday.console import Console, ConsoleState
from gameday.live import LiveMonitor
from gameday.terminal_view import RichStatus, status_view

ROOT = Path(__file__).resolve().parents[2]
PLAIN = re.compile(r"^t\+ *\d+\.\ds  (ETA +\d+s  )?\S+ +served=\S+ +reads ok +\S+  writes acked +\S+  "
                   r"p95\(health\) (\d+ ms|n/a)$")


def _probes(now: float, n: int = 10, failed: int = 0) -> list[dict]:
    health = [{"probe": "health", "at_s": now + i * 0.05, "ok": i < n - failed, "latency_ms": 3.0 + i, "status": 200}
              for i in range(n)]
    return health + [{"probe": "canary", "sent_s": now, "outcome": "acked"},
                     {"probe": "routing", "at_s": now - 0.5, "served_region": "eu-central-1"}]


def test_the_plain_status_line_keeps_its_format():
    monitor = LiveMonitor(Path("/nonexistent"), [], echo=lambda line: None)
    now = run_clock.now()
    for r in _probes(now, failed=1):
        monitor._observe(r)
    monitor.phase, monitor.eta_s = "baseline", now + 42
    line = monitor.status_line(now)
    assert PLAIN.match(line), line
    assert "ETA    42s  baseline   served=eu-central-1  reads ok  90%  writes acked 100%  p95(health) 12 ms" in line


def test_not_a_terminal_gets_plain_lines_and_no_live_region(tmp_path: Path):
    assert status_view(io.StringIO()) is None
    probes, lines = tmp_path / "probes.jsonl", []
    monitor = LiveMonitor(probes, [], echo=lines.append)
    probes.write_text("".join(json.dumps(r) + "\n" for r in _probes(run_clock.now())))
    monitor.start()
    time.sleep(0.5)
    monitor.stop()
    assert lines and all(PLAIN.match(line) for line in lines)


def test_a_terminal_gets_one_live_region_with_phase_countdown_progress_eta_and_errors(tmp_path: Path, capsys):
    out = io.StringIO()
    view = RichStatus(RichConsole(file=out, force_terminal=True, width=220, color_system="standard"))
    probes, lines = tmp_path / "probes.jsonl", []
    monitor = LiveMonitor(probes, [], echo=lines.append, view=view)
    now = run_clock.now()
    probes.write_text("".join(json.dumps(r) + "\n" for r in _probes(now, failed=2)))
    monitor.phase, monitor.phase_ends, monitor.eta_s = "baseline", ("baseline", now + 20), now + 95
    monitor.progress = (2, 5)
    with capsys.disabled():
        monitor.start()
        try:
            time.sleep(0.8)
            _progress(False)("phase experiment: printed above the region")  # the run's echo, meanwhile
            time.sleep(0.6)
        finally:
            monitor.stop()
    assert lines == []                                   # no plain status line on a terminal
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "\x1b[" in out.getvalue()                     # drawn with terminal control sequences
    last = text.strip().splitlines()[-1]
    assert "baseline" in last and re.search(r"\b1[89] s left", last) and "experiment 2/5" in last
    assert re.search(r"ETA 9[34] s", last) and "served eu-central-1" in last and "reads ok 80%" in last
    assert "p95(health) 12 ms" in last and "failed probes 2" in last
    assert "phase experiment: printed above the region" in text  # stdout went above the region, not lost
    assert sys.stdout is not None and not hasattr(sys.stdout, "rich_proxied_file")  # restored after stop


def test_the_console_state_carries_the_criteria_running_values(tmp_path: Path):
    state = ConsoleState("region-failover", "r1")
    monitor = LiveMonitor(tmp_path / "probes.jsonl", [], echo=lambda line: None)
    now = run_clock.now()
    monitor.phase = "baseline"
    monitor.phase_started["baseline"] = now - 10
    for i in range(80):
        monitor._observe({"probe": "health", "at_s": now - 9 + i * 0.1, "ok": True, "latency_ms": 4.0})
    state.monitor = monitor
    state.criteria = [Criterion.model_validate(c) for c in ("p95_ms < 200 in baseline", "rto_read_s <= 900")]
    served = Console(state).start()
    try:
        doc = httpx.get(served.url + "state").json()["criteria"]
    finally:
        served.stop()
    assert "provisional" in doc["source"] and "health probes" in doc["source"] and "not the load" in doc["source"]
    assert [(r["name"], r["state"], r["value"]) for r in doc["rows"]] == [
        ("p95_ms < 200 in baseline", "within", 4.0), ("rto_read_s <= 900", "judged after the run", None)]


def test_a_run_with_the_console_starts_locust_with_its_web_ui_on_loopback_else_headless(tmp_path: Path):
    gd = load_experiment(ROOT / "experiments" / "region-failover.yaml").gameday
    plain = children.load_argv(tmp_path, gd, "http://127.0.0.1:8080")
    with_ui = children.load_argv(tmp_path, gd, "http://127.0.0.1:8080", web_port=45678)
    assert "--headless" in plain and "--web-port" not in plain and "--autostart" not in plain
    at = with_ui.index("--autostart")
    assert with_ui[at:at + 7] == ["--autostart", "--autoquit", "0", "--web-host", "127.0.0.1", "--web-port", "45678"]
    assert with_ui[:at] + ["--headless"] + with_ui[at + 7:] == plain   # nothing else changes
