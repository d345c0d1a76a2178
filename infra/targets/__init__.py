"""The target seam: one Protocol (`base.TargetDriver`), drivers `local` and `aws`, and the driver's fault ledger."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

__all__ = ["driver_from", "using", "ledger_for", "aws_driver"]

_current: ContextVar = ContextVar("gameday_driver", default=None)


@contextmanager
def using(driver):
    """Within the block, `driver_from` returns `driver` (the in-process dry run and tests hand one driver to the
    Chaos Toolkit activity functions this way; nothing is patched)."""
    token = _current.set(driver)
    try:
        yield driver
    finally:
        _current.reset(token)


def driver_from(configuration: dict | None = None):
    """The driver a Chaos Toolkit activity acts on. The target is `gameday_target` in the experiment's
    configuration, else GAMEDAY_TARGET (the run engine sets it for its child); `local` is the stack the GAMEDAY_*
    settings name (or `gameday_base_port`), `aws` the resources of the target profile."""
    from gameday.settings import Settings
    from infra.targets.local import LocalTarget

    if (driver := _current.get()) is not None:
        return driver
    configuration = configuration or {}
    settings = Settings()
    if configuration.get("gameday_target", settings.target) == "aws":
        return aws_driver(settings, configuration)
    base = configuration.get("gameday_base_port")
    return LocalTarget(settings.with_base_port(int(base)) if base else settings)


def aws_driver(settings, configuration: dict | None = None, **kwargs):
    """The AWS driver from configuration keys `gameday_target_profile`, `gameday_confirm_account`,
    `gameday_dry_run`, falling back to the settings (GAMEDAY_TARGET_PROFILE, ...)."""
    from gameday.errors import InvalidInput
    from infra.targets.aws import AwsTarget
    from infra.targets.profile import load_profile

    configuration = configuration or {}
    path = configuration.get("gameday_target_profile") or settings.target_profile
    if not path:
        raise InvalidInput("the aws target needs a target profile: neither configuration `gameday_target_profile` "
                           "nor GAMEDAY_TARGET_PROFILE is set",
                           hint="gameday run EXPERIMENT --target aws --profile examples/targets/staging.yaml")
    defaults = {"state_root": Path(settings.stack_root),
                "dry_run": bool(configuration.get("gameday_dry_run", settings.dry_run)),
                "confirm_account": configuration.get("gameday_confirm_account") or settings.confirm_account}
    return AwsTarget(load_profile(path), **(defaults | kwargs))


def ledger_for(driver):
    """The driver's fault ledger: it outlives any run, so a crashed run's faults can still be recovered."""
    from gameday.ledger import FaultLedger

    return FaultLedger(driver.ledger_path)
