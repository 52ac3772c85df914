"""The Redis streams family against what Node's @socket.io/redis-streams-adapter 0.3.1 put into
Redis (tests/fixtures/streams-node-captures.json, made by tests/interop/streams_capture.js):
every stream entry, pub/sub message and session key decodes into the right message and encodes
back to the very same fields and bytes; hypothesis round trips for the rest.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sioadapter.core import messages as m
from sioadapter.core.routing import carries_offset
from sioadapter.errors import DecodeError
from sioadapter.wire._entries import (
    ReceivedEntry,
    entry_fields,
    received_entry,
    split_entry_channel,
)
from sioadapter.wire.base import ChannelInfo, Role
from sioadapter.wire.streams import (
    Session,
    StreamsFamily,
    decode_session,
    encode_session,
    hash_code,
    missed_packets,
    next_entry_id,
    parse_entry_id,
    replays_to,
    stream_index,
)

FIXTURE = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "streams-node-captures.json").read_text()
)
STREAM = FIXTURE["stream"]
PUBSUB = FIXTURE["pubsub"]
SESSIONS = FIXTURE["sessions"]

CLASSES = {
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
}


def plain(value: Any) -> Any:
    """The fixture's ``{"$bin": hex}`` / ``{"$date": iso}`` notation as the values a Python
    receiver gets (bytes; dates as the ISO string Node's clients see)."""
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        if set(value) == {"$date"}:
            return value["$date"]
        return {key: plain(item) for key, item in value.items()}
    return value


def as_redis_returns(fields: list[list[str]]) -> dict[bytes, bytes]:
    """An entry as redis-py returns it without decode_responses."""
    return {name.encode(): value.encode() for name, value in fields}


def entry_data(capture: dict[str, Any]) -> Any:
    if "data_decoded" in capture:
        return capture["data_decoded"]
    return json.loads(dict(capture["fields"])["data"])


def ids(capture: dict[str, Any]) -> str:
    return capture["op"][:60]


def check(message: m.ClusterMessage, type_: int, uid: str, nsp: str, data: dict) -> None:
    assert type(message) is CLASSES[type_]
    assert (message.uid, message.nsp) == (uid, nsp)
    if "requestId" in data:
        assert message.request_id == data["requestId"]
    if isinstance(message, m.Broadcast):
        assert message.data == plain(data["packet"]["data"])
        assert message.target.rooms == data["opts"]["rooms"]
        assert message.target.except_rooms == data["opts"]["except"]
        assert message.target.flags == data["opts"]["flags"]
    elif isinstance(message, (m.SocketsJoin, m.SocketsLeave)):
        assert message.rooms == data["rooms"]
        assert message.target.rooms == data["opts"]["rooms"]
    elif isinstance(message, m.DisconnectSockets):
        assert message.close == data["close"]
    elif isinstance(message, m.FetchSockets):
        assert message.target.rooms == data["opts"]["rooms"]
    elif isinstance(message, m.FetchSocketsResponse):
        assert [s["id"] for s in message.sockets] == [s["id"] for s in data["sockets"]]
        assert message.sockets[0]["data"] == data["sockets"][0]["data"]
    elif isinstance(message, (m.ServerSideEmit, m.ServerSideEmitResponse)):
        assert message.data == plain(data["packet"])
    elif isinstance(message, m.BroadcastClientCount):
        assert message.client_count == data["clientCount"]
    elif isinstance(message, m.BroadcastAck):
        assert message.arguments() == [plain(data["packet"])]


def test_the_fixture_holds_every_kind_of_traffic():
    assert {int(dict(c["fields"])["type"]) for c in STREAM} == {3, 4, 5, 6, 9}
    assert {c["decoded"]["type"] for c in PUBSUB} == {3, 7, 8, 9, 10, 11, 12}
    assert {c["source"] for c in STREAM} == {"adapter-0.3.1", "emitter-derived"}
    # The adapter writes only these types to the stream; server-side emits only the emitter.
    adapter_types = {dict(c["fields"])["type"] for c in STREAM if c["source"] == "adapter-0.3.1"}
    assert adapter_types == {"3", "4", "5", "6"}
    assert any(not dict(c["fields"])["data"].startswith("{") for c in STREAM)


@pytest.mark.parametrize("capture", STREAM, ids=ids)
def test_every_stream_entry_decodes_into_the_right_message(capture):
    fields = dict(capture["fields"])
    assert [name for name, _ in capture["fields"]] == ["uid", "nsp", "type", "data"]
    message = StreamsFamily().decode_entry(as_redis_returns(capture["fields"]))
    check(message, int(fields["type"]), fields["uid"], fields["nsp"], entry_data(capture))
    # The adapter writes and routes it to the stream (the emitter's SSE goes there too).
    if capture["source"] == "adapter-0.3.1":
        assert StreamsFamily.goes_to_stream(message)


@pytest.mark.parametrize("capture", STREAM, ids=ids)
def test_our_stream_entries_are_field_for_field_nodes(capture):
    family = StreamsFamily()
    message = family.decode_entry(as_redis_returns(capture["fields"]), preserve=True)
    layout = "emitter" if capture["source"] == "emitter-derived" else "adapter"
    entry = family.encode_entry(message, layout=layout)
    assert entry.stream == "socket.io"
    assert [list(item) for item in entry.fields.items()] == capture["fields"]


def test_a_binary_entry_is_base64_msgpack_of_the_data_alone():
    (capture,) = [c for c in STREAM if c["op"].startswith("io.emit('bin',")]
    raw = base64.b64decode(dict(capture["fields"])["data"])
    assert raw.hex().startswith("82a67061636b6574")  # {packet, opts}: data, not the message
    message = StreamsFamily().decode_entry(dict(capture["fields"]))  # str fields work too
    assert message.data == ["bin", b"\x01\x02\x03", {"x": b"\xff", "n": 1}]


def test_a_date_in_a_binary_entry_reaches_clients_as_nodes_iso_string():
    (capture,) = [c for c in STREAM if c["op"].startswith("io.emit('bin-date'")]
    message = StreamsFamily().decode_entry(as_redis_returns(capture["fields"]))
    assert message.data == ["bin-date", b"\x00", "2023-11-14T22:13:20.123Z", 2**40, -1, "é"]


@pytest.mark.parametrize("capture", PUBSUB, ids=ids)
def test_every_pubsub_message_decodes_and_encodes_back_byte_for_byte(capture):
    channel = capture["channel"]
    suffix = channel.split("#")[2]
    # Read as its receiver: the requester for responses (its own channel), anyone otherwise.
    family = StreamsFamily("socket.io", suffix or "someone-else")
    info = family.parse_channel(channel)
    assert info is not None
    assert info.role is (Role.RESPONSE if suffix else Role.MAIN)
    payload = bytes.fromhex(capture["hex"])
    decoded = capture["decoded"]
    message = family.decode(info, payload)
    check(message, decoded["type"], decoded["uid"], decoded["nsp"], decoded["data"])
    assert not StreamsFamily.goes_to_stream(message)
    if suffix:
        assert message.requester == suffix
    # The sender, with its uid, publishes the same bytes on the same channel.
    preserved = family.decode(info, payload, preserve=True)
    assert StreamsFamily("socket.io", preserved.uid).encode(preserved) == (channel, payload)


@pytest.mark.parametrize("capture", STREAM, ids=ids)
def test_what_a_reader_hands_on_decodes_as_the_entry_with_its_id_as_offset(capture):
    # The reader's envelope (channel naming the namespace, msgpack array) decodes through the
    # family's ordinary receiving path into the message decode_entry gives, plus the offset.
    family = StreamsFamily()
    fields = as_redis_returns(capture["fields"])
    channel, payload = received_entry("socket.io", "1700000000000-3", fields)
    info = family.parse_channel(channel)
    assert info == ChannelInfo(dict(capture["fields"])["nsp"], Role.MAIN)
    message = family.decode(info, payload)
    expected = family.decode_entry(fields)
    if type(expected) is m.Broadcast:
        assert message.offset == "1700000000000-3"
        expected.offset = "1700000000000-3"
    assert message == expected


@pytest.mark.parametrize("capture", STREAM, ids=ids)
def test_a_read_entry_decodes_alike_from_bytes_or_text_fields(capture):
    # A client with decode_responses returns str fields: the same message either way, and the
    # payload a reader hands on is the data field's bytes (what a size limit measures).
    family = StreamsFamily()
    raw = as_redis_returns(capture["fields"])
    as_text = {name.decode(): value.decode() for name, value in raw.items()}
    channel, entry = received_entry("socket.io", "5-1", raw)
    assert received_entry("socket.io", "5-1", as_text)[0] == channel
    assert bytes(entry) == raw.get(b"data", b"") and type(entry) is ReceivedEntry
    assert bytes(text_entry := received_entry("s", "5-1", as_text)[1]) == bytes(entry)
    info = family.parse_channel(channel)
    assert family.decode(info, text_entry) == family.decode(info, entry)
    # A copy is plain bytes: not mistaken for an entry.
    assert not family.is_own(info, bytes(entry))


def test_a_node_knows_its_own_entries_undecoded_and_follows_a_new_uid():
    family = StreamsFamily("socket.io", "me")
    info = ChannelInfo("/", Role.MAIN)
    mine = {b"uid": b"me", b"nsp": b"/", b"type": b"3", b"data": b"{}"}
    for fields in (mine, {k.decode(): v.decode() for k, v in mine.items()}):
        assert family.is_own(info, received_entry("s", "1-1", fields)[1])
    other = received_entry("s", "1-1", {**mine, b"uid": b"you"})[1]
    assert not family.is_own(info, other)
    assert not family.is_own(info, family.encode(m.Broadcast("/", "me", ["e"], m.Target()))[1])
    family.take_uid("you")
    assert family.is_own(info, other)


def test_entry_fields_that_are_not_text_or_digits_are_refused():
    family = StreamsFamily()
    info = ChannelInfo("/", Role.MAIN)
    for type_ in (b"", b"x3", "\u00b2", None):
        entry = ReceivedEntry(b"{}", b"u", type_, "1-1")
        with pytest.raises(DecodeError, match="decimal"):
            family.decode(info, entry)
    with pytest.raises(DecodeError, match="UTF-8"):
        family.decode(info, ReceivedEntry(b"{}", b"\xff", b"3", "1-1"))
    with pytest.raises(DecodeError):
        family.decode(info, ReceivedEntry(b"{\xff}", b"u", b"3", "1-1"))
    with pytest.raises(DecodeError, match="must be a string"):
        family.decode(info, ReceivedEntry(1234, b"u", b"3", "1-1"))


@pytest.mark.parametrize("capture", STREAM, ids=ids)
def test_what_we_publish_for_the_stream_is_xadded_as_nodes_fields(capture):
    family = StreamsFamily()
    message = family.decode_entry(as_redis_returns(capture["fields"]), preserve=True)
    layout = "emitter" if capture["source"] == "emitter-derived" else "adapter"
    sender = StreamsFamily(uid=message.uid or "", layout=layout)
    if layout == "adapter" and not StreamsFamily.goes_to_stream(message):
        return  # the adapter sends its server-side emits over pub/sub
    channel, payload = sender.encode(message)
    stream, fields = entry_fields(channel, payload)
    assert stream == "socket.io"
    assert [list(item) for item in fields.items()] == capture["fields"]


def test_only_stream_messages_go_to_the_stream_and_bad_envelopes_are_refused():
    family = StreamsFamily("socket.io", "u")
    channel, _ = family.encode(m.Broadcast("/chat", "u", ["e"], m.Target()))
    assert split_entry_channel(channel) == ("socket.io", "/chat")
    channel, _ = family.encode(m.Broadcast("/chat", "u", ["e"], m.Target(), request_id="r"))
    assert channel == "socket.io#/chat#"
    # The emitter writes everything into the stream, server-side emits included.
    emitter = StreamsFamily("socket.io", "emitter", layout="emitter")
    channel, _ = emitter.encode(m.ServerSideEmit("/", "emitter", ["ev", 1]))
    assert split_entry_channel(channel) == ("socket.io", "/")
    assert split_entry_channel("socket.io#/#") is None
    with pytest.raises(ValueError, match="not a stream entry channel"):
        entry_fields("socket.io#/#", b"\x93")
    info = ChannelInfo("/", Role.MAIN)
    for bad in (b"\x91\x01", b"\x95\x01\x02\x03\x04\x05", b"\x93\xc1"):
        with pytest.raises(DecodeError):
            family.decode(info, bad)
    with pytest.raises(ValueError, match="layout"):
        StreamsFamily(layout="node")
    with pytest.raises(TypeError, match="cannot carry Heartbeat"):
        family.encode(m.Heartbeat("/", "u"))
    with pytest.raises(TypeError, match="cannot carry AdapterClose"):
        family.encode_entry(m.AdapterClose("/", "u"))


def test_pubsub_channels_and_counting():
    family = StreamsFamily("socket.io", "u1")
    assert family.subscriptions("/chat") == (["socket.io#/chat#", "socket.io#/chat#u1#"], [])
    assert family.count_channel("/") == "socket.io#/#"
    assert not family.has_room_channels
    channel, payload = family.encode(m.BroadcastClientCount("/", "u1", "r", 0, requester="u2"))
    assert channel == "socket.io#/#u2#"
    assert msgpack.unpackb(payload) == {
        "type": 11,
        "data": {"requestId": "r", "clientCount": 0},
        "uid": "u1",
        "nsp": "/",
    }


@pytest.mark.parametrize("capture", SESSIONS, ids=lambda c: c["key"])
def test_session_keys_decode_and_encode_back(capture):
    assert capture["key"].startswith(FIXTURE["session_key_prefix"])
    assert capture["px"] == 60000
    session = decode_session(capture["value"].encode())
    expected = capture["value_decoded"]
    assert session == Session(expected["sid"], expected["pid"], expected["rooms"], expected["data"])
    assert capture["key"] == FIXTURE["session_key_prefix"] + session.pid
    assert session.sid in session.rooms  # Node keeps the sid room in the session
    assert encode_session(session) == capture["value"]


def test_the_restored_session_replays_the_entries_after_the_offset():
    restore = FIXTURE["session_restore"]
    offset = restore["dropped"]["offset"]
    assert parse_entry_id(offset) is not None
    # The client's missed packets carry their entry ids, which are later than its offset.
    got = restore["restored"]["client_got"]
    assert [packet[0] for packet in got] == ["missed-all", "missed-room1"]
    assert all(parse_entry_id(p[-1]) > parse_entry_id(offset) for p in got)
    assert restore["restored"]["same_sid"] and restore["restored"]["server_socket_recovered"]


def test_the_packets_node_replayed_are_the_ones_we_would_replay():
    restore = FIXTURE["session_restore"]
    offset = parse_entry_id(restore["dropped"]["offset"])
    session = decode_session(restore["dropped"]["value"])
    # What the stream held after the offset when the client came back (Node's XRANGE).
    ops = FIXTURE["ops"]
    restore_op = next(i for i, op in enumerate(ops) if "presents B's pid" in op["op"])
    written = {entry_id for op in ops[:restore_op] for entry_id in op["entries"]}
    after = [
        (c["id"], as_redis_returns(c["fields"]))
        for c in STREAM
        if c["id"] in written and parse_entry_id(c["id"]) > offset
    ]
    assert [dict(f)[b"type"] for _, f in after] == [b"4", b"5", b"3", b"3", b"3", b"3"]
    got = missed_packets(after, StreamsFamily(), "/", session.rooms)
    assert got == restore["restored"]["client_got"]


def test_offsets_go_on_ack_less_non_volatile_events_only():
    def broadcast(flags=None, request_id=None, packet_type=2):
        return m.Broadcast("/", "u", ["e"], m.Target(flags=flags or {}), request_id, packet_type)

    assert carries_offset(broadcast())
    assert carries_offset(broadcast({"compress": False, "expectSingleResponse": True}))
    assert not carries_offset(broadcast({"volatile": True}))
    assert not carries_offset(broadcast({"volatile": False}))  # Node: "=== undefined"
    assert not carries_offset(broadcast(request_id="r"))
    assert not carries_offset(broadcast(packet_type=5))
    # As the captures show: offsets on everything but the volatile broadcast.
    for capture in STREAM:
        message = StreamsFamily().decode_entry(dict(capture["fields"]))
        if isinstance(message, m.Broadcast) and capture["source"] == "adapter-0.3.1":
            assert carries_offset(message) == ("volatile" not in message.target.flags)


def test_the_replay_filter_is_nodes():
    assert replays_to(["sid", "room1"], m.Target())
    assert replays_to(["sid", "room1"], m.Target(rooms=["room1", "x"]))
    assert not replays_to(["sid", "room1"], m.Target(rooms=["room2"]))
    assert not replays_to(["sid", "room1"], m.Target(except_rooms=["room1"]))
    assert not replays_to(["sid", "room1"], m.Target(rooms=["sid"], except_rooms=["room1"]))
    assert not replays_to([1], m.Target(rooms=["1"]))  # no numeric spelling games
    family = StreamsFamily()
    volatile = family.encode_entry(m.Broadcast("/", "u", ["v"], m.Target(flags={"volatile": True})))
    other = family.encode_entry(m.Broadcast("/x", "u", ["o"], m.Target()))
    join = family.encode_entry(m.SocketsJoin("/", "u", m.Target(), ["r"]))
    entries = [("1-0", volatile.fields), ("1-1", other.fields), ("1-2", join.fields),
               ("1-3", {"nsp": "/", "type": "3", "data": "{bad"})]  # fmt: skip
    assert missed_packets(entries, family, "/", ["s"]) == []
    assert missed_packets(entries, family, "/", ["s"], include_volatile=True) == [["v", "1-0"]]


def test_entry_ids_as_node_checks_and_steps_them():
    assert parse_entry_id("1796236669049-0") == (1796236669049, 0)
    for bad in ("", "1-", "-1", "1-2-3", "a-1", " 1-1", "1-1\n", "$", "+"):
        assert parse_entry_id(bad) is None
    assert next_entry_id("1796236669049-0") == "1796236669049-1"
    assert next_entry_id("5-99") == "5-100"
    with pytest.raises(ValueError, match="not a stream entry id"):
        next_entry_id("5")


def test_hash_code_and_stream_index_follow_javascript():
    # Values from Node: hashCode as in the adapter's util.js, and JS's % (sign of the dividend).
    assert hash_code("") == 0
    assert hash_code("/") == 47
    assert hash_code("/chat") == 46457863
    assert hash_code("/😀") == 1818066  # two UTF-16 code units
    assert hash_code("/namespace-1") == -1732195152  # int32 overflow
    assert stream_index("/chat", 5) == 3
    assert stream_index("/namespace-1", 5) == -2
    assert stream_index("/notifications", 5) == -1
    family = StreamsFamily(stream_name="s", stream_count=5)
    assert family.stream_for("/chat") == "s-3"
    assert family.stream_for("/namespace-1") == "s--2"  # Node's name too
    assert StreamsFamily(stream_name="s").stream_for("/chat") == "s"


def test_bad_options_are_refused():
    for bad in (0, -1, 1.0, True, "2"):
        with pytest.raises(ValueError, match="stream_count"):
            StreamsFamily(stream_count=bad)
    with pytest.raises(ValueError, match="stream_name"):
        StreamsFamily(stream_name="")
    with pytest.raises(ValueError, match="layout"):
        StreamsFamily().encode_entry(m.SocketsJoin("/", "u", m.Target(), ["r"]), layout="x")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"uid": "u", "type": "3", "data": "{}"}, "without nsp"),
        ({"uid": "u", "nsp": "/", "type": "x3", "data": "{}"}, "decimal number"),
        ({"uid": "u", "nsp": "/", "data": "{}"}, "decimal number"),
        ({"uid": "u", "nsp": "/", "type": "3", "data": "{nope"}, "JSON"),
        ({"uid": "u", "nsp": "/", "type": "3", "data": "!!!"}, "neither JSON nor base64"),
        ({"uid": "u", "nsp": "/", "type": "3", "data": base64.b64encode(b"\xc1").decode()}, None),
        ({"uid": "u", "nsp": "/", "type": "3"}, "data"),
        ({b"nsp": b"/\xff", b"type": b"3"}, "UTF-8"),
        ({"uid": "u", "nsp": "/", "type": "99", "data": '{"requestId":"r"}'}, "unknown"),
        ({"uid": "u", "nsp": "/", "type": "3", "data": '{"packet":{"type":2,"data":"x"}}'}, None),
    ],
)
def test_malformed_entries_raise_decode_error(fields, match):
    with pytest.raises(DecodeError, match=match):
        StreamsFamily().decode_entry(fields)


