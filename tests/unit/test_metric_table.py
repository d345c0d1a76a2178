"""The metric table: every metric has its unit, windows and measure in one place, and criteria obey them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gameday.base.metrics import METRICS, VS_BASELINE, WHOLE_RUN, Metric, Window, metric_unit, window_problem
from gameday.base.models import Criterion
from reports.comparisons import COMPARED
from reports.measures import MEASURES

# Metrics whose name carries no unit suffix but which are ratios all the same (CLS: a unitless score).
UNSUFFIXED_RATIOS = {Metric.availability, Metric.error_rate_increase, Metric.cls_p75}


def unit_by_name(metric: Metric) -> str:
    if metric.value.endswith("_ms"):
        return "ms"
    if metric.value.endswith("_s"):
        return "s"
    if metric.value.endswith(("_rate", "_ratio", "_share")) or metric in UNSUFFIXED_RATIOS:
        return "ratio"
    return "count"


def test_every_metric_has_a_spec_and_a_measure():
    assert set(METRICS) == set(Metric)
    assert set(MEASURES) == set(Metric)
    assert all(spec.description and spec.windows for spec in METRICS.values())


@pytest.mark.parametrize("metric", list(Metric))
def test_units_follow_the_name_suffix(metric):
    assert metric_unit(metric) == unit_by_name(metric)


def test_window_rules_follow_the_analysis():
    assert {w.value for w in VS_BASELINE} == set(COMPARED)
    whole_run = {m for m, spec in METRICS.items() if spec.windows == WHOLE_RUN}
    assert {Metric.rto_read_s, Metric.rto_write_s, Metric.rpo_s, Metric.scale_out_lag_s} <= whole_run
    assert Window.spike in METRICS[Metric.p95_ms].windows        # spike-10x.yaml judges `p95_ms < 200 in spike`


def test_a_criterion_names_only_a_window_its_metric_can_be_judged_in():
    assert Criterion.model_validate("rto_write_s <= 60").window is Window.overall
    assert Criterion.model_validate("latency_shift_ms <= 20 in after").window is Window.after
    with pytest.raises(ValidationError, match="rto_write_s is a figure of the whole run"):
        Criterion.model_validate("rto_write_s <= 60 in fault")
    with pytest.raises(ValidationError, match="valid windows: fault, recovery, after"):
        Criterion.model_validate("error_rate_increase <= 0.01")
    assert window_problem(Metric.p95_ms, Window.spike) is None
