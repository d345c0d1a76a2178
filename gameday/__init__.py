"""GameDay harness: chaos experiments and load profiles with measured RTO/RPO, P95/P99 and scaling."""

__version__ = "0.1.0"


def discover(discover_system: bool = True) -> dict:
    """Chaos Toolkit's discovery entry point (`chaos discover gameday-harness --no-install`): gameday.discovery."""
    from gameday.discovery import discovery

    return discovery(discover_system)
