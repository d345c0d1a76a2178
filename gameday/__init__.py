"""GameDay harness: chaos experiments and load profiles with measured RTO/RPO, P95/P99 and scaling."""

__version__ = "0.1.0"
