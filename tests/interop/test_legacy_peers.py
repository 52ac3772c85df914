"""Older peers on the wire: socket.io-redis 6.x requests and notepack 2 broadcasts.

The payloads are published raw with redis-py, as the old Node packages publish them; the Node
server of the mixed cluster (adapter 8.3) is the reference for what a current server does
with them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from .mixed import MixedCluster

pytestmark = pytest.mark.interop

CAPTURES = Path(__file__).parent.parent / "fixtures" / "node-captures.json"
RESPONSE_TIMEOUT = 5.0


@pytest.fixture
async def raw_redis(mixed: MixedCluster) -> AsyncIterator[redis.Redis]:
    assert mixed.topology.redis_url is not None
    client = redis.Redis.from_url(mixed.topology.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def responses_to(
    client: redis.Redis, key: str, request: bytes, request_id: str, count: int
) -> list[bytes]:
    """Publish ``request`` raw on the request channel of ``/``; return the first ``count``
    payloads on the shared response channel that carry ``request_id``."""
    pubsub = client.pubsub()
    await pubsub.subscribe(f"{key}-response#/#")
    try:
        await client.publish(f"{key}-request#/#", request)
        found: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESPONSE_TIMEOUT
        while len(found) < count and loop.time() < deadline:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=deadline - loop.time()
            )
            if message is None:
                continue
            data = message["data"]
            if data.startswith(b"{") and json.loads(data).get("requestId") == request_id:
                found.append(data)
        assert len(found) == count, f"{len(found)} responses to {request!r}: {found}"
        return found
    finally:
        await pubsub.aclose()


def owner(mixed: MixedCluster, sids: set[str]) -> str:
    """The name of the client whose sid is in ``sids`` (which server answered)."""
    [name] = [n for n in mixed.clients if mixed.sid(n) in sids]
    return name


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"requestId": "abc123", "type": 1}, "rooms"),  # ALL_ROOMS
        ({"requestId": "abc123", "type": 0, "rooms": ["room1"]}, "sockets"),  # SOCKETS
        ({"requestId": "abc123", "type": 5, "opts": {"rooms": [], "except": []}}, "sockets"),
    ],
    ids=["all-rooms", "sockets", "remote-fetch"],
)
async def test_json_request_without_uid_is_answered_like_node(
    mixed: MixedCluster, raw_redis: redis.Redis, request_body: dict[str, Any], field: str
) -> None:
    """socket.io-redis 6.x sends requests without ``uid``; every server answers on the shared
    response channel with ``{"requestId", <field>}`` and nothing else, in Node's JSON form."""
    raw = json.dumps(request_body, separators=(",", ":")).encode()
    payloads = await responses_to(raw_redis, mixed.key, raw, "abc123", 3)
    prefix = b'{"requestId":"abc123","' + field.encode() + b'":['
    items = []
    for payload in payloads:
        assert payload.startswith(prefix), payload  # Node's key order, no spaces
        response = json.loads(payload)
        assert set(response) == {"requestId", field}, response
        items.append(response[field])
    if request_body["type"] == 0:  # sockets in room1 (py1 has none: an empty answer)
        assert sorted(items) == sorted([[mixed.sid("py0")], [], [mixed.sid("node")]])
        return
    answers = {owner(mixed, {s["id"] if isinstance(s, dict) else s for s in i}): i for i in items}
    assert set(answers) == {"py0", "py1", "node"}
    if field == "rooms":
        for name, rooms in answers.items():
            assert set(rooms) == {mixed.sid(name), *mixed.rooms[name]}, name
    else:
        # REMOTE_FETCH: a Python node describes its socket with the keys Node uses.
        for name, sockets in answers.items():
            [socket] = sockets
            assert set(socket) == {"id", "handshake", "rooms", "data"}, name
            assert set(socket["rooms"]) == {mixed.sid(name), *mixed.rooms[name]}
        node_keys = set(answers["node"][0]["handshake"])
        assert set(answers["py0"][0]["handshake"]) == node_keys


def capture(operation_part: str) -> bytes:
    """The payload of the one legacy capture whose operation mentions ``operation_part``."""
    captures = json.loads(CAPTURES.read_text())
    [found] = [c for c in captures if c["family"] == "legacy" and operation_part in c["operation"]]
    return bytes.fromhex(found["hex"])


DATE_ISO = "2023-11-14T22:13:20.123Z"  # new Date(1700000000123), as JSON.stringify writes it

# (capture, channel suffix, event, receivers, the arguments clients must receive)
NOTEPACK2_BROADCASTS = {
    # socket.io-redis 6.1: io.emit("legacy-all", 1, "2", Buffer[1,2,3], Uint8Array[4,5],
    # new Date(1700000000123), {u: undefined, n: null}); the last argument is left to
    # test_notepack2_undefined_property_is_dropped_like_on_node.
    "legacy-all": (
        "legacy-all",
        "",
        "legacy-all",
        {"py0", "py1", "node"},
        (1, "2", b"\x01\x02\x03", b"\x04\x05", DATE_ISO),
    ),
    # notepack 2.3.0: ["abc123", {type: 2, data: ["test", undefined, Date, ArrayBuffer[1,2,3],
    # Uint8Array[4,5], Buffer[6]], nsp: "/"}, {rooms: ["room1"], ...}] on the room1 channel
    "room1-vector": (
        "classic broadcast",
        "room1#",
        "test",
        {"py0", "node"},
        (None, DATE_ISO, b"\x01\x02\x03", b"\x04\x05", b"\x06"),
    ),
}


@pytest.mark.parametrize("case", list(NOTEPACK2_BROADCASTS))
async def test_notepack2_broadcast_reaches_clients_like_on_node(
    mixed: MixedCluster, raw_redis: redis.Redis, case: str
) -> None:
    """Old ext 0 values (undefined, Date, ArrayBuffer) reach Python clients as they reach the
    clients of the Node server (the reference)."""
    operation, suffix, event, receivers, expected = NOTEPACK2_BROADCASTS[case]
    await raw_redis.publish(f"{mixed.key}#/#{suffix}", capture(operation))
    received = {name: (await mixed.clients[name].wait_for(event))[0] for name in receivers}
    node_args = received["node"][: len(expected)]
    assert node_args == expected
    for name in receivers - {"node"}:
        assert received[name][: len(expected)] == node_args, name
    await mixed.quiet("node")
    assert {name: c.count(event) for name, c in mixed.clients.items()} == {
        name: int(name in receivers) for name in mixed.clients
    }


async def test_notepack2_undefined_property_is_dropped_like_on_node(
    mixed: MixedCluster, raw_redis: redis.Redis
) -> None:
    """``{u: undefined, n: null}`` from notepack 2 (``u`` is fixext1 ``d4 00 00``): Node decodes
    ``undefined`` and JSON.stringify drops the key, so its clients get ``{"n": null}``; a
    Python node's clients must get the same."""
    await raw_redis.publish(f"{mixed.key}#/#", capture("legacy-all"))
    received = {
        name: (await client.wait_for("legacy-all"))[0][-1] for name, client in mixed.clients.items()
    }
    assert received == {"py0": {"n": None}, "py1": {"n": None}, "node": {"n": None}}
