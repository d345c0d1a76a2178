"""Chaos Toolkit actions that repair a region failure: emergency failover and planned failback."""

from __future__ import annotations

from infra.targets import driver_from as target_from

__all__ = ["promote_secondary", "restore_writer", "failback"]


def promote_secondary(allow_data_loss: bool = False, configuration: dict = None, secrets: dict = None) -> dict:
    """Fence the old writer, promote the standby, route to it, and verify a write through the entry point
    (`allow_data_loss: true` only when the experiment declares the primary region lost; aws: managed failover)."""
    target = target_from(configuration)
    return target.promote_secondary(allow_data_loss=bool(allow_data_loss))


def restore_writer(configuration: dict = None, secrets: dict = None) -> dict:
    """After the writer database was lost: a writer again, this target's way (local: promote the other region's
    standby; aws: Aurora's in-region failover, waited for and verified; never a cross-region move)."""
    return target_from(configuration).restore_writer()


def failback(configuration: dict = None, secrets: dict = None) -> dict:
    """Rebuild the primary region as a standby, switch over with zero loss, verify writes there."""
    return target_from(configuration).failback()
