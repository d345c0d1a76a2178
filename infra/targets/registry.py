"""The registry of targets: one row per driver, each checked against the whole seam when it registers.

A new target (GCP, Kubernetes) is one driver file and one row here (or a `register` call from its own package);
`--target`, validation, runs, dry runs, recovery and the contract suite pick it up from this table.
"""

from __future__ import annotations

import importlib

from gameday.base.errors import InvalidInput
from gameday.base.settings import Settings
from infra.targets.base import MEMBERS, Target, TargetOptions

#: Shipped drivers, imported on first use (the AWS driver pulls in boto3).
_SHIPPED = {"local": "infra.targets.local:LocalTarget", "aws": "infra.targets.aws:AwsTarget"}
_loaded: dict[str, type] = {}


class IncompleteDriver(TypeError):
    """A driver that does not implement the whole target seam."""


def missing_members(driver: type) -> list[str]:
    """The seam members `driver` lacks: methods, properties and class attributes, or instance attributes it
    declares with a class-level annotation (`dry_run: bool` set in __init__)."""
    declared = {name for klass in driver.__mro__ for name in getattr(klass, "__annotations__", {})}
    return [m for m in MEMBERS if not hasattr(driver, m) and m not in declared]


def register(driver: type, name: str | None = None) -> type:
    """Add `driver` under `name` (default: its `name`); IncompleteDriver naming every missing member."""
    name = name or getattr(driver, "name", None)
    if not name:
        raise IncompleteDriver(f"driver {driver.__qualname__} has no `name`")
    missing = missing_members(driver)
    if missing:
        raise IncompleteDriver(f"driver {driver.__qualname__} ({name}) does not implement the target seam "
                               f"(infra.targets.base.Target): missing {', '.join(missing)}")
    _loaded[name] = driver
    return driver


def unregister(name: str) -> None:
    """Remove a driver registered at run time (tests)."""
    _loaded.pop(name, None)


def names() -> tuple[str, ...]:
    """Every target name, shipped ones first."""
    return tuple(dict.fromkeys([*_SHIPPED, *_loaded]))


def driver_class(name: str) -> type[Target]:
    """The driver class of target `name`; InvalidInput listing the valid targets."""
    if name not in _loaded:
        if name not in _SHIPPED:
            raise InvalidInput(f"target {name!r} is unknown; valid targets: {', '.join(names())}")
        module, attr = _SHIPPED[name].split(":")
        register(getattr(importlib.import_module(module), attr), name)
    return _loaded[name]


def open_target(name: str, settings: Settings, options: TargetOptions | None = None) -> Target:
    """The driver of target `name` for a run with `options` (its configuration checked first)."""
    cls = driver_class(name)
    options = options or TargetOptions()
    cls.configure(options)
    return cls.open(settings, options)
