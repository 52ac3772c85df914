"""Requests every mixed cluster carries, both directions: broadcast acks, fetchSockets, room
operations, disconnectSockets, server-side events with and without ack, server count, and a
server leaving.

A Python node that did not answer shows here as Node's ``timeout reached``. Room operations
and disconnects are checked once :meth:`~..mixed.MixedCluster.applied` says every server
applied them. Rooms: py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from ..mixed import NAMESPACES, MixedCluster, server_counts
from ..test_acks import answer_as, by_client, emit_with_ack
from ..test_queries import check_handshake, expected_sockets
from ..test_room_ops import disconnect_sockets, sockets_join, sockets_leave
from ..test_server_side import server_side_call, server_side_emit

__all__ = [
    "ORIGINS",
    "SERVERS",
    "test_disconnect_sockets",
    "test_emit_with_ack_collects_every_client",
    "test_emit_with_ack_to_empty_room_returns_no_answer",
    "test_emit_with_ack_to_room_with_binary_answers",
    "test_fetch_sockets_sees_every_socket",
    "test_fetch_sockets_with_rooms_and_except",
    "test_node_counts_a_python_node_out_when_it_closes",
    "test_python_counts_the_node_server_out_when_it_closes",
    "test_server_count_in_every_namespace",
    "test_server_side_emit_reaches_every_other_server_once",
    "test_server_side_emit_with_ack_binary_answer_from_node",
    "test_server_side_emit_with_ack_binary_answers_from_python",
    "test_server_side_emit_with_ack_collects_every_other_server",
    "test_single_socket_acknowledgement",
    "test_sockets_join",
    "test_sockets_leave",
    "wait_count",
]

ORIGINS = pytest.mark.parametrize("origin", ["py0", "node"])
SERVERS = ("py0", "py1", "node")
LEAVE_SEEN = 3.0


async def test_server_count_in_every_namespace(mixed: MixedCluster) -> None:
    assert await server_counts(mixed) == {(s, nsp): 3 for nsp in NAMESPACES for s in SERVERS}


# -- broadcasts with acknowledgements ----------------------------------------------------------


@ORIGINS
async def test_emit_with_ack_collects_every_client(mixed: MixedCluster, origin: str) -> None:
    answer_as(mixed, "ask")
    answers = await emit_with_ack(mixed, origin, "ask", "q")
    assert by_client(answers) == [
        {"client": "node", "got": "q"},
        {"client": "py0", "got": "q"},
        {"client": "py1", "got": "q"},
    ]
    await mixed.assert_received_exactly("ask", {"py0": 1, "py1": 1, "node": 1}, origin=origin)


@ORIGINS
async def test_emit_with_ack_to_room_with_binary_answers(mixed: MixedCluster, origin: str) -> None:
    """Binary in the broadcast and in its acknowledgements."""
    answer_as(mixed, "ask-bin", blob=b"\x01\x02\xff")
    answers = await emit_with_ack(mixed, origin, "ask-bin", b"\x07", to=["room2"])
    assert by_client(answers) == [
        {"client": "node", "got": b"\x07", "blob": b"\x01\x02\xff"},
        {"client": "py1", "got": b"\x07", "blob": b"\x01\x02\xff"},
    ]


@ORIGINS
async def test_emit_with_ack_to_empty_room_returns_no_answer(
    mixed: MixedCluster, origin: str
) -> None:
    assert await emit_with_ack(mixed, origin, "ask", "q", to=["nobody-here"]) == []


@pytest.mark.parametrize(
    ("how", "target"),
    [("sio.call", "node"), ("remote-socket", "node"), ("node-remote-socket", "py1")],
)
async def test_single_socket_acknowledgement(mixed: MixedCluster, how: str, target: str) -> None:
    answer_as(mixed, "one")
    sid = mixed.sid(target)
    if how == "sio.call":
        answer = await mixed.py("py0").sio.call("one", "q", to=sid, timeout=5)
    elif how == "remote-socket":
        [socket] = await mixed.mgr("py0").fetch_sockets([sid])
        answer = await socket.emit_with_ack("one", "q", timeout=5.0)
    else:
        answer = await mixed.node.command(
            "socketEmitWithAck", sid=sid, event="one", args=["q"], timeout=5000
        )
    assert answer == {"client": target, "got": "q"}


# -- fetchSockets ------------------------------------------------------------------------------


@ORIGINS
async def test_fetch_sockets_sees_every_socket(mixed: MixedCluster, origin: str) -> None:
    """Ids, rooms, data and Node's handshake shape, from sockets of both languages."""
    found = await mixed.fetch_sockets(origin)
    expected = expected_sockets(mixed)
    assert {sid: {"rooms": s["rooms"], "data": s["data"]} for sid, s in found.items()} == expected
    for name in SERVERS:
        check_handshake(found[mixed.sid(name)]["handshake"], mixed, name)


