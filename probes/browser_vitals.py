"""Browser vitals sampler: headless Chromium loads a page on a fixed cadence and records its Core Web Vitals.

    python -m probes.browser_vitals --config vitals.json

Each tick (fixed cadence `interval_s`; a tick missed because a load ran late is skipped) opens a fresh browser
context (a cold browser cache, like a new visitor; the edge's cache still applies), navigates to `url`, waits for
the load event and SETTLE_S (0.3 s) more (late layout shifts; later ones go unseen), clicks `button` when
`interact`, and reads the page's own performance timeline. One Chromium process serves the whole run; a crashed
(or hung) one is relaunched, and every tick it missed meanwhile is written as a failed record (a gap is never
silent). Runs until SIGTERM/SIGINT or `duration_s`, then exits 0 (2: bad config or no Chromium).

Record format (vitals.jsonl, one line per page load; the analysis reads these names, do not rename them):
    {"probe": "vitals", "at_s": <run clock (gameday.base.run_clock) at navigation start>, "url": "<page URL>",
     "ok": true, "ttfb_ms": float, "fcp_ms": float, "lcp_ms": float, "cls": float, "inp_ms": float | null,
     "load_ms": float, "error": null}
A failed load (document HTTP >= 400, timeout, navigation error, browser down) has `"ok": false`,
`"error": "<short reason>"` and every metric null. Definitions (as web-vitals computes them, times in ms from
navigation start): ttfb = responseStart; fcp = the first-contentful-paint entry; lcp = the last
largest-contentful-paint entry before the interaction; cls = the largest session window (gaps < 1 s, at most 5 s)
of layout shifts without recent input; inp = the longest event-timing duration of the interaction (null without
one; Chromium rounds durations to 8 ms); load = loadEventEnd. A metric the page never produced (no LCP entry) is
null in an ok record.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright
from pydantic import BaseModel, ConfigDict, PositiveFloat, ValidationError, field_validator

from gameday.base import run_clock
from gameday.base.errors import InvalidInput
from probes.jsonl import JsonlWriter

PROBE = "vitals"
METRICS = ("ttfb_ms", "fcp_ms", "lcp_ms", "cls", "inp_ms", "load_ms")
SETTLE_S = 0.3  # after the load event: the page's late work (a banner after the LCP) before the click
INP_WAIT_S = 1.0  # how long the interaction's event-timing entry may take to arrive (it follows the next paint)
VIEWPORT = {"width": 1280, "height": 720}  # CLS is relative to the viewport: fixed so samples compare
CLS_GAP_MS, CLS_WINDOW_MS = 1000.0, 5000.0
LAUNCH_TIMEOUT_S = 30.0
CALL_SLACK_S = 5.0  # added to a load's own timeouts before it counts as hung
WATCH_S = 0.25  # how often a load in progress checks that its browser is still there
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
INSTALL_HINT = "install Chromium (apt-get install chromium, snap install chromium, brew install --cask chromium) " \
               "or set `chromium` in the config to its path"

# Registered before any script of the page runs, so no entry is missed (event entries under 104 ms are never
# buffered: the observer must exist before the click).
OBSERVE_JS = """(() => {
  const v = window.__gamedayVitals = {lcp: [], shifts: [], events: [], observers: []};
  const observe = (type, each, options) => {
    try {
      const o = new PerformanceObserver((list) => list.getEntries().forEach(each));
      o.observe({type, buffered: true, ...options});
      v.observers.push([o, each]);
    } catch (e) { /* an entry type this browser lacks: its metric stays null */ }
  };
  observe("largest-contentful-paint", (e) => v.lcp.push(e.startTime));
  observe("layout-shift", (e) => v.shifts.push([e.startTime, e.value, e.hadRecentInput]));
  observe("event", (e) => { if (e.interactionId) v.events.push([e.interactionId, e.duration]); },
          {durationThreshold: 16});
  observe("first-input", (e) => v.events.push([e.interactionId || 0, e.duration]));
})();"""
READ_JS = """() => {
  const v = window.__gamedayVitals;
  v.observers.forEach(([o, each]) => o.takeRecords().forEach(each));
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  return {ttfb: nav ? nav.responseStart - nav.startTime : null, load: nav ? nav.loadEventEnd - nav.startTime : null,
          fcp: fcp ? fcp.startTime : null, lcp: v.lcp, shifts: v.shifts, events: v.events};
}"""
BROWSER_DOWN = ("browser crashed", "browser launch failed")
HAS_EVENT_JS = "() => window.__gamedayVitals.events.length > 0"


class VitalsConfig(BaseModel):
    """The vitals sampler's JSON config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out: Path                       # vitals.jsonl, appended to
    url: str                        # the page, e.g. the edge's http://127.0.0.1:15480/index.html
    interval_s: PositiveFloat = 2.0
    timeout_s: PositiveFloat = 10.0  # navigation to the load event
    interact: bool = True
    button: str = "#buy"            # what `interact` clicks (a CSS selector)
    duration_s: PositiveFloat | None = None
    chromium: str | None = None     # path; None: `chromium` on PATH

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL with a host, not {url!r}")
        return url


