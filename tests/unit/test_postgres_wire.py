"""The PostgreSQL adapter dialect against what Node's @socket.io/postgres-adapter 0.5.0 and
@socket.io/postgres-emitter 0.1.1 put on the wire.

The fixture (tests/fixtures/postgres-node-captures.json) copies ../shared/POSTGRES_NODE_CAPTURES.md:
every NOTIFY payload captured, the attachment headers, and the table rows (byte for byte where
the notes give them; rebuilt from their decoded form, and checked against the captured size,
where they do not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgpack
import pytest

from sioadapter.core import messages as m
from sioadapter.errors import DecodeError
from sioadapter.wire import notepack
from sioadapter.wire.base import Role
from sioadapter.wire.postgres import MAX_CHANNEL_BYTES, PostgresFamily

FIXTURE = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "postgres-node-captures.json").read_text()
)
KEY = FIXTURE["key"]
CAPTURES = FIXTURE["captures"]
NOTIFY = [c for c in CAPTURES if c["kind"] == "notify"]
ROWS = [c for c in CAPTURES if c["kind"] == "attachment-row"]
HEADERS = [c for c in CAPTURES if c["kind"] == "attachment-header"]

CLASSES = {
    1: m.Heartbeat,
    2: m.Heartbeat,
    3: m.Broadcast,
    4: m.SocketsJoin,
    5: m.SocketsLeave,
    6: m.DisconnectSockets,
    7: m.FetchSockets,
    8: m.FetchSocketsResponse,
    9: m.ServerSideEmit,
    10: m.ServerSideEmitResponse,
    11: m.BroadcastClientCount,
    12: m.BroadcastAck,
    13: m.AdapterClose,
}


def plain(value: Any) -> Any:
    """The fixture's ``{"$bin": hex}`` notation as bytes."""
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {key: plain(item) for key, item in value.items()}
    return value


def family_for(capture: dict[str, Any], uid: str = "") -> PostgresFamily:
    return PostgresFamily(capture["channel"].partition("#")[0], uid)


def ids(capture: dict[str, Any]) -> str:
    return f"{CAPTURES.index(capture)}-{capture['name']}"


def check_fields(message: m.ClusterMessage, fields: dict[str, Any], channel: str) -> None:
    assert type(message) is CLASSES[fields["type"]]
    assert message.uid == fields["uid"]
    # The Node emitter sends no top-level nsp: the channel names the namespace.
    assert message.nsp == fields.get("nsp", channel.partition("#")[2])
    data = fields.get("data", {})
    if "requestId" in data:
        assert message.request_id == data["requestId"]
    if isinstance(message, m.Heartbeat):
        assert message.initial == (fields["type"] == 1)
    elif isinstance(message, m.Broadcast):
        assert message.data == plain(data["packet"]["data"])
        assert message.target.rooms == data["opts"]["rooms"]
        assert message.target.except_rooms == data["opts"]["except"]
        assert message.target.flags == data["opts"]["flags"]
    elif isinstance(message, (m.SocketsJoin, m.SocketsLeave)):
        assert message.rooms == data["rooms"]
    elif isinstance(message, m.DisconnectSockets):
        assert message.close == data["close"]
        assert message.target.rooms == data["opts"]["rooms"]
    elif isinstance(message, m.FetchSocketsResponse):
        assert message.sockets == data["sockets"]
    elif isinstance(message, (m.ServerSideEmit, m.ServerSideEmitResponse)):
        assert message.data == data["packet"]
    elif isinstance(message, m.BroadcastClientCount):
        assert message.client_count == data["clientCount"]
    elif isinstance(message, m.BroadcastAck):
        assert message.arguments() == [data["packet"]]
    if isinstance(
        message, (m.FetchSocketsResponse, m.ServerSideEmitResponse, m.BroadcastClientCount,
                  m.BroadcastAck)
    ):  # fmt: skip
        assert message.requester is None  # responses share the channel: no requester on it


def row_bytes(capture: dict[str, Any]) -> bytes:
    if "hex" in capture:
        return bytes.fromhex(capture["hex"])
    return notepack.packb(plain(capture["decoded"]))


