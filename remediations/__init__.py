"""Chaos Toolkit actions that repair: failover, failback, deployment rollback."""
