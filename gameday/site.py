"""The history site on disk and on loopback: `gameday report RUNS_DIR --site OUT` writes it as static files (a CI
artifact, GitHub Pages); `gameday ui [RUNS_DIR]` writes it to a temporary directory and serves it on 127.0.0.1.

The site is built from the runs directory's history database (gameday.history): every recorded run and GameDay,
each run's report.html and each GameDay's certificate copied beside index.html (reports are self-contained), so the
directory can be moved or published as it is. Rendering is pure (reports.site)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gameday.base.errors import InvalidInput
from gameday.history import all_gamedays, all_runs, history_file
from reports.site import site_index
from reports.trends import FIGURES, LABELS

__all__ = ["write_site", "serve_site"]


def _copy(source: Path, out: Path, relative: str) -> str | None:
    """Copy `source` to out/relative; the link to it (None when the source is gone)."""
    if not source.is_file():
        return None
    target = out / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return relative


def write_site(runs_dir: Path, out: Path, echo=lambda line: None) -> Path:
    """Write the history site of `runs_dir` into `out` (created); the index's path."""
    history = history_file(runs_dir)
    if not history.is_file():
        raise InvalidInput(f"site of runs directory {runs_dir} failed: no history database {history}",
                           hint="`gameday run` and `gameday day` record every run there; name the runs directory "
                                "that holds history.sqlite")
    runs, gamedays = all_runs(history), all_gamedays(history)
    out.mkdir(parents=True, exist_ok=True)
    for r in runs:
        r["link"] = _copy(Path(r["run_dir"] or "") / "report.html", out, f"runs/{r['run_id']}/report.html")
    for g in gamedays:
        g["link"] = _copy(Path(g["certificate"] or ""), out, f"gamedays/{g['gameday_id']}/certificate.html")
    index = out / "index.html"
    index.write_text(site_index(runs, gamedays, {f: LABELS[f] for f in FIGURES},
                                f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"))
    echo(f"site: {len(runs)} run(s), {len(gamedays)} GameDay(s) -> {index}")
    return index


def serve_site(runs_dir: Path, port: int, echo=print) -> None:
    """Build the site into a temporary directory and serve it on 127.0.0.1:`port` until Ctrl-C."""
    with tempfile.TemporaryDirectory(prefix="gameday-ui-") as tmp:
        write_site(runs_dir, Path(tmp), echo)

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format, *args):
                return

        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), partial(Quiet, directory=tmp))
        except OSError as exc:
            raise InvalidInput(f"serving of the history site on 127.0.0.1:{port} failed: {exc.strerror}",
                               hint="pick another --port (0: any free port)") from exc
        echo(f"history: http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
