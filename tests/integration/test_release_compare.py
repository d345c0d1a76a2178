"""`gameday compare` of a slow release against a fast one on the local stack (issue #19): the real browser sampler
through an edge caching nothing, in front of an origin behind the fault proxy. The "slow release" is the same
stack with latency L on the origin link; ground truth (tests/integration/test_browser_vitals.py): TTFB rises by L,
LCP by 2L (the document and the hero image each cross the link). `gameday compare SLOW FAST` must show those shifts,
and the improvement the injected amount makes of the fast release's own typical values, inside its intervals."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.local.layout import HOST, PRIMARY_REGION, SECONDARY_REGION
from infra.local.toxiproxy_client import ToxiproxyClient
from reports.vitals_comparison import COMPARE_MIN_LOADS
from tests.integration.test_browser_vitals import RESOLUTION_MS, _router, _sampler, _stop
from tests.integration.test_edge import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LATENCY_MS = 300
# Ticks per release: the comparison needs 40 loads a side (reports.vitals_comparison.COMPARE_MIN_LOADS: fewer
# leave the serial-dependence estimate to 2-3 batches and the interval to chance); 48 ticks leave 40 when a few are
# skipped on a busy machine.
LOADS = 48
INTERVAL_S = 1.5   # a slow release's tick (load + 0.3 s settling + a fresh context): ~1.05 s, 1.6 s on a busy machine
# How far a TTFB shift's interval may miss -L: the slow release's median TTFB sat 2-18 ms above the fast one's + L
# (the fault proxy forwards each chunk after its delay; scheduling on a shared 2-core machine), while an interval
# can be 9 ms wide (seen with 24 loads a side). LCP: the browser test's +-75 ms (paint timing, renderer start-up).
TTFB_RESOLUTION_MS = 25


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def _sample_both(releases: dict[str, tuple[Path, str]]) -> dict[str, list[dict]]:
    """Both releases sampled at the same time, each by its own real sampler into its run directory's vitals.jsonl:
    a busy machine (load average 11 on 2 cores seen here) then slows both alike instead of the one it overlaps."""
    procs = {}
    try:
        for name, (directory, url) in releases.items():
            directory.mkdir()
            procs[name] = _sampler(directory, "vitals", url, interval_s=INTERVAL_S, duration_s=LOADS * INTERVAL_S,
                                   interact=False)
        for name, proc in procs.items():
            output, _ = proc.communicate(timeout=LOADS * INTERVAL_S + 60)
            assert proc.returncode == 0, output
    finally:
        for proc in procs.values():
            _stop(proc)
    return {name: _finish_run_dir(directory) for name, (directory, _) in releases.items()}


def _finish_run_dir(directory: Path) -> list[dict]:
    """The run directory as `gameday compare` reads it: vitals.jsonl and a summary.json whose `overall` window
    covers every load; the sampler's config is no part of it."""
    (directory / "vitals.json").unlink()
    records = [json.loads(line) for line in (directory / "vitals.jsonl").read_text().splitlines()]
    at = [r["at_s"] for r in records]
    window = {"start": _iso(min(at) - 1), "end": _iso(max(at) + 1)}
    (directory / "summary.json").write_text(json.dumps({"run_id": directory.name, "start": window["start"],
                                                        "windows": {"overall": window}}))
    return records


def _median(records: list[dict], field: str) -> float:
    return statistics.median(r[field] for r in records)


def _improvement_pct(injected_ms: float, fast_median_ms: float) -> float:
    """1 - FAST / SLOW of the typical value when SLOW's is FAST's + the injected amount."""
    return 100 * injected_ms / (fast_median_ms + injected_ms)


def test_compare_reports_the_injected_latency_as_the_fast_release_s_improvement(children, tmp_path):
    primary, secondary = children.origin(PRIMARY_REGION), children.origin(SECONDARY_REGION)
    links = {name: f"origin-{name}" for name in ("fast", "slow")}   # two links to the same origin
    faultproxy = children.faultproxy([{"name": link, "listen": f"{HOST}:0", "upstream": primary.url[7:],
                                       "enabled": True, "protocol": "http"} for link in links.values()])
    with ToxiproxyClient(faultproxy.url) as toxiproxy:
        toxiproxy.add_toxic(links["slow"], "latency", {"latency": LATENCY_MS}, stream="downstream")
        releases = {}
        for name, link in links.items():
            origins = [(PRIMARY_REGION, "http://" + toxiproxy.proxy(link)["listen"]), (SECONDARY_REGION, secondary.url)]
            edge = _router(children, origins, "--edge-max-bytes", "1")  # caches nothing: every load crosses the link
            releases[name] = (tmp_path / f"{name}-release", edge.url + "/index.html")
        records = _sample_both(releases)
    (fast, _), (slow, _) = releases["fast"], releases["slow"]
    fast_records, slow_records = records["fast"], records["slow"]
    for records in (fast_records, slow_records):
        assert len(records) >= COMPARE_MIN_LOADS and all(r["ok"] and r["lcp_ms"] is not None for r in records), records

    html_path, md_path = tmp_path / "comparison.html", tmp_path / "comparison.md"
    done = subprocess.run([sys.executable, "-m", "gameday", "compare", str(slow), str(fast), "--window", "overall",
                           "--json", "--html", str(html_path), "--out", str(md_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["vitals"]
    vitals = {v["label"]: v for v in result["vitals"]}
    fast_median = {field: _median(fast_records, field) for field in ("ttfb_ms", "lcp_ms")}
    print(f"\nfast: {len(fast_records)} loads, median TTFB {fast_median['ttfb_ms']:.1f} ms, LCP "
          f"{fast_median['lcp_ms']:.1f} ms; slow: {len(slow_records)} loads, median TTFB "
          f"{_median(slow_records, 'ttfb_ms'):.1f} ms, LCP {_median(slow_records, 'lcp_ms'):.1f} ms")
    checks = (("TTFB", "ttfb_ms", LATENCY_MS, TTFB_RESOLUTION_MS), ("LCP", "lcp_ms", 2 * LATENCY_MS, RESOLUTION_MS))
    for label, field, injected, resolution in checks:
        v = vitals[label]
        assert v["unknown"] is None, v
        truth = _improvement_pct(injected, fast_median[field])
        print(f"{label}: shift {v['shift']:+.1f} ms [{v['low']:+.1f}, {v['high']:+.1f}] (truth {-injected:+d} +- "
              f"{resolution}); improvement {v['improvement_pct']:.1f} % [{v['improvement_low_pct']:.1f}, "
              f"{v['improvement_high_pct']:.1f}] (truth {truth:.1f} %, from the fast median)")
        # the shift interval holds -injected, or misses it by no more than the measurement's resolution
        assert v["low"] - resolution <= -injected <= v["high"] + resolution, v
        # the improvement interval holds the injected ratio of the fast release's typical value (at the resolution)
        low_truth = _improvement_pct(injected - resolution, fast_median[field])
        high_truth = _improvement_pct(injected + resolution, fast_median[field])
        assert v["improvement_low_pct"] <= high_truth and low_truth <= v["improvement_high_pct"], v
        assert v["better"] == "NEW" and v["high"] < 0 < v["improvement_low_pct"]
    print(result["statement"])
    assert result["statement"].startswith("NEW (fast-release) is better in TTFB, FCP, LCP")
    assert result["statement"] in md_path.read_text()
    page_html = html_path.read_text()
    assert page_html.count('<table id="vitals">') == 1 and '<th title="largest contentful paint">LCP</th>' in page_html