def test_unknown_fields_are_ignored_and_only_plaintext_writes_json():
    family = StreamsFamily(only_plaintext=True)
    entry = family.encode_entry(m.Broadcast("/", "u", ["b", b"\x01"], m.Target()))
    assert entry.fields["data"].startswith("{")
    message = family.decode_entry({**entry.fields, "extra": "x"})
    # As on a Node receiver, JSON's Buffer objects stay objects.
    assert message.data == ["b", {"type": "Buffer", "data": [1]}]


# -- round trips ----------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    | st.text(max_size=8)
)
values = st.recursive(
    scalars | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
rooms = st.lists(st.text(min_size=1, max_size=6) | st.integers(0, 999), max_size=3)
targets = st.builds(
    m.Target,
    rooms=rooms,
    except_rooms=rooms,
    flags=st.dictionaries(
        st.sampled_from(["volatile", "compress", "timeout"]), st.booleans(), max_size=2
    ),
)
nsps = st.sampled_from(["/", "/chat", "/é"])
uids = st.text("0123456789abcdef", min_size=16, max_size=16)
events = st.tuples(st.text(min_size=1, max_size=6), st.lists(values, max_size=3)).map(
    lambda t: [t[0], *t[1]]
)
stream_messages = (
    st.builds(m.Broadcast, nsps, uids, events, targets)
    | st.builds(m.SocketsJoin, nsps, uids, targets, rooms)
    | st.builds(m.SocketsLeave, nsps, uids, targets, rooms)
    | st.builds(m.DisconnectSockets, nsps, uids, targets, st.booleans())
)
request_ids = st.text("0123456789abcdef", min_size=16, max_size=16)
pubsub_messages = (
    st.builds(m.Broadcast, nsps, uids, events, targets, request_ids)
    | st.builds(m.ServerSideEmit, nsps, uids, events, st.none() | request_ids)
    | st.builds(m.FetchSockets, nsps, uids, request_ids, targets)
    | st.builds(m.ServerSideEmitResponse, nsps, uids, request_ids, values, uids)
    | st.builds(m.BroadcastClientCount, nsps, uids, request_ids, st.integers(0, 9), uids)
    | st.builds(m.BroadcastAck, nsps, uids, request_ids, values, requester=uids)
)


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(stream_messages, pubsub_messages.filter(lambda x: type(x) is m.ServerSideEmit)))
def test_stream_entries_round_trip(message):
    family = StreamsFamily()
    entry = family.encode_entry(message)
    assert list(entry.fields)[:3] == ["uid", "nsp", "type"]
    assert family.decode_entry({k.encode(): v.encode() for k, v in entry.fields.items()}) == message
    assert family.encode_entry(family.decode_entry(entry.fields)) == entry


