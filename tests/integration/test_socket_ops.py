"""``sockets_join``, ``sockets_leave`` and ``disconnect_sockets`` over the cluster.

Room changes are checked by a later broadcast from the same node; disconnects by the
clients' own ``disconnect`` events.
"""

from __future__ import annotations

import asyncio

import socketio

from .harness import Client, Cluster

SERVER_DISCONNECT = socketio.AsyncClient.reason.SERVER_DISCONNECT


async def blue_and_others(cluster: Cluster) -> tuple[list[Client], set[Client]]:
    """One client per node plus a second on node 2; "blue" members on nodes 1 and 2."""
    clients = [await cluster.client(i) for i in (0, 1, 2, 2)]
    blue = {clients[1], clients[2]}
    for client in blue:
        await cluster.join_locally(client, "blue")
    return clients, blue


async def test_sockets_join_makes_every_client_join(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)

    await cluster.nodes[0].mgr.sockets_join(["vip"])
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly("vip-news", dict.fromkeys(clients, 1), origin=0)


async def test_sockets_join_to_a_room_makes_only_its_members_join(cluster: Cluster) -> None:
    clients, blue = await blue_and_others(cluster)

    await cluster.nodes[0].mgr.sockets_join(["vip"], to="blue")
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly(
        "vip-news", {c: int(c in blue) for c in clients}, origin=0
    )


async def test_sockets_join_to_a_sid_makes_only_that_client_join(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    target = clients[4]  # on node 2

    await cluster.nodes[0].mgr.sockets_join(["vip"], to=target.sid)
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly(
        "vip-news", {c: int(c is target) for c in clients}, origin=0
    )


async def test_sockets_leave_makes_every_client_leave(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    for client in clients:
        await cluster.join_locally(client, "vip")

    await cluster.nodes[0].mgr.sockets_leave(["vip"])
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly("vip-news", dict.fromkeys(clients, 0), origin=0)


async def test_sockets_leave_to_a_room_makes_only_its_members_leave(cluster: Cluster) -> None:
    clients, blue = await blue_and_others(cluster)
    for client in clients:
        await cluster.join_locally(client, "vip")

    await cluster.nodes[0].mgr.sockets_leave(["vip"], to="blue")
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly(
        "vip-news", {c: int(c not in blue) for c in clients}, origin=0
    )


async def test_sockets_leave_to_a_sid_makes_only_that_client_leave(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    for client in clients:
        await cluster.join_locally(client, "vip")
    target = clients[3]  # on node 1

    await cluster.nodes[0].mgr.sockets_leave(["vip"], to=target.sid)
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly(
        "vip-news", {c: int(c is not target) for c in clients}, origin=0
    )


async def test_disconnect_sockets_disconnects_every_client(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)

    await cluster.nodes[0].mgr.disconnect_sockets()

    await asyncio.gather(*(c.wait_for("disconnect") for c in clients))
    assert all(c.received("disconnect") == [(SERVER_DISCONNECT,)] for c in clients)


async def test_disconnect_sockets_to_a_room_disconnects_only_its_members(
    cluster: Cluster,
) -> None:
    clients, blue = await blue_and_others(cluster)

    await cluster.nodes[0].mgr.disconnect_sockets(to="blue")

    await asyncio.gather(*(c.wait_for("disconnect") for c in blue))
    # The others are still connected: they get the marker, and saw no disconnect.
    await cluster.quiet(origin=0)
    assert {c for c in clients if c.count("disconnect")} == blue
    assert all(c.is_connected() for c in clients if c not in blue)


async def test_disconnect_sockets_without_close_keeps_other_namespaces(
    cluster: Cluster,
) -> None:
    clients = [await cluster.client(i, namespace=["/", "/chat"]) for i in (0, 1, 2)]

    await cluster.nodes[0].mgr.disconnect_sockets(close=False)

    await asyncio.gather(*(c.wait_for("disconnect") for c in clients))
    await cluster.quiet(origin=0)
    assert all(c.is_connected("/chat") and not c.is_connected("/") for c in clients)
    assert all(c.count("disconnect", namespace="/chat") == 0 for c in clients)


async def test_disconnect_sockets_with_close_drops_the_whole_connection(
    cluster: Cluster,
) -> None:
    clients = [await cluster.client(i, namespace=["/", "/chat"]) for i in (0, 1, 2)]

    await cluster.nodes[0].mgr.disconnect_sockets(close=True)

    await asyncio.gather(
        *(c.wait_for("disconnect", namespace=ns) for c in clients for ns in ("/", "/chat"))
    )
    assert not any(c.sio.connected for c in clients)
