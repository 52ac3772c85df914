"""``Emitter`` / ``AsyncEmitter`` on the cluster's own backend, whatever it is.

Each test builds the emitter on a backend made as the nodes' are (a spare manager's, never
started), so the suites that re-export this module (Redis, NATS, PostgreSQL, RabbitMQ) check the
emitter on each broker, in the protocol the nodes speak there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sioadapter.emitter import AsyncEmitter, Emitter

from .harness import Cluster


@asynccontextmanager
async def async_emitter(cluster: Cluster) -> AsyncIterator[AsyncEmitter]:
    spare = cluster.factory(len(cluster.nodes))
    emitter = AsyncEmitter(spare.backend, key=cluster.nodes[0].mgr.key)
    try:
        yield emitter
    finally:
        await emitter.aclose()
        await spare.backend.close()  # a ready backend is the caller's to close


@contextmanager
def sync_emitter(cluster: Cluster) -> Iterator[Emitter]:
    spare = cluster.factory(len(cluster.nodes))
    emitter = Emitter(spare.backend, key=cluster.nodes[0].mgr.key)
    try:
        yield emitter
    finally:
        emitter.close()  # the backend ran on the emitter's loop: close() closes it there


async def test_an_emitter_reaches_every_client_a_room_and_everyone_but_a_room(
    cluster: Cluster,
) -> None:
    clients = await cluster.connect_each()
    member = clients[2]
    await cluster.join_locally(member, "news")
    async with async_emitter(cluster) as emitter:
        await emitter.emit("hello", 1, {"two": [2, None]}, b"\x00\x01\xff")
        await emitter.to("news").emit("scoop", "x" * 10_000)
        await emitter.except_("news").emit("rest", 3)
        for client in clients:
            assert await client.wait_for("hello") == [(1, {"two": [2, None]}, b"\x00\x01\xff")]
        assert await member.wait_for("scoop") == [("x" * 10_000,)]
        for client in clients[:2]:
            assert await client.wait_for("rest") == [(3,)]
    expected = {c: (1 if c is member else 0) for c in clients}
    await cluster.assert_received_exactly("scoop", expected, origin=0)
    await cluster.assert_received_exactly("rest", {c: 1 - n for c, n in expected.items()}, origin=0)


async def test_an_emitter_moves_sockets_between_rooms_and_disconnects_them(
    cluster: Cluster,
) -> None:
    clients = await cluster.connect_each()
    target = clients[1]
    async with async_emitter(cluster) as emitter:
        await emitter.to(target.sid).sockets_join("picked")
        node = target.node
        await asyncio.wait_for(_until(lambda: "picked" in node.sio.rooms(target.sid)), 10)
        await emitter.to("picked").emit("for-picked", 1)
        assert await target.wait_for("for-picked") == [(1,)]
        await emitter.to(target.sid).sockets_leave("picked")
        await asyncio.wait_for(_until(lambda: "picked" not in node.sio.rooms(target.sid)), 10)
        await emitter.to(target.sid).disconnect_sockets(close=True)
        await asyncio.wait_for(_until(lambda: not target.is_connected()), 10)
    assert [c.is_connected() for c in clients] == [True, False, True]


async def test_an_emitter_reaches_every_nodes_server_side_handlers(cluster: Cluster) -> None:
    for node in cluster.nodes:
        node.listen("reload")
    async with async_emitter(cluster) as emitter:
        await emitter.server_side_emit("reload", {"version": 2})
        for node in cluster.nodes:
            assert await node.server_events.wait_for("reload") == [({"version": 2},)]


async def test_a_sync_emitter_on_the_clusters_backend(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    await cluster.join_locally(clients[0], "sync-room")

    def emit_all() -> None:
        with sync_emitter(cluster) as emitter:
            emitter.emit("from-sync", "a")
            emitter.of("/").to("sync-room").emit("room-sync", b"\x07")

    await asyncio.to_thread(emit_all)
    for client in clients:
        assert await client.wait_for("from-sync") == [("a",)]
    assert await clients[0].wait_for("room-sync") == [(b"\x07",)]


async def _until(condition: Any) -> None:
    # A node's room table has no event to wait on; the callers bound this with wait_for.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
