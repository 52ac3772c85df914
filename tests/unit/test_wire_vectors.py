"""Every payload captured from real Node servers and emitters decodes into the right cluster
message, and encodes back to the very same channel and bytes.

The fixture (tests/fixtures/node-captures.json) holds 239 payloads published by socket.io 4.8 with
@socket.io/redis-adapter 8.3 (classic and sharded), @socket.io/redis-emitter 5.1 and
socket.io-redis 6.1.1; see ../shared/vectors/README.md for how they were captured.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sioadapter.core import messages as m
from sioadapter.wire.base import Family, Role
from sioadapter.wire.classic import ClassicFamily
from sioadapter.wire.cluster import ClusterFamily

VECTORS = json.loads((Path(__file__).parent.parent / "fixtures" / "node-captures.json").read_text())
WIRE = [v for v in VECTORS if v["kind"] != "encode-only"]

# The message class each capture's role must decode to (the role is in the operation text).
ROLES: list[tuple[str, type]] = [
    (r"broadcast \[uid, packet, opts\]", m.Broadcast),
    (r"request BROADCAST \(type 7\)|BROADCAST \(type 3\)", m.Broadcast),
    (r"BROADCAST_CLIENT_COUNT", m.BroadcastClientCount),
    (r"BROADCAST_ACK", m.BroadcastAck),
    (r"request REMOTE_FETCH|FETCH_SOCKETS \(type 7\)", m.FetchSockets),
    (r"FETCH_SOCKETS_RESPONSE", m.FetchSocketsResponse),
    (r"response \(no type field\)", m.RequestReply),
    (r"request ALL_ROOMS", m.AllRooms),
    (r"request SOCKETS \(type 0\)", m.SocketIds),
    (r"response SERVER_SIDE_EMIT|SERVER_SIDE_EMIT_RESPONSE", m.ServerSideEmitResponse),
    (r"request SERVER_SIDE_EMIT|SERVER_SIDE_EMIT \(type 9\)", m.ServerSideEmit),
    (r"REMOTE_JOIN \(type 2\) opts form|SOCKETS_JOIN", m.SocketsJoin),
    (r"REMOTE_LEAVE \(type 3\) opts form|SOCKETS_LEAVE", m.SocketsLeave),
    (r"REMOTE_DISCONNECT \(type 4\) opts form|DISCONNECT_SOCKETS", m.DisconnectSockets),
    (r"REMOTE_JOIN \(type 2\) legacy", m.RemoteJoin),
    (r"REMOTE_LEAVE \(type 3\) legacy", m.RemoteLeave),
    (r"REMOTE_DISCONNECT \(type 4\) legacy", m.RemoteDisconnect),
]


def expected_class(vector: dict[str, Any]) -> type:
    role = vector["operation"].split("->")[-1]
    for pattern, cls in ROLES:
        if re.search(pattern, role):
            return cls
    raise AssertionError(f"no role for {role!r}")


def family_for(vector: dict[str, Any], own_uid: str = "") -> Family:
    scenario = vector["scenario"]
    if vector["family"] == "sharded":
        mode = scenario.removeprefix("sharded-")
        return ClusterFamily("socket.io", own_uid, subscription_mode=mode)
    specific = scenario == "classic-specific"
    return ClassicFamily("socket.io", own_uid, publish_on_specific_response_channel=specific)


def receiving_family(vector: dict[str, Any]) -> Family:
    """The family of the node that receives the capture: for a response on a node's own
    channel, that node (its uid is the channel's last segment)."""
    channel = vector["channel"]
    if vector["family"] == "sharded":
        parts = channel.split("#")
        if len(parts) == 4 and re.fullmatch(r"[0-9a-f]{16}", parts[2]):
            return family_for(vector, parts[2])
    return family_for(vector)


def plain(value: Any, iso: bool) -> Any:
    """The fixture's JSON notation ({"$bin"}, {"$date"}, {"$undefined"}, and JSON Buffers) as
    Python values, the way sioadapter hands them to application code (dates as ISO strings
    when ``iso``)."""
    if isinstance(value, list):
        return [plain(item, iso) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        if set(value) == {"$date"}:
            when = datetime.fromtimestamp(value["$date"] / 1000, tz=timezone.utc)
            if iso:
                return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
            return when
        if set(value) == {"$undefined"}:
            return None
        if set(value) == {"type", "data"} and value["type"] == "Buffer":
            return bytes(value["data"])  # Node's JSON form of a Buffer: bytes for Python code
        # A key holding undefined is absent, as a Node server's clients see it.
        return {key: plain(item, iso) for key, item in value.items()
                if not (isinstance(item, dict) and set(item) == {"$undefined"})}  # fmt: skip
    return value


def ids(vector: dict[str, Any]) -> str:
    return f"{VECTORS.index(vector)}-{vector['scenario']}"


@pytest.mark.parametrize("vector", WIRE, ids=ids)
def test_capture_decodes_into_the_right_message(vector):
    family = receiving_family(vector)
    info = family.parse_channel(vector["channel"])
    assert info is not None, "the channel is one of the family's"
    message = family.decode(info, bytes.fromhex(vector["hex"]))
    assert type(message) is expected_class(vector)
    check_fields(message, vector)


def check_fields(message: m.ClusterMessage, vector: dict[str, Any]) -> None:
    """The decoded message holds what the capture's decoded form says, field by field."""
    decoded = vector["decoded"]
    sharded = vector["family"] == "sharded"
    if isinstance(decoded, list):  # classic broadcast [uid, packet, opts]
        uid, packet, opts = decoded
        fields = {"uid": uid, "packet": packet, "opts": opts}
    elif sharded:
        fields = {**decoded.get("data", {}), "uid": decoded["uid"], "nsp": decoded["nsp"]}
    else:
        fields = decoded
    assert message.nsp == (
        fields.get("nsp") or fields.get("packet", {}).get("nsp") or vector["channel"].split("#")[1]
    )
    if "uid" in fields and not isinstance(message, m.RequestReply):
        assert message.uid == fields["uid"]
    if "requestId" in fields:
        assert message.request_id == fields["requestId"]
    if isinstance(message, m.Broadcast):
        # Dates in events reach clients as Node would send them: ISO strings.
        assert message.data == plain(fields["packet"]["data"], iso=True)
        assert message.target.rooms == fields["opts"]["rooms"]
        assert message.target.except_rooms == fields["opts"]["except"]
        assert message.target.flags == fields["opts"]["flags"]
    elif isinstance(message, (m.SocketsJoin, m.SocketsLeave, m.DisconnectSockets, m.FetchSockets)):
        assert message.target.rooms == fields["opts"]["rooms"]
        assert message.target.except_rooms == fields["opts"]["except"]
        if isinstance(message, (m.SocketsJoin, m.SocketsLeave)):
            assert message.rooms == fields["rooms"]
        if isinstance(message, m.DisconnectSockets):
            assert message.close == fields["close"]
    elif isinstance(message, m.ServerSideEmit):
        assert message.data == plain(fields.get("data") or fields.get("packet"), iso=False)
    elif isinstance(message, m.ServerSideEmitResponse):
        assert message.data == fields.get("data", fields.get("packet"))
    elif isinstance(message, m.BroadcastClientCount):
        assert message.client_count == fields["clientCount"]
    elif isinstance(message, m.BroadcastAck):
        assert message.arguments() == [plain(fields["packet"], iso=False)]
    elif isinstance(message, m.FetchSocketsResponse):
        assert [s["id"] for s in message.sockets] == [s["id"] for s in fields["sockets"]]
        assert message.sockets == plain(fields["sockets"], iso=False)
    elif isinstance(message, m.RequestReply):
        assert message.rooms == fields.get("rooms")
        if "sockets" in fields:
            assert [s if isinstance(s, str) else s["id"] for s in message.sockets] == [
                s if isinstance(s, str) else s["id"] for s in fields["sockets"]
            ]
    elif isinstance(message, (m.RemoteJoin, m.RemoteLeave, m.RemoteDisconnect)):
        assert message.sid == fields["sid"]


@pytest.mark.parametrize("vector", WIRE, ids=ids)
def test_capture_reencodes_to_the_same_channel_and_bytes(vector):
    family = receiving_family(vector)
    info = family.parse_channel(vector["channel"])
    message = family.decode(info, bytes.fromhex(vector["hex"]), preserve=True)
    if isinstance(family, ClusterFamily) and info.role is Role.RESPONSE:
        assert message.requester == family.uid
    # The publisher's family encodes: give it the publisher's view of the requester.
    channel, payload = family_for(vector, family.uid).encode(message)
    assert channel == vector["channel"]
    assert payload.hex() == vector["hex"]


def test_every_capture_is_covered():
    assert len(VECTORS) == 239
    assert len(WIRE) == 222


def test_default_decoding_turns_node_buffers_in_json_into_bytes():
    # socket.io-redis-adapter's classic serverSideEmit JSON-encodes a Buffer (capture 35).
    (vector,) = [
        v
        for v in WIRE
        if '"type":"Buffer"' in bytes.fromhex(v["hex"]).decode("latin-1")
        and "SERVER_SIDE_EMIT" in v["operation"]
    ]
    family = family_for(vector)
    message = family.decode(family.parse_channel(vector["channel"]), bytes.fromhex(vector["hex"]))
    assert message.data == ["hello", b"\x07\x07"]


def test_legacy_broadcast_values_become_plain_python():
    legacy_all = b"legacy-all".hex()
    (vector,) = [v for v in WIRE if v["family"] == "legacy" and legacy_all in v["hex"]]
    family = family_for(vector)
    message = family.decode(family.parse_channel(vector["channel"]), bytes.fromhex(vector["hex"]))
    assert message.data == [
        "legacy-all",
        1,
        "2",
        b"\x01\x02\x03",
        b"\x04\x05",
        "2023-11-14T22:13:20.123Z",
        {"n": None},  # {u: undefined, n: null}: the undefined key is gone, as in Node
    ]
