"""socketsJoin, socketsLeave and disconnectSockets across the language boundary.

The origin changes the rooms (or connections) of sockets on both sides; after a
:meth:`~.harness_node.MixedCluster.barrier` from the origin, every server has applied the
change, which the test checks twice: with ``fetchSockets`` from the origin, and from the
clients' side with a broadcast sent by a server of the other language.
Rooms: py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

import pytest

from .mixed import BOTH_MODES, MixedCluster

pytestmark = pytest.mark.interop


async def sockets_join(
    mixed: MixedCluster,
    origin: str,
    rooms: list[str],
    to: list[str] | None = None,
    except_rooms: list[str] | None = None,
) -> None:
    if origin == "node":
        await mixed.node.command(
            "socketsJoin", rooms=rooms, to=to or [], except_=except_rooms or []
        )
    else:
        await mixed.mgr(origin).sockets_join(rooms, to=to, except_rooms=except_rooms)


async def sockets_leave(
    mixed: MixedCluster,
    origin: str,
    rooms: list[str],
    to: list[str] | None = None,
    except_rooms: list[str] | None = None,
) -> None:
    if origin == "node":
        await mixed.node.command(
            "socketsLeave", rooms=rooms, to=to or [], except_=except_rooms or []
        )
    else:
        await mixed.mgr(origin).sockets_leave(rooms, to=to, except_rooms=except_rooms)


async def disconnect_sockets(
    mixed: MixedCluster,
    origin: str,
    close: bool,
    to: list[str] | None = None,
    except_rooms: list[str] | None = None,
) -> None:
    if origin == "node":
        await mixed.node.command(
            "disconnectSockets", close=close, to=to or [], except_=except_rooms or []
        )
    else:
        await mixed.mgr(origin).disconnect_sockets(close, to=to, except_rooms=except_rooms)


async def assert_members(
    mixed: MixedCluster, origin: str, room: str, members: set[str], observer: str
) -> None:
    """``room``'s members are exactly ``members``, seen by ``origin``'s fetchSockets and by the
    clients of a broadcast to ``room`` from ``observer``."""
    found = await mixed.fetch_sockets(origin, [room])
    assert set(found) == {mixed.sid(n) for n in members}, f"fetchSockets({room}) from {origin}"
    event = f"in-{room}-from-{observer}"
    await mixed.emit(observer, event, to=[room])
    await mixed.assert_received_exactly(event, dict.fromkeys(members, 1), origin=observer)


@BOTH_MODES
@pytest.mark.parametrize(
    ("origin", "to", "except_rooms", "joiners", "observer"),
    [
        ("py0", ["room2"], None, {"py1", "node"}, "py1"),  # Python makes Node's socket join
        ("node", ["room1"], None, {"py0", "node"}, "py1"),  # Node makes Python's socket join
        ("py1", None, ["room2"], {"py0"}, "node"),
        ("node", None, ["room1"], {"py1"}, "py0"),
    ],
)
async def test_sockets_join(
    mixed: MixedCluster,
    origin: str,
    to: list[str] | None,
    except_rooms: list[str] | None,
    joiners: set[str],
    observer: str,
) -> None:
    await sockets_join(mixed, origin, ["joined"], to=to, except_rooms=except_rooms)
    await mixed.barrier(origin)
    await assert_members(mixed, origin, "joined", joiners, observer)


@pytest.mark.parametrize(
    ("origin", "rooms", "to", "except_rooms", "room", "left_in_room", "observer"),
    [
        # node leaves room1, py0 (in room3) stays
        ("py0", ["room1"], None, ["room3"], "room1", {"py0"}, "node"),
        # py1 and node leave room2
        ("node", ["room2"], ["room2"], None, "room2", set(), "py0"),
        # only node's socket, by id, leaves room1
        ("py1", ["room1"], ["<node>"], None, "room1", {"py0"}, "py0"),
        # only py0's socket, by id, leaves room1
        ("node", ["room1"], ["<py0>"], None, "room1", {"node"}, "py1"),
    ],
)
async def test_sockets_leave(
    mixed: MixedCluster,
    origin: str,
    rooms: list[str],
    to: list[str] | None,
    except_rooms: list[str] | None,
    room: str,
    left_in_room: set[str],
    observer: str,
) -> None:
    targets = [mixed.sid(t[1:-1]) if t.startswith("<") else t for t in to or []]
    await sockets_leave(mixed, origin, rooms, to=targets or None, except_rooms=except_rooms)
    await mixed.barrier(origin)
    await assert_members(mixed, origin, room, left_in_room, observer)


@pytest.mark.parametrize(
    ("origin", "close", "to", "except_rooms", "gone"),
    [
        ("py0", False, ["room2"], None, {"py1", "node"}),
        ("node", False, ["room3"], None, {"py0"}),
        ("py1", True, None, ["room2"], {"py0"}),  # close: the whole connection goes
        ("node", True, None, ["room1"], {"py1"}),
    ],
)
async def test_disconnect_sockets(
    mixed: MixedCluster,
    origin: str,
    close: bool,
    to: list[str] | None,
    except_rooms: list[str] | None,
    gone: set[str],
) -> None:
    await disconnect_sockets(mixed, origin, close, to=to, except_rooms=except_rooms)
    await mixed.wait_disconnected(sorted(gone))
    if close:  # the connection is closed: every namespace goes
        await mixed.wait_disconnected(sorted(gone), namespace="/custom")
    await mixed.barrier(origin)
    for name, client in mixed.clients.items():
        assert client.is_connected("/") == (name not in gone), name
        assert client.is_connected("/custom") == (not close or name not in gone), name
        assert client.count("disconnect") == int(name in gone), name
    # Everybody still connected still hears the cluster, from both sides.
    python_origin = "py0" if "py0" not in gone else "py1"
    await mixed.emit("node", "after-node")
    await mixed.emit(python_origin, "after-py")
    stayed = {name: 1 for name in mixed.clients if name not in gone}
    await mixed.assert_received_exactly("after-node", stayed, origin="node")
    await mixed.assert_received_exactly("after-py", stayed, origin=python_origin)


@BOTH_MODES
async def test_python_socketio_api_on_a_node_socket(mixed: MixedCluster) -> None:
    """python-socketio's own room and disconnect calls, for a socket of the Node server."""
    sio, node_sid = mixed.py("py0").sio, mixed.sid("node")
    await sio.enter_room(node_sid, "vip")
    await sio.leave_room(node_sid, "room1")
    await mixed.barrier("py0")
    [node_socket] = (await mixed.fetch_sockets("node", [node_sid])).values()
    assert node_socket["rooms"] == {node_sid, "vip", "room2"}
    await assert_members(mixed, "py0", "vip", {"node"}, "py1")
    await sio.close_room("room2")  # py1 and node leave it
    await mixed.barrier("py0")
    await assert_members(mixed, "py0", "room2", set(), "node")
    await sio.disconnect(node_sid)
    await mixed.wait_disconnected(["node"])
    assert mixed.clients["node"].connected_namespaces() == ["/custom"]


@BOTH_MODES
async def test_remote_join_leave_disconnect_of_a_node_socket(mixed: MixedCluster) -> None:
    """``mgr.remote_join/leave/disconnect``: classic sends Node's legacy single-socket
    requests (types 2-4 with ``sid``), which the Node server answers."""
    mgr, node_sid = mixed.mgr("py1"), mixed.sid("node")
    await mgr.remote_join(node_sid, "legacy-room")
    await mgr.remote_leave(node_sid, "room2")
    await mixed.barrier("py1")
    [node_socket] = (await mixed.fetch_sockets("py1", [node_sid])).values()
    assert node_socket["rooms"] == {node_sid, "legacy-room", "room1"}
    await assert_members(mixed, "py1", "legacy-room", {"node"}, "py0")
    await mgr.remote_disconnect(node_sid)
    await mixed.wait_disconnected(["node"])
    assert mixed.clients["node"].connected_namespaces() == ["/custom"]
