"""Property tests (hypothesis) of every wire decoder.

Whatever bytes arrive, a decoder (``unpackb`` in each mode, ``loads_json``, both families on
every channel role they parse) either returns a value or raises the documented
:class:`~sioadapter.wire.notepack.DecodeError`; a message it returns holds only values the
manager can use. The codec's own properties are in test_notepack_properties.py.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sioadapter.core import messages as m
from sioadapter.wire import notepack
from sioadapter.wire.base import Family, Role
from sioadapter.wire.classic import ClassicFamily
from sioadapter.wire.cluster import ClusterFamily
from sioadapter.wire.notepack import (
    UNDEFINED,
    DecodeError,
    Ext0Bytes,
    Ext0Date,
    loads_json,
    unpackb,
)

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INT64 = (-(2**63), 2**64 - 1)  # what MessagePack can carry

# database=None: no example database, so every run draws fresh examples.
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- the decoders and every channel role they parse ---------------------------------------

CLASSIC = ClassicFamily("socket.io", "me0123456789abc")
CLUSTER = ClusterFamily("socket.io", "me0123456789abc")
CHANNELS: list[tuple[Family, str, Role]] = [
    (CLASSIC, "socket.io#/#", Role.BROADCAST),
    (CLASSIC, "socket.io#/#room1#", Role.BROADCAST),
    (CLASSIC, "socket.io-request#/#", Role.REQUEST),
    (CLASSIC, "socket.io-response#/#", Role.RESPONSE),
    (CLASSIC, "socket.io-response#/#me0123456789abc#", Role.RESPONSE),
    (CLUSTER, "socket.io#/#", Role.MAIN),
    (CLUSTER, "socket.io#/#me0123456789abc#", Role.RESPONSE),
    (CLUSTER, "socket.io#/#room1#", Role.ROOM),
]
INFOS = [(family, family.parse_channel(channel)) for family, channel, _ in CHANNELS]


def test_every_channel_role_parses() -> None:
    assert [info.role if info else None for _, info in INFOS] == [r for _, _, r in CHANNELS]


MESSAGES = (
    m.Broadcast,
    m.SocketsJoin,
    m.SocketsLeave,
    m.DisconnectSockets,
    m.FetchSockets,
    m.FetchSocketsResponse,
    m.ServerSideEmit,
    m.ServerSideEmitResponse,
    m.BroadcastClientCount,
    m.BroadcastAck,
    m.AllRooms,
    m.SocketIds,
    m.RemoteJoin,
    m.RemoteLeave,
    m.RemoteDisconnect,
    m.RequestReply,
    m.Heartbeat,
    m.AdapterClose,
)


def is_room(value: Any) -> bool:
    return type(value) is str or type(value) is int


def is_rooms(value: Any) -> bool:
    return type(value) is list and all(is_room(room) for room in value)


def assert_usable(message: Any) -> None:
    """What the manager relies on in a decoded message."""
    assert type(message) in MESSAGES
    assert type(message.nsp) is str
    assert message.uid is None or type(message.uid) is str
    request_id = getattr(message, "request_id", None)
    assert request_id is None or type(request_id) is str
    target = getattr(message, "target", None)
    if target is not None:
        assert is_rooms(target.rooms)
        assert is_rooms(target.except_rooms)
        assert type(target.flags) is dict
    if isinstance(message, m.Broadcast):
        assert type(message.packet_type) is int
        assert message.packet_type in (2, 5)
    if isinstance(message, (m.Broadcast, m.ServerSideEmit)):
        assert type(message.data) is list
        assert message.data
        assert type(message.data[0]) is str
    if isinstance(message, (m.SocketsJoin, m.SocketsLeave, m.SocketIds)):
        assert is_rooms(message.rooms)
    if isinstance(message, m.BroadcastClientCount):
        assert type(message.client_count) is int
        assert 0 <= message.client_count < 2**63
    if isinstance(message, (m.RemoteJoin, m.RemoteLeave)):
        assert is_room(message.room)
    if isinstance(message, (m.RemoteJoin, m.RemoteLeave, m.RemoteDisconnect)):
        assert type(message.sid) is str
    if isinstance(message, (m.DisconnectSockets, m.RemoteDisconnect)):
        assert type(message.close) is bool
    if isinstance(message, m.FetchSocketsResponse):
        assert type(message.sockets) is list
        assert all(type(s) is dict for s in message.sockets)
    if isinstance(message, m.RequestReply):
        assert message.rooms is None or is_rooms(message.rooms)
        sockets = message.sockets
        assert sockets is None or type(sockets) is list
        assert all(type(s) in (str, dict) for s in sockets or ())
    if isinstance(message, m.BroadcastAck):
        assert message.args is None or type(message.args) is list
        assert type(message.has_data) is bool


def decode_everywhere(payload: bytes) -> None:
    """Feed ``payload`` to every decoder; only DecodeError may come out."""
    for preserve in (False, True):
        for dates in ("datetime", "iso"):
            with contextlib.suppress(DecodeError):
                unpackb(payload, dates=dates, preserve=preserve)  # type: ignore[arg-type]
    for buffers in (False, True):
        with contextlib.suppress(DecodeError):
            loads_json(payload, buffers=buffers)
    for family, info in INFOS:
        assert info is not None
        for preserve in (False, True):
            try:
                message = family.decode(info, payload, preserve=preserve)
            except DecodeError:
                continue
            assert_usable(message)


# -- strategies ------------------------------------------------------------------------

KEYS = [
    "type",
    "uid",
    "nsp",
    "data",
    "requestId",
    "opts",
    "packet",
    "rooms",
    "except",
    "flags",
    "sid",
    "room",
    "close",
    "clientCount",
    "sockets",
    "args",
]
ODD_INTS = [0, 1, 2, 5, 7, 9, 11, 13, -1, 2**31, 2**53, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]
HUGE_INTS = [2**64, -(2**63) - 1, 10**40, -(10**40)]

texts = st.text(max_size=8) | st.sampled_from(["/", "", "room1", "me0123456789abc", "ev"])
msgpack_ints = st.integers(*INT64) | st.sampled_from(ODD_INTS)
json_ints = msgpack_ints | st.sampled_from(HUGE_INTS)
floats = st.floats(allow_nan=True, allow_infinity=True)


def trees(
    scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[Any], ints: st.SearchStrategy[int]
) -> Any:
    """Nested values, and values shaped like real messages with wrong-typed fields."""

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return (
            st.lists(children, max_size=5)
            | st.dictionaries(keys, children, max_size=5)
            | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
        )

    anything = st.recursive(scalars, extend, max_leaves=25)
    rooms = st.lists(texts | msgpack_ints, max_size=3) | anything
    opts = st.fixed_dictionaries(
        {}, optional={"rooms": rooms, "except": rooms, "flags": st.dictionaries(texts, anything)}
    )
    event = st.lists(anything, max_size=3).flatmap(lambda rest: texts.map(lambda e: [e, *rest]))
    packet = st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from([2, 5, 2.0, True, 3]) | anything,
            "data": event | anything,
            "nsp": texts | anything,
        },
    )
    field = anything | texts | msgpack_ints
    message = st.fixed_dictionaries(
        {"type": st.integers(-1, 14) | anything},
        optional={
            "uid": texts | anything,
            "nsp": texts | anything,
            "requestId": texts | anything,
            "opts": opts | anything,
            "packet": packet | event | anything,
            "rooms": rooms,
            "sid": field,
            "room": field,
            "close": field,
            "clientCount": ints | anything,
            "sockets": st.lists(st.dictionaries(texts, anything) | texts | anything, max_size=3),
            "args": field,
            "data": st.fixed_dictionaries(
                {},
                optional={
                    "packet": packet | event | anything,
                    "opts": opts | anything,
                    "requestId": texts | anything,
                    "rooms": rooms,
                    "clientCount": ints | anything,
                    "sockets": st.lists(st.dictionaries(texts, anything) | anything, max_size=3),
                },
            )
            | anything,
        },
    )
    broadcast = st.tuples(texts | anything, packet | anything, opts | anything).map(list)
    return (
        anything
        | message
        | broadcast
        | st.lists(anything, max_size=2).map(
            lambda rest: ["uid", {"type": 2, "data": ["ev", *rest], "nsp": "/"}, {}]
        )
    )


json_scalars = st.none() | st.booleans() | json_ints | floats | texts
json_values = trees(json_scalars, texts, json_ints)
msgpack_scalars = (
    st.none()
    | st.booleans()
    | msgpack_ints
    | floats
    | texts
    | st.binary(max_size=9)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=9))
    | st.sampled_from([UNDEFINED, Ext0Bytes(b"\x01"), Ext0Date.from_ms(1)])
)
msgpack_values = trees(msgpack_scalars, texts | msgpack_ints | st.binary(max_size=3), msgpack_ints)


def msgpack_default(value: Any) -> Any:
    if value is UNDEFINED:
        return msgpack.ExtType(0, b"\x00")
    if isinstance(value, Ext0Date):
        ms = (value - EPOCH) // timedelta(milliseconds=1)
        return msgpack.ExtType(0, ms.to_bytes(8, "big", signed=True))
    raise TypeError(type(value))


def encode_msgpack(value: Any) -> bytes:
    """Like any msgpack writer would: keys of any type, ext types as they are."""
    out: bytes = msgpack.packb(value, use_bin_type=True, default=msgpack_default)
    return out


# Byte strings that steer random payloads into headers, ext 0 and real message keys.
TOKENS = [
    b"\x90",
    b"\x91",
    b"\x93",
    b"\x81",
    b"\x84",
    b"\xdc\x00\x02",
    b"\xde\x00\x01",
    b"\xdd\x00\x00\x00\x01",
    b"\xc0",
    b"\xc3",
    b"\x02",
    b"\x07",
    b"\xcf" + b"\xff" * 8,
    b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
    b"\xd4\x00\x00",
    b"\xd4\x00\xff",
    b"\xd7\x00" + (1_700_000_000_123).to_bytes(8, "big"),
    b"\xd7\x00\x7f" + b"\xff" * 7,
    b"\xc7\x01\x00\x05",
    b"\xc7\x08\x00",
    b"\xc8\x00\x01\x00\x05",
    b"\xc9\x00\x00\x00\x08\x00",
    b"\xd5\x00\x01\x02",
    b"\xd6\xff\x00\x00\x00\x01",
    b"\xd7\xff",
    b"\xc7\x0c\xff",
    b"\xc4\x03",
    b"\xa4type",
    b"\xa4data",
    b"\xa3nsp",
    b"\xa9requestId",
    b"\xa4opts",
    b"\xa6packet",
    b"\xa5rooms",
    b"\xabclientCount",
    b"\xa1/",
    b'{"type":',
    b'"data":',
    b"[",
    b"]",
    b"}",
]
structured_bytes = st.lists(
    st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=4), max_size=24
).map(b"".join)


# -- 1. only DecodeError comes out -----------------------------------------------------


@PROPERTY
@given(st.binary(max_size=96) | structured_bytes)
def test_any_bytes(payload: bytes) -> None:
    decode_everywhere(payload)


@PROPERTY
@given(msgpack_values)
def test_any_msgpack_value(value: Any) -> None:
    decode_everywhere(encode_msgpack(value))


@PROPERTY
@given(json_values)
def test_any_json_value(value: Any) -> None:
    decode_everywhere(json.dumps(value).encode())
    decode_everywhere(json.dumps({"type": 3, "data": value, "uid": "u", "nsp": "/"}).encode())


# Real messages, as the families encode them, with one field replaced by a wrong-typed value.

ME = "me0123456789abc"
uids = st.sampled_from(["node1", "emitter", ME]) | texts
request_ids = st.sampled_from(["r1", "xyz789"]) | texts
room_names = st.lists(texts | st.integers(0, 2**40), max_size=3)
plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(-1e9, 1e9) | texts,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(texts, c, max_size=3),
    max_leaves=8,
)
events = st.lists(plain, max_size=3).flatmap(lambda rest: texts.map(lambda e: [e, *rest]))
targets = st.builds(
    m.Target,
    rooms=room_names,
    except_rooms=room_names,
    flags=st.fixed_dictionaries(
        {}, optional={"volatile": st.booleans(), "timeout": st.integers(0, 10**4)}
    ),
)
sockets = st.lists(
    st.fixed_dictionaries(
        {
            "id": texts,
            "handshake": st.dictionaries(texts, plain),
            "rooms": room_names,
            "data": plain,
        }
    ),
    max_size=2,
)
nsps = st.sampled_from(["/", "/admin"])
real_messages = st.one_of(
    st.builds(
        m.Broadcast, nsps, uids, events, targets, st.none() | request_ids, st.sampled_from([2, 5])
    ),
    st.builds(m.SocketsJoin, nsps, uids, targets, room_names),
    st.builds(m.SocketsLeave, nsps, uids, targets, room_names),
    st.builds(m.DisconnectSockets, nsps, uids, targets, st.booleans()),
    st.builds(m.FetchSockets, nsps, uids, request_ids, targets),
    st.builds(m.FetchSocketsResponse, nsps, uids, request_ids, sockets, st.just(ME)),
    st.builds(m.ServerSideEmit, nsps, uids, events, st.none() | request_ids),
    st.builds(m.ServerSideEmitResponse, nsps, uids, request_ids, plain, st.just(ME)),
    st.builds(m.BroadcastClientCount, nsps, uids, request_ids, st.integers(0, 10**6), st.just(ME)),
    st.builds(
        m.BroadcastAck,
        nsps,
        uids,
        request_ids,
        plain,
        st.none() | st.lists(plain, max_size=2),
        st.booleans(),
        st.just(ME),
    ),
    st.builds(m.AllRooms, nsps, uids, request_ids),
    st.builds(m.SocketIds, nsps, uids, request_ids, room_names),
    st.builds(m.RemoteJoin, nsps, uids, request_ids, texts, texts | st.integers(0, 99)),
    st.builds(m.RemoteLeave, nsps, uids, request_ids, texts, texts | st.integers(0, 99)),
    st.builds(m.RemoteDisconnect, nsps, uids, request_ids, texts, st.booleans()),
    st.builds(
        m.RequestReply,
        nsps,
        request_ids,
        st.none() | room_names,
        st.none() | st.lists(texts, max_size=2) | sockets,
        uids,
        st.just(ME),
    ),
    st.builds(m.Heartbeat, nsps, uids, st.booleans()),
    st.builds(m.AdapterClose, nsps, uids),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a decoded tree that a mutation can replace."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


def replaced(tree: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy: Any = dict(tree) if isinstance(tree, dict) else list(tree)
    copy[head] = replaced(tree[head], rest, new)
    return copy


@PROPERTY
@given(real_messages, st.data())
def test_real_messages_with_a_wrong_field(message: Any, data: st.DataObject) -> None:
    for family in (CLASSIC, CLUSTER):
        if type(message) not in family.supported:
            continue
        channel, payload = family.encode(message)
        info = family.parse_channel(channel)
        assert info is not None
        assert_usable(family.decode(info, payload))  # the message itself is fine
        is_json = notepack.looks_like_json(payload)
        tree = json.loads(payload) if is_json else msgpack.unpackb(payload, strict_map_key=False)
        path = data.draw(st.sampled_from(paths(tree)), label="path")
        new = data.draw(json_values if is_json else msgpack_values, label="new value")
        tree = replaced(tree, path, new)
        raw = json.dumps(tree).encode() if is_json else encode_msgpack(tree)
        for preserve in (False, True):
            with contextlib.suppress(DecodeError):
                assert_usable(family.decode(info, raw, preserve=preserve))


# Values hypothesis is unlikely to draw, each refused by a check of its own.

CLASSIC_BROADCAST = CLASSIC.parse_channel("socket.io#/#")
CLASSIC_REQUEST = CLASSIC.parse_channel("socket.io-request#/#")
CLASSIC_RESPONSE = CLASSIC.parse_channel("socket.io-response#/#")
CLUSTER_MAIN = CLUSTER.parse_channel("socket.io#/#")
CLUSTER_RESPONSE = CLUSTER.parse_channel(f"socket.io#/#{ME}#")
TS = b"\xd6\xff\x00\x00\x00\x01"  # a timestamp, so that dates are looked for
DEEP = b"\x91" * 1000 + TS  # msgpack nests 1024 levels; a recursive walk cannot follow


def classic_broadcast(packet_type: Any) -> bytes:
    return encode_msgpack(["u", {"type": packet_type, "data": ["ev"], "nsp": "/"}, {}])


def cluster_message(type_: int, data: Any) -> bytes:
    return json.dumps({"type": type_, "data": data, "uid": "u", "nsp": "/"}).encode()


def with_deep_data(payload: bytes) -> bytes:
    return payload.replace(b"\x91\xa2ev", b"\x92\xa2ev" + DEEP, 1)


BAD_FIELDS = [
    (CLASSIC, CLASSIC_BROADCAST, classic_broadcast(2.0)),
    (CLASSIC, CLASSIC_BROADCAST, classic_broadcast(True)),
    (CLASSIC, CLASSIC_BROADCAST, classic_broadcast(7)),
    (CLUSTER, CLUSTER_MAIN, cluster_message(3, {"packet": {"type": 5.0, "data": ["ev"]}})),
    *(
        (CLASSIC, CLASSIC_RESPONSE, json.dumps(fields).encode())
        for count in (-1, 2**63, 10**30, 1.5, True, "3", None)
        for fields in [{"type": 8, "requestId": "r", "clientCount": count}]
    ),
    *(
        (CLUSTER, CLUSTER_RESPONSE, cluster_message(11, {"requestId": "r", "clientCount": count}))
        for count in (-1, 2**63, 10**30, 1.5, False)
    ),
    (CLASSIC, CLASSIC_RESPONSE, b'{"requestId":"r","sockets":[1]}'),
    (CLASSIC, CLASSIC_RESPONSE, b'{"requestId":"r","sockets":["a",["b"]]}'),
    (CLUSTER, CLUSTER_RESPONSE, cluster_message(8, {"requestId": "r", "sockets": ["sid"]})),
    (CLUSTER, CLUSTER_RESPONSE, cluster_message(8, {"requestId": "r", "sockets": [None]})),
    (
        CLASSIC,
        CLASSIC_REQUEST,
        with_deep_data(
            encode_msgpack(
                {"requestId": "r", "type": 7, "packet": {"data": ["ev"], "nsp": "/"}, "opts": {}}
            )
        ),
    ),
    (
        CLUSTER,
        CLUSTER_MAIN,
        with_deep_data(encode_msgpack({"type": 3, "data": {"packet": {"data": ["ev"]}}})),
    ),
]


def test_bad_fields_are_refused() -> None:
    for family, info, payload in BAD_FIELDS:
        assert info is not None
        for preserve in (False, True):
            if preserve and DEEP in payload:
                # Dates are kept as they are with preserve: nothing to walk, a fine message.
                assert_usable(family.decode(info, payload, preserve=True))
                continue
            with pytest.raises(DecodeError):
                family.decode(info, payload, preserve=preserve)


def test_good_fields_still_decode() -> None:
    assert CLASSIC_RESPONSE is not None
    assert CLUSTER_RESPONSE is not None
    count = CLASSIC.decode(CLASSIC_RESPONSE, b'{"type":8,"requestId":"r","clientCount":0}')
    assert count == m.BroadcastClientCount("/", None, "r", 0)
    reply = CLASSIC.decode(CLASSIC_RESPONSE, b'{"requestId":"r","sockets":["a",{"id":"b"}]}')
    assert reply == m.RequestReply("/", "r", sockets=["a", {"id": "b"}])
    big = cluster_message(11, {"requestId": "r", "clientCount": 2**63 - 1})
    assert CLUSTER.decode(CLUSTER_RESPONSE, big) == m.BroadcastClientCount(
        "/", "u", "r", 2**63 - 1, ME
    )
