"""Fixtures of the interop suite: Python (sioadapter) and Node.js socket.io servers in one cluster.

Needs Node.js 20+ and npm (``npm ci`` runs here once per session when ``node_modules`` is
missing or older than ``package-lock.json``) and redis-server 7+ (``tests/redistopo``). Without
them the tests are skipped, or fail when the ``CI`` environment variable is set.

* ``node_bin``: the ``node`` executable, with ``node_modules`` installed (session).
* ``interop_key``: a channel prefix no other test uses.
* ``mixed``: a started :class:`~.harness_node.MixedCluster` (``py0``, ``py1``, ``node`` and a
  client of each) in classic mode on ``redis_standalone``; parametrize it indirectly with
  ``"sharded"`` to get the same cluster in sharded mode on the 3-master ``redis_cluster``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from integration.cluster_fixtures import CALL_FAILED, pytest_runtest_makereport
from integration.harness import unique_cluster_name
from redistopo.fixtures import redis_available, redis_cluster, redis_standalone

from .harness_node import MixedCluster, Topology, prepare_node

__all__ = [
    "interop_key",
    "mixed",
    "node_bin",
    "pytest_configure",
    "pytest_runtest_makereport",
    "redis_available",
    "redis_cluster",
    "redis_standalone",
]

MARKER = "interop: Python and Node.js servers in one cluster (needs Node.js 20+, npm, redis-server)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.fixture(scope="session")
def node_bin() -> str:
    """The ``node`` executable; ``npm ci`` has run if it had to."""
    return prepare_node()


@pytest.fixture
def interop_key(request: pytest.FixtureRequest) -> str:
    """A channel prefix (Node's ``key`` / ``channelPrefix``) of this test only."""
    return unique_cluster_name(request.node.nodeid, uuid.uuid4().hex[:8])


@pytest.fixture
def topology(request: pytest.FixtureRequest) -> Topology:
    """Classic on the standalone Redis (default), or ``"sharded"`` on the Redis Cluster."""
    mode = getattr(request, "param", "classic")
    if mode == "sharded":
        cluster = request.getfixturevalue("redis_cluster")
        return Topology(
            mode="sharded",
            python_url=cluster.url,
            python_options={"mode": "sharded"},
            node_redis={"cluster": [f"redis://127.0.0.1:{port}" for port in cluster.ports]},
        )
    assert mode == "classic", mode
    server = request.getfixturevalue("redis_standalone")
    return Topology(
        mode="classic",
        python_url=server.url,
        node_redis={"redis": server.url},
        redis_url=server.url,
    )


@pytest.fixture
async def mixed(
    request: pytest.FixtureRequest, node_bin: str, topology: Topology, interop_key: str
) -> AsyncIterator[MixedCluster]:
    """A started mixed cluster; torn down (Node process stopped by PID) even if the test fails."""
    cluster = MixedCluster(node_bin, topology, interop_key)
    try:
        await cluster.start()
    except BaseException:
        await cluster.aclose(check=False)
        raise
    try:
        yield cluster
    finally:
        await cluster.aclose(check=not request.node.stash.get(CALL_FAILED, False))