def load_config(path: Path) -> VitalsConfig:
    """The config in `path`; InvalidInput naming the file and the offending field."""
    try:
        return VitalsConfig.model_validate_json(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"reading of vitals config {path} failed: {exc.strerror or exc}",
                           hint="pass --config with the path of a JSON file") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                             for e in exc.errors())
        raise InvalidInput(f"reading of vitals config {path} failed: {problems}",
                           hint="see probes.browser_vitals.VitalsConfig for the fields") from exc


def chromium_path(configured: str | None) -> str:
    """The Chromium to launch: the configured path, else `chromium` on PATH; InvalidInput saying what to install."""
    found = shutil.which(configured) if configured else shutil.which("chromium")
    if found is None:
        what = f"no executable at {configured!r}" if configured else "no `chromium` on PATH"
        raise InvalidInput(f"start of the browser vitals sampler failed: {what}", hint=INSTALL_HINT)
    return found


# ---- pure: metrics from the page's raw entries, records, the cadence ----

def cls_of(shifts: list[tuple[float, float, bool]]) -> float:
    """Cumulative Layout Shift: the largest session window of shifts without recent input (a window ends at a gap
    of 1 s or more, or when it would span more than 5 s), as web-vitals defines it; 0 without shifts."""
    best = current = 0.0
    first = last = None
    for start, value, recent_input in sorted(shifts):
        if recent_input:
            continue
        if first is not None and start - last < CLS_GAP_MS and start - first < CLS_WINDOW_MS:
            current += value
        else:
            first, current = start, value
        last = start
        best = max(best, current)
    return best


