"""Broadcasts in a mixed cluster on Redis streams, both directions: every target, binary.

``origin`` ``py0``/``py1`` is a Python node (``sio.emit``, ``mgr.emit`` for except rooms);
``node`` is the Node server on ``@socket.io/redis-streams-adapter`` 0.3.1. A broadcast without
ack is a stream entry (``uid``, ``nsp``, ``type``, ``data``: JSON, or base64 msgpack when it
holds binary) that every server reads, its origin included (and skips). Rooms (../mixed.py):
py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

import pytest
import redis.asyncio

from ..mixed import MixedCluster

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
    """Both namespaces share the one stream; each entry names its namespace (``nsp``)."""
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
    """Binary anywhere: the entry's ``data`` is base64 msgpack instead of JSON."""
    args = (b"\x00\x01\xff", {"nested": b"ab", "list": [b"c", 1]}, "text")
    await mixed.emit(origin, "bin", *args)
    await mixed.assert_received_exactly("bin", ALL, origin=origin)
    for client in mixed.clients.values():
        assert client.received("bin") == [args], client.name


@ORIGINS
async def test_large_binary_payload_to_a_room(mixed: MixedCluster, origin: str) -> None:
    blob = bytes(range(256)) * 400  # 102,400 bytes
    await mixed.emit(origin, "big-bin", blob, to=["room2"])
    await mixed.assert_received_exactly("big-bin", {"py1": 1, "node": 1}, origin=origin)
    for name in ("py1", "node"):
        assert mixed.clients[name].received("big-bin") == [(blob,)], name


@ORIGINS
async def test_broadcasts_arrive_in_order(mixed: MixedCluster, origin: str) -> None:
    """One stream, read in order by every server: 50 broadcasts arrive as sent."""
    for n in range(50):
        await mixed.emit(origin, "seq", n)
    await mixed.assert_received_exactly("seq", {"py0": 50, "py1": 50, "node": 50}, origin=origin)
    for client in mixed.clients.values():
        assert client.received("seq") == [(n,) for n in range(50)], client.name


async def test_both_sides_write_this_tests_stream(mixed: MixedCluster) -> None:
    """The wiring itself: Node's and Python's broadcasts are entries of the test's own stream
    (``streamName`` / ``stream_name``), in Node's field order ``uid, nsp, type, data``."""
    await mixed.emit("node", "wired", "from node")
    await mixed.emit("py0", "wired", "from py0")
    await mixed.assert_received_exactly("wired", {"py0": 2, "py1": 2, "node": 2}, origin="py0")
    client = redis.asyncio.Redis.from_url(mixed.topology.redis_url or "")
    try:
        entries = await client.xrange(mixed.topology.python_options["stream_name"])
    finally:
        await client.aclose()
    wired = [
        fields
        for _, fields in entries
        if fields.get(b"type") == b"3" and b'"wired"' in fields.get(b"data", b"")
    ]
    # Node's io.emit() returns before its XADD is answered: the two entries may come in
    # either order.
    assert sorted(f[b"uid"].decode() for f in wired) == sorted(
        [mixed.node.uid, mixed.mgr("py0").uid]
    )
    assert [list(f) for f in wired] == [[b"uid", b"nsp", b"type", b"data"]] * 2
    assert all(f[b"nsp"] == b"/" for f in wired)
