"""Connection state recovery across the language boundary, on Redis streams.

A real socket.io-client 4.8 (``tests/interop/csr_client.js``) reaches the servers through a
TCP proxy (the load balancer, ``tests/live/csr_peers.py``). It connects to one server, joins a
room, stores session data, is cut off while broadcasts go to its room, and comes back through
the proxy to the server of the other language: a python-socketio node
(``AsyncClusterManager(protocol="streams", connection_state_recovery=...)``, in its own process,
``tests/live/procnode.py``) and a Node socket.io 4.8 server on
``@socket.io/redis-streams-adapter`` 0.3.1 with ``connectionStateRecovery`` (one stream, one
channel prefix, one session key prefix).

What a user checks, on the server it came back to: ``socket.recovered`` is true, the socket id
is the one it had, it is in its rooms, its data is there (Node's ``socket.data`` is
python-socketio's session), and it got every broadcast it missed, from either server, in the
stream's order, once, and then the live ones, and nothing for rooms it is not in.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from live.csr_peers import JsClient, Proxy
from live.procs import NodeProcess, Nodes
from redistopo.server import RedisServer

from sioadapter.wire.streams import parse_entry_id

from ..harness_node import NodeServer
from .streams_peers import NODE_BLOCK_TIME_MS, NODE_STREAMS_SERVER_JS

MAX_DISCONNECTION = 30.0
"""Seconds a session is kept on both sides: longer than any test."""
SESSION = {"name": "ada", "langs": ["py", "js"]}


@dataclass
class Pair:
    """One Python node, one Node server, the proxy in front of them and the client."""

    py: NodeProcess
    node: NodeServer
    proxy: Proxy
    prefix: str  # of the session keys
    client: JsClient | None = None

    def port(self, side: str) -> int:
        if side == "py":
            return self.py.port
        assert self.node.port is not None
        return self.node.port

    async def emit(self, side: str, event: str, value: Any, room: str) -> None:
        """Broadcast ``event`` with one argument to ``room`` from server ``side``."""
        if side == "py":
            await self.py.call("emit", event=event, args=[value], to=room)
        else:
            await self.node.command("emit", event=event, args=[value], to=[room])

    async def recall(self) -> dict[str, Any]:
        """What the server the client is on knows of it (its ``recall`` handler)."""
        assert self.client is not None
        result: dict[str, Any] = await self.client.emit("recall")
        return result


@contextlib.asynccontextmanager
async def _pair(
    node_bin: str, redis: RedisServer, *, ping: float | None = None
) -> AsyncIterator[Pair]:
    """Both servers started, the proxy in front of the Python node; all stopped at the end.
    ``ping``: the Python node's ping interval and timeout (seconds)."""
    key = f"csrMix-{uuid.uuid4().hex[:10]}"
    stream, prefix = f"{key}:stream", f"{key}:session:"
    node = NodeServer(
        node_bin,
        {
            "redis": redis.url,
            "key": key,
            "streamName": stream,
            "sessionKeyPrefix": prefix,
            "blockTimeInMs": NODE_BLOCK_TIME_MS,
            "serverOptions": {
                "connectionStateRecovery": {
                    "maxDisconnectionDuration": int(MAX_DISCONNECTION * 1000)
                }
            },
        },
        script=NODE_STREAMS_SERVER_JS,
    )
    options: dict[str, Any] = {
        "protocol": "streams",
        "stream_name": stream,
        "session_key_prefix": prefix,
        "connection_state_recovery": {"max_disconnection_duration": MAX_DISCONNECTION},
    }
    if ping is not None:
        options["server_options"] = {"ping_interval": ping, "ping_timeout": ping}
    nodes = Nodes(redis.url, key)
    proxy: Proxy | None = None
    setup: Pair | None = None
    try:
        await node.start()
        py = await nodes.start("py", **options)
        proxy = await Proxy(py.port).start()
        setup = Pair(py, node, proxy, prefix)
        yield setup
    finally:
        if setup is not None and setup.client is not None:
            await setup.client.close()
        if proxy is not None:
            await proxy.close()
        await nodes.close()
        await node.stop()


@pytest.fixture
async def pair(node_bin: str, redis_standalone: RedisServer) -> AsyncIterator[Pair]:
    async with _pair(node_bin, redis_standalone) as setup:
        yield setup


async def _connected_to(pair: Pair, side: str) -> str:
    """The client connects to ``side``, joins room-1, stores its data and gets a first
    broadcast (with its offset); returns its sid."""
    pair.proxy.release(target=pair.port(side))
    pair.client = client = await JsClient.start(f"http://127.0.0.1:{pair.proxy.port}")
    first = await client.connected(1)
    assert first["recovered"] is False
    sid: str = first["connect"]
    assert await client.emit("join", "room-1") == "room-1"
    assert await client.emit("remember", SESSION) == SESSION
    await pair.emit(side, "news", 0, "room-1")
    [news] = await client.wait_events("news", 1)
    assert news[0] == 0 and parse_entry_id(news[-1]) is not None  # the offset, last
    return sid


