"""A Node socket.io 4.8.1 server (``@socket.io/postgres-adapter`` 0.5.0) joining a running
cluster of Python nodes on PostgreSQL.

What happens, from the packages' code (socket.io 4.8.1 ``dist/namespace.js``; socket.io-adapter
2.5 ``dist/cluster-adapter.js``, ``ClusterAdapter`` and ``ClusterAdapterWithHeartbeat``):

* socket.io 4.8.1 never calls ``adapter.init()`` (4.8.2 does, in ``Namespace._initAdapter``),
  so the new node sends no INITIAL_HEARTBEAT;
* its heartbeat timer is armed only by ``publish()``: answering an INITIAL_HEARTBEAT, its own
  ``serverSideEmit``, ``fetchSockets`` or ``emitWithAck``, and the heartbeat itself (which
  re-arms it). Its answers to requests (``publishResponse()``) and its plain broadcasts and
  room operations (``publishAndReturnOffset()``) do not arm it.

So, joining Python nodes that are already running:

* it hears the cluster: it counts the Python nodes (their heartbeats) and Python broadcasts
  reach its clients;
* the Python nodes do not count it (``server_count()``), and their requests do not wait for
  it (no timeout; its sockets are in a ``fetch_sockets`` only when its answer happens to come
  before the last awaited one). Each answer or broadcast of it counts it in for
  ``heartbeat_timeout``, after which it is dropped again, and its broadcasts reach the Python
  nodes' clients all along;
* once it answers the INITIAL_HEARTBEAT of a Python node that starts later (a restart, a
  deployment), it beats, and it is a member like any other. A 4.8.1 server that calls
  ``adapter.init()`` itself once its LISTEN is in place (``node_pg_server.js``'s announce; or
  socket.io 4.8.2 and later) is counted at once.

The Node server's ``heartbeatInterval`` is 1 s and the Python nodes' ``heartbeat_timeout`` 2.5 s
here, so that "no heartbeat" and "dropped again" are seen within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
import socketio
from integration.harness import Client, Cluster, Node

import sioadapter

from ..harness_node import NodeServer
from .pg_peers import NODE_PG_SERVER_JS, POOL_MAX, TABLE

pytestmark = pytest.mark.timeout(90)

NODE_HEARTBEAT_MS = 1000
PY_HEARTBEAT_TIMEOUT = 2.5  # seconds of silence after which the Python nodes drop a node
BOUND = 10.0  # seconds: any expected change here takes one heartbeat interval or less


@dataclass
class Joined:
    """Two Python nodes with a client each, then a Node 4.8.1 server with one client."""

    cluster: Cluster
    node: NodeServer
    clients: dict[str, Client]
    url: str
    key: str

    def mgr(self, index: int) -> sioadapter.AsyncClusterManager:
        return cast(sioadapter.AsyncClusterManager, self.cluster.nodes[index].mgr)

    async def python_counts(self) -> list[int]:
        return [await self.mgr(i).server_count() for i in (0, 1)]

    async def fetched_ids(self) -> set[str]:
        return {socket.id for socket in await self.mgr(0).fetch_sockets()}


async def until(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll ``check`` (heartbeat counts change on no event a test can wait on) until true,
    within :data:`BOUND`; the seconds it took."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > BOUND:
            raise AssertionError(f"{what}: not within {BOUND} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@contextlib.asynccontextmanager
async def join(node_bin: str, url: str, key: str, announce: bool) -> AsyncIterator[Joined]:
    """Start the Python nodes, wait until they count each other, then start the 4.8.1
    server; stop everything by the end (the Node process by PID, before the Python side's
    leftover-task check, which its reader tasks would fail)."""

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            url, key=key, requests_timeout=5.0, heartbeat_interval=0.5,
            heartbeat_timeout=PY_HEARTBEAT_TIMEOUT, **options,
        )  # fmt: skip

    config = {
        "key": key, "postgres": url, "tableName": TABLE, "poolMax": POOL_MAX,
        "requestsTimeout": 5000, "heartbeatInterval": NODE_HEARTBEAT_MS,
        "socketio": "socket.io-4.8.1", "announce": announce,
    }  # fmt: skip
    node = NodeServer(node_bin, config, script=NODE_PG_SERVER_JS)
    cluster = Cluster(factory, nodes=2)
    await cluster.start()
    node_client: Client | None = None
    failed = True
    try:
        auth = {"name": "py", "rooms": []}
        clients = {f"py{i}": await cluster.client(i, "/", auth) for i in (0, 1)}
        joined = Joined(cluster, node, clients, url, key)
        await until(lambda: _all(joined.python_counts(), 2), "the Python nodes count each other")
        await node.start()  # once its LISTEN is in place (and, with announce, after init())
        node_client = Client("node", cast(Node, node), ["/"], {"name": "node", "rooms": []})
        clients["node"] = node_client
        await node_client.connect()
        yield joined
        failed = False
    finally:
        if node_client is not None:
            await node_client.close()
        node.request_exit()
        await node.stop()
        await cluster.aclose(check=not failed)


async def _all(counts: Awaitable[list[int]], value: int) -> bool:
    return all(count == value for count in await counts)


@pytest.fixture
async def silent(node_bin: str, pg_database: str, interop_key: str) -> AsyncIterator[Joined]:
    """The 4.8.1 server as it runs in a deployment: nothing calls adapter.init()."""
    async with join(node_bin, pg_database, interop_key, announce=False) as joined:
        yield joined


@pytest.fixture
async def announced(node_bin: str, pg_database: str, interop_key: str) -> AsyncIterator[Joined]:
    """The 4.8.1 server calling adapter.init() itself once listening (the workaround)."""
    async with join(node_bin, pg_database, interop_key, announce=True) as joined:
        yield joined


async def test_a_481_node_is_a_member_once_it_answers_a_newcomer(silent: Joined) -> None:
    node, clients = silent.node, silent.clients
    assert await node.command("socketioVersion") == "4.8.1"
    # It hears the Python nodes' heartbeats: it counts them...
    await until(lambda: _is(node.command("serverCount"), 3), "the 4.8.1 node counts 3")
    # ...and Python broadcasts reach its clients, while it is still unknown to the Python nodes.
    await silent.cluster.nodes[0].sio.emit("py-to-node", "hi")
    assert await clients["node"].wait_for("py-to-node") == [("hi",)]
    # No heartbeat from it, over three of its intervals: the Python nodes count 2. (A wait
    # for something that must not happen: a bounded sleep.)
    await asyncio.sleep(3 * NODE_HEARTBEAT_MS / 1000)
    assert await silent.python_counts() == [2, 2]

    # A request waits only for the nodes it knows of: no timeout, the Python sockets (and the
    # 4.8.1 node's only if its answer happens to come before the other Python node's).
    python_sids = {clients["py0"].sid, clients["py1"].sid}
    assert python_sids <= await silent.fetched_ids()
    # Its answer counts it in, but answers go out through publishResponse(), which does not
    # arm its heartbeat timer: heard of no more, it is dropped after heartbeat_timeout.
    await asyncio.sleep(2 * PY_HEARTBEAT_TIMEOUT)
    assert await silent.python_counts() == [2, 2]

    # Its broadcasts reach the Python nodes' clients, but they go out through
    # publishAndReturnOffset(), which does not arm the timer either: counted, then dropped.
    await node.command("emit", event="node-to-py", args=[1, "two"])
    for name in ("py0", "py1"):
        assert await clients[name].wait_for("node-to-py") == [(1, "two")]
    await asyncio.sleep(2 * PY_HEARTBEAT_TIMEOUT)
    assert await silent.python_counts() == [2, 2]

    # A Python node that starts now (a restart, a deployment) sends an INITIAL_HEARTBEAT; the
    # 4.8.1 node answers it through publish(), which arms its timer: from then on it beats.
    newcomer = sioadapter.AsyncClusterManager(
        silent.url, key=silent.key, heartbeat_interval=0.5, heartbeat_timeout=PY_HEARTBEAT_TIMEOUT
    )
    socketio.AsyncServer(client_manager=newcomer, async_mode="asgi")
    await newcomer.start()
    try:
        await until(lambda: _is(newcomer.server_count(), 4), "the newcomer counts 4")
    finally:
        await newcomer.close()  # ADAPTER_CLOSE: the others drop it at once
    await until(lambda: _all(silent.python_counts(), 3), "the Python nodes count 3")
    # Still counted well past the Python nodes' heartbeat_timeout, and requests include it.
    await asyncio.sleep(2 * PY_HEARTBEAT_TIMEOUT)
    assert await silent.python_counts() == [3, 3]
    assert await silent.fetched_ids() == {*python_sids, clients["node"].sid}


async def test_a_481_node_that_calls_init_itself_is_counted_at_once(announced: Joined) -> None:
    node, clients = announced.node, announced.clients
    assert await node.command("socketioVersion") == "4.8.1"
    await until(lambda: _all(announced.python_counts(), 3), "the Python nodes count 3")
    assert await announced.fetched_ids() == {clients[name].sid for name in clients}
    await node.command("emit", event="node-to-py", args=["x"])
    for name in ("py0", "py1"):
        assert await clients[name].wait_for("node-to-py") == [("x",)]


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return bool(await value == expected)