def test_the_fixture_holds_every_type_of_message():
    assert len(CAPTURES) == 24
    assert {c["type"] for c in NOTIFY} == set(range(1, 14))
    assert {c["source"] for c in ROWS} == {"adapter-0.5.0", "emitter-0.1.1"}


@pytest.mark.parametrize("capture", NOTIFY, ids=ids)
def test_every_notify_payload_decodes_into_the_right_message(capture):
    family = family_for(capture)
    info = family.parse_channel(capture["channel"])
    assert info is not None
    assert info.role is Role.MAIN
    payload = capture["payload"].encode()
    check_fields(family.decode(info, payload), json.loads(payload), capture["channel"])


@pytest.mark.parametrize("capture", [c for c in NOTIFY if c["source"] == "adapter-0.5.0"], ids=ids)
def test_our_encoding_of_the_adapters_messages_is_byte_identical(capture):
    family = family_for(capture)
    info = family.parse_channel(capture["channel"])
    message = family.decode(info, capture["payload"].encode(), preserve=True)
    # A node with the publisher's uid encodes it again, responses included (no requester).
    channel, payload = family_for(capture, message.uid or "").encode(message)
    assert channel == capture["channel"]
    assert payload.decode() == capture["payload"]


@pytest.mark.parametrize("capture", ROWS, ids=ids)
def test_every_attachment_row_decodes_into_the_right_message(capture):
    row = row_bytes(capture)
    if "size" in capture:  # rebuilt rows: our msgpack has the size @msgpack/msgpack gave
        assert len(row) == capture["size"]
    assert not row.startswith(b"{")
    family = family_for(capture)
    message = family.decode(family.parse_channel(capture["channel"]), row)
    check_fields(message, plain(capture["decoded"]), capture["channel"])


def test_the_binary_broadcast_row_is_encoded_byte_for_byte():
    (capture,) = [c for c in ROWS if "hex" in c]
    family = family_for(capture)
    message = family.decode(family.parse_channel(capture["channel"]), row_bytes(capture))
    assert message.data == ["bin", b"\x01\x02\xff", {"n": 1, "blob": b"\x00\x09"}]
    channel, payload = family.encode(message)
    assert channel == capture["channel"]
    assert payload.hex() == capture["hex"]


def test_the_big_broadcast_goes_to_the_table_as_the_adapters_msgpack():
    (capture,) = [c for c in ROWS if c["name"].startswith("9000")]
    family = family_for(capture)
    message = m.Broadcast("/", "f890ac2d6bb76811", ["big", "n" * 9000, 0.5], m.Target())
    _, payload = family.encode(message)
    assert len(payload) == 9104
    assert payload.startswith(bytes.fromhex("84a474797065 03a464617461 82a67061636b6574 82"))
    assert bytes.fromhex("93a3626967da2328") in payload  # ["big", str 16 of 9000 bytes, ...]
    assert payload == row_bytes(capture)


@pytest.mark.parametrize("capture", HEADERS, ids=ids)
def test_attachment_headers_are_not_messages_the_family_decodes(capture):
    # The backend swaps a header for its row before the family sees it; a header that reaches
    # the family anyway (its row is gone) is malformed, never a half-valid message.
    family = family_for(capture)
    with pytest.raises(DecodeError):
        family.decode(family.parse_channel(capture["channel"]), capture["payload"].encode())


def test_the_json_threshold_switches_to_msgpack_from_8000_bytes_on():
    family = PostgresFamily("socket.io", "f890ac2d6bb76811")

    def encoded(size: int) -> bytes:
        base = len(family.encode(m.Broadcast("/", family.uid, ["x", ""], m.Target()))[1])
        return family.encode(m.Broadcast("/", family.uid, ["x", "a" * (size - base)], m.Target()))[
            1
        ]

    assert len(encoded(7999)) == 7999
    assert encoded(7999).startswith(b"{")
    big = encoded(8000)
    assert not big.startswith(b"{")  # 8000 bytes of JSON: NOTIFY would refuse it
    assert len(notepack.dumps_json(msgpack.unpackb(big))) == 8000  # the same message