@ORIGINS
async def test_fetch_sockets_with_rooms_and_except(mixed: MixedCluster, origin: str) -> None:
    assert set(await mixed.fetch_sockets(origin, ["room1"])) == {
        mixed.sid("py0"),
        mixed.sid("node"),
    }
    assert set(await mixed.fetch_sockets(origin, ["room1", "room2"], ["room3"])) == {
        mixed.sid("py1"),
        mixed.sid("node"),
    }
    assert set(await mixed.fetch_sockets(origin, [mixed.sid("node")])) == {mixed.sid("node")}


# -- room operations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "to", "except_rooms", "joiners"),
    [
        ("py0", ["room2"], None, {"py1", "node"}),
        ("node", ["room3"], None, {"py0"}),
        ("node", None, ["room1"], {"py1"}),
        ("py1", [], ["room3"], {"py1", "node"}),
    ],
)
async def test_sockets_join(
    mixed: MixedCluster,
    origin: str,
    to: list[str] | None,
    except_rooms: list[str] | None,
    joiners: set[str],
) -> None:
    await sockets_join(mixed, origin, ["joined"], to=to, except_rooms=except_rooms)
    await mixed.applied(origin)
    assert set(await mixed.fetch_sockets(origin, ["joined"])) == {mixed.sid(n) for n in joiners}
    observer = "py1" if origin == "node" else "node"  # a server of the other language
    await mixed.emit(observer, "in-joined", to=["joined"])
    await mixed.assert_received_exactly("in-joined", dict.fromkeys(joiners, 1), origin=observer)


@ORIGINS
async def test_sockets_leave(mixed: MixedCluster, origin: str) -> None:
    """Everyone leaves room1 but py0 (room3): only py0 is left in it."""
    await sockets_leave(mixed, origin, ["room1"], except_rooms=["room3"])
    await mixed.applied(origin)
    assert set(await mixed.fetch_sockets(origin, ["room1"])) == {mixed.sid("py0")}
    observer = "py1" if origin == "node" else "node"
    await mixed.emit(observer, "in-room1", to=["room1"])
    await mixed.assert_received_exactly("in-room1", {"py0": 1}, origin=observer)


@pytest.mark.parametrize(("origin", "target"), [("py0", "node"), ("node", "py1")])
@pytest.mark.parametrize("close", [False, True])
async def test_disconnect_sockets(
    mixed: MixedCluster, origin: str, target: str, close: bool
) -> None:
    """``close`` ends the whole connection (every namespace), otherwise only ``/``."""
    await disconnect_sockets(mixed, origin, close, to=[mixed.sid(target)])
    await mixed.wait_disconnected([target])
    if close:
        await mixed.wait_disconnected([target], namespace="/custom")
    await mixed.applied(origin)
    connected = {n: c.connected_namespaces() for n, c in mixed.clients.items()}
    expected = {n: ["/", "/custom"] for n in SERVERS}
    expected[target] = [] if close else ["/custom"]
    assert connected == expected
    assert mixed.sid(target) not in await mixed.fetch_sockets(origin)


