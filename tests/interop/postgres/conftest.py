"""Fixtures of the mixed clusters on PostgreSQL: the parent suite's, on another broker.

The parent conftest's ``mixed`` (two Python nodes, one Node server, a client each) is reused
with this directory's ``topology``: Python ``AsyncClusterManager("postgresql://...")`` nodes and
a Node socket.io 4.8 server on ``@socket.io/postgres-adapter`` 0.5 (``node_pg_server.js``).

* ``pg_database``: PostgreSQL answers and the attachments table exists (created here, since
  Node's adapter leaves that to the operator).
* ``interop_key``: a short channel prefix (PostgreSQL channel names stop at 63 bytes, and the
  channel is ``key#namespace``).
* ``topology``: :func:`.pg_peers.pg_topology`.
* ``mixed``: started, and formed: every server counts the three (heartbeats).

Skips when sioadapter has no ``postgresql`` backend entry point (also under ``CI``: the suite
was written before the backend was merged); without psycopg, Node.js, npm or PostgreSQL it
skips, or fails when ``CI`` is set, as the rest of the interop suite does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from integration.cluster_fixtures import CALL_FAILED

from ..mixed import MixedCluster, Topology
from .pg_peers import (
    POSTGRES_URL,
    formed,
    pg_topology,
    prepare_database,
    require_postgres_backend,
)

HERE = Path(__file__).parent
_database_ready: list[bool] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.interop)
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
async def pg_database(node_bin: str) -> str:
    """The database URL, once PostgreSQL answered and the attachments table exists."""
    if not _database_ready:
        await prepare_database(node_bin)
        _database_ready.append(True)
    return POSTGRES_URL


@pytest.fixture
def interop_key() -> str:
    """A channel prefix of this test only, short enough for PostgreSQL's channel names."""
    return f"sioPgMix-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topology(pg_database: str) -> Topology:
    return pg_topology(pg_database)


@pytest.fixture(scope="session", autouse=True)
def _backend() -> None:
    """First of all (a session fixture): skip without the backend, before Node is looked for."""
    require_postgres_backend()


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
