"""Fixtures of the mixed clusters on Redis streams: the parent suite's, on another protocol.

The parent conftest's ``mixed`` (two Python nodes, one Node server, a client each) is reused
with this directory's ``topology``: Python ``AsyncClusterManager(url, protocol="streams")``
nodes and a Node socket.io 4.8 server on ``@socket.io/redis-streams-adapter`` 0.3.1
(``node_streams_server.js``), on the session's standalone redis-server (``tests/redistopo``).

* ``interop_key``: a channel prefix of this test only, also its stream's name, so that no
  test reads another's entries.
* ``topology``: :func:`.streams_peers.streams_topology`.
* ``mixed``: started, and formed: every server counts the three.

Without Node.js, npm or redis-server the tests skip, or fail when ``CI`` is set, as the rest
of the interop suite does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from integration.cluster_fixtures import CALL_FAILED
from redistopo.server import RedisServer

from ..mixed import MixedCluster, Topology
from .streams_peers import formed, streams_topology

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.interop)
            item.add_marker(pytest.mark.redis)


@pytest.fixture
def interop_key() -> str:
    """The channel prefix and stream name of this test only."""
    return f"sioStreamMix-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topology(
    request: pytest.FixtureRequest, redis_standalone: RedisServer, interop_key: str
) -> Topology:
    """One stream named like the key; parametrize it indirectly with a dict of streams options
    (sioadapter's names, such as ``{"stream_count": 2}``) given to both sides."""
    options = getattr(request, "param", {})
    return streams_topology(redis_standalone.url, interop_key, **options)


@pytest.fixture
async def mixed(
    request: pytest.FixtureRequest, node_bin: str, topology: Topology, interop_key: str
) -> AsyncIterator[MixedCluster]:
    """A started mixed cluster whose servers all count each other; torn down (Node process
    stopped by PID) even if the test fails."""
    cluster = await MixedCluster(node_bin, topology, interop_key).open()
    try:
        await formed(cluster)
        yield cluster
    finally:
        await cluster.aclose(check=not request.node.stash.get(CALL_FAILED, False))
