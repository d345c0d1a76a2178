"""Bad input fuzzed: malformed experiments, GameDay plans and AWS target profiles (wrong types, unknown keys,
missing fields, huge values, broken YAML) are rejected with a problem naming the file and the field, never with
an unexpected exception; on the command line they exit 2 with one clear error line and no traceback."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from gameday.base.errors import InvalidInput
from gameday.base.models import GameDaySpec
from gameday.cli import cli
from gameday.plans import GameDayPlan, PlanInvalid, load_plan
from gameday.validate import validate_file
from infra.targets.profile import TargetProfile, load_target_profile

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = yaml.safe_load((ROOT / "tests" / "data" / "valid-experiment.yaml").read_text())
PROFILE = yaml.safe_load((ROOT / "examples" / "targets" / "staging.yaml").read_text())
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

Path_ = tuple[Any, ...]

#: Values of the wrong type, or of the right type but absurd: huge, non-finite, empty, very long.
junk = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.just("x" * 100_000),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
#: A value no typed field accepts: a list of lists of mappings.
never_valid = [[{"fuzz": 1}]]
unknown_key = st.from_regex(r"zz_[a-z_]{1,10}", fullmatch=True)


# --- walking documents alongside their models ------------------------------------------------------------------
def _paths(doc: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every path to a value in a JSON-like document, the root excluded."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield (*path, key)
        yield from _paths(value, (*path, key))


def _strict_dicts(annotation: Any, doc: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Paths of the mappings in `doc` that are pydantic models with extra="forbid" (an unknown key is an error)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(doc, dict):
            if annotation.model_config.get("extra") == "forbid":
                yield path
            for key, value in doc.items():
                field = annotation.model_fields.get(key)
                if field is not None:
                    yield from _strict_dicts(field.annotation, value, (*path, key))
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        found: list[Path_] = []
        for arg in args:
            found += [p for p in _strict_dicts(arg, doc, path) if p not in found]
        yield from found
    elif origin in (list, tuple) and isinstance(doc, list) and args:
        for i, value in enumerate(doc):
            yield from _strict_dicts(args[0], value, (*path, i))
    elif origin is dict and isinstance(doc, dict) and len(args) == 2:
        for key, value in doc.items():
            yield from _strict_dicts(args[1], value, (*path, key))


def _at(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _replaced(doc: Any, path: Path_, value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    _at(doc, path[:-1])[path[-1]] = value
    return doc


def _without(doc: Any, path: Path_) -> Any:
    doc = json.loads(json.dumps(doc))
    del _at(doc, path[:-1])[path[-1]]
    return doc


def _with_key(doc: Any, path: Path_, key: str) -> Any:
    doc = json.loads(json.dumps(doc))
    _at(doc, path)[key] = 1
    return doc


def _dotted(path: Path_) -> str:
    return ".".join(map(str, path))


def _mutated(base: Any) -> st.SearchStrategy:
    """Any mutation anywhere: a value replaced by junk, a key or item removed, an unknown key added."""
    paths = list(_paths(base))
    dicts = [()] + [p for p in paths if isinstance(_at(base, p), dict)]
    return st.one_of(
        st.builds(_replaced, st.just(base), st.sampled_from(paths), junk),
        st.builds(_without, st.just(base), st.sampled_from(paths)),
        st.builds(_with_key, st.just(base), st.sampled_from(dicts), unknown_key))


def _broken_yaml(base: Any) -> st.SearchStrategy:
    """YAML text cut short or with a stray token spliced in; also a few texts that are never a valid document."""
    text = yaml.safe_dump(base, sort_keys=False)
    tokens = st.sampled_from(["{", "[", "]", ": :", "\t", "- ", "&a", "*b", '"', "!!python/object:os.system ",
                              "\x00", "%YAML 9\n", "---\n- x\n---\n"])
    spliced = st.builds(lambda at, token: text[:at] + token + text[at:], st.integers(0, len(text)), tokens)
    cut = st.builds(lambda at: text[:at], st.integers(0, len(text)))
    return st.one_of(spliced, cut, st.sampled_from(["", "~\n", "- a list\n", "just text\n", "{unclosed: [1, 2\n"]))


# --- experiments ------------------------------------------------------------------------------------------------
GAMEDAY_INDEX = next(i for i, e in enumerate(EXPERIMENT["extensions"]) if e.get("name") == "gameday")
GAMEDAY_PATH: Path_ = ("extensions", GAMEDAY_INDEX)
GAMEDAY_STRICT = [(*GAMEDAY_PATH, *p) for p in _strict_dicts(GameDaySpec, EXPERIMENT["extensions"][GAMEDAY_INDEX])]
GAMEDAY_VALUES = [p for p in _paths(EXPERIMENT) if p[:2] == GAMEDAY_PATH and len(p) > 2 and p[2] != "name"]


def _write(tmp: Path, name: str, doc: Any) -> Path:
    path = tmp / name
    path.write_text(json.dumps(doc) if path.suffix == ".json" else doc, encoding="utf-8")
    return path


def _check_experiment(path: Path) -> list:
    problems = validate_file(path)  # raises nothing
    for problem in problems:
        assert problem.file == str(path) and problem.location and problem.message, problem
    return problems


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(doc=_mutated(EXPERIMENT))
def test_any_mutation_of_an_experiment_is_accepted_or_rejected_with_located_problems(tmp, doc):
    _check_experiment(_write(tmp, "exp.json", doc))


@FUZZ
@given(path=st.sampled_from(GAMEDAY_STRICT), key=unknown_key)
def test_an_unknown_key_in_the_gameday_block_is_named_with_its_location(tmp, path, key):
    problems = _check_experiment(_write(tmp, "exp.json", _with_key(EXPERIMENT, path, key)))
    assert _dotted((*path, key)) in [p.location for p in problems], problems


@FUZZ
@given(path=st.sampled_from(GAMEDAY_VALUES))
def test_a_value_of_the_wrong_type_in_the_gameday_block_is_named_with_its_location(tmp, path):
    problems = _check_experiment(_write(tmp, "exp.json", _replaced(EXPERIMENT, path, never_valid)))
    assert any(p.location.startswith(_dotted(path)) for p in problems), (path, problems)


@pytest.mark.parametrize("field", ["title", "description", "method"])
def test_a_missing_required_field_of_an_experiment_is_named(tmp, field):
    problems = _check_experiment(_write(tmp, "exp.json", _without(EXPERIMENT, (field,))))
    assert any(field in f"{p.location} {p.message}" for p in problems), problems


@FUZZ
@given(text=_broken_yaml(EXPERIMENT))
def test_broken_yaml_in_an_experiment_is_located_by_line_or_named_as_not_a_mapping(tmp, text):
    _check_experiment(_write(tmp, "exp.yaml", text))


def test_an_unreadable_experiment_is_a_problem_of_the_file(tmp):
    path = tmp / "binary.yaml"
    path.write_bytes(b"title: \xff\xfe\n")
    assert [p.location for p in _check_experiment(path)] == ["file"]


# --- GameDay plans ----------------------------------------------------------------------------------------------
PLAN = {"title": "T", "description": "D", "certificate": {"name": "C", "statement": "S", "sign_off": ["SRE"]},
        "quick": True, "experiments": [{"experiment": "sample.json", "quick": False}],
        "requirements": [{"name": "write RTO", "experiment": "sample", "metric": "rto_write_s"},
                         {"name": "p95", "experiment": "sample", "metric": "p95_ms", "window": "baseline"}]}
PLAN_OPTIONAL = ("quick", "sign_off", "window")


@pytest.fixture(scope="module")
def plan_doc(tmp) -> dict:
    """A valid plan whose one experiment is a JSON copy of the sample (quick to validate)."""
    return _replaced(PLAN, ("experiments", 0, "experiment"), str(_write(tmp, "sample.json", EXPERIMENT)))


def _check_plan(path: Path, valid_ok: bool = True) -> list:
    try:
        load_plan(path)
    except PlanInvalid as exc:
        for problem in exc.problems:
            assert problem.file and problem.location and problem.message, problem
        assert str(path) in str(exc)
        return exc.problems
    assert valid_ok, f"{path} was accepted"
    return []


@FUZZ
@given(data=st.data())
def test_any_mutation_of_a_plan_is_accepted_or_rejected_with_located_problems(tmp, plan_doc, data):
    _check_plan(_write(tmp, "plan.json", data.draw(_mutated(plan_doc))))


@FUZZ
@given(path=st.sampled_from(list(_strict_dicts(GameDayPlan, PLAN))), key=unknown_key)
def test_an_unknown_key_in_a_plan_is_named_with_its_location(tmp, plan_doc, path, key):
    problems = _check_plan(_write(tmp, "plan.json", _with_key(plan_doc, path, key)), valid_ok=False)
    assert _dotted((*path, key)) in [p.location for p in problems], problems


@FUZZ
@given(path=st.sampled_from(list(_paths(PLAN))), how=st.sampled_from(["wrong type", "missing"]))
def test_a_wrong_type_or_a_missing_field_in_a_plan_is_named(tmp, plan_doc, path, how):
    where = path
    if how == "wrong type":
        doc, may_pass = _replaced(plan_doc, path, never_valid), False
    else:  # an optional field, or one item of a list that keeps others, may go; a list too short is the list's
        doc = _without(plan_doc, path)
        may_pass = path[-1] in PLAN_OPTIONAL or isinstance(path[-1], int) and (
            path[-2] in PLAN_OPTIONAL or len(_at(PLAN, path[:-1])) > 1)
        where = path[:-1] if isinstance(path[-1], int) else path
    problems = _check_plan(_write(tmp, "plan.json", doc), valid_ok=may_pass)
    assert not problems or any(p.location.startswith(_dotted(where)) for p in problems), (path, problems)


@FUZZ
@given(text=_broken_yaml(PLAN))
def test_broken_yaml_in_a_plan_is_rejected_with_its_location(tmp, text):
    _check_plan(_write(tmp, "plan.yaml", text))


# --- AWS target profiles ----------------------------------------------------------------------------------------
def _check_profile(path: Path, valid_ok: bool = True) -> str:
    try:
        load_target_profile(path)
    except InvalidInput as exc:
        assert str(path) in str(exc), exc
        return str(exc)
    assert valid_ok, f"{path} was accepted"
    return ""


@FUZZ
@given(doc=_mutated(PROFILE))
def test_any_mutation_of_a_target_profile_is_accepted_or_rejected_naming_the_file(tmp, doc):
    _check_profile(_write(tmp, "profile.json", doc))


@FUZZ
@given(path=st.sampled_from(list(_strict_dicts(TargetProfile, PROFILE))), key=unknown_key)
def test_an_unknown_key_in_a_target_profile_is_named_with_its_location(tmp, path, key):
    message = _check_profile(_write(tmp, "profile.json", _with_key(PROFILE, path, key)), valid_ok=False)
    assert f"{_dotted((*path, key))}: unknown field" in message, message


@FUZZ
@given(path=st.sampled_from([p for p in _paths(PROFILE) if not isinstance(_at(PROFILE, p), (dict, list))]))
def test_a_wrong_type_in_a_target_profile_is_named_with_its_location(tmp, path):
    message = _check_profile(_write(tmp, "profile.json", _replaced(PROFILE, path, never_valid)), valid_ok=False)
    assert _dotted(path) in message, message


@FUZZ
@given(text=_broken_yaml(PROFILE))
def test_broken_yaml_in_a_target_profile_is_rejected_naming_the_file(tmp, text):
    _check_profile(_write(tmp, "profile.yaml", text))


# --- file names the file system refuses -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["x" * 5000 + ".yaml", "a\x00b.yaml"], ids=["too long", "NUL byte"])
def test_a_file_name_the_file_system_refuses_is_a_problem_of_the_file(tmp, plan_doc, name):
    assert [p.location for p in _check_experiment(tmp / name)] == ["file"]
    assert [p.location for p in _check_plan(tmp / name, valid_ok=False)] == ["file"]
    _check_profile(tmp / name, valid_ok=False)
    plan = _write(tmp, "plan.json", _replaced(plan_doc, ("experiments", 0, "experiment"), str(tmp / name)))
    assert "experiments.0.experiment" in [p.location for p in _check_plan(plan, valid_ok=False)]


# --- the command line -------------------------------------------------------------------------------------------
def _one_error_line(result) -> str:
    """Exit 2 (a SystemExit, not a crash), no traceback, and exactly one `error:` line (problems may follow it)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize("args", [["run", "--dry-run"], ["run"]], ids=["run --dry-run", "run"])
@pytest.mark.parametrize("mutation, field", [
    (lambda d: _with_key(d, (*GAMEDAY_PATH, "windows"), "zz_typo"), "extensions.0.windows.zz_typo"),
    (lambda d: _replaced(d, (*GAMEDAY_PATH, "windows", "baseline_s"), "soon"), "extensions.0.windows.baseline_s"),
    (lambda d: _without(d, ("title",)), "title"),
], ids=["unknown key", "wrong type", "missing field"])
def test_run_with_a_bad_experiment_exits_2_with_one_error_line_naming_file_and_field(tmp, args, mutation, field):
    path = _write(tmp, "cli.json", mutation(EXPERIMENT))
    result = CliRunner().invoke(cli, [*args, str(path), "--out", str(tmp / "never-made")])
    line = _one_error_line(result)
    assert str(path) in line and field in line, result.stderr
    assert not (tmp / "never-made").exists()


def test_validate_names_file_and_field_and_exits_2(tmp):
    path = _write(tmp, "cli.yaml", "title: T\ndescription: D\nmethod: [\n")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(f"{path}: line ")
