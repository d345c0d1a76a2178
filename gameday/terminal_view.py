"""The terminal's live status region (rich) while a run is measured, when stdout is a terminal; else nothing.

Not a terminal (CI logs, pipes, `--json > file`): the live monitor prints its plain status line every 2 s as it
always did (gameday.live). A terminal: one region at the bottom redrawn twice a second (phase and its countdown,
experiment i of n, elapsed, ETA, serving region, reads ok, writes acked, P95 of the health probes, failed
probes); every other line of the run prints above it (rich redirects stdout and stderr while it is shown).
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

__all__ = ["RichStatus", "status_text", "status_view"]


def status_text(f: dict) -> Text:
    """Pure: the region's one line from the monitor's status fields (gameday.live.LiveMonitor.status_fields)."""
    t = Text()
    t.append(f" {f['phase']} ", style="bold reverse")
    if f.get("phase_left_s") is not None:
        t.append(f" {f['phase_left_s']:.0f} s left")
    if f.get("progress"):
        t.append(f"  experiment {f['progress'][0]}/{f['progress'][1]}", style="bold")
    t.append(f"  t+{f['elapsed_s']:.1f}s")
    if f.get("eta_left_s") is not None:
        t.append(f"  ETA {f['eta_left_s']:.0f} s", style="cyan")
    t.append(f"  served {f['served'] or '?'}")
    t.append(f"  reads ok {f['reads_ok']}  writes acked {f['writes_acked']}")
    p95 = f.get("p95_ms")
    t.append(f"  p95(health) {f'{p95:.0f} ms' if p95 is not None else 'n/a'}")
    errors = f.get("errors", 0)
    t.append(f"  failed probes {errors}", style="bold red" if errors else "green")
    return t


class RichStatus:
    """A rich Live region on `console`; `update(fields)` redraws it (from the monitor's thread)."""

    def __init__(self, console: Console):
        self.console = console
        self._live = Live(Text(""), console=console, auto_refresh=False, transient=False,
                          redirect_stdout=True, redirect_stderr=True)

    def start(self) -> None:
        self._live.start()

    def update(self, fields: dict) -> None:
        self._live.update(status_text(fields), refresh=True)

    def stop(self) -> None:
        self._live.stop()


def status_view(stream: TextIO | None = None) -> RichStatus | None:
    """The live region when `stream` (stdout) is a terminal that can redraw; None otherwise (plain lines)."""
    stream = stream if stream is not None else sys.stdout
    if not stream.isatty() or os.environ.get("TERM") == "dumb":
        return None
    return RichStatus(Console(file=stream))
