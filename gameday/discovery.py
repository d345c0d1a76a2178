"""Chaos Toolkit discovery of this package: `chaos discover gameday-harness --no-install` lists every activity an
experiment can call (the faults, the remediations, the probes), and, with system discovery, the targets the
harness knows and the local stack's state (read only; nothing is started)."""

from __future__ import annotations

from gameday import __version__

__all__ = ["discovery"]

#: Modules whose `__all__` are Chaos Toolkit activities, and of which kind.
ACTIVITY_MODULES = (("gameday.faults", "action"), ("remediations.failover", "action"),
                    ("remediations.deploy", "action"), ("remediations.cache", "action"), ("probes.stack", "probe"))


def discovery(discover_system: bool = True) -> dict:
    """The Discovery document chaoslib expects (`chaoslib.discovery.initialize_discovery_result` filled)."""
    from chaoslib.discovery.discover import discover_activities, initialize_discovery_result

    result = initialize_discovery_result("gameday-harness", __version__, "gameday")
    for module, kind in ACTIVITY_MODULES:
        result["activities"].extend(discover_activities(module, kind))
    if discover_system:
        result["system"] = _system()
    return result


def _system() -> dict:
    from gameday.base.settings import Settings
    from infra.targets.local import LocalTarget
    from infra.targets.registry import names

    settings = Settings()
    try:
        stack = LocalTarget(settings).stack.status()
    except Exception as exc:  # discovery reports what it finds; a stack it cannot read is a finding, not a crash
        stack = {"error": f"{type(exc).__name__}: {exc}"}
    return {"targets": names(), "default_target": settings.target, "local_stack": stack}
