"""Fixtures of the integration tests: the edge's child processes (origins, router, fault proxy), stopped by PID."""

from __future__ import annotations

import pytest

from tests.integration.test_edge import Children


@pytest.fixture
def children(tmp_path):
    started = Children(tmp_path)
    yield started
    started.stop_all()
