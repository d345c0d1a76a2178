"""`gameday validate`: every problem in experiment files, from syntax to Chaos Toolkit's own checks; touches nothing.

Chaos Toolkit's validation runs in-process: it imports the python activity modules and binds their arguments to
the functions' signatures, but calls nothing, starts no process and opens no connection (vault secrets, the only
part that would, are left out of its input).
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gameday.base.models import (
    EXTENSION_NAME,
    Problem,
    check_document,
    experiment_activities,
    pydantic_problems,
    read_document,
)

__all__ = ["Problem", "validate_files", "validate_file"]

ENV_SECRET_HINT = "use {type: env, key: SOME_VARIABLE}"


def validate_files(paths: Iterable[str | Path], target: str = "local", config=None) -> list[Problem]:
    """Every problem in every file, in file order; an empty list means all are valid on `target` (with its
    configuration from `Target.configure`, e.g. the AWS target profile)."""
    return [problem for path in paths for problem in validate_file(path, target, config)]


def validate_file(path: str | Path, target: str = "local", config=None) -> list[Problem]:
    """Every problem in one experiment file: readable, parseable, its gameday block, secrets, Chaos Toolkit, and
    whether `target` can carry out each activity (gameday.target_check)."""
    from gameday.target_check import target_problems

    file = str(path)
    try:
        raw, problems = read_document(path)
    except (OSError, ValueError) as exc:  # a name the file system refuses (too long, a NUL byte)
        return [Problem(file, "file", f"reading of experiment failed: {getattr(exc, 'strerror', None) or exc}")]
    if raw is None:
        return problems
    if not isinstance(raw.get("configuration") or {}, dict):  # check_document reads its keys
        problems = [Problem(file, "configuration", "configuration is a mapping of name -> value, "
                                                   f"not {type(raw['configuration']).__name__}")]
        raw = {**raw, "configuration": {}}
    problems += check_document(raw, path)[1]
    problems += load_problems(file, raw)
    problems += inline_secrets(file, raw)
    problems += missing_controls(file, raw)
    problems += chaostoolkit_problems(file, raw, problems)
    problems += target_problems(file, raw, target, config)
    return problems


def load_problems(file: str, raw: dict) -> list[Problem]:
    """The load profile exists (by name) or is a valid profile for the load engine (inline)."""
    from scenarios.profiles import Profile, shipped

    extensions = raw.get("extensions")
    for index, ext in enumerate(extensions if isinstance(extensions, list) else []):  # else check_document says
        if isinstance(ext, dict) and ext.get("name") == EXTENSION_NAME:
            break
    else:
        return []
    load = ext.get("load")
    profile = load.get("profile") if isinstance(load, dict) else None
    where = f"extensions.{index}.load.profile"
    if isinstance(profile, str) and profile.strip():
        names = shipped()
        if profile in names:
            return []
        return [Problem(file, where, f"unknown load profile {profile!r}; valid profiles: {', '.join(names)}")]
    if isinstance(profile, dict):
        try:
            Profile.model_validate({"name": "inline", **profile})
        except ValidationError as exc:
            return pydantic_problems(file, where, exc, Profile)
    return []


def inline_secrets(file: str, raw: dict) -> list[Problem]:
    """Secrets given as literal values rather than looked up (`{type: env, key: ...}` or vault)."""
    secrets = raw.get("secrets")
    if secrets is None:
        return []
    if not isinstance(secrets, dict):
        return [Problem(file, "secrets", "secrets is a mapping of scope -> {name: {type: env, key: ...}}")]
    return list(_literal_secrets(file, "secrets", secrets))


def _literal_secrets(file: str, where: str, mapping: dict) -> Iterator[Problem]:
    for key, value in mapping.items():
        loc = f"{where}.{key}"
        if isinstance(value, dict) and value.get("type") == "env":
            if not value.get("key"):
                yield Problem(file, loc, "an env secret needs `key`, the variable's name")
        elif isinstance(value, dict) and value.get("type") == "vault":
            continue
        elif isinstance(value, dict) and "type" in value:
            yield Problem(file, loc, f"unknown secret type {value['type']!r}; valid types: env, vault")
        elif isinstance(value, dict):
            yield from _literal_secrets(file, loc, value)
        else:
            yield Problem(file, loc, f"inline secret: Chaos Toolkit copies literal values into the journal; "
                                     f"hint: {ENV_SECRET_HINT}")


def missing_controls(file: str, raw: dict) -> list[Problem]:
    """Python controls whose module cannot be found: Chaos Toolkit only logs a warning and runs without them."""
    problems = []
    for loc, control in _controls(raw):
        provider = control.get("provider") if isinstance(control, dict) else None
        module = provider.get("module") if isinstance(provider, dict) and provider.get("type") == "python" else None
        if isinstance(module, str) and module and not _importable(module):
            problems.append(Problem(file, loc, f"control {control.get('name')!r}: module {module!r} cannot be "
                                               "imported (Chaos Toolkit would run without it, silently)"))
    return problems


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _controls(raw: dict) -> Iterator[tuple[str, Any]]:
    holders = [("", raw)]
    ssh = raw.get("steady-state-hypothesis")
    if isinstance(ssh, dict):
        holders.append(("steady-state-hypothesis.", ssh))
    holders += [(f"{loc}.", activity) for loc, activity in experiment_activities(raw)]
    for prefix, holder in holders:
        controls = holder.get("controls") if isinstance(holder, dict) else None
        for i, control in enumerate(controls if isinstance(controls, list) else []):
            yield f"{prefix}controls.{i}", control


def chaostoolkit_problems(file: str, raw: dict, known: list[Problem]) -> list[Problem]:
    """Chaos Toolkit's own checks: each activity on its own (all of them), then the whole experiment (first error)."""
    from chaoslib.activity import ensure_activity_is_valid
    from chaoslib.experiment import ensure_experiment_is_valid
    from chaoslib.loader import load_experiment as ctk_load_experiment

    problems = []
    for loc, activity in experiment_activities(raw):
        name = activity.get("name") if isinstance(activity, dict) else None
        try:
            ensure_activity_is_valid(activity)
        except Exception as exc:  # chaoslib lets an activity module's own import errors through
            text = _text(exc)
            named = not name or f"'{name}'" in text
            problems.append(Problem(file, loc, text if named else f"activity {name!r}: {text}"))
    try:
        experiment = ctk_load_experiment(file)
        ensure_experiment_is_valid(_offline(experiment))
    except Exception as exc:
        text = _text(exc)
        if not any(text in p.message for p in [*known, *problems]):
            problems.append(Problem(file, "experiment", f"Chaos Toolkit validation failed: {text}"))
    return problems


def _text(exc: Exception) -> str:
    from chaoslib.exceptions import ChaosException

    return str(exc) if isinstance(exc, ChaosException) else f"{type(exc).__name__}: {exc}"


def _offline(experiment: Any) -> Any:
    """A copy without vault secrets: loading them would reach the vault server."""
    experiment = copy.deepcopy(experiment)
    if isinstance(experiment, dict) and isinstance(experiment.get("secrets"), dict):
        experiment["secrets"] = _without_vault(experiment["secrets"])
    return experiment


def _without_vault(mapping: dict) -> dict:
    kept = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value.get("type") == "vault":
            continue
        kept[key] = _without_vault(value) if isinstance(value, dict) and "type" not in value else value
    return kept
