"""Shared fixtures: a free block of loopback ports and a world-readable scratch directory for a stack."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import pytest

from infra.local.layout import SPAN, StackLayout
from infra.local.waiting import port_is_free


def free_base_port() -> int:
    """A base port whose whole stack layout (base .. base+SPAN-1) is free right now."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 30000, SPAN)
        layout = StackLayout.from_base(base)
        if all(port_is_free(p) for p in layout.all_ports()):
            return base
    raise RuntimeError(f"no free block of {SPAN} ports between 20000 and 30000")


@pytest.fixture(scope="session")
def stack_root() -> Path:
    # Not pytest's tmp_path: that is mode 0700 under root, and Postgres runs as its own OS user.
    path = Path(tempfile.mkdtemp(prefix="gameday-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
