"""sioadapter's streams emitters driving a mixed cluster: ``Emitter`` / ``AsyncEmitter`` with
``protocol="streams"``, the test's key and its stream.

Broadcasts and room operations are stream entries of uid ``emitter``, read by every server in
order: after an emitter's operations, a marker broadcast in every namespace (:func:`publish`)
says each server applied them. serverSideEmit goes over pub/sub: tests wait on each server's
record of it. Rooms: py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from ..mixed import NAMESPACES, QUIET_EVENT, MixedCluster
from .streams_peers import run_streams_emitter

PYTHON_EMITTERS = pytest.mark.parametrize("emitter", ["python", "python-async"])
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
    options = {k: v for k, v in mixed.topology.python_options.items() if k != "protocol"}
    await run_streams_emitter(
        url, mixed.key, all_ops, use_async=emitter == "python-async", **options
    )
    return token


def counts(mixed: MixedCluster, event: str, namespace: str = "/") -> dict[str, int]:
    return {name: c.count(event, namespace) for name, c in mixed.clients.items()}


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
]


@PYTHON_EMITTERS
async def test_emitter_broadcasts_reach_every_server(mixed: MixedCluster, emitter: str) -> None:
    ops = [{"op": "emit", **op} for op, _ in BROADCAST_CASES]
    ops.append({"op": "emit", "event": "e-sid", "to": [mixed.sid("node")]})
    ops.append(
        {"op": "emit", "nsp": "/custom", "event": "e-custom", "to": ["room2"], "args": ["c"]}
    )
    await mixed.wait_marker(await publish(mixed, emitter, ops))
    for op, expected in BROADCAST_CASES:
        assert counts(mixed, op["event"]) == expected, op
    assert counts(mixed, "e-sid") == {"py0": 0, "py1": 0, "node": 1}
    assert counts(mixed, "e-custom", "/custom") == {"py0": 0, "py1": 1, "node": 1}
    assert mixed.clients["node"].received("e-all") == [(1, "2", {"three": [3]})]
    for name in SERVERS:
        assert mixed.clients[name].received("e-bin") == [(b"\x00\xff", {"nested": b"\x01"})]


@PYTHON_EMITTERS
async def test_emitter_server_side_emit_reaches_every_server(
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
async def test_emitter_room_operations_apply_everywhere(mixed: MixedCluster, emitter: str) -> None:
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
