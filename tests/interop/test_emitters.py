"""Emitters driving the mixed cluster: Node's ``@socket.io/redis-emitter`` and sioadapter's.

Each emitter publishes a list of operations in order on one connection, ending with a marker
broadcast: a server handles one publisher's messages in order, so a client that received the
marker has been given everything the emitter sent before it. The Node emitter drives the
Python nodes (and the Node server); sioadapter's ``Emitter`` and ``AsyncEmitter`` drive the
Node server (and the Python nodes). Rooms: py0 in room1+room3, py1 in room2, node in
room1+room2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from .harness_node import run_node_emitter, run_python_emitter
from .mixed import NAMESPACES, QUIET_EVENT, MixedCluster

pytestmark = pytest.mark.interop

EMITTERS = pytest.mark.parametrize("emitter", ["node", "python", "python-async"])
SERVERS = ("py0", "py1", "node")


async def publish(
    mixed: MixedCluster, emitter: str, ops: Sequence[Mapping[str, Any]], marker: bool = True
) -> str:
    """Publish ``ops`` with ``emitter``, then (``marker``) a marker to every namespace; return
    the marker's token."""
    token = mixed.new_marker(f"{emitter}-emitter")
    all_ops = list(ops)
    if marker:
        all_ops += [
            {"op": "emit", "nsp": nsp, "event": QUIET_EVENT, "args": [token]} for nsp in NAMESPACES
        ]
    url = mixed.topology.redis_url
    assert url is not None
    if emitter == "node":
        await run_node_emitter(mixed.node_executable, url, mixed.key, all_ops)
    else:
        await run_python_emitter(url, mixed.key, all_ops, use_async=emitter == "python-async")
    return token


def counts(mixed: MixedCluster, event: str, namespace: str = "/") -> dict[str, int]:
    return {name: c.count(event, namespace) for name, c in mixed.clients.items()}


@EMITTERS
async def test_emitter_broadcasts(mixed: MixedCluster, emitter: str) -> None:
    node_sid, py1_sid = mixed.sid("node"), mixed.sid("py1")
    cases: list[tuple[dict[str, Any], dict[str, int]]] = [
        ({"event": "e-all", "args": [1, "2", {"three": [3]}]}, {"py0": 1, "py1": 1, "node": 1}),
        ({"event": "e-room1", "to": ["room1"]}, {"py0": 1, "py1": 0, "node": 1}),
        ({"event": "e-room3", "to": ["room3"]}, {"py0": 1, "py1": 0, "node": 0}),
        ({"event": "e-except", "except": ["room1"]}, {"py0": 0, "py1": 1, "node": 0}),
        ({"event": "e-multi", "to": ["room1", "room2"]}, {"py0": 1, "py1": 1, "node": 1}),
        (
            {"event": "e-mixed", "to": ["room2"], "except": ["room1"]},
            {"py0": 0, "py1": 1, "node": 0},
        ),
        ({"event": "e-sid-node", "to": [node_sid]}, {"py0": 0, "py1": 0, "node": 1}),
        ({"event": "e-sid-py1", "to": [py1_sid]}, {"py0": 0, "py1": 1, "node": 0}),
    ]
    await mixed.wait_marker(
        await publish(mixed, emitter, [{"op": "emit", **op} for op, _ in cases])
    )
    for op, expected in cases:
        assert counts(mixed, op["event"]) == expected, op
    assert mixed.clients["node"].received("e-all") == [(1, "2", {"three": [3]})]
    assert mixed.clients["py0"].received("e-all") == [(1, "2", {"three": [3]})]


@EMITTERS
async def test_emitter_binary_and_second_namespace(mixed: MixedCluster, emitter: str) -> None:
    args = [b"\x00\xff", {"nested": b"\x01"}]
    ops: list[dict[str, Any]] = [
        {"op": "emit", "event": "e-bin", "args": args},
        {"op": "emit", "nsp": "/custom", "event": "e-custom", "to": ["room2"], "args": ["c"]},
    ]
    await mixed.wait_marker(await publish(mixed, emitter, ops))
    for name, client in mixed.clients.items():
        assert client.received("e-bin") == [tuple(args)], name
    assert counts(mixed, "e-custom", "/custom") == {"py0": 0, "py1": 1, "node": 1}
    assert counts(mixed, "e-custom") == {"py0": 0, "py1": 0, "node": 0}


@EMITTERS
async def test_emitter_sockets_join_then_emit_to_the_room(
    mixed: MixedCluster, emitter: str
) -> None:
    """The join is applied before the broadcast that follows it on the same connection."""
    ops: list[dict[str, Any]] = [
        {"op": "socketsJoin", "to": ["room2"], "rooms": ["joined"]},
        {"op": "socketsJoin", "except": ["room2"], "rooms": ["joined-too"]},
        {"op": "emit", "event": "e-joined", "to": ["joined"]},
        {"op": "emit", "event": "e-joined-too", "to": ["joined-too"]},
    ]
    await mixed.wait_marker(await publish(mixed, emitter, ops))
    assert counts(mixed, "e-joined") == {"py0": 0, "py1": 1, "node": 1}
    assert counts(mixed, "e-joined-too") == {"py0": 1, "py1": 0, "node": 0}
    found = await mixed.fetch_sockets("node", ["joined"])
    assert set(found) == {mixed.sid("py1"), mixed.sid("node")}


@EMITTERS
async def test_emitter_sockets_leave_then_emit_to_the_room(
    mixed: MixedCluster, emitter: str
) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "socketsLeave", "except": ["room3"], "rooms": ["room1"]},  # node leaves room1
        {"op": "socketsLeave", "to": [mixed.sid("py1")], "rooms": ["room2"]},  # py1 leaves room2
        {"op": "emit", "event": "e-room1", "to": ["room1"]},
        {"op": "emit", "event": "e-room2", "to": ["room2"]},
    ]
    await mixed.wait_marker(await publish(mixed, emitter, ops))
    assert counts(mixed, "e-room1") == {"py0": 1, "py1": 0, "node": 0}
    assert counts(mixed, "e-room2") == {"py0": 0, "py1": 0, "node": 1}


@EMITTERS
async def test_emitter_disconnect_sockets(mixed: MixedCluster, emitter: str) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "disconnectSockets", "to": ["room3"], "close": True},  # py0: whole connection
        {"op": "disconnectSockets", "to": [mixed.sid("node")]},  # node: "/" only
    ]
    token = await publish(mixed, emitter, ops)
    await mixed.wait_disconnected(["py0", "node"])
    await mixed.wait_disconnected(["py0"], namespace="/custom")
    await mixed.wait_marker(token)
    assert {n: c.connected_namespaces() for n, c in mixed.clients.items()} == {
        "py0": [],
        "py1": ["/", "/custom"],
        "node": ["/custom"],
    }


@EMITTERS
async def test_emitter_server_side_emit(mixed: MixedCluster, emitter: str) -> None:
    """Every server (the emitter is none of them) gets it once, Python in ``mgr.on``."""
    ops: list[dict[str, Any]] = [
        {"op": "serverSideEmit", "event": "hello", "args": ["first", 1, {"x": [2]}]},
        {"op": "serverSideEmit", "event": "hello", "args": ["last"]},
    ]
    await publish(mixed, emitter, ops, marker=False)
    for name in SERVERS:
        received = await mixed.server_events(name).wait_for("hello", 2)
        assert received == [("first", 1, {"x": [2]}), ("last",)], name
