"""The target seam: one Protocol (`base.TargetDriver`), drivers `local` and (later) `aws`."""

from __future__ import annotations


def driver_from(configuration: dict | None = None):
    """The driver a Chaos Toolkit activity acts on: the local stack the GAMEDAY_* settings name, unless the
    experiment's configuration says `gameday_base_port`."""
    from gameday.settings import Settings
    from infra.targets.local import LocalTarget

    settings = Settings()
    base = (configuration or {}).get("gameday_base_port")
    return LocalTarget(settings.with_base_port(int(base)) if base else settings)