# -- server-side events ------------------------------------------------------------------------


@ORIGINS
@pytest.mark.parametrize("namespace", ["/", "/custom"])
async def test_server_side_emit_reaches_every_other_server_once(
    mixed: MixedCluster, origin: str, namespace: str
) -> None:
    args = (1, "two", {"three": [3]})
    await server_side_emit(mixed, origin, "hello", *args, namespace=namespace)
    others = [name for name in SERVERS if name != origin]
    for name in others:
        events = mixed.server_events(name)
        assert await events.wait_for("hello", namespace=namespace) == [args], name
    await mixed.barrier(origin)
    counts = {name: mixed.server_events(name).count("hello", namespace) for name in SERVERS}
    assert counts == {name: int(name != origin) for name in SERVERS}


@ORIGINS
async def test_server_side_emit_with_ack_collects_every_other_server(
    mixed: MixedCluster, origin: str
) -> None:
    answers = await server_side_call(mixed, origin, "hello-ack", "x")
    others = sorted(name for name in SERVERS if name != origin)
    assert sorted(answers, key=lambda a: a["server"]) == [
        {"server": name, "got": "x"} for name in others
    ]
    for name in others:
        assert await mixed.server_events(name).wait_for("hello-ack") == [("x",)], name
    assert mixed.server_events(origin).count("hello-ack") == 0


async def test_server_side_emit_with_ack_binary_answers_from_python(mixed: MixedCluster) -> None:
    mixed.py("py0").listen("bin-ack", {"server": "py0", "blob": b"\x01\xff"})
    mixed.py("py1").listen("bin-ack", {"server": "py1", "blob": b"\x02"})
    answers = await server_side_call(mixed, "node", "bin-ack", b"\x09")
    assert sorted(answers, key=lambda a: a["server"]) == [
        {"server": "py0", "blob": b"\x01\xff"},
        {"server": "py1", "blob": b"\x02"},
    ]


async def test_server_side_emit_with_ack_binary_answer_from_node(mixed: MixedCluster) -> None:
    answers = await server_side_call(mixed, "py1", "hello-ack", b"\x09")
    assert sorted(answers, key=lambda a: a["server"]) == [
        {"server": "node", "got": b"\x09"},
        {"server": "py0", "got": b"\x09"},
    ]


# -- a server leaves ---------------------------------------------------------------------------


async def wait_count(mixed: MixedCluster, servers: tuple[str, ...], count: int) -> None:
    """Each of ``servers`` counts ``count`` servers in every namespace within LEAVE_SEEN
    seconds: a leaving server says so (Node's postgres adapter: an ADAPTER_CLOSE; its streams
    adapter: ``PUBSUB NUMSUB`` drops with the leaver's subscriptions), heartbeats alone would
    take ``heartbeatTimeout`` (10 s)."""
    deadline = time.monotonic() + LEAVE_SEEN
    while True:
        counts = {
            (name, nsp): (
                await mixed.node.command("serverCount", nsp=nsp)
                if name == "node"
                else await mixed.mgr(name).server_count(nsp)
            )
            for name in servers
            for nsp in NAMESPACES
        }
        if all(c == count for c in counts.values()):
            return
        assert time.monotonic() < deadline, f"counts after {LEAVE_SEEN} s: {counts}"
        await asyncio.sleep(0.05)  # a count changes on no event a test can wait on


async def test_node_counts_a_python_node_out_when_it_closes(mixed: MixedCluster) -> None:
    await mixed.cluster.stop_node(1)
    await wait_count(mixed, ("node", "py0"), 2)
    assert set(await mixed.fetch_sockets("node")) == {mixed.sid("py0"), mixed.sid("node")}


async def test_python_counts_the_node_server_out_when_it_closes(mixed: MixedCluster) -> None:
    await mixed.node.stop()  # io.close()
    await wait_count(mixed, ("py0", "py1"), 2)
    assert set(await mixed.fetch_sockets("py0")) == {mixed.sid("py0"), mixed.sid("py1")}
