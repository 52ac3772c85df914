"""Requests in a mixed cluster on Redis streams: the cases of every mixed cluster
(:mod:`..cases.requests`), and binary where the postgres family sends large payloads.

Node's adapter 0.3.1 is a ``ClusterAdapter`` without heartbeats: it counts servers with
``PUBSUB NUMSUB key#nsp#`` and a request waits for that count minus one answers, so a Python
node that did not answer shows here as Node's ``timeout reached: only N responses received``.
Room operations and disconnectSockets are stream entries: ``mixed.applied`` (a marker on the
stream), not a pub/sub round trip, says they were applied everywhere.
Rooms: py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

from ..cases.requests import (  # noqa: F401  (collected here, on this directory's cluster)
    ORIGINS,
    SERVERS,
    test_disconnect_sockets,
    test_emit_with_ack_collects_every_client,
    test_emit_with_ack_to_empty_room_returns_no_answer,
    test_emit_with_ack_to_room_with_binary_answers,
    test_fetch_sockets_sees_every_socket,
    test_fetch_sockets_with_rooms_and_except,
    test_node_counts_a_python_node_out_when_it_closes,
    test_python_counts_the_node_server_out_when_it_closes,
    test_server_count_in_every_namespace,
    test_server_side_emit_reaches_every_other_server_once,
    test_server_side_emit_with_ack_binary_answer_from_node,
    test_server_side_emit_with_ack_binary_answers_from_python,
    test_server_side_emit_with_ack_collects_every_other_server,
    test_single_socket_acknowledgement,
    test_sockets_join,
    test_sockets_leave,
)
from ..mixed import MixedCluster
from ..test_room_ops import disconnect_sockets
from ..test_server_side import server_side_emit


async def test_fetch_sockets_with_binary_socket_data(mixed: MixedCluster) -> None:
    """FETCH_SOCKETS_RESPONSE holding bytes, both ways."""
    node_data = {"name": "node", "blob": b"\x00\x10"}
    await mixed.node.command("setData", sid=mixed.sid("node"), data=node_data)
    session = {"name": "py1", "server": "python", "blob": b"\xff"}
    await mixed.py("py1").sio.save_session(mixed.sid("py1"), session)
    from_python = await mixed.fetch_sockets("py0")
    from_node = await mixed.fetch_sockets("node")
    for found in (from_python, from_node):
        assert found[mixed.sid("node")]["data"] == node_data
        assert found[mixed.sid("py1")]["data"] == session


@ORIGINS
async def test_disconnect_sockets_of_a_room(mixed: MixedCluster, origin: str) -> None:
    """room1 = py0 + node: both leave ``/``, py1 stays."""
    await disconnect_sockets(mixed, origin, False, to=["room1"])
    await mixed.wait_disconnected(["py0", "node"])
    await mixed.applied(origin)
    assert set(await mixed.fetch_sockets(origin)) == {mixed.sid("py1")}


@ORIGINS
async def test_server_side_emit_binary(mixed: MixedCluster, origin: str) -> None:
    args = (b"\x00\xfe", {"nested": [b"\x01"]})
    await server_side_emit(mixed, origin, "hello", *args)
    for name in SERVERS:
        if name != origin:
            assert await mixed.server_events(name).wait_for("hello") == [args], name
