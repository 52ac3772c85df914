"""Broadcasts in a mixed cluster on Redis streams, both directions: every target, binary.

``origin`` ``py0``/``py1`` is a Python node (``sio.emit``, ``mgr.emit`` for except rooms);
``node`` is the Node server on ``@socket.io/redis-streams-adapter`` 0.3.1. A broadcast without
ack is a stream entry (``uid``, ``nsp``, ``type``, ``data``: JSON, or base64 msgpack when it
holds binary) that every server reads, its origin included (and skips). Rooms (../mixed.py):
py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

import redis.asyncio

from ..cases.broadcast import (  # noqa: F401  (collected here, on this directory's cluster)
    ORIGINS,
    test_broadcast_binary_arguments,
    test_broadcast_in_second_namespace,
    test_broadcast_to_all,
    test_broadcast_to_room,
    test_broadcast_to_socket_id,
    test_broadcast_with_except_rooms,
)
from ..mixed import MixedCluster


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
