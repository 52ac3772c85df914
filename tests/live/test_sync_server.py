"""Sync servers (``socketio.Server`` + ClusterManager, as Flask-SocketIO runs) in one cluster
with an AsyncServer, checked from real clients: over a real redis-server and over memory://.

Nodes 0 and 1 are sync (werkzeug threads), node 2 is async (uvicorn); one client on each.
Blocking calls go through :func:`~.sync_nodes.blocking`, off the test's loop, which serves the
async node and the clients.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import socketio
from integration.harness import Client, Node
from redistopo._process import _unavailable

import sioadapter
from sioadapter.errors import ManagerClosedError

from .sync_nodes import SyncNode, blocking


@dataclass
class Mixed:
    sync: list[SyncNode]
    node: Node  # the async one
    clients: list[Client]  # clients[i] is connected to node i (2: the async node)

    def sid(self, index: int) -> str:
        return self.clients[index].sid


def _loop_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("sioadapter-loop")]


@pytest.fixture(params=["memory", "redis"])
async def mixed(request: pytest.FixtureRequest, cluster_name: str) -> AsyncIterator[Mixed]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_standalone").url
    else:
        url = f"memory://{cluster_name}"
    threads_before = _loop_threads()
    loop = asyncio.get_running_loop()
    sync = [
        SyncNode(f"sync{i}", sioadapter.ClusterManager(url, key=cluster_name), loop)
        for i in range(2)
    ]
    node = Node(2, sioadapter.AsyncClusterManager(url, key=cluster_name))
    clients: list[Client] = []
    try:
        await node.start(cluster_api=True)
        for index, server in enumerate([*sync, node]):
            client = Client(f"c{index}", server, ["/"], None)
            clients.append(client)
            await client.connect()
        yield Mixed(sync, node, clients)
    finally:
        for client in clients:
            await client.close()
        await node.stop_server()
        await node.mgr.close()
        for server in sync:
            await blocking(server.stop)
    assert _loop_threads() == threads_before, "a ClusterManager left its loop thread running"


async def test_broadcast_from_a_sync_node_reaches_every_node_once(mixed: Mixed) -> None:
    sio = mixed.sync[0].sio
    await blocking(sio.emit, "news", {"n": 1})
    await blocking(sio.emit, "news", {"n": 2}, skip_sid=mixed.sid(2))
    await blocking(sio.emit, "marker")
    for index, client in enumerate(mixed.clients):
        await client.wait_for("marker")
        expected = [({"n": 1},)] if index == 2 else [({"n": 1},), ({"n": 2},)]
        assert client.received("news") == expected


async def test_broadcasts_of_one_thread_arrive_in_order_before_what_follows(
    mixed: Mixed,
) -> None:
    sio, mgr = mixed.sync[0].sio, mixed.sync[0].mgr

    def burst() -> None:
        for i in range(300):
            sio.emit("seq", i)  # returns once queued
        sio.enter_room(mixed.sid(2), "late")  # a request after the emits: they go first
        sio.emit("seq", "joined", to="late")

    await blocking(burst)
    received = await mixed.clients[2].wait_for("seq", 301)
    assert [args[0] for args in received] == [*range(300), "joined"]
    assert (await mixed.clients[1].wait_for("seq", 300))[-1] == (299,)
    assert await blocking(mgr.sockets, ["late"]) == {mixed.sid(2)}


async def test_unsendable_data_is_refused_at_emit(mixed: Mixed) -> None:
    with pytest.raises(TypeError, match="cannot emit 'bad'"):
        await blocking(mixed.sync[0].sio.emit, "bad", {"x": object()})
    await blocking(mixed.sync[0].sio.emit, "fine", 1)
    assert await mixed.clients[2].wait_for("fine") == [(1,)]


async def test_async_node_broadcast_to_a_room_reaches_sync_clients(mixed: Mixed) -> None:
    mgr = mixed.node.mgr
    await mgr.remote_join(mixed.sid(0), "lobby")
    await mixed.node.sio.enter_room(mixed.sid(1), "lobby")  # a sid on a sync node
    await mixed.node.sio.emit("hello", b"\x00bytes", to="lobby")
    for client in mixed.clients[:2]:
        assert await client.wait_for("hello") == [(b"\x00bytes",)]
    await mixed.node.sio.emit("marker")
    await mixed.clients[2].wait_for("marker")
    assert mixed.clients[2].received("hello") == []


async def test_sync_room_changes_on_sockets_of_other_nodes(mixed: Mixed) -> None:
    sio = mixed.sync[0].sio
    await blocking(sio.enter_room, mixed.sid(1), "r")
    await blocking(sio.enter_room, mixed.sid(2), "r")
    await blocking(sio.emit, "to-r", 1, to="r")
    await mixed.clients[1].wait_for("to-r")
    await mixed.clients[2].wait_for("to-r")
    await blocking(sio.leave_room, mixed.sid(2), "r")
    await blocking(sio.emit, "to-r", 2, to="r")
    await blocking(sio.emit, "marker")
    await mixed.clients[2].wait_for("marker")
    assert mixed.clients[1].received("to-r")[:1] == [(1,)]
    await mixed.clients[1].wait_for("to-r", 2)
    assert mixed.clients[2].received("to-r") == [(1,)]
    assert mixed.clients[0].received("to-r") == []
    await blocking(sio.close_room, "r")
    assert "r" not in await mixed.node.mgr.all_rooms()


async def test_call_answered_by_a_client_on_another_node(mixed: Mixed) -> None:
    mixed.clients[2].on("question", lambda x: x + 1)
    mixed.clients[0].on("question", lambda x: x * 10)
    sio = mixed.sync[1].sio
    assert await blocking(sio.call, "question", 41, to=mixed.sid(2), timeout=5) == 42
    answer = await mixed.node.sio.call("question", 4, to=mixed.sid(0), timeout=5)
    assert answer == 40


async def test_callback_runs_for_an_acknowledgement_from_another_node(mixed: Mixed) -> None:
    mixed.clients[2].on("ping", lambda: "pong")
    answered = threading.Event()
    got: list[Any] = []

    def callback(*args: Any) -> None:
        got.append(args)
        answered.set()

    await blocking(mixed.sync[0].sio.emit, "ping", to=mixed.sid(2), callback=callback)
    assert await blocking(answered.wait, 5)
    assert got == [("pong",)]


async def test_disconnect_of_a_sync_nodes_socket_runs_its_handler(mixed: Mixed) -> None:
    # Asked from the async node; the sync node's disconnect handler emits to the cluster.
    await mixed.node.sio.disconnect(mixed.sid(1))
    await mixed.clients[1].wait_for("disconnect")
    for index in (0, 2):
        assert await mixed.clients[index].wait_for("gone") == [(mixed.sid(1),)]
    await mixed.sync[1].log.wait_for("disconnect")


async def test_sync_server_disconnects_a_socket_of_another_node(mixed: Mixed) -> None:
    await blocking(mixed.sync[0].sio.disconnect, mixed.sid(2))
    await mixed.clients[2].wait_for("disconnect")
    assert not mixed.clients[2].is_connected()


async def test_node_parity_operations_block_and_answer(mixed: Mixed) -> None:
    mgr = mixed.sync[0].mgr
    mixed.clients[2].on("vote", lambda: "yes")
    mixed.clients[1].on("vote", lambda: "no")
    mixed.clients[0].on("vote", lambda: "maybe")
    assert await blocking(mgr.server_count) == 3
    sockets = await blocking(mgr.fetch_sockets)
    assert {s.id for s in sockets} == {c.sid for c in mixed.clients}
    assert sorted(await blocking(mgr.emit_with_ack, "vote", timeout=5)) == ["maybe", "no", "yes"]
    remote = next(s for s in sockets if s.id == mixed.sid(2))
    await blocking(remote.join, "vip")
    assert await blocking(mgr.sockets, ["vip"]) == {mixed.sid(2)}
    assert "vip" in await blocking(mgr.all_rooms)
    assert await blocking(remote.emit_with_ack, "vote") == "yes"
    await blocking(mgr.sockets_leave, "vip", to=mixed.sid(2))
    assert await blocking(mgr.sockets, ["vip"]) == set()


async def test_server_side_events_between_sync_and_async_nodes(mixed: Mixed) -> None:
    seen: list[Any] = []
    sync_mgr = mixed.sync[1].mgr

    @sync_mgr.on("whoami")
    def whoami(*args: Any) -> str:
        seen.append(args)
        return "sync1"

    mixed.node.mgr.on("whoami", lambda *args: "async")
    answers = await blocking(mixed.sync[0].mgr.server_side_call, "whoami", 7, timeout=5)
    assert sorted(answers) == ["async", "sync1"]
    assert seen == [(7,)]
    mixed.sync[0].mgr.on("whoami", lambda: "sync0")  # the non-decorator form
    answers = await mixed.node.mgr.server_side_call("whoami", timeout=5)
    assert sorted(answers) == ["sync0", "sync1"]


async def test_session_saved_on_a_sync_node_is_fetched_from_the_async_node(mixed: Mixed) -> None:
    node = mixed.sync[0]
    await blocking(node.sio.save_session, mixed.sid(0), {"user": "ada"})
    (socket,) = await mixed.node.mgr.fetch_sockets(mixed.sid(0))
    assert socket.data == {"user": "ada"}


async def test_a_closed_manager_refuses_operations(cluster_name: str) -> None:
    mgr = sioadapter.ClusterManager(f"memory://{cluster_name}")
    await blocking(mgr.close)
    await blocking(mgr.close)  # idempotent
    with pytest.raises(ManagerClosedError):
        await blocking(mgr.server_count)
    with pytest.raises(ManagerClosedError):
        await blocking(mgr.emit, "x", None)


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_a_green_server_in_an_unpatched_process_is_refused_at_first_use(
    cluster_name: str, mode: str
) -> None:
    if importlib.util.find_spec(mode) is None:
        _unavailable(mode, f"{mode} is needed (pip install -e '.[dev]')")
    mgr = sioadapter.ClusterManager(f"memory://{cluster_name}")
    # python-socketio calls set_server before it sets sio.async_mode: not a reason to pass.
    sio = socketio.Server(client_manager=mgr, async_mode=mode)
    patch = "eventlet.monkey_patch()" if mode == "eventlet" else "gevent.monkey.patch_all()"
    for use in (mgr.start, mgr.server_count, lambda: sio.emit("news", "x")):
        with pytest.raises(RuntimeError, match=re.escape(f"call {patch} first")):
            use()
    assert not mgr.healthy
    mgr.close()  # nothing ever ran: nothing to stop, no error
