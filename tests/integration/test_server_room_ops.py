"""python-socketio's own room and disconnect calls, aimed at a sid on another node.

The effect is observed the way a user would: by who receives a later broadcast to the room,
sent by the same node (so it is delivered after the room change), and by the client's
``disconnect``.
"""

from __future__ import annotations

import socketio

from .harness import Cluster


async def test_enter_room_for_a_sid_on_another_node(cluster: Cluster) -> None:
    local, remote, bystander = [await cluster.client(i) for i in (0, 1, 2)]
    sio = cluster.nodes[0].sio

    await sio.enter_room(remote.sid, "vip")
    await sio.emit("vip-news", "welcome", to="vip")

    await cluster.assert_received_exactly("vip-news", {local: 0, remote: 1, bystander: 0}, origin=0)


async def test_leave_room_for_a_sid_on_another_node(cluster: Cluster) -> None:
    local, leaver, stayer = [await cluster.client(i) for i in (0, 1, 2)]
    await cluster.join_locally(leaver, "vip")
    await cluster.join_locally(stayer, "vip")
    sio = cluster.nodes[0].sio

    await sio.leave_room(leaver.sid, "vip")
    await sio.emit("vip-news", "still here?", to="vip")

    await cluster.assert_received_exactly("vip-news", {local: 0, leaver: 0, stayer: 1}, origin=0)


async def test_close_room_empties_the_room_on_every_node(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    for client in clients:
        await cluster.join_locally(client, "vip")
    sio = cluster.nodes[0].sio

    await sio.close_room("vip")
    await sio.emit("vip-news", "anyone?", to="vip")

    await cluster.assert_received_exactly("vip-news", dict.fromkeys(clients, 0), origin=0)


async def test_disconnect_of_a_sid_on_another_node(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    target = clients[2]  # on node 2

    await cluster.nodes[0].sio.disconnect(target.sid)

    assert await target.wait_for("disconnect") == [(socketio.AsyncClient.reason.SERVER_DISCONNECT,)]
    # The owner ran its disconnect handler for that sid, and nobody else was disconnected.
    ((sid, _reason),) = await cluster.nodes[2].log.wait_for("disconnect")
    assert sid == target.sid
    await cluster.nodes[0].sio.emit("after", "bye")
    await cluster.assert_received_exactly(
        "after", {clients[0]: 1, clients[1]: 1, target: 0}, origin=0
    )
    assert [c.count("disconnect") for c in clients] == [0, 0, 1]
