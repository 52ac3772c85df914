"""Cluster-wide queries: ``all_rooms``, ``sockets`` and ``server_count``."""

from __future__ import annotations

import asyncio

from .harness import Cluster


async def test_all_rooms_lists_the_rooms_of_every_node(cluster: Cluster) -> None:
    plain0, blue1, blue_red2 = [await cluster.client(i) for i in (0, 1, 2)]
    await cluster.join_locally(blue1, "blue")
    await cluster.join_locally(blue_red2, "blue", "red")

    rooms = await cluster.nodes[0].mgr.all_rooms()

    # As in Node, every socket's own sid room is a room too.
    assert rooms == {"blue", "red", plain0.sid, blue1.sid, blue_red2.sid}


async def test_all_rooms_of_another_namespace(cluster: Cluster) -> None:
    await cluster.client(0)
    chat = await cluster.client(1, namespace="/chat")
    await cluster.join_locally(chat, "lobby", namespace="/chat")

    assert await cluster.nodes[2].mgr.all_rooms(namespace="/chat") == {"lobby", chat.sid}


async def test_sockets_lists_the_sids_of_every_node(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)

    assert await cluster.nodes[1].mgr.sockets() == {c.sid for c in clients}


async def test_sockets_in_rooms_lists_their_members_on_every_node(cluster: Cluster) -> None:
    _plain0, blue1, red2, _outsider2 = [await cluster.client(i) for i in (0, 1, 2, 2)]
    await cluster.join_locally(blue1, "blue")
    await cluster.join_locally(red2, "red")

    assert await cluster.nodes[0].mgr.sockets({"blue"}) == {blue1.sid}
    assert await cluster.nodes[0].mgr.sockets({"blue", "red"}) == {blue1.sid, red2.sid}
    assert await cluster.nodes[0].mgr.sockets({"nobody-here"}) == set()


async def test_server_count_is_the_number_of_nodes(cluster: Cluster) -> None:
    assert [await node.mgr.server_count() for node in cluster.nodes] == [3, 3, 3]


GOODBYE_BOUND = 1.0
"""Seconds the closing node's goodbye may take to reach the others: far below the heartbeat
timeout, so that only the goodbye (ADAPTER_CLOSE), not a missed heartbeat, explains the drop."""


async def test_server_count_drops_when_a_node_closes(cluster: Cluster) -> None:
    await cluster.stop_node(2)

    # Where nodes are counted by heartbeat, the goodbye reaches each node when its broker
    # connection delivers it, which on PostgreSQL (a server process per listener) or a NATS
    # cluster can be a few milliseconds after close() returned: poll for it, bounded.
    deadline = asyncio.get_running_loop().time() + GOODBYE_BOUND
    while True:
        counts = [await node.mgr.server_count() for node in cluster.nodes[:2]]
        if counts == [2, 2] or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)  # server_count() answers from the node table: no event
    assert counts == [2, 2]
