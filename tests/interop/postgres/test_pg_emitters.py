"""Emitters driving a mixed cluster on PostgreSQL: ``@socket.io/postgres-emitter`` 0.1.1 and
sioadapter's ``Emitter`` / ``AsyncEmitter``.

The Node emitter's messages have no top-level ``nsp`` (only the packet inside has one).
Node servers on ``@socket.io/postgres-adapter`` 0.5 dispatch on that field and drop them all;
sioadapter's nodes take the namespace from the channel (``key#nsp``) and deliver them. The
tests assert exactly that, so a fix upstream shows here. sioadapter's emitters send ``nsp``:
every server, Node included, hears them.

Each emitter publishes its operations in order, then a marker broadcast in every namespace
(:func:`publish`). Rooms: py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from ..harness_node import run_python_emitter
from ..mixed import NAMESPACES, QUIET_EVENT, MixedCluster
from .pg_peers import POSTGRES_URL, run_node_pg_emitter

PYTHON_EMITTERS = pytest.mark.parametrize("emitter", ["python", "python-async"])
SERVERS = ("py0", "py1", "node")
BIG = "b" * 9_000


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
    if emitter == "node":
        await run_node_pg_emitter(mixed.node_executable, mixed.key, all_ops)
    else:
        await run_python_emitter(
            POSTGRES_URL, mixed.key, all_ops, use_async=emitter == "python-async"
        )
    return token


async def python_clients_got_marker(mixed: MixedCluster, token: str) -> None:
    """The Python nodes' clients received the Node emitter's marker in every namespace; the
    Node server has handled (and dropped) every message published before it."""
    for name in ("py0", "py1"):
        client = mixed.clients[name]
        for nsp in NAMESPACES:
            await client.log.wait_until(
                lambda c=client, ns=nsp: (token,) in c.received(QUIET_EVENT, ns),
                what=f"{name}: the Node emitter's marker in {nsp}",
            )
    # Plain notifications reach Node in commit order: a marker from py0 now comes after all of
    # the emitter's. An attachment is handled once Node's SELECT of it returned; Node's own
    # fetchSockets publishes through the same (single) query connection, after those SELECTs.
    await mixed.quiet("py0")
    await mixed.barrier("node")


def counts(mixed: MixedCluster, event: str, namespace: str = "/") -> dict[str, int]:
    return {name: c.count(event, namespace) for name, c in mixed.clients.items()}


async def wait_counts(
    mixed: MixedCluster, cases: Sequence[tuple[Mapping[str, Any], Mapping[str, int]]]
) -> None:
    """Wait until each client received each case's event as often as expected."""
    for op, expected in cases:
        for name, count in expected.items():
            if count:
                await mixed.clients[name].wait_for(op["event"], count)


BROADCAST_CASES: list[tuple[dict[str, Any], dict[str, int]]] = [
    ({"event": "e-all", "args": [1, "2", {"three": [3]}]}, {"py0": 1, "py1": 1, "node": 1}),
    ({"event": "e-room1", "to": ["room1"]}, {"py0": 1, "py1": 0, "node": 1}),
    ({"event": "e-room3", "to": ["room3"]}, {"py0": 1, "py1": 0, "node": 0}),
    ({"event": "e-except", "except": ["room1"]}, {"py0": 0, "py1": 1, "node": 0}),
    ({"event": "e-multi", "to": ["room1", "room2"]}, {"py0": 1, "py1": 1, "node": 1}),
    ({"event": "e-mixed", "to": ["room2"], "except": ["room1"]}, {"py0": 0, "py1": 1, "node": 0}),
    (
        {"event": "e-bin", "args": [b"\x00\xff", {"nested": b"\x01"}]},
        {"py0": 1, "py1": 1, "node": 1},
    ),
    ({"event": "e-big", "args": [BIG], "to": ["room2"]}, {"py0": 0, "py1": 1, "node": 1}),
]


# -- @socket.io/postgres-emitter ---------------------------------------------------------------


async def test_node_emitter_is_delivered_by_python_nodes_only(mixed: MixedCluster) -> None:
    """Plain, binary (table) and large (table) broadcasts: Python delivers each as routed,
    Node 0.5 none (no top-level nsp)."""
    ops = [{"op": "emit", **op} for op, _ in BROADCAST_CASES]
    ops.append({"op": "emit", "event": "e-sid", "to": [mixed.sid("py1")]})
    ops.append(
        {"op": "emit", "nsp": "/custom", "event": "e-custom", "to": ["room1"], "args": ["c"]}
    )
    token = await publish(mixed, "node", ops)
    await python_clients_got_marker(mixed, token)
    for op, expected in BROADCAST_CASES:
        assert counts(mixed, op["event"]) == {**expected, "node": 0}, op
    assert counts(mixed, "e-sid") == {"py0": 0, "py1": 1, "node": 0}
    assert counts(mixed, "e-custom", "/custom") == {"py0": 1, "py1": 0, "node": 0}
    assert mixed.clients["py0"].received("e-bin") == [(b"\x00\xff", {"nested": b"\x01"})]
    assert mixed.clients["py1"].received("e-big") == [(BIG,)]
    for nsp in NAMESPACES:  # nor the emitter's marker (it got py0's, from quiet())
        assert (token,) not in mixed.clients["node"].received(QUIET_EVENT, nsp), nsp


