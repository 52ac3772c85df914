"""Fixtures of the sans-IO cluster tests: three nodes of each protocol family."""

from __future__ import annotations

import pytest

from .harness import Cluster

FAMILIES = ["classic", "cluster"]
"""classic: Node's Redis adapter protocol, nodes counted by NUMSUB; cluster: socket.io-adapter's
ClusterAdapter protocol, nodes counted by heartbeat."""


@pytest.fixture(params=FAMILIES)
def cluster(request: pytest.FixtureRequest) -> Cluster:
    """Three nodes serving "/", settled (heartbeat nodes know each other)."""
    return Cluster(request.param)