async def _cut_off(pair: Pair, side: str, sid: str) -> None:
    """Cut the client off (kept away) and wait until ``side`` saw it leave: from then on the
    session is stored for ``MAX_DISCONNECTION``."""
    assert pair.client is not None
    pair.proxy.cut(hold=True)
    await pair.client.disconnected()
    if side == "py":
        [(gone, reason)] = await pair.py.call("disconnects", count=1)
        assert gone == sid and reason == "transport close"
    else:
        [(gone, reason)] = await pair.node.sockets.wait_for("disconnect", 1)
        assert gone == sid and reason == "transport close"
        await pair.node.command("settle")  # its session SET is answered


async def _assert_recovered(pair: Pair, side: str, sid: str, missed: int) -> None:
    """Back on ``side``: same sid, recovered, rooms and data, ``missed`` + 1 broadcasts in the
    stream's order once, then a live one, and never the other room's."""
    client = pair.client
    assert client is not None
    second = await client.connected(2)
    assert second == {"connect": sid, "recovered": True}
    news = await client.wait_events("news", missed + 1)
    assert sorted(args[0] for args in news) == list(range(missed + 1))
    offsets = [parse_entry_id(args[-1]) for args in news]
    assert None not in offsets and offsets == sorted(offsets) and len(set(offsets)) == len(news)
    assert await pair.recall() == {
        "session": SESSION,
        "rooms": sorted([sid, "room-1"]),
        "recovered": True,
    }
    # Live broadcasts from both servers still reach it there, after the replayed ones.
    await pair.emit("py", "news", missed + 1, "room-1")
    await pair.emit("node", "news", missed + 2, "room-1")
    news = await client.wait_events("news", missed + 3)
    assert sorted(args[0] for args in news) == list(range(missed + 3))
    assert sorted(args[0] for args in news[: missed + 1]) == list(range(missed + 1))
    assert client.events("other") == []
    assert len(client.connects()) == 2


@pytest.mark.parametrize(("first", "back"), [("py", "node"), ("node", "py")])
async def test_a_client_recovers_on_the_server_of_the_other_language(
    pair: Pair, first: str, back: str
) -> None:
    sid = await _connected_to(pair, first)
    await _cut_off(pair, first, sid)
    # Missed: from the server it left, and from the one it comes back to.
    await pair.emit(first, "news", 1, "room-1")
    await pair.emit(back, "news", 2, "room-1")
    await pair.emit(first, "news", 3, "room-1")
    await pair.emit(back, "other", "not for it", "room-2")
    pair.proxy.release(target=pair.port(back))
    await _assert_recovered(pair, back, sid, missed=3)
    if back == "node":
        # Node's "connection" handler runs for it (middlewares are skipped), recovered.
        assert pair.node.sockets.received("connection") == [(sid, True)]
        [described] = await pair.node.command("localSockets")
        assert described["id"] == sid and described["data"] == SESSION
        assert sorted(described["rooms"]) == sorted([sid, "room-1"])
    else:
        # skip_middlewares (the default, as Node's): the connect handler did not run for it.
        assert await pair.py.call("connects") == []


@pytest.mark.parametrize(("first", "back"), [("py", "node"), ("node", "py")])
async def test_a_client_that_stored_nothing_has_empty_data_on_the_other_side(
    pair: Pair, first: str, back: str
) -> None:
    # What each side starts a socket with: python-socketio's session is {}, Node's socket.data
    # is {}; a restored socket must not come back with None (null) instead.
    pair.proxy.release(target=pair.port(first))
    pair.client = client = await JsClient.start(f"http://127.0.0.1:{pair.proxy.port}")
    sid = (await client.connected(1))["connect"]
    if first == "node":  # node_peer.js's middleware set socket.data: back to Node's default
        assert await client.emit("remember", {}) == {}
    assert await client.emit("join", "room-1") == "room-1"
    await pair.emit(first, "news", 0, "room-1")
    await client.wait_events("news", 1)
    await _cut_off(pair, first, sid)
    pair.proxy.release(target=pair.port(back))
    assert await client.connected(2) == {"connect": sid, "recovered": True}
    assert await pair.recall() == {
        "session": {},
        "rooms": sorted([sid, "room-1"]),
        "recovered": True,
    }


async def test_a_python_node_that_sees_the_end_late_does_not_store_the_session_again(
    node_bin: str, redis_standalone: RedisServer
) -> None:
    # The client is back on Node (which took its session) before the Python node saw its old
    # connection end (no TCP end reached it: a ping timeout, later). Writing the old session
    # back then would let the client "recover" its old rooms on a Python node after a crash of
    # the Node server, which Node alone never does (it writes sessions at disconnect only).
    async with _pair(node_bin, redis_standalone, ping=0.5) as pair:
        sid = await _connected_to(pair, "py")
        pair.proxy.cut(hold=True, client_side_only=True)
        assert pair.client is not None
        await pair.client.disconnected()
        pair.proxy.release(target=pair.port("node"))
        assert await pair.client.connected(2) == {"connect": sid, "recovered": True}
        assert await pair.client.emit("join", "room-2") == "room-2"
        [(gone, reason)] = await pair.py.call("disconnects", count=1)
        assert (gone, reason) == (sid, "ping timeout")
        # Nothing to wait on for a write that must not come: a bounded look (the write, when
        # it comes, is made right after the disconnect, within milliseconds).
        client = aioredis.from_url(redis_standalone.url)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 1.0
            while loop.time() < deadline:
                keys = [key async for key in client.scan_iter(match=f"{pair.prefix}*")]
                assert keys == [], "the old session was stored again"
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
