"""The browser vitals sampler for real: `python -m probes.browser_vitals` driving the system Chromium through the edge
(router) in front of real origins and the fault proxy. Ground truth: latency injected on the origin link moves LCP by
the injected amount per origin round trip on the LCP's path; the shifting page variant has a CLS, the normal page none;
a dead edge or origin gives failed records, and a killed browser is relaunched with its gap recorded."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from infra.local.layout import HOST, PRIMARY_REGION, SECONDARY_REGION
from infra.local.toxiproxy_client import ToxiproxyClient
from tests.integration.test_edge import ROOT, Child, Children
from tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LATENCY_MS = 400
LOADS = 7  # per case: the median of 7 shrugs off three loads slowed by a busy machine
# Resolution of an LCP rise (difference of two medians of 7 loads), measured here with 100, 400 and 500 ms injected:
# - a no-fault median moves by +-25 ms between runs on a shared 2-core machine (a single load's LCP ranges over
#   80-300 ms: scheduling of Chromium, router and origins), paint times come in 4 ms steps (a frame is 16.7 ms);
# - the rise falls short of the ground truth by up to ~30 ms: during a long wait for the document the new
#   renderer finishes starting up, work that otherwise comes after the response (LCP - TTFB: ~120 -> ~95 ms).
# Seen: rises of 2L -52..+8 ms (image not cached) and L -60..-30 ms (image cached); so +-75 ms.
RESOLUTION_MS = 75


def _router(children: Children, origins: list[tuple[str, str]], *extra: str) -> Child:
    """A router whose edge serves `origins` (its regions' health is no concern here: the edge paths skip them)."""
    argv = ["-m", "infra.local.router", "--interval-s", "0.5", *extra]
    for name, (_, url) in zip((PRIMARY_REGION, SECONDARY_REGION), origins):
        argv += ["--region", f"{name}={url}"]
    for name, url in origins:
        argv += ["--origin", f"{name}={url}"]
    return children._start(f"router-{len(children.started)}", argv, "/_router/status")


def _sampler(tmp_path: Path, name: str, url: str, **config) -> subprocess.Popen:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"out": str(tmp_path / f"{name}.jsonl"), "url": url, **config}))
    return subprocess.Popen([sys.executable, "-m", "probes.browser_vitals", "--config", str(path)], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def sample(tmp_path: Path, name: str, url: str, loads: int, interval_s: float = 1.0, **config) -> list[dict]:
    """Run the sampler for `loads` ticks; its records (it must exit 0 by itself)."""
    proc = _sampler(tmp_path, name, url, interval_s=interval_s, duration_s=loads * interval_s, **config)
    try:
        output, _ = proc.communicate(timeout=loads * interval_s + 60)
    finally:
        _stop(proc)
    assert proc.returncode == 0, output
    return _records(tmp_path / f"{name}.jsonl")


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _median(records: list[dict], field: str) -> float:
    ok = [r for r in records if r["ok"]]
    assert len(ok) >= 5 and all(r[field] is not None for r in ok), records
    return statistics.median(r[field] for r in ok)


def test_latency_on_the_origin_link_raises_lcp_by_each_origin_round_trip_on_its_path(children, tmp_path):
    primary, secondary = children.origin(PRIMARY_REGION), children.origin(SECONDARY_REGION)
    link = "origin-" + PRIMARY_REGION
    faultproxy = children.faultproxy([{"name": link, "listen": f"{HOST}:0", "upstream": primary.url[7:],
                                       "enabled": True, "protocol": "http"}])
    with ToxiproxyClient(faultproxy.url) as toxiproxy:
        origins = [(PRIMARY_REGION, "http://" + toxiproxy.proxy(link)["listen"]), (SECONDARY_REGION, secondary.url)]
        # An edge of one byte caches nothing: every load fetches the document AND the hero image over the link,
        # one after the other (the page names the image). The default edge keeps the image after the first load:
        # only the document (no-store) crosses the link.
        cold = _router(children, origins, "--edge-max-bytes", "1")
        warm = _router(children, origins)
        before_cold = sample(tmp_path, "cold-before", cold.url + "/index.html", LOADS, interval_s=1.5)
        before_warm = sample(tmp_path, "warm-before", warm.url + "/index.html", LOADS, interval_s=1.5)
        toxiproxy.add_toxic(link, "latency", {"latency": LATENCY_MS}, stream="downstream")
        during_cold = sample(tmp_path, "cold-during", cold.url + "/index.html", LOADS, interval_s=2.0)
        during_warm = sample(tmp_path, "warm-during", warm.url + "/index.html", LOADS, interval_s=2.0)

    cold_rise = _median(during_cold, "lcp_ms") - _median(before_cold, "lcp_ms")
    warm_rise = _median(during_warm, "lcp_ms") - _median(before_warm, "lcp_ms")
    ttfb_rise = _median(during_warm, "ttfb_ms") - _median(before_warm, "ttfb_ms")
    print(f"LCP rise: cold image {cold_rise:.0f} ms, cached image {warm_rise:.0f} ms; TTFB rise {ttfb_rise:.0f} ms")
    assert abs(cold_rise - 2 * LATENCY_MS) <= RESOLUTION_MS, (before_cold, during_cold)
    assert abs(warm_rise - LATENCY_MS) <= RESOLUTION_MS, (before_warm, during_warm)
    assert abs(ttfb_rise - LATENCY_MS) <= RESOLUTION_MS
    assert all(r["inp_ms"] >= 40 for r in during_cold + during_warm)  # the button's handler works 40 ms


def test_the_shifting_page_has_a_cls_above_0_1_and_the_normal_page_none(children, tmp_path):
    primary = children.origin(PRIMARY_REGION)
    router = _router(children, [(PRIMARY_REGION, primary.url)])
    normal = sample(tmp_path, "normal", router.url + "/index.html", 3)
    shifted = sample(tmp_path, "shift", router.url + "/index.html?variant=shift", 3)  # through the edge
    shifting_origin = children._start("origin-shift", ["-m", "infra.local.origin", "--region", PRIMARY_REGION,
                                                       "--page-variant", "shift"], "/health")
    by_default = sample(tmp_path, "shift-origin", shifting_origin.url + "/", 3)
    assert min(len(normal), len(shifted), len(by_default)) >= 2 and all(r["ok"] for r in normal + shifted + by_default)
    assert max(r["cls"] for r in normal) < 0.05
    assert min(r["cls"] for r in shifted + by_default) > 0.1
    assert all(r["lcp_ms"] > 0 and r["fcp_ms"] > 0 and r["inp_ms"] >= 40 for r in normal + shifted)


def test_a_dead_edge_or_origin_gives_failed_records_until_sigterm(children, tmp_path):
    dead_origin = f"http://{HOST}:{free_port()}"
    router = _router(children, [(PRIMARY_REGION, dead_origin)], "--origin-timeout-s", "0.5")
    for name, url in (("dead-origin", router.url + "/index.html"), ("dead-edge", f"http://{HOST}:{free_port()}/")):
        proc = _sampler(tmp_path, name, url, interval_s=0.5, timeout_s=3)
        try:
            deadline = time.monotonic() + 30
            while len(_records(tmp_path / f"{name}.jsonl")) < 3 and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.1)
        finally:
            _stop(proc)
        assert proc.returncode == 0, proc.communicate()[0]  # SIGTERM ends it cleanly
        records = _records(tmp_path / f"{name}.jsonl")
        assert len(records) >= 3 and not any(r["ok"] for r in records)
        assert all(r["lcp_ms"] is None and r["cls"] is None and r["error"] for r in records)
        expected = "HTTP 50" if name == "dead-origin" else "ERR_CONNECTION_REFUSED"
        assert all(expected in r["error"] for r in records), records