async def test_node_emitter_server_side_emit_reaches_python_servers_only(
    mixed: MixedCluster,
) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "serverSideEmit", "event": "hello", "args": ["first", 1, {"x": [2]}]},
        {"op": "serverSideEmit", "event": "hello", "args": ["bin", b"\x05"]},
    ]
    token = await publish(mixed, "node", ops)
    for name in ("py0", "py1"):
        received = await mixed.server_events(name).wait_for("hello", 2)
        assert received == [("first", 1, {"x": [2]}), ("bin", b"\x05")], name
    await python_clients_got_marker(mixed, token)
    assert mixed.server_events("node").count("hello") == 0


async def test_node_emitter_room_operations_apply_on_python_nodes_only(
    mixed: MixedCluster,
) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "socketsJoin", "to": ["room2"], "rooms": ["joined"]},  # py1 (and node: ignored)
        {"op": "socketsLeave", "to": ["room3"], "rooms": ["room1"]},  # py0 leaves room1
        {"op": "emit", "event": "e-joined", "to": ["joined"]},
        {"op": "emit", "event": "e-room1", "to": ["room1"]},
        {"op": "disconnectSockets", "to": [mixed.sid("node")], "close": True},  # ignored
    ]
    token = await publish(mixed, "node", ops)
    await python_clients_got_marker(mixed, token)
    assert counts(mixed, "e-joined") == {"py0": 0, "py1": 1, "node": 0}
    assert counts(mixed, "e-room1") == {"py0": 0, "py1": 0, "node": 0}
    assert set(await mixed.fetch_sockets("node", ["joined"])) == {mixed.sid("py1")}
    assert set(await mixed.fetch_sockets("py0", ["room1"])) == {mixed.sid("node")}
    assert mixed.clients["node"].connected_namespaces() == ["/", "/custom"]


async def test_node_emitter_disconnect_sockets_on_a_python_node(mixed: MixedCluster) -> None:
    """py0 (room3) leaves "/" (no close: its "/custom" stays)."""
    token = await publish(mixed, "node", [{"op": "disconnectSockets", "to": ["room3"]}])
    await mixed.wait_disconnected(["py0"])
    for name, nsp in (("py0", "/custom"), ("py1", "/"), ("py1", "/custom")):
        client = mixed.clients[name]
        await client.log.wait_until(
            lambda c=client, ns=nsp: (token,) in c.received(QUIET_EVENT, ns),
            what=f"{name}: the Node emitter's marker in {nsp}",
        )
    assert {n: c.connected_namespaces() for n, c in mixed.clients.items()} == {
        "py0": ["/custom"],
        "py1": ["/", "/custom"],
        "node": ["/", "/custom"],
    }


# -- sioadapter's emitters ---------------------------------------------------------------------


@PYTHON_EMITTERS
async def test_python_emitter_broadcasts_reach_every_server(
    mixed: MixedCluster, emitter: str
) -> None:
    ops = [{"op": "emit", **op} for op, _ in BROADCAST_CASES]
    ops.append({"op": "emit", "event": "e-sid", "to": [mixed.sid("node")]})
    ops.append(
        {"op": "emit", "nsp": "/custom", "event": "e-custom", "to": ["room2"], "args": ["c"]}
    )
    await mixed.wait_marker(await publish(mixed, emitter, ops))
    # Node's adapter reads an attachment's row asynchronously, so at a Node server the plain
    # marker can overtake the binary and large broadcasts before it: wait for those too.
    await wait_counts(mixed, BROADCAST_CASES)
    for op, expected in BROADCAST_CASES:
        assert counts(mixed, op["event"]) == expected, op
    assert counts(mixed, "e-sid") == {"py0": 0, "py1": 0, "node": 1}
    assert counts(mixed, "e-custom", "/custom") == {"py0": 0, "py1": 1, "node": 1}
    for name in SERVERS:
        assert mixed.clients[name].received("e-bin") == [(b"\x00\xff", {"nested": b"\x01"})]
    assert mixed.clients["node"].received("e-big") == [(BIG,)]


@PYTHON_EMITTERS
async def test_python_emitter_server_side_emit_reaches_every_server(
    mixed: MixedCluster, emitter: str
) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "serverSideEmit", "event": "hello", "args": ["first", 1, {"x": [2]}]},
        {"op": "serverSideEmit", "event": "hello", "args": ["bin", b"\x05"]},
    ]
    await publish(mixed, emitter, ops, marker=False)
    for name in SERVERS:
        received = await mixed.server_events(name).wait_for("hello", 2)
        assert received == [("first", 1, {"x": [2]}), ("bin", b"\x05")], name


@PYTHON_EMITTERS
async def test_python_emitter_room_operations_apply_everywhere(
    mixed: MixedCluster, emitter: str
) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "socketsJoin", "to": ["room2"], "rooms": ["joined"]},  # py1 and node
        {"op": "socketsLeave", "except": ["room3"], "rooms": ["room1"]},  # node leaves room1
        {"op": "emit", "event": "e-joined", "to": ["joined"]},
        {"op": "emit", "event": "e-room1", "to": ["room1"]},
    ]
    await mixed.wait_marker(await publish(mixed, emitter, ops))
    assert counts(mixed, "e-joined") == {"py0": 0, "py1": 1, "node": 1}
    assert counts(mixed, "e-room1") == {"py0": 1, "py1": 0, "node": 0}
    assert set(await mixed.fetch_sockets("node", ["joined"])) == {
        mixed.sid("py1"),
        mixed.sid("node"),
    }


@PYTHON_EMITTERS
async def test_python_emitter_disconnect_sockets(mixed: MixedCluster, emitter: str) -> None:
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
