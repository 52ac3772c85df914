"""Fixtures of the interop suite: Python (sioadapter) and Node.js socket.io servers in one cluster.

Needs Node.js 20+ and npm (``npm ci`` runs here once per session when ``node_modules`` is
missing or older than ``package-lock.json``) and redis-server 7+ (``tests/redistopo``). Without
them the tests are skipped, or fail when the ``CI`` environment variable is set.

* ``node_bin``: the ``node`` executable, with ``node_modules`` installed (session).
* ``interop_key``: a channel prefix no other test uses.
* ``topology``: where and how the cluster meets (classic on ``redis_standalone`` by default;
  parametrize it indirectly with a name of :data:`TOPOLOGIES` for the others).
* ``mixed``: a started :class:`~.mixed.MixedCluster` (``py0``, ``py1``, ``node`` and a
  client of each) in that topology.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from integration.cluster_fixtures import CALL_FAILED, pytest_runtest_makereport
from integration.harness import unique_cluster_name
from redistopo.fixtures import redis_available, redis_cluster, redis_standalone

from .harness_node import prepare_node
from .mixed import TOPOLOGIES, MixedCluster, Topology

__all__ = [
    "interop_key",
    "mixed",
    "node_bin",
    "pytest_configure",
    "pytest_runtest_makereport",
    "redis_available",
    "redis_cluster",
    "redis_standalone",
    "topology",
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
    """Where and how the mixed cluster meets; parametrize it indirectly with a name of
    :data:`TOPOLOGIES` (default ``classic``):

    * ``classic``: Node ``createAdapter``, Python classic, on the standalone Redis;
    * ``classic-specific``: the same with ``publishOnSpecificResponseChannel`` on both sides;
    * ``sharded``: Node ``createShardedAdapter`` on a ``createCluster`` client pair, Python
      ``mode="sharded"``, on the 3-master Redis Cluster (``subscriptionMode`` dynamic);
    * ``sharded-private``: the same with ``subscriptionMode: "dynamic-private"`` on both;
    * ``sharded-standalone``: sharded pub/sub on the standalone Redis (Redis 7+).
    """
    name = getattr(request, "param", "classic")
    assert name in TOPOLOGIES, name
    if name in ("sharded", "sharded-private"):
        cluster = request.getfixturevalue("redis_cluster")
        subscription_mode = "dynamic-private" if name == "sharded-private" else "dynamic"
        return Topology(
            mode="sharded",
            python_url=cluster.url,
            python_options={"mode": "sharded", "subscription_mode": subscription_mode},
            node_config={
                "cluster": [f"redis://127.0.0.1:{port}" for port in cluster.ports],
                "subscriptionMode": subscription_mode,
            },
        )
    server = request.getfixturevalue("redis_standalone")
    if name == "sharded-standalone":
        return Topology(
            mode="sharded",
            python_url=server.url,
            python_options={"mode": "sharded"},
            node_config={"redis": server.url},
        )
    specific = name == "classic-specific"
    return Topology(
        mode="classic",
        python_url=server.url,
        python_options={"publish_on_specific_response_channel": specific},
        node_config={"redis": server.url, "publishOnSpecificResponseChannel": specific},
        redis_url=server.url,
    )


@pytest.fixture
async def mixed(
    request: pytest.FixtureRequest, node_bin: str, topology: Topology, interop_key: str
) -> AsyncIterator[MixedCluster]:
    """A started mixed cluster; torn down (Node process stopped by PID) even if the test fails."""
    cluster = await MixedCluster(node_bin, topology, interop_key).open()
    try:
        yield cluster
    finally:
        await cluster.aclose(check=not request.node.stash.get(CALL_FAILED, False))