@settings(max_examples=200, deadline=None, database=None)
@given(pubsub_messages)
def test_pubsub_messages_round_trip(message):
    channel, payload = StreamsFamily("socket.io", message.uid).encode(message)
    receiver = StreamsFamily("socket.io", getattr(message, "requester", None) or "r")
    decoded = receiver.decode(receiver.parse_channel(channel), payload)
    assert decoded == message


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(max_size=20), st.text(max_size=20), rooms, values)
def test_sessions_round_trip(sid, pid, session_rooms, data):
    session = Session(sid, pid, session_rooms, data)
    assert decode_session(encode_session(session)) == session


def test_a_node_skips_its_own_entries_undecoded_unless_it_delivers_them_for_offsets():
    # Without offsets a node ignores what it wrote: read back, its entries are not decoded.
    # With offsets it delivers its own broadcasts on read back, with the entry id appended.
    from sioadapter.core.effects import Deliver
    from sioadapter.core.node import ClusterNode

    rooms = {"/": {None: {"sid": "e"}, "sid": {"sid": "e"}}}
    broadcast = StreamsFamily("k", "me").encode_entry(m.Broadcast("/", "me", ["ev"], m.Target()))
    fields = {name.encode(): value.encode() for name, value in broadcast.fields.items()}
    channel, entry = received_entry("k", "7-1", fields)
    for offsets in (False, True):
        node = ClusterNode(StreamsFamily("k", "me"), rooms, offsets=offsets)
        node.serve("/", 0.0)
        decoded: list[bytes] = []
        real = node.receiver._decode

        def spy(info: Any, payload: bytes, real: Any = real, decoded: Any = decoded) -> Any:
            decoded.append(payload)
            return real(info, payload)

        node.receiver._decode = spy
        effects = node.receive(channel, entry, 0.0)
        if offsets:
            assert [type(e) for e in effects] == [Deliver]
            assert effects[0].message.data == ["ev", "7-1"] and decoded == [entry]
        else:
            assert effects == [] and decoded == [] and node.stats.ignored_own == 1
