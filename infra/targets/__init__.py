"""The target seam: one Protocol (`base.Target`), the registry of drivers (`registry`), and the driver's fault
ledger."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["driver_from", "using", "ledger_for"]

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
    """The driver a Chaos Toolkit activity acts on: `gameday_target` in the experiment's configuration, else
    GAMEDAY_TARGET (the run engine sets it and the rest of the driver's `child_env` for its child)."""
    from gameday.base.settings import Settings
    from infra.targets.registry import driver_class

    if (driver := _current.get()) is not None:
        return driver
    configuration = configuration or {}
    settings = Settings()
    return driver_class(configuration.get("gameday_target", settings.target)).from_environment(settings,
                                                                                                configuration)


def ledger_for(driver):
    """The driver's fault ledger: it outlives any run, so a crashed run's faults can still be recovered (in the
    driver's `ledger_store` when it has one, e.g. the AWS account's table, else in the file at `ledger_path`)."""
    from gameday.base.ledger import FaultLedger

    return FaultLedger(driver.ledger_path, store=driver.ledger_store)
