"""``mgr.fetch_sockets()`` and what a RemoteSocket can do to a client on another node."""

from __future__ import annotations

from typing import Any

import socketio

from .harness import WAIT_TIMEOUT, Client, Cluster, Node

HANDSHAKE_KEYS = {
    "headers",
    "time",
    "address",
    "xdomain",
    "secure",
    "issued",
    "url",
    "query",
    "auth",
}


async def save_user_session(
    node: Node, sid: str, namespace: str, environ: dict[str, Any], auth: Any
) -> None:
    await node.sio.save_session(
        sid, {"user": (auth or {}).get("user"), "node": node.index}, namespace=namespace
    )


async def fetch_one(cluster: Cluster, client: Client, origin: int = 0) -> Any:
    """The RemoteSocket node ``origin`` fetches for ``client``."""
    sockets = await cluster.nodes[origin].mgr.fetch_sockets()
    (found,) = [s for s in sockets if s.id == client.sid]
    return found


async def test_fetch_sockets_returns_every_client_with_handshake_and_session(
    cluster: Cluster,
) -> None:
    cluster.set_connect_hook(save_user_session)
    clients = [
        await cluster.client(node.index, auth={"user": f"user{node.index}{k}"})
        for node in cluster.nodes
        for k in range(2)
    ]

    sockets = await cluster.nodes[0].mgr.fetch_sockets()

    by_id = {s.id: s for s in sockets}
    assert len(sockets) == len(by_id) == len(clients)
    assert set(by_id) == {c.sid for c in clients}
    for client in clients:
        fetched = by_id[client.sid]
        assert fetched.namespace == "/"
        assert set(fetched.handshake) >= HANDSHAKE_KEYS
        assert fetched.handshake["address"] == "127.0.0.1"
        assert fetched.handshake["auth"] == client.auth
        assert fetched.data == {"user": client.auth["user"], "node": client.node.index}
        assert fetched.rooms == {client.sid}  # as in Node: a socket is in its own sid's room


async def test_fetch_sockets_in_a_room_returns_its_members_only(cluster: Cluster) -> None:
    _outsider0, member1, member2, _outsider2 = [await cluster.client(i) for i in (0, 1, 2, 2)]
    await cluster.join_locally(member1, "blue")
    await cluster.join_locally(member2, "blue", "red")

    sockets = await cluster.nodes[0].mgr.fetch_sockets(rooms=["blue"])

    assert sorted(s.id for s in sockets) == sorted([member1.sid, member2.sid])
    rooms = {s.id: s.rooms for s in sockets}
    assert rooms == {member1.sid: {member1.sid, "blue"}, member2.sid: {member2.sid, "blue", "red"}}


async def test_fetch_sockets_with_rooms_and_except_rooms(cluster: Cluster) -> None:
    blue0, blue_muted1, blue2, muted2 = [await cluster.client(i) for i in (0, 1, 2, 2)]
    await cluster.join_locally(blue0, "blue")
    await cluster.join_locally(blue_muted1, "blue", "muted")
    await cluster.join_locally(blue2, "blue")
    await cluster.join_locally(muted2, "muted")

    sockets = await cluster.nodes[1].mgr.fetch_sockets(rooms=["blue"], except_rooms=["muted"])

    assert sorted(s.id for s in sockets) == sorted([blue0.sid, blue2.sid])


async def test_remote_socket_emit_reaches_only_that_client(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    target = clients[2]  # on node 2
    remote = await fetch_one(cluster, target)

    await remote.emit("direct", 1, b"\x02", {"three": 3})

    await cluster.assert_received_exactly(
        "direct", {c: int(c is target) for c in clients}, origin=0
    )
    assert target.received("direct") == [(1, b"\x02", {"three": 3})]


async def test_remote_socket_join_then_leave(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    target = clients[1]  # on node 1
    remote = await fetch_one(cluster, target)
    sio = cluster.nodes[0].sio

    await remote.join("vip")
    await sio.emit("while-in", to="vip")
    await remote.leave("vip")
    await sio.emit("after-leaving", to="vip")

    await cluster.assert_received_exactly(
        "while-in", {c: int(c is target) for c in clients}, origin=0
    )
    await cluster.assert_received_exactly("after-leaving", dict.fromkeys(clients, 0), origin=0)
    assert (await fetch_one(cluster, target)).rooms == {target.sid}


async def test_remote_socket_disconnect(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    target = clients[2]
    remote = await fetch_one(cluster, target)

    await remote.disconnect()

    assert await target.wait_for("disconnect", timeout=WAIT_TIMEOUT) == [
        (socketio.AsyncClient.reason.SERVER_DISCONNECT,)
    ]
    await cluster.nodes[0].sio.emit("after", 1)
    await cluster.assert_received_exactly(
        "after", {clients[0]: 1, clients[1]: 1, target: 0}, origin=0
    )
