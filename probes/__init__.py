"""Chaos Toolkit probes and continuous samplers (SLO windows, RTO, RPO canary, scaling, lag)."""