def test_a_killed_browser_is_relaunched_and_its_gap_is_recorded(children, tmp_path):
    primary = children.origin(PRIMARY_REGION)
    router = _router(children, [(PRIMARY_REGION, primary.url)])
    out = tmp_path / "crash.jsonl"
    proc = _sampler(tmp_path, "crash", router.url + "/index.html", interval_s=0.5, interact=False)
    try:
        _wait_for(lambda: sum(r["ok"] for r in _records(out)) >= 2, proc)
        driver, = psutil.Process(proc.pid).children()  # Playwright's driver; the browser is its child
        browsers = [p for p in driver.children() if "chromium" in p.name()]
        assert len(browsers) == 1, browsers  # one browser process for the whole run
        killed_at = len(_records(out))
        os.kill(browsers[0].pid, signal.SIGKILL)
        _wait_for(lambda: sum(r["ok"] for r in _records(out)[killed_at:]) >= 2, proc)
    finally:
        _stop(proc)
    assert proc.returncode == 0, proc.communicate()[0]
    records = _records(out)
    after = records[killed_at:]
    assert any(not r["ok"] and r["error"].startswith("browser crashed") for r in after), after
    assert after[-1]["ok"]
    crash = next(i for i, r in enumerate(after) if not r["ok"])
    back = next(i for i, r in enumerate(after) if i > crash and r["ok"])
    ticks = [r["at_s"] for r in after[crash:back + 1]]  # the crash, the ticks missed while relaunching, the next load
    assert all(r["error"].startswith("browser crashed") for r in after[crash:back])
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 2 * 0.5  # every missed tick has its record: no silent gap


def _wait_for(condition, proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
