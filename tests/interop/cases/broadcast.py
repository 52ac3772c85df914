"""Broadcasts every mixed cluster carries, both directions: to all, to rooms, to a socket,
with except rooms, in a second namespace, with binary arguments.

``origin`` ``py0``/``py1`` is a Python node (``sio.emit``, ``mgr.emit`` for except rooms);
``node`` the Node server. Rooms (../mixed.py): py0 in room1+room3, py1 in room2, node in
room1+room2.
"""

from __future__ import annotations

import pytest

from ..mixed import MixedCluster

__all__ = [
    "ALL",
    "ORIGINS",
    "test_broadcast_binary_arguments",
    "test_broadcast_in_second_namespace",
    "test_broadcast_to_all",
    "test_broadcast_to_room",
    "test_broadcast_to_socket_id",
    "test_broadcast_with_except_rooms",
]

ALL = {"py0": 1, "py1": 1, "node": 1}
ORIGINS = pytest.mark.parametrize("origin", ["py0", "node"])


@ORIGINS
async def test_broadcast_to_all(mixed: MixedCluster, origin: str) -> None:
    args = (1, "two", {"k": [1, None, True]}, [3.5, "x"])
    await mixed.emit(origin, "news", *args)
    await mixed.assert_received_exactly("news", ALL, origin=origin)
    for client in mixed.clients.values():
        assert client.received("news") == [args], client.name


@pytest.mark.parametrize(
    ("origin", "room", "receivers"),
    [
        ("py1", "room1", {"py0", "node"}),
        ("py0", "room2", {"py1", "node"}),
        ("node", "room2", {"py1", "node"}),
        ("node", "room3", {"py0"}),  # Node has no member
    ],
)
async def test_broadcast_to_room(
    mixed: MixedCluster, origin: str, room: str, receivers: set[str]
) -> None:
    await mixed.emit(origin, "to-room", room, to=[room])
    await mixed.assert_received_exactly("to-room", dict.fromkeys(receivers, 1), origin=origin)
    for name in receivers:
        assert mixed.clients[name].received("to-room") == [(room,)]


@pytest.mark.parametrize(("origin", "target"), [("py0", "node"), ("node", "py1")])
async def test_broadcast_to_socket_id(mixed: MixedCluster, origin: str, target: str) -> None:
    sid = mixed.sid(target)
    await mixed.emit(origin, "direct", "for " + target, to=[sid])
    await mixed.assert_received_exactly("direct", {target: 1}, origin=origin)


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


@pytest.mark.parametrize("origin", ["py1", "node"])
async def test_broadcast_in_second_namespace(mixed: MixedCluster, origin: str) -> None:
    await mixed.emit(origin, "custom-all", "c", namespace="/custom")
    await mixed.emit(origin, "custom-room", "r", to=["room1"], namespace="/custom")
    await mixed.assert_received_exactly("custom-all", ALL, origin=origin, namespace="/custom")
    await mixed.assert_received_exactly(
        "custom-room", {"py0": 1, "node": 1}, origin=origin, namespace="/custom"
    )
    for client in mixed.clients.values():
        assert client.count("custom-all") == client.count("custom-room") == 0


@ORIGINS
async def test_broadcast_binary_arguments(mixed: MixedCluster, origin: str) -> None:
    """Binary anywhere in the arguments, nested too."""
    args = (b"\x00\x01\xff", {"nested": b"ab", "list": [b"c", 1]}, "text")
    await mixed.emit(origin, "bin", *args)
    await mixed.assert_received_exactly("bin", ALL, origin=origin)
    for client in mixed.clients.values():
        assert client.received("bin") == [args], client.name
