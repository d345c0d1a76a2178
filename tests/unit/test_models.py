"""The experiment specification: the gameday block's fields and defaults, criteria shorthand, located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gameday.base.errors import InvalidInput
from gameday.base.models import (
    Criterion,
    ExperimentInvalid,
    ExperimentSpec,
    GameDaySpec,
    Metric,
    StopCondition,
    load_experiment,
    metric_unit,
)
from gameday.base.probe_kinds import ProbeKind

DATA = Path(__file__).parent.parent / "data"
VALID = DATA / "valid-experiment.yaml"


def write(tmp_path: Path, doc: dict, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc))
    return path


def minimal(**gameday) -> dict:
    doc = {"title": "t", "description": "d", "method": []}
    if gameday:
        doc["extensions"] = [{"name": "other-vendor", "x": 1}, {"name": "gameday", **gameday}]
    return doc


def problems_of(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    return [(p.location, p.message) for p in info.value.problems]


def test_the_sample_experiment_loads_with_every_field():
    spec = load_experiment(VALID)
    assert isinstance(spec, ExperimentSpec)
    assert spec.title.startswith("Sample experiment") and spec.source == VALID and spec.extension_index == 0
    assert spec.raw["method"][0]["name"] == "serialise-an-empty-mapping"
    gd = spec.gameday
    assert gd.load.profile == "failover" and gd.load.rate_per_s == 50 and gd.load.users is None
    assert (gd.probes.health_interval_s, gd.probes.canary_rate_per_s) == (0.2, 10)
    probes = gd.probes
    assert (probes.canary_timeout_s, probes.routing_interval_s, probes.replication_interval_s) == (1.0, 0.2, 0.5)
    assert [c.name for c in gd.criteria] == ["rto_write_s <= 900", "reads-recover", "p95_ms < 300 in baseline",
                                              "lost_writes == 0"]
    assert gd.criteria[0] == Criterion(name="rto_write_s <= 900", metric="rto_write_s", op="<=", target=900, unit="s")
    assert gd.criteria[2].window == "baseline" and gd.criteria[2].unit == "ms"
    assert gd.criteria[3].unit == "count" and gd.criteria[3].window == "overall"
    assert gd.stop_conditions[1] == StopCondition(metric="probe", probe="health", op=">", threshold=0.9)
    assert gd.quick.configuration == {"hold_s": 5}


def test_json_and_yaml_give_the_same_spec(tmp_path):
    doc = yaml.safe_load(VALID.read_text())
    from_json = load_experiment(write(tmp_path, doc, "exp.json"))
    assert from_json.gameday == load_experiment(VALID).gameday


def test_without_a_gameday_extension_the_defaults_apply(tmp_path):
    spec = load_experiment(write(tmp_path, minimal()))
    assert spec.gameday == GameDaySpec() and spec.extension_index is None
    assert spec.gameday.windows.sustain_s == 10 and spec.gameday.probes.health_interval_s == 0.1
    assert spec.gameday.load is None and spec.gameday.criteria == []


def test_a_typo_fails_with_its_location_and_the_file(tmp_path):
    path = write(tmp_path, minimal(windows={"baseline_s": 5, "after_sec": 5}))
    with pytest.raises(InvalidInput) as info:
        load_experiment(path)
    text = str(info.value)
    assert f"validation of experiment {path} failed" in text and "hint:" in text
    assert "extensions.1.windows.after_sec: unknown field; valid fields: baseline_s, after_s, sustain_s" in text


def test_every_problem_is_reported_at_once(tmp_path):
    doc = minimal(probes={"health_interval_s": -1}, criteria=["p95_ms < 300", {"metric": "p99_ms", "op": "=<",
                                                                               "target": 1}])
    del doc["title"]
    locations = [loc for loc, _ in problems_of(write(tmp_path, doc))]
    assert locations == ["title", "extensions.1.probes.health_interval_s", "extensions.1.criteria.1.op"]


def test_an_unknown_metric_lists_the_valid_ones_in_either_form(tmp_path):
    for criterion in ("rto_s <= 900", {"metric": "rto_s", "op": "<=", "target": 900}):
        [(loc, message)] = problems_of(write(tmp_path, minimal(criteria=[criterion])))
        assert loc == "extensions.1.criteria.0.metric"
        assert "'rto_s'" in message and all(m.value in message for m in Metric)


def test_an_unknown_operator_lists_the_valid_ones(tmp_path):
    [(loc, message)] = problems_of(write(tmp_path, minimal(criteria=[{"metric": "p99_ms", "op": "~", "target": 1}])))
    assert loc == "extensions.1.criteria.0.op" and "'<', '<=', '>', '>=' or '=='" in message


@pytest.mark.parametrize("text", ["", "p95_ms", "p95_ms is low", "p95_ms <= fast", "p95_ms <= 3 during fault"])
def test_a_malformed_shorthand_says_how_it_should_read(text):
    with pytest.raises(ValidationError, match="<metric> <op> <target>"):
        Criterion.model_validate(text)


def test_the_shorthand_equals_the_long_form():
    long = Criterion(name="p95_ms < 300 in fault", metric="p95_ms", op="<", target=300, unit="ms", window="fault")
    assert Criterion.model_validate("p95_ms < 300 in fault") == long
    assert Criterion.model_validate("  p95_ms<300   in fault ") == long


def test_a_unit_other_than_the_metrics_fails():
    with pytest.raises(ValidationError, match="rto_write_s is measured in s, not 'ms'"):
        Criterion(name="x", metric="rto_write_s", op="<=", target=900, unit="ms")


def test_an_unknown_window_lists_the_valid_ones():
    with pytest.raises(ValidationError, match="'baseline', 'fault', 'recovery', 'after', 'overall' or 'spike'"):
        Criterion.model_validate("p95_ms < 300 in during")


def test_criterion_names_are_unique():
    with pytest.raises(ValidationError, match="repeated: p95_ms < 300"):
        GameDaySpec(criteria=["p95_ms < 300", "p95_ms < 300"])


def test_a_probe_stop_condition_names_its_probe():
    with pytest.raises(ValidationError, match="`probe`"):
        StopCondition(metric="probe", threshold=0.5)
    with pytest.raises(ValidationError, match="`probe`"):
        StopCondition(metric="error_rate", threshold=0.5, probe="health")
    with pytest.raises(ValidationError, match="'error_rate', 'p95_ms' or 'probe'"):
        StopCondition(metric="p99_ms", threshold=0.5)


def test_a_probe_stop_condition_names_a_probe_kind_with_failures():
    assert StopCondition(metric="probe", probe="canary", threshold=0.1).probe is ProbeKind.canary
    # routing, writers, replication and capacity records carry no success or failure: a guard could never stop
    with pytest.raises(ValidationError, match="no failure share to stop on; valid: health or canary"):
        StopCondition(metric="probe", probe="routing", threshold=0.5)
    with pytest.raises(ValidationError, match="'health', 'canary', 'routing', 'writers', 'replication' or 'capacity'"):
        StopCondition(metric="probe", probe="disk", threshold=0.5)


def test_quick_configuration_overrides_must_be_declared(tmp_path):
    doc = minimal(quick={"configuration": {"hold_s": 5}})
    [(loc, message)] = problems_of(write(tmp_path, doc))
    assert loc == "extensions.1.quick.configuration.hold_s" and "declared: none" in message
    doc["configuration"] = {"hold_s": 60}
    assert load_experiment(write(tmp_path, doc)).gameday.quick.configuration == {"hold_s": 5}


def test_detection_holds_must_be_declared_configuration_keys(tmp_path):
    doc = minimal(windows={"detection_holds": ["hold_s"]})
    [(loc, message)] = problems_of(write(tmp_path, doc))
    assert loc == "extensions.1.windows.detection_holds.0" and "'hold_s' is not declared" in message
    doc["configuration"] = {"hold_s": 60}
    assert load_experiment(write(tmp_path, doc)).gameday.windows.detection_holds == ["hold_s"]


def test_quickened_applies_the_shorter_windows_only():
    spec = GameDaySpec(windows={"baseline_s": 60, "after_s": 60}, quick={"baseline_s": 2, "sustain_s": 1})
    assert spec.quickened().windows.model_dump() == {"baseline_s": 2, "after_s": 60, "sustain_s": 1,
                                                       "sustain_success_ratio": 0.95, "warmup_s": 0.0,
                                                       "detection_holds": []}
    assert spec.windows.baseline_s == 60


def test_an_inline_profile_is_kept_as_given_and_a_bad_one_is_named():
    inline = {"name": "mine", "stages": [{"duration_s": 5, "rate_per_s": 10}]}
    assert GameDaySpec(load={"profile": inline}).load.profile == inline
    with pytest.raises(ValidationError, match="give a profile name"):
        GameDaySpec(load={"profile": 3})


def test_models_are_frozen():
    spec = GameDaySpec()
    with pytest.raises(ValidationError):
        spec.windows = None


def test_two_gameday_blocks_are_one_too_many(tmp_path):
    doc = minimal(windows={"after_s": 1})
    doc["extensions"].append({"name": "gameday"})
    assert problems_of(write(tmp_path, doc))[0] == ("extensions", "one `gameday` extension allowed; found them at 1, 2")


def test_a_yaml_syntax_error_has_its_line_and_column():
    [(loc, message)] = problems_of(DATA / "yaml-syntax-error.yaml")
    assert loc == "line 5, column 11" and message.startswith("YAML syntax error")


def test_a_json_syntax_error_has_its_line_and_column(tmp_path):
    path = tmp_path / "exp.json"
    path.write_text('{"title": "t",\n "description": }')
    assert problems_of(path) == [("line 2, column 17", "JSON syntax error: Expecting value")]


def test_a_document_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("- just\n- a list\n")
    assert problems_of(path) == [("file", "an experiment is a mapping, not list")]


@given(st.sampled_from(["<", "<=", ">", ">=", "=="]), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_holds_agrees_with_the_operator(op, target, measured):
    criterion = Criterion(name="c", metric="p95_ms", op=op, target=target)
    expected = {"<": measured < target, "<=": measured <= target, ">": measured > target,
                ">=": measured >= target, "==": measured == target}[op]
    assert criterion.holds(measured) is expected


def test_every_metric_has_a_unit():
    assert {metric_unit(m) for m in Metric} == {"s", "ms", "ratio", "count"}
