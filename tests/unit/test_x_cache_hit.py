"""Which X-Cache values count as cache hits: the local stack's `hit` and CloudFront's edge hits."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.scenario_metrics import CACHED_READ, hit_counts, is_cache_hit


@pytest.mark.parametrize("value", ["hit", "HIT", "Hit from cloudfront", "hit from cloudfront",
                                   "RefreshHit from cloudfront", "  refreshhit from cloudfront "])
def test_hits(value):
    assert is_cache_hit(value)


@pytest.mark.parametrize("value", ["", "miss", "Miss from cloudfront", "Error from cloudfront",
                                   "LambdaGeneratedResponse from cloudfront", "Redirect from cloudfront",
                                   "LimitExceeded from cloudfront", "nan", "hitless"])
def test_not_hits(value):
    assert not is_cache_hit(value)


def test_cloudfront_hits_count_in_the_hit_rate():
    # as the recorder stores them: X-Cache lower-cased; None when the header was absent
    cache = ["hit from cloudfront", "refreshhit from cloudfront", "miss from cloudfront", None]
    samples = pd.DataFrame({"t_s": [0.0, 1.0, 2.0, 3.0], "name": [CACHED_READ] * 4, "dropped": [False] * 4,
                            "ok": [True] * 4, "cache": cache})
    assert hit_counts(samples, CACHED_READ, 0.0, 10.0) == (2, 4)
