"""Requests in a mixed cluster on PostgreSQL: the cases of every mixed cluster
(:mod:`..cases.requests`), and payloads over NOTIFY's 8000-byte limit (the attachments table).

Node's adapter is a ``ClusterAdapterWithHeartbeat``: a request waits for one answer per node it
heard from (every server counts the other two once the ``mixed`` fixture returns), so a Python
node that did not answer would show here as Node's ``timeout reached: missing N responses``.
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
from ..test_acks import answer_as, emit_with_ack
from ..test_server_side import server_side_emit


@ORIGINS
async def test_emit_with_ack_large_answers(mixed: MixedCluster, origin: str) -> None:
    answer_as(mixed, "ask-big", pad="p" * 20_000)
    answers = await emit_with_ack(mixed, origin, "ask-big", "q" * 10_000)
    assert sorted(a["client"] for a in answers) == ["node", "py0", "py1"]
    assert all(a["got"] == "q" * 10_000 and a["pad"] == "p" * 20_000 for a in answers)


async def test_fetch_sockets_with_large_socket_data(mixed: MixedCluster) -> None:
    """A FETCH_SOCKETS_RESPONSE over 8000 bytes: through the table, both ways."""
    big = {"name": "node", "pad": "d" * 12_000}
    await mixed.node.command("setData", sid=mixed.sid("node"), data=big)
    session = {"name": "py1", "server": "python", "pad": "e" * 12_000}
    await mixed.py("py1").sio.save_session(mixed.sid("py1"), session)
    from_python = await mixed.fetch_sockets("py0")
    from_node = await mixed.fetch_sockets("node")
    for found in (from_python, from_node):
        assert found[mixed.sid("node")]["data"] == big
        assert found[mixed.sid("py1")]["data"] == session


@ORIGINS
async def test_server_side_emit_binary_and_large(mixed: MixedCluster, origin: str) -> None:
    args = (b"\x00\xfe", {"pad": "z" * 9_000})
    await server_side_emit(mixed, origin, "hello", *args)
    for name in SERVERS:
        if name != origin:
            assert await mixed.server_events(name).wait_for("hello") == [args], name
