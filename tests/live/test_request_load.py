"""Cluster requests under load, on three node processes and a private redis-server.

Regression (issue 11, defect 1): every request used to run its own ``PUBSUB NUMSUB`` on a
pooled connection, so 10,000 concurrent ``fetch_sockets()`` failed at once on redis-py's pool
limit ("Too many connections"), and with a larger pool one node kept 10,000 connections open.
Now concurrent requests share one count in flight, and a node keeps a small, fixed number of
Redis connections whatever the load (docs/deployments.md says how many).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest

from live.procs import NodeProcess, Nodes, TestClient

REQUESTS = 10_000
MAX_CONNECTIONS = 4
"""What docs/deployments.md promises: a subscriber, a publisher, two for commands."""

KINDS = [
    "fetch_sockets",
    "server_side_call",
    "emit_with_ack",  # every client of the cluster acknowledges
    "callback",  # sio.emit(..., to=<a sid on another node>, callback=...)
    "call",  # sio.call(..., to=<a sid on another node>)
]


@pytest.fixture
async def cluster3(
    fresh_redis_standalone: Any, cluster_name: str
) -> AsyncIterator[tuple[Any, list[NodeProcess], list[TestClient]]]:
    server = fresh_redis_standalone
    nodes = Nodes(server.url, cluster_name)
    clients: list[TestClient] = []
    try:
        started = [
            await nodes.start(
                name,
                url=f"{server.url}?client_name=node-{name}",
                requests_timeout=60.0,
                ack_timeout=60.0,
            )
            for name in "abc"
        ]
        for node in started[1:]:
            clients.append(await TestClient().connect(node))
        await wait_for_servers(started[0], 3)
        yield server, started, clients
    finally:
        for client in clients:
            await client.close()
        await nodes.close()


async def wait_for_servers(node: NodeProcess, count: int, timeout: float = 10.0) -> None:
    """Until ``node`` counts ``count`` servers (each check is a real request)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = None
    while loop.time() < deadline:
        seen = await node.call("server_count")
        if seen == count:
            return
        await asyncio.sleep(0.05)  # pacing between real checks
    raise AssertionError(f"{count} servers expected, the node counts {seen}")


def connections_named(server: Any, name: str) -> int:
    with server.client() as admin:
        return sum(1 for entry in admin.client_list() if entry.get("name") == name)


@pytest.mark.parametrize("kind", KINDS)
async def test_ten_thousand_concurrent_requests_succeed_on_few_connections(
    cluster3: tuple[Any, list[NodeProcess], list[TestClient]], kind: str
) -> None:
    server, (a, _b, _c), clients = cluster3
    to = clients[0].sid if kind in ("callback", "call") else None
    result = await a.call(
        "requests", timeout=180.0, kind=kind, count=REQUESTS, concurrency=REQUESTS, to=to
    )
    assert result["failed"] == 0, result["errors"]
    assert result["ok"] == REQUESTS
    opened = connections_named(server, "node-a")
    assert 2 <= opened <= MAX_CONNECTIONS, f"node a holds {opened} Redis connections"
    stats = await a.stats()
    assert stats["pending_requests"] == 0
    assert stats["backend_errors"] == 0


async def test_the_shared_count_follows_nodes_joining_and_leaving(
    cluster3: tuple[Any, list[NodeProcess], list[TestClient]], cluster_name: str
) -> None:
    server, (a, _b, _c), _clients = cluster3
    nodes = Nodes(server.url, cluster_name)
    try:
        d = await nodes.start("d")
        await wait_for_servers(a, 4)
        answers = await a.call("requests", kind="server_side_call", count=200, concurrency=200)
        assert answers["failed"] == 0, answers["errors"]
        d.signal(signal.SIGKILL)  # gone without a goodbye: its connections drop
        await wait_for_servers(a, 3)
        answers = await a.call("requests", kind="server_side_call", count=200, concurrency=200)
        assert answers["failed"] == 0, answers["errors"]
    finally:
        await nodes.close()
