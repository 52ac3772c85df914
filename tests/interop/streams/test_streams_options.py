"""The streams options across the language boundary, and the ordering the stream gives.

* ``stream_count`` / ``streamCount`` 2: each namespace is routed to ``<name>-<i>`` with
  ``i = hashCode(nsp) % 2`` (Node's Java-style string hash): ``/`` (47) to ``-1``, ``/custom``
  (1708878944) to ``-0``. Both sides must pick the same stream, or each reads what the other
  never writes.
* ``only_plaintext`` / ``onlyPlaintext``: entries' ``data`` is always JSON.
* One origin's room operation and its next broadcast are entries of one stream, in that order:
  a broadcast to a room just joined reaches the joiners with no barrier between them.

Rooms: py0 in room1+room3, py1 in room2, node in room1+room2.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio

from ..mixed import NAMESPACES, MixedCluster
from ..test_room_ops import sockets_join, sockets_leave
from .streams_peers import run_streams_emitter

ORIGINS = pytest.mark.parametrize("origin", ["py0", "node"])
TWO_STREAMS = pytest.mark.parametrize("topology", [{"stream_count": 2}], indirect=True)
PLAINTEXT = pytest.mark.parametrize("topology", [{"only_plaintext": True}], indirect=True)
ALL = {"py0": 1, "py1": 1, "node": 1}
STREAM_OF = {"/": 1, "/custom": 0}
"""The stream index of each namespace with stream_count 2."""


async def stream_entries(mixed: MixedCluster, stream: str) -> list[dict[bytes, bytes]]:
    client = redis.asyncio.Redis.from_url(mixed.topology.redis_url or "")
    try:
        return [fields for _, fields in await client.xrange(stream)]
    finally:
        await client.aclose()


@TWO_STREAMS
@ORIGINS
async def test_two_streams_carry_one_namespace_each(mixed: MixedCluster, origin: str) -> None:
    for nsp in NAMESPACES:
        await mixed.emit(origin, "per-nsp", nsp, namespace=nsp)
        await mixed.emit(origin, "per-nsp-room", nsp, to=["room2"], namespace=nsp)
    for nsp in NAMESPACES:
        await mixed.assert_received_exactly("per-nsp", ALL, origin=origin, namespace=nsp)
        await mixed.assert_received_exactly(
            "per-nsp-room", {"py1": 1, "node": 1}, origin=origin, namespace=nsp
        )
    name = mixed.topology.python_options["stream_name"]
    for nsp, index in STREAM_OF.items():
        entries = await stream_entries(mixed, f"{name}-{index}")
        assert entries, f"{name}-{index} is empty"
        assert {e[b"nsp"].decode() for e in entries} == {nsp}, index
    assert await stream_entries(mixed, name) == []


@TWO_STREAMS
@pytest.mark.parametrize("origin", ["py1", "node"])
async def test_two_streams_room_operations_in_second_namespace(
    mixed: MixedCluster, origin: str
) -> None:
    """socketsJoin in ``/custom`` (stream -0) applies there, not in ``/`` (stream -1)."""
    if origin == "node":
        await mixed.node.command("socketsJoin", nsp="/custom", rooms=["joined"], to=["room1"])
    else:
        await mixed.mgr(origin).sockets_join(["joined"], to=["room1"], namespace="/custom")
    await mixed.applied(origin)
    for nsp in NAMESPACES:
        await mixed.emit(origin, "in-joined", nsp, to=["joined"], namespace=nsp)
    await mixed.assert_received_exactly(
        "in-joined", {"py0": 1, "node": 1}, origin=origin, namespace="/custom"
    )
    await mixed.assert_received_exactly("in-joined", {}, origin=origin, namespace="/")


@TWO_STREAMS
@pytest.mark.parametrize("emitter", ["python", "python-async"])
async def test_two_streams_emitter_reaches_both_namespaces(
    mixed: MixedCluster, emitter: str
) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "emit", "nsp": nsp, "event": "from-emitter", "args": [nsp], "to": ["room1"]}
        for nsp in NAMESPACES
    ]
    options = {k: v for k, v in mixed.topology.python_options.items() if k != "protocol"}
    url = mixed.topology.redis_url or ""
    await run_streams_emitter(url, mixed.key, ops, use_async=emitter == "python-async", **options)
    for nsp in NAMESPACES:
        await mixed.assert_received_exactly(
            "from-emitter", {"py0": 1, "node": 1}, origin="py1", namespace=nsp
        )
        assert mixed.clients["node"].received("from-emitter", nsp) == [(nsp,)]


@PLAINTEXT
@ORIGINS
async def test_only_plaintext_entries_are_json(mixed: MixedCluster, origin: str) -> None:
    args = ("plain", {"n": [1, 2]})
    await mixed.emit(origin, "plain", *args, to=["room1", "room2"])
    await mixed.assert_received_exactly("plain", ALL, origin=origin)
    for client in mixed.clients.values():
        assert client.received("plain") == [args], client.name
    entries = await stream_entries(mixed, mixed.topology.python_options["stream_name"])
    broadcasts = [e for e in entries if e[b"type"] == b"3"]
    assert broadcasts
    for entry in broadcasts:
        assert isinstance(json.loads(entry[b"data"]), dict)


@ORIGINS
async def test_join_then_broadcast_needs_no_barrier(mixed: MixedCluster, origin: str) -> None:
    """socketsJoin, then at once a broadcast to the new room: the stream keeps them in order
    at every server."""
    await sockets_join(mixed, origin, ["fresh"], to=["room2"])  # py1 and node
    await mixed.emit(origin, "to-fresh", to=["fresh"])
    await mixed.assert_received_exactly("to-fresh", {"py1": 1, "node": 1}, origin=origin)


@ORIGINS
async def test_leave_then_broadcast_needs_no_barrier(mixed: MixedCluster, origin: str) -> None:
    await sockets_leave(mixed, origin, ["room1"], to=["room3"])  # py0 leaves room1
    await mixed.emit(origin, "to-room1", to=["room1"])
    await mixed.assert_received_exactly("to-room1", {"node": 1}, origin=origin)