def inp_of(events: list[tuple[int, float]]) -> float | None:
    """Interaction to Next Paint: each interaction's longest event duration, then the worst one (one interaction in
    50 is ignored, web-vitals' p98 approximation); None without an interaction."""
    longest: dict[int, float] = {}
    for interaction_id, duration in events:
        longest[interaction_id] = max(duration, longest.get(interaction_id, 0.0))
    if not longest:
        return None
    worst = sorted(longest.values(), reverse=True)
    return worst[min(len(worst) - 1, len(worst) // 50)]


def vitals_record(at_s: float, url: str, raw: dict) -> dict:
    """The record of one successful load from what READ_JS returned."""
    lcp = raw.get("lcp") or []
    metrics = {"ttfb_ms": raw.get("ttfb"), "fcp_ms": raw.get("fcp"), "lcp_ms": lcp[-1] if lcp else None,
               "cls": cls_of([tuple(s) for s in raw.get("shifts") or []]),
               "inp_ms": inp_of([tuple(e) for e in raw.get("events") or []]), "load_ms": raw.get("load")}
    rounded = {k: None if v is None else round(float(v), 4 if k == "cls" else 1) for k, v in metrics.items()}
    return {"probe": PROBE, "at_s": at_s, "url": url, "ok": True, **rounded, "error": None}


def failed_record(at_s: float, url: str, reason: str) -> dict:
    return {"probe": PROBE, "at_s": at_s, "url": url, "ok": False, **dict.fromkeys(METRICS), "error": reason}


def short_reason(message: str) -> str:
    """Playwright's error text cut to its first line, without the call's name and the URL it repeats."""
    line = (message.strip().splitlines() or ["unknown error"])[0]
    line = line.split(": ", 1)[1] if line.startswith(("Page.", "BrowserContext.", "Browser.")) else line
    return line.split(" at http", 1)[0][:200]


def next_tick(tick: int, elapsed_s: float, interval_s: float) -> tuple[int, list[int]]:
    """The tick to run next and the ticks skipped because the loop is more than one interval late (then it runs
    the latest due tick instead of bursting the missed ones)."""
    latest_due = int(elapsed_s // interval_s)
    if latest_due - tick < 1:
        return tick, []
    return latest_due, list(range(tick, latest_due))


# ---- the imperative shell ----

class Sampler:
    """One Chromium for the run; `load()` measures one page load in a fresh context and never raises.

    A load is watched: a Chromium killed at the wrong moment can leave a Playwright call waiting forever (seen
    with `new_page`), so a load whose browser disconnected, or that outlives its deadline, counts as a crash."""

    def __init__(self, playwright, config: VitalsConfig, executable: str):
        self.playwright = playwright
        self.config = config
        self.executable = executable
        self.browser = None
        self.down_reason: str | None = None
        self.hung = False
        # navigation, settling, the click and its entry, and slack for a slow machine
        self.deadline_s = config.timeout_s + SETTLE_S + INP_WAIT_S + CALL_SLACK_S

    def connected(self) -> bool:
        return self.browser is not None and self.browser.is_connected() and not self.hung

    async def ensure_browser(self) -> bool:
        """A connected browser, relaunched if it crashed; False (with `down_reason`) when it cannot start."""
        if self.connected():
            return True
        await self.close()
        try:
            self.browser = await asyncio.wait_for(self.playwright.chromium.launch(
                executable_path=self.executable, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_S * 1000),
                LAUNCH_TIMEOUT_S + CALL_SLACK_S)
        except (PlaywrightError, TimeoutError) as exc:  # recorded, then retried at the next tick
            self.browser, self.down_reason = None, "browser launch failed: " + (short_reason(str(exc)) or "timeout")
            return False
        self.down_reason, self.hung = None, False
        return True

    async def load(self) -> dict:
        config = self.config
        if not await self.ensure_browser():
            return failed_record(run_clock.now(), config.url, self.down_reason or "browser down")
        started = [run_clock.now()]  # set again at navigation start
        task = asyncio.ensure_future(self._load(started))
        deadline = time.monotonic() + self.deadline_s
        while not task.done():
            await asyncio.wait({task}, timeout=WATCH_S)
            if task.done():
                break
            if self.browser.is_connected() and time.monotonic() < deadline:
                continue
            gone = not self.browser.is_connected()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, PlaywrightError):
                await task
            self.hung = True  # relaunched before the next load
            why = "disconnected" if gone else f"no answer within {self.deadline_s:g} s"
            return failed_record(started[0], config.url, f"browser crashed: {why}")
        return task.result()

    async def _load(self, started: list[float]) -> dict:
        config = self.config
        try:
            context = await self.browser.new_context(viewport=VIEWPORT)
        except PlaywrightError as exc:  # the browser died between ticks
            return failed_record(started[0], config.url, self._crash_reason(exc))
        try:
            await context.add_init_script(OBSERVE_JS)
            page = await context.new_page()
            started[0] = at_s = run_clock.now()
            response = await page.goto(config.url, wait_until="load", timeout=config.timeout_s * 1000)
            if response is None or response.status >= 400:
                status = "no response" if response is None else f"HTTP {response.status}"
                return failed_record(at_s, config.url, status)
            await asyncio.sleep(SETTLE_S)
            if config.interact:
                await self._interact(page)
            return vitals_record(at_s, config.url, await page.evaluate(READ_JS))
        except PlaywrightError as exc:  # every failure of a load is its record, never a crash
            if isinstance(exc, PlaywrightTimeout):
                return failed_record(started[0], config.url, f"timeout: no load event within {config.timeout_s:g} s")
            return failed_record(started[0], config.url, self._crash_reason(exc))
        finally:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(context.close(), CALL_SLACK_S)

    async def _interact(self, page) -> None:
        """Click the button and wait for its event-timing entry; a page without the button gets inp null."""
        try:
            await page.click(self.config.button, timeout=min(2_000, self.config.timeout_s * 1000))
            await page.wait_for_function(HAS_EVENT_JS, timeout=INP_WAIT_S * 1000)
        except PlaywrightError as exc:  # no interaction is an inp of null, not a failed load
            if not self.connected():
                raise
            print(f"vitals: no interaction on {self.config.url}: {short_reason(str(exc))}", file=sys.stderr)

    def _crash_reason(self, exc: Exception) -> str:
        return short_reason(str(exc)) if self.connected() else "browser crashed: " + short_reason(str(exc))

    async def close(self) -> None:
        browser, self.browser = self.browser, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(browser.close(), CALL_SLACK_S)


async def run(config: VitalsConfig, executable: str) -> int:
    """Sample until a signal or the duration ends; returns the process exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    writer = JsonlWriter(config.out)
    async with async_playwright() as playwright:
        sampler = Sampler(playwright, config, executable)
        await sampler.ensure_browser()  # before the clock starts: a launch takes ~0.5 s that is no page load
        start, start_s = time.monotonic(), run_clock.now()
        tick = 0
        gap: str | None = None  # why the browser is down: the ticks it misses are written as failures
        try:
            while not stop.is_set():
                tick, skipped = next_tick(tick, time.monotonic() - start, config.interval_s)
                if config.duration_s is not None and tick * config.interval_s >= config.duration_s:
                    break
                if skipped and gap is not None:
                    writer.extend([failed_record(start_s + t * config.interval_s, config.url, gap) for t in skipped])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, start + tick * config.interval_s - time.monotonic()))
                if stop.is_set():
                    break
                record = await sampler.load()
                writer.append(record)
                writer.flush()  # a record every few seconds: the live monitor reads each at once
                tick += 1
                down = not record["ok"] and record["error"].startswith(BROWSER_DOWN)
                gap = record["error"] if down else None
                if down:
                    await sampler.ensure_browser()  # its time makes the next ticks late: they are written as gaps
        finally:
            await sampler.close()
            writer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m probes.browser_vitals", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="JSON config (see VitalsConfig)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        executable = chromium_path(config.chromium)
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 2
    return asyncio.run(run(config, executable))


if __name__ == "__main__":
    sys.exit(main())