def test_a_lower_threshold_and_bad_thresholds():
    family = PostgresFamily("k", "u", payload_threshold=100)
    assert not family.encode(m.Broadcast("/", "u", ["x", "a" * 100], m.Target()))[1].startswith(
        b"{"
    )
    for bad in (0, 8001, 1.5, True, "8000"):
        with pytest.raises(ValueError, match="payload_threshold"):
            PostgresFamily("k", "u", payload_threshold=bad)


@pytest.mark.parametrize(
    "message",
    [
        m.BroadcastAck("/", "u", "r", data=b"\x01", has_data=True),
        m.ServerSideEmit("/", "u", ["e", b"\x01"]),
        m.ServerSideEmitResponse("/", "u", "r", b"\x01"),
        m.FetchSocketsResponse("/", "u", "r", [{"id": "s", "rooms": [], "data": b"\x01"}]),
    ],
    ids=lambda message: type(message).__name__,
)
def test_binary_in_any_binary_capable_type_goes_to_the_table(message):
    family = PostgresFamily("k", "u")
    channel, payload = family.encode(message)
    assert channel == "k#/"
    assert payload[0] & 0xF0 == 0x80  # a msgpack map of the whole message
    decoded = msgpack.unpackb(payload)
    assert list(decoded) == ["type", "data", "uid", "nsp"]


def test_responses_go_on_the_namespaces_one_channel_without_a_requester():
    family = PostgresFamily("socket.io", "a")
    channel, payload = family.encode(m.BroadcastClientCount("/chat", "a", "r1", 2))
    assert channel == "socket.io#/chat"
    assert (
        payload == b'{"type":11,"data":{"requestId":"r1","clientCount":2},"uid":"a","nsp":"/chat"}'
    )


def test_single_room_broadcasts_stay_on_the_namespace_channel():
    family = PostgresFamily("socket.io", "a")
    assert not family.has_room_channels
    assert family.room_channel("/", "room", False) is None
    channel, _ = family.encode(m.Broadcast("/", "a", ["e"], m.Target(["room"])))
    assert channel == "socket.io#/"
    assert family.subscriptions("/") == (["socket.io#/"], [])
    assert family.count_channel("/x") == "socket.io#/x"


def test_channels_of_other_keys_or_without_a_namespace_are_not_ours():
    family = PostgresFamily("socket.io", "a")
    assert family.parse_channel("socket.io#/a#b").nsp == "/a#b"
    for channel in ("other#/", "socket.io#", "socket.io#/#".replace("#/#", "x/"), "socket.io"):
        assert family.parse_channel(channel) is None


def test_channel_names_over_63_bytes_are_refused_with_a_clear_error():
    PostgresFamily("k" * (MAX_CHANNEL_BYTES - 2), "u")  # "k...k#/" is 63 bytes
    with pytest.raises(ValueError, match=r"64 bytes long; PostgreSQL accepts 63 at most"):
        PostgresFamily("k" * (MAX_CHANNEL_BYTES - 1), "u")
    family = PostgresFamily("socket.io", "u")
    with pytest.raises(ValueError, match="shorten the key= or the namespace"):
        family.subscriptions("/" + "n" * 60)
    with pytest.raises(ValueError, match="PostgreSQL accepts 63"):
        family.encode(m.Heartbeat("/" + "é" * 30, "u"))  # 61 characters, 80 bytes


def test_a_value_only_the_json_module_writes_still_reaches_the_table():
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    class Module:
        @staticmethod
        def dumps(value: Any, **_: Any) -> str:
            return json.dumps(value, default=lambda o: {"x": o.x})

    family = PostgresFamily("k", "u", json_module=Module)
    _, payload = family.encode(m.Broadcast("/", "u", ["p", Point(1), "a" * 9000], m.Target()))
    assert msgpack.unpackb(payload)["data"]["packet"]["data"][:2] == ["p", {"x": 1}]
