"""The release comparison states which release is better in which vital where the shift's interval excludes 0,
and a vital without a finite interval says why (the serial-dependence estimate behind it)."""

from __future__ import annotations

import numpy as np

from reports.vitals_comparison import markdown as vitals_markdown
from tests.unit.test_vitals_comparison import _compare, _lcp, _lcp_row


def test_the_report_states_which_release_is_better_where_the_interval_excludes_0_and_says_why_when_unknown():
    result = _compare(_lcp(90, 60), _lcp(91, 60) - 300.0)   # NEW faster in LCP (and FCP); TTFB the same
    rows = {v["label"]: v for v in result["vitals"]}
    assert rows["LCP"]["better"] == "NEW" and rows["TTFB"]["better"] is None
    assert result["statement"].startswith("NEW (new) is better in FCP, LCP; no difference shown in TTFB")
    assert f"**{result['statement']}**" in vitals_markdown(result)
    worse = _compare(_lcp(92, 60), _lcp(93, 60) + 300.0)
    assert _lcp_row(worse)["better"] == "BASE" and "BASE (base) is better in FCP, LCP" in worse["statement"]
    # 20 loads a side: below the comparison's minimum (2 batches would leave the interval to chance): unknown, why
    few = _compare(np.repeat(_lcp(94, 10), 2), np.repeat(_lcp(95, 10), 2) - 300.0, span_s=60.0)
    assert _lcp_row(few)["shift"] is None and _lcp_row(few)["better"] is None
    assert "fewer than 40 (too few batches to bound the shift's serial dependence)" in _lcp_row(few)["unknown"]
    assert few["statement"].endswith("unknown TTFB, FCP, LCP, INP, CLS")
