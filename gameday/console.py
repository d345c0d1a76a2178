"""The live GameDay console (`gameday run|day --ui`): a page on loopback that any number of viewers watch together,
and a HALT that aborts the run exactly as Ctrl-C does.

    GET  /          the page (gameday/templates/console.html); it polls /state every second
    GET  /state     the run's state as JSON (ConsoleState.snapshot): phase and countdown, progress and ETA, the
                    per-second health series with the fault windows, serving region and writer, capacity per
                    region, the ledger's open faults, the stop conditions, each criterion's running value
                    (provisional, from the health probes: gameday.live_criteria), links (the Locust web UI of
                    the running load), the event log
    POST /halt      {"token": ..., "name": ...}: with the run's token, abort the run (rollbacks, ledger recovery,
                    exit 3) and record who halted it and when; without it 403, nothing happens

The token is made per run and printed in the terminal (in the URL); viewers without it see the page read-only.
The server runs in a daemon thread of the runner process and only reads what the run already keeps in memory or
on disk, so a viewer costs the measurements nothing (benchmarks/README.md).
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gameday.base import run_clock
from gameday.base.catalogue import disaster_kinds
from gameday.base.ledger import fault_windows
from gameday.live_criteria import SOURCE, live_windows, running_criteria

__all__ = ["Console", "ConsoleState", "loopback_port", "run_faults"]

PAGE = Path(__file__).resolve().parent / "templates" / "console.html"
EVENTS_KEPT = 200
CRITERIA_TTL_S = 1.0  # the page polls every second: one computation serves every viewer
NAME_MAX = 80


class ConsoleState:
    """What the page shows, assembled on request from the run's live parts (set by the runner as they start)."""

    def __init__(self, title: str, run_id: str):
        self.title, self.run_id = title, run_id
        self.phase, self.phase_ends_s = "starting", None
        self.progress: dict = {}                 # a GameDay: {"index": i, "of": n}
        self.eta_s: float | None = None           # when the run is expected to end (run clock)
        self.monitor = None                       # gameday.live.LiveMonitor
        self.faults: Callable[[], list[dict]] = lambda: []
        self.links: dict[str, str] = {}           # e.g. the Locust web UI of the running load
        self.criteria: list = []                  # the running experiment's criteria (gameday.base.models.Criterion)
        self.halted: dict | None = None
        self.on_halt: Callable[[str], None] | None = None   # the current run's abort (set by gameday.runner)
        self.events: deque[dict] = deque(maxlen=EVENTS_KEPT)
        self._lock = threading.Lock()
        self._criteria_cache: tuple | None = None  # (monitor, computed at, rows): shared by every viewer

    def event(self, text: str) -> None:
        with self._lock:
            self.events.append({"at_s": run_clock.now(), "text": text})

    def _criteria_rows(self, faults: list[dict], now: float) -> list[dict]:
        """The running values, computed at most once per CRITERIA_TTL_S whatever the number of viewers (ranking an
        hour of health reads takes ~16 ms, ten hours ~190 ms: benchmarks/vitals_bench.py)."""
        if self.monitor is None:
            return []
        with self._lock:
            cached = self._criteria_cache
            if cached is not None and cached[0] is self.monitor and now - cached[1] < CRITERIA_TTL_S:
                return cached[2]
        rows = running_criteria(self.criteria, self.monitor.health_reads(),
                                live_windows(faults, self.monitor.phase_started, now, disaster_kinds()))
        with self._lock:
            self._criteria_cache = (self.monitor, now, rows)
        return rows

    def snapshot(self) -> dict:
        now = run_clock.now()
        live = self.monitor.snapshot(now) if self.monitor is not None else {}
        try:
            faults = self.faults()
        except Exception as exc:  # the page must keep working while the ledger is rewritten
            faults = [{"kind": "unreadable", "target": str(exc), "age_s": None}]
        with self._lock:
            events = list(self.events)[-50:]
        criteria = {"source": SOURCE, "rows": self._criteria_rows(faults, now)}
        phase = self.monitor.phase if self.monitor is not None else self.phase  # the monitor knows every phase
        timed = self.phase_ends_s is not None and phase == self.phase              # windows have a known length
        return {"title": self.title, "run_id": self.run_id, "now_s": now, "phase": phase,
                "phase_left_s": max(0.0, self.phase_ends_s - now) if timed else None,
                "progress": self.progress, "eta_left_s": max(0.0, self.eta_s - now) if self.eta_s else None,
                "faults": faults, "links": dict(self.links), "criteria": criteria, "halted": self.halted,
                "events": events, **live}


def run_faults(entries: list[dict], run_id: str, now_s: float) -> list[dict]:
    """Pure: the faults of run `run_id` in the ledger's `entries`: kind, target, open or recovered, their window."""
    ours = {e["id"] for e in entries if e["event"] == "begin" and (e.get("params") or {}).get("run_id") == run_id}
    return [{"kind": w["kind"], "target": w["target"], "state": "open" if w["end_s"] is None else "recovered",
             "start_s": w["start_s"], "end_s": w["end_s"], "age_s": (w["end_s"] or now_s) - w["start_s"]}
            for w in fault_windows(entries) if w["id"] in ours]


def loopback_port() -> int:
    """A free TCP port on 127.0.0.1 (for the Locust web UI of a run with a console)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Console:
    """The HTTP server; a HALT calls `state.on_halt(name)`: the runner's abort (the same path as Ctrl-C)."""

    def __init__(self, state: ConsoleState, port: int = 0, host: str = "127.0.0.1"):
        self.state = state
        self.token = secrets.token_urlsafe(16)
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gameday-console", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def halt_url(self) -> str:
        """The URL with the token: who opens it may HALT the run."""
        return f"{self.url}?token={self.token}"

    def start(self) -> Console:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def halt(self, token: str, name: str) -> tuple[int, dict]:
        """HALT on behalf of `name` if `token` is the run's; the HTTP status and answer."""
        if not isinstance(token, str) or not hmac.compare_digest(token, self.token):
            return 403, {"error": "HALT refused: the token is missing or wrong (it is in the URL the terminal "
                                  "printed); this page is read-only without it"}
        name = " ".join(str(name or "").split())[:NAME_MAX] or "an anonymous viewer"
        if self.state.on_halt is None:
            return 409, {"error": "no run is under way to halt"}
        if self.state.halted is None:
            self.state.halted = {"by": name, "at_s": run_clock.now()}
            self.state.event(f"HALT by {name}")
            self.state.on_halt(name)
        return 200, {"halted": self.state.halted}

    def _handler(self):
        console = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # the terminal is the run's: no access log there
                return

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, doc: dict) -> None:
                self._send(status, json.dumps(doc, default=str).encode(), "application/json")

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path == "/":
                    self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
                elif path == "/state":
                    self._json(200, console.state.snapshot())
                else:
                    self._json(404, {"error": f"no such page {path}; valid: /, /state, POST /halt"})

            def do_POST(self):
                if self.path.split("?", 1)[0] != "/halt":
                    self._json(404, {"error": "valid: POST /halt"})
                    return
                try:
                    length = min(int(self.headers.get("Content-Length") or 0), 4096)
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    self._json(400, {"error": 'the body must be JSON: {"token": ..., "name": ...}'})
                    return
                self._json(*console.halt(body.get("token"), body.get("name")))

        return Handler
