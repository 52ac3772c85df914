"""``remote_join`` / ``remote_leave`` / ``remote_disconnect`` on a sid of another node."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import socketio

from sioadapter.core.messages import RemoteJoin
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


async def test_a_remote_join_is_answered_once_the_room_is_heard(cluster: Cluster) -> None:
    """With per-room channels the owner subscribes to the room's channel when its socket joins.
    Where the protocol answers remote joins (classic), it answers once that subscription is
    active, so a broadcast any node sends right after ``remote_join`` returns is heard (it was
    lost while the subscription was on its way). Where joins go unanswered (the ClusterAdapter
    protocol, as Node's), the node that made the change sends its next broadcasts to the room on
    the namespace channel, in order with the join."""
    owner = cluster.nodes[2].mgr
    if owner._rooms is None:
        pytest.skip("only protocols with per-room channels subscribe when a room is joined")
    sender = 1 if owner._node.supports(RemoteJoin) else 0
    clients = await cluster.connect_each(per_node=2)
    target = clients[5]  # on node 2
    subscribe = owner._bus.subscribe

    async def slow_subscribe(channels: Any) -> Any:
        await asyncio.sleep(0.3)  # a busy Redis, a long way off
        return await subscribe(channels)

    owner._bus.subscribe = slow_subscribe
    await cluster.nodes[0].mgr.remote_join(target.sid, "vip")
    await cluster.nodes[sender].sio.emit("vip-news", to="vip")
    await cluster.assert_received_exactly(
        "vip-news", {c: int(c is target) for c in clients}, origin=sender
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
