"""``remote_join`` / ``remote_leave`` / ``remote_disconnect`` on a sid of another node."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import socketio

from sioadapter.errors import SocketNotFoundError

from .harness import Cluster


async def test_remote_join_puts_a_client_of_another_node_in_a_room(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    target = clients[5]  # on node 2

    await cluster.nodes[0].mgr.remote_join(target.sid, "vip")
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly(
        "vip-news", {c: int(c is target) for c in clients}, origin=0
    )


async def test_remote_leave_takes_a_client_of_another_node_out_of_a_room(
    cluster: Cluster,
) -> None:
    clients = await cluster.connect_each()
    for client in clients:
        await cluster.join_locally(client, "vip")
    target = clients[1]  # on node 1

    await cluster.nodes[0].mgr.remote_leave(target.sid, "vip")
    await cluster.nodes[0].sio.emit("vip-news", to="vip")

    await cluster.assert_received_exactly(
        "vip-news", {c: int(c is not target) for c in clients}, origin=0
    )


async def test_remote_disconnect_disconnects_a_client_of_another_node(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    target = clients[2]

    await cluster.nodes[0].mgr.remote_disconnect(target.sid)

    assert await target.wait_for("disconnect") == [(socketio.AsyncClient.reason.SERVER_DISCONNECT,)]
    await cluster.quiet(origin=0)
    assert [c.count("disconnect") for c in clients] == [0, 0, 1]


async def test_remote_join_of_a_sid_no_node_has_raises_socket_not_found(
    make_cluster: Callable[..., Cluster],
) -> None:
    async with make_cluster(nodes=3, requests_timeout=0.5) as cluster:
        await cluster.connect_each()

        with pytest.raises(SocketNotFoundError):
            await cluster.nodes[0].mgr.remote_join("no-such-sid", "vip")
