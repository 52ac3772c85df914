"""Connection state recovery, end to end: python-socketio AsyncServer nodes in their own
processes on ``protocol="streams"``, a TCP proxy in front of them (the load balancer), and a
real socket.io-client 4.8 that drops and reconnects through it.

What a user checks: the client that comes back within ``max_disconnection_duration`` has the
same sid (``socket.id``), ``socket.recovered`` true, its rooms and session, and every broadcast
sent to it while away, in order, once (each with its offset as the last argument, as Node's
adapter sends it); to the same node, to another node, and after the first node was killed with
SIGKILL (Node cannot do that one: it writes sessions at disconnect only). After the duration,
it starts afresh.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from sioadapter.wire.streams import decode_session, parse_entry_id

from .csr_peers import JsClient, Proxy
from .procs import NodeProcess, Nodes

pytestmark = [pytest.mark.integration, pytest.mark.redis]


@dataclass
class Setup:
    nodes: Nodes
    url: str
    prefix: str
    options: dict[str, Any]
    proxy: Proxy | None = None
    client: JsClient | None = None

    async def start(self, *names: str, sync: bool = False, **recovery: Any) -> list[NodeProcess]:
        """Nodes on AsyncServers, or with ``sync`` on sync Servers (``ClusterManager``)."""
        options = dict(self.options)
        options["connection_state_recovery"] = {"max_disconnection_duration": 30.0, **recovery}
        if sync:
            options["sync_server"] = True
        return [await self.nodes.start(name, **options) for name in names]

    async def connect(self, node: NodeProcess, transport: str = "websocket") -> JsClient:
        self.proxy = await Proxy(node.port).start()
        self.client = await JsClient.start(f"http://127.0.0.1:{self.proxy.port}", transport)
        first = await self.client.connected(1)
        assert first["recovered"] is False
        return self.client

    async def sessions(self) -> list[Any]:
        """The sessions stored in Redis now."""
        client = aioredis.from_url(self.url)
        try:
            keys = [key async for key in client.scan_iter(match=f"{self.prefix}*")]
            values = [await client.get(key) for key in keys]
        finally:
            await client.aclose()
        return [decode_session(value) for value in values if value is not None]

    async def wait_sessions(self, test: Any, what: str, timeout: float = 10.0) -> None:
        """Until the stored sessions pass ``test`` (written within a flush interval)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not test(await self.sessions()):
            if loop.time() > deadline:
                raise AssertionError(f"no {what} within {timeout} s: {await self.sessions()}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def csr(redis_standalone: Any) -> AsyncIterator[Setup]:
    key = f"csr-{uuid.uuid4().hex[:10]}"
    prefix = f"{key}:session:"
    options = {"protocol": "streams", "stream_name": f"{key}:stream", "session_key_prefix": prefix}
    setup = Setup(Nodes(redis_standalone.url, key), redis_standalone.url, prefix, options)
    try:
        yield setup
    finally:
        if setup.client is not None:
            await setup.client.close()
        if setup.proxy is not None:
            await setup.proxy.close()
        await setup.nodes.close()


async def _away(setup: Setup, sender: NodeProcess, values: list[int]) -> None:
    """Cut the client off, keep it away, and broadcast ``values`` to its room meanwhile."""
    assert setup.proxy is not None and setup.client is not None
    setup.proxy.cut(hold=True)
    await setup.client.disconnected()
    for value in values:
        await sender.call("emit", event="news", args=[value], to="room-1")
    await sender.call("emit", event="other", args=["not for it"], to="room-2")


async def _prepared(
    setup: Setup, node: NodeProcess, transport: str = "websocket"
) -> tuple[JsClient, str]:
    client = await setup.connect(node, transport)
    sid = client.connects()[0]["connect"]
    assert await client.emit("join", "room-1") == "room-1"
    assert await client.emit("remember", {"name": "ada"}) == {"name": "ada"}
    await node.call("emit", event="news", args=[0], to="room-1")
    [first] = await client.wait_events("news", 1)
    assert first[0] == 0 and isinstance(first[-1], str)  # the offset, Node's last argument
    return client, sid


async def _assert_recovered(client: JsClient, sid: str, node: NodeProcess) -> None:
    second = await client.connected(2)
    assert second == {"connect": sid, "recovered": True}
    news = await client.wait_events("news", 4)
    # Each once, in the stream's order (two nodes' broadcasts are in the order Redis got them).
    assert sorted(args[0] for args in news) == [0, 1, 2, 3]
    offsets = [parse_entry_id(args[-1]) for args in news]
    assert offsets == sorted(offsets) and len(set(offsets)) == 4
    # The next live broadcast comes right after them, and nothing else.
    await node.call("emit", event="news", args=[4], to="room-1")
    news = await client.wait_events("news", 5)
    assert sorted(args[0] for args in news) == [0, 1, 2, 3, 4] and news[-1][0] == 4
    state = await client.emit("recall")
    assert state == {"session": {"name": "ada"}, "rooms": sorted([sid, "room-1"]),
                     "recovered": True}  # fmt: skip
    assert client.events("other") == []


async def test_a_client_back_on_the_same_node_recovers_everything(csr: Setup) -> None:
    [a] = await csr.start("a")
    client, sid = await _prepared(csr, a)
    await _away(csr, a, [1, 2, 3])
    assert csr.proxy is not None
    csr.proxy.release()
    await _assert_recovered(client, sid, a)


async def test_a_client_back_on_another_node_recovers_everything(csr: Setup) -> None:
    a, b = await csr.start("a", "b")
    client, sid = await _prepared(csr, a)
    await _away(csr, a, [1, 2])
    await b.call("emit", event="news", args=[3], to="room-1")
    assert csr.proxy is not None
    csr.proxy.release(target=b.port)
    await _assert_recovered(client, sid, b)


async def test_a_client_the_cluster_closed_on_purpose_starts_afresh(csr: Setup) -> None:
    # disconnect_sockets(close=True) closes the whole connection: engine.io reports it as it
    # reports a connection it closes for other reasons, and the session must still go (Node:
    # disconnectSockets(true) ends the socket for good). The client reconnects by itself.
    # Long polling: python-engineio's ASGI websocket does not tell the client it was closed.
    a, b = await csr.start("a", "b")
    client, sid = await _prepared(csr, a, "polling")
    await b.call("disconnect_sockets", to=sid, close=True)
    await client.disconnected()  # "transport close" or "transport error": the poll's end
    second = await client.connected(2)
    assert second["recovered"] is False and second["connect"] != sid
    assert await client.emit("recall") == {"session": {}, "rooms": [second["connect"]],
                                           "recovered": False}  # fmt: skip


@pytest.mark.parametrize(
    ("first", "second"),
    [("sync", None), ("sync", "async"), ("async", "sync")],
    ids=["same-sync-node", "sync-to-async", "async-to-sync"],
)
async def test_sync_servers_recover_clients_as_async_ones_do(
    csr: Setup, first: str, second: str | None
) -> None:
    # ClusterManager (socketio.Server in threading mode, as Flask-SocketIO runs it): the same
    # recovery, to itself and across to and from an AsyncServer node.
    [a] = await csr.start("a", sync=first == "sync")
    b = a if second is None else (await csr.start("b", sync=second == "sync"))[0]
    client, sid = await _prepared(csr, a)
    await _away(csr, a, [1, 2])
    await b.call("emit", event="news", args=[3], to="room-1")
    assert csr.proxy is not None
    csr.proxy.release(target=b.port)
    await _assert_recovered(client, sid, b)
    assert await b.call("connects") == ([[sid, False]] if b is a else [])


async def test_the_clients_of_a_killed_node_recover_on_another(csr: Setup) -> None:
    a, b = await csr.start("a", "b")
    client, sid = await _prepared(csr, a)

    def kept(sessions: list[Any]) -> bool:
        return any(s.sid == sid and "room-1" in s.rooms and s.data == {"name": "ada"}
                   for s in sessions)  # fmt: skip

    await csr.wait_sessions(kept, "session with the room and the data")
    a.signal(signal.SIGKILL)  # no disconnect is ever seen by a
    assert csr.proxy is not None
    csr.proxy.cut(hold=True)
    await client.disconnected()
    for value in (1, 2, 3):
        await b.call("emit", event="news", args=[value], to="room-1")
    csr.proxy.release(target=b.port)
    await _assert_recovered(client, sid, b)


async def test_a_client_back_after_the_duration_starts_afresh(csr: Setup) -> None:
    [a] = await csr.start("a", max_disconnection_duration=0.5)
    client, sid = await _prepared(csr, a)
    await _away(csr, a, [1])
    await csr.wait_sessions(lambda sessions: not sessions, "expiry of the session")
    assert csr.proxy is not None
    csr.proxy.release()
    second = await client.connected(2)
    assert second["recovered"] is False and second["connect"] != sid
    assert await client.emit("recall") == {"session": {}, "rooms": [second["connect"]],
                                           "recovered": False}  # fmt: skip


@pytest.mark.parametrize("skip", [True, False], ids=["skip-middlewares", "run-handler"])
async def test_the_connect_handler_runs_for_a_recovered_client_unless_skipped(
    csr: Setup, skip: bool
) -> None:
    [a] = await csr.start("a", skip_middlewares=skip)
    client, sid = await _prepared(csr, a)
    await _away(csr, a, [1, 2, 3])
    assert csr.proxy is not None
    csr.proxy.release()
    await _assert_recovered(client, sid, a)
    connects = await a.call("connects")
    expected = [[sid, False]] if skip else [[sid, False], [sid, True]]
    assert connects == expected


async def test_a_client_back_before_its_node_saw_it_leave_recovers_once(csr: Setup) -> None:
    # A short ping timeout: the old connection's end is seen soon (within 2 s), and must not
    # take the restored socket with it. (Below 1 s, python-engineio's pings do not keep
    # socket.io-client 4.8 connected at all.)
    csr.options["server_options"] = {"ping_interval": 1, "ping_timeout": 1}
    [a] = await csr.start("a")
    client, sid = await _prepared(csr, a)
    assert csr.proxy is not None
    # The node keeps the old connection open (no TCP end reaches it) while the client is back.
    csr.proxy.cut(hold=True, client_side_only=True)
    await client.disconnected()
    for value in (1, 2, 3):
        await a.call("emit", event="news", args=[value], to="room-1")
    csr.proxy.release()
    await _assert_recovered(client, sid, a)
    assert await a.call("engineio_connections", count=1) == 1  # the old one ended
    # It had no socket left (the restored one is on the new connection): no disconnect
    # handler ran, and nothing of it is kept: one socket, no plan, hold or pending reason.
    assert await a.call("disconnects") == []
    assert await a.call("recovery_tables") == {"plans": 0, "live": 1, "reasons": 0, "holds": 0}
    await a.call("emit", event="news", args=[5], to="room-1")
    news = await client.wait_events("news", 6)
    assert [args[0] for args in news] == [0, 1, 2, 3, 4, 5]
    assert len(client.connects()) == 2  # the restored connection stayed up
    state = await client.emit("recall")
    assert state["rooms"] == sorted([sid, "room-1"])
    # Its session is still kept up to date (for the next drop, or a crash of the node).
    assert await client.emit("join", "room-3") == "room-3"
    await csr.wait_sessions(
        lambda sessions: (
            [sorted(map(str, s.rooms)) for s in sessions] == [sorted([sid, "room-1", "room-3"])]
        ),
        "the restored socket's session with its new room",
    )
