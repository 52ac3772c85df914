"""Broadcasts across the language boundary: every target, both directions.

``origin`` ``py0``/``py1`` is a Python node (``sio.emit``, or ``mgr.emit`` for except rooms);
``node`` is the Node server (``io.to(...).except(...).emit``). Rooms (see mixed.py):
py0 in room1+room3, py1 in room2, node in room1+room2. Each test checks, from the clients'
side, who received the event and that nobody received it twice.
"""

from __future__ import annotations

import pytest

from .mixed import BOTH_MODES, ROOM_ROUTING, MixedCluster, topologies

pytestmark = pytest.mark.interop

ALL = {"py0": 1, "py1": 1, "node": 1}


@topologies("classic", "sharded", "sharded-standalone")
@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_broadcast_to_all(mixed: MixedCluster, origin: str) -> None:
    args = (1, "two", {"k": [1, None, True]}, [3.5, "x"])
    await mixed.emit(origin, "news", *args)
    await mixed.assert_received_exactly("news", ALL, origin=origin)
    for client in mixed.clients.values():
        assert client.received("news") == [args], client.name


@ROOM_ROUTING
@pytest.mark.parametrize(
    ("origin", "room", "receivers"),
    [
        ("py1", "room1", {"py0", "node"}),  # from Python, to a Python and the Node client
        ("py0", "room2", {"py1", "node"}),
        ("node", "room2", {"py1", "node"}),  # from Node, to its own and a Python client
        ("node", "room3", {"py0"}),  # Node has no member: only the room channel carries it
    ],
)
async def test_broadcast_to_room(
    mixed: MixedCluster, origin: str, room: str, receivers: set[str]
) -> None:
    await mixed.emit(origin, "to-room", room, to=[room])
    await mixed.assert_received_exactly("to-room", dict.fromkeys(receivers, 1), origin=origin)
    for name in receivers:
        assert mixed.clients[name].received("to-room") == [(room,)]


@ROOM_ROUTING
@pytest.mark.parametrize(("origin", "target"), [("py0", "node"), ("node", "py1")])
async def test_broadcast_to_socket_id(mixed: MixedCluster, origin: str, target: str) -> None:
    """``to(sid)`` of a socket connected to the other side."""
    sid = mixed.sid(target)
    await mixed.emit(origin, "direct", "for " + target, to=[sid])
    await mixed.assert_received_exactly("direct", {target: 1}, origin=origin)
    assert mixed.clients[target].received("direct") == [("for " + target,)]


@pytest.mark.parametrize(
    ("origin", "to", "except_rooms", "receivers"),
    [
        ("py0", [], ["room1"], {"py1"}),
        ("node", [], ["room1"], {"py1"}),
        ("py1", ["room2"], ["room1"], {"py1"}),
        ("node", ["room1"], ["room3"], {"node"}),
        ("node", ["room1", "room2"], ["room3"], {"py1", "node"}),
        ("py0", [], ["room2", "room3"], set()),
    ],
)
async def test_broadcast_with_except_rooms(
    mixed: MixedCluster, origin: str, to: list[str], except_rooms: list[str], receivers: set[str]
) -> None:
    await mixed.emit(origin, "except", 42, to=to, except_rooms=except_rooms)
    await mixed.assert_received_exactly("except", dict.fromkeys(receivers, 1), origin=origin)


@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_broadcast_to_several_rooms_reaches_each_socket_once(
    mixed: MixedCluster, origin: str
) -> None:
    """node is in room1 and room2, py0 in room1, py1 in room2: each gets it once."""
    await mixed.emit(origin, "multi", to=["room1", "room2"])
    await mixed.assert_received_exactly("multi", ALL, origin=origin)


@pytest.mark.parametrize("origin", ["py1", "node"])
async def test_broadcast_in_second_namespace(mixed: MixedCluster, origin: str) -> None:
    await mixed.emit(origin, "custom-all", "c", namespace="/custom")
    await mixed.emit(origin, "custom-room", "r", to=["room1"], namespace="/custom")
    await mixed.assert_received_exactly("custom-all", ALL, origin=origin, namespace="/custom")
    await mixed.assert_received_exactly(
        "custom-room", {"py0": 1, "node": 1}, origin=origin, namespace="/custom"
    )
    for client in mixed.clients.values():  # nothing leaked into "/"
        assert client.count("custom-all") == client.count("custom-room") == 0


@BOTH_MODES
@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_broadcast_binary_arguments(mixed: MixedCluster, origin: str) -> None:
    """bytes at the top level and nested arrive as bytes, on both sides."""
    args = (b"\x00\x01\xff", {"nested": b"ab", "list": [b"c", 1]}, "text")
    await mixed.emit(origin, "bin", *args)
    await mixed.assert_received_exactly("bin", ALL, origin=origin)
    for client in mixed.clients.values():
        assert client.received("bin") == [args], client.name


@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_broadcast_to_numeric_room(mixed: MixedCluster, origin: str) -> None:
    """A room named by a number stays a number on the wire (``rooms: [7]``, channel ``7#``)."""
    if origin == "node":
        await mixed.node.command("socketsJoin", rooms=[7], to=["room2"])
    else:
        await mixed.mgr(origin).sockets_join([7], to=["room2"])
    await mixed.barrier(origin)
    found = await mixed.fetch_sockets(origin, [7])
    assert set(found) == {mixed.sid("py1"), mixed.sid("node")}
    assert all(7 in s["rooms"] for s in found.values())
    for sender in ("py0", "node"):
        await mixed.emit(sender, f"numeric-from-{sender}", to=[7])
        await mixed.assert_received_exactly(
            f"numeric-from-{sender}", {"py1": 1, "node": 1}, origin=sender
        )
