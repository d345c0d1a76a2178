"""Per-target validation: can the target carry out every activity of an experiment, with its resources? Pure.

Each driver owns its checks (`Target.check`: regions and modes on the local stack; an AWS meaning and the target
profile's resources on aws). This module walks the activities, resolves `${key}` arguments from the
experiment's configuration and locates each problem (`method.0.provider.arguments.mode`).
"""

from __future__ import annotations

import re
from typing import Any

from gameday.base.errors import GameDayError
from gameday.base.models import Problem, experiment_activities
from infra.targets.base import FUNC, UNRESOLVED
from infra.targets.registry import driver_class

__all__ = ["target_problems"]

_VARIABLE = re.compile(r"^\$\{(?P<key>[A-Za-z0-9_.-]+)\}$")


def target_problems(file: str, raw: dict, target: str, config: Any = None) -> list[Problem]:
    """Every activity of `raw` that `target` (with its `configure`d config, e.g. the aws profile) cannot carry
    out, located (`method.0.provider.arguments.mode`)."""
    try:
        driver = driver_class(target)
    except GameDayError as exc:
        return [Problem(file, "target", str(exc).split("\n")[0])]
    if driver.needs_profile and config is None:
        return [Problem(file, "target", f"the {target} target needs a target profile (--profile PROFILE.yaml)")]
    configuration = raw.get("configuration") if isinstance(raw.get("configuration"), dict) else {}
    problems = []
    for loc, activity in experiment_activities(raw):
        provider = activity.get("provider") if isinstance(activity, dict) else None
        if not isinstance(provider, dict) or provider.get("type") != "python":
            continue
        name = f"{provider.get('module')}.{provider.get('func')}"
        arguments = provider.get("arguments") if isinstance(provider.get("arguments"), dict) else {}
        args = {k: _resolve(v, configuration) for k, v in arguments.items()}
        where = f"{loc}.provider"
        for field, message in driver.check(name, args, config):
            origin = arguments.get(field)
            variable = _VARIABLE.match(origin) if isinstance(origin, str) else None
            via = f" (from configuration.{variable['key']})" if variable else ""
            location = f"{where}.func" if field == FUNC else (f"{where}.arguments.{field}" if field else where)
            problems.append(Problem(file, location, message + via))
    return problems


def _resolve(value: Any, configuration: dict) -> Any:
    """Pure: `${key}` replaced by the configuration's plain value; UNRESOLVED when it comes from elsewhere."""
    match = _VARIABLE.match(value) if isinstance(value, str) else None
    if not match:
        return value
    found = configuration.get(match["key"], UNRESOLVED)
    return UNRESOLVED if isinstance(found, dict) else found  # {type: env, ...}: known only at run time
