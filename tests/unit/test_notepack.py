"""sioadapter.wire.notepack against PROTOCOL.md's golden vectors and real Node captures."""

from __future__ import annotations

import contextlib
import enum
import json
import random
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgpack
import pytest

from sioadapter.wire import _slowpack, notepack
from sioadapter.wire.notepack import (
    UNDEFINED,
    DecodeError,
    Ext0Bytes,
    Ext0Date,
    Undefined,
    dates_to_iso,
    dumps_json,
    has_binary,
    loads_json,
    looks_like_json,
    packb,
    unpackb,
)

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "node-captures.json").read_text("utf-8")
)
MSGPACK = [v for v in VECTORS if v["encoding"] == "msgpack"]
JSON_VECTORS = [v for v in VECTORS if v["encoding"] == "json"]
ENCODE_ONLY = [v for v in MSGPACK if v["kind"] == "encode-only"]


def vid(v: dict[str, Any]) -> str:
    return f"{v['scenario']}-{v['op_index']}-{v['hex'][:16]}"


def ms_date(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


# ------------------------------------------------------------------ golden vectors (PROTOCOL.md)

GOLDEN_MSGPACK = [
    pytest.param(  # 3.2 adapter broadcast
        "93a661626331323383a47479706502a46461746194a47465737401a132c4020304a36e7370a12f83a5726f"
        "6f6d7391a5726f6f6d31a665786365707490a5666c61677380",
        [
            "abc123",
            {"type": 2, "data": ["test", 1, "2", b"\x03\x04"], "nsp": "/"},
            {"rooms": ["room1"], "except": [], "flags": {}},
        ],
        id="3.2-broadcast",
    ),
    pytest.param(  # 3.2 emitter broadcast
        "93a7656d697474657283a47479706502a46461746192a26576a178a36e7370a12f83a5726f6f6d7390a566"
        "6c61677381a8766f6c6174696c65c3a665786365707491a27232",
        [
            "emitter",
            {"type": 2, "data": ["ev", "x"], "nsp": "/"},
            {"rooms": [], "flags": {"volatile": True}, "except": ["r2"]},
        ],
        id="3.2-emitter",
    ),
    pytest.param(  # 3.5 sharded message, msgpack path
        "84a47479706503a46461746182a67061636b657483a47479706502a46461746192a474657374c4020102a3"
        "6e7370a12fa46f70747383a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380a3756964"
        "b030313233343536373839616263646566a36e7370a12f",
        {
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["test", b"\x01\x02"], "nsp": "/"},
                "opts": {"rooms": ["room1"], "except": [], "flags": {}},
            },
            "uid": "0123456789abcdef",
            "nsp": "/",
        },
        id="3.5-sharded",
    ),
    pytest.param(  # 11 BROADCAST request with ack
        "85a3756964a6616263313233a9726571756573744964a678797a373839a47479706507a67061636b657483"
        "a47479706502a46461746191a474657374a36e7370a12fa46f70747383a5726f6f6d7390a6657863657074"
        "90a5666c61677381a774696d656f7574cd01f4",
        {
            "uid": "abc123",
            "requestId": "xyz789",
            "type": 7,
            "packet": {"type": 2, "data": ["test"], "nsp": "/"},
            "opts": {"rooms": [], "except": [], "flags": {"timeout": 500}},
        },
        id="11-broadcast-request",
    ),
    pytest.param(
        "83a47479706509a9726571756573744964a678797a373839a67061636b657401",
        {"type": 9, "requestId": "xyz789", "packet": 1},
        id="11-broadcast-ack",
    ),
    pytest.param("81a16201", {"b": 1}, id="11-undefined-key-dropped"),
    pytest.param("91c0", [None], id="11-undefined-in-array"),
    pytest.param("d6ff6553f100", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), id="11-ts32"),
    pytest.param(
        "d7ff1d5353006553f100", datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC), id="11-ts64"
    ),
    pytest.param("c4020102", b"\x01\x02", id="11-uint8array"),
    pytest.param("cb3ff8000000000000", 1.5, id="11-float"),
    pytest.param("cf0000010000000000", 2**40, id="11-uint64"),
]

GOLDEN_JSON = [
    pytest.param(  # 3.5 sharded message, JSON path
        '{"type":3,"data":{"packet":{"type":2,"data":["test",1],"nsp":"/"},"opts":{"rooms":'
        '["room1"],"except":[],"flags":{}}},"uid":"0123456789abcdef","nsp":"/"}',
        {
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["test", 1], "nsp": "/"},
                "opts": {"rooms": ["room1"], "except": [], "flags": {}},
            },
            "uid": "0123456789abcdef",
            "nsp": "/",
        },
        id="3.5-json",
    ),
    pytest.param(
        '{"uid":"emitter","type":6,"data":["hello","world",1]}',
        {"uid": "emitter", "type": 6, "data": ["hello", "world", 1]},
        id="11-emitter-serverSideEmit",
    ),
    pytest.param(
        '{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room2"]}',
        {"type": 2, "opts": {"rooms": ["room1"], "except": []}, "rooms": ["room2"]},
        id="11-emitter-socketsJoin",
    ),
]


def assert_same(actual: Any, expected: Any, *, preserve: bool, path: str = "$") -> None:
    """Deep equality that also checks types (and dict key order)."""
    if isinstance(expected, bytes):
        allowed = (bytes, Ext0Bytes) if preserve else (bytes,)
        assert type(actual) in allowed, f"{path}: {type(actual)}"
        assert actual == expected, path
    elif isinstance(expected, dict):
        assert type(actual) is dict, f"{path}: {type(actual)}"
        assert list(actual) == list(expected), path
        for k, v in expected.items():
            assert_same(actual[k], v, preserve=preserve, path=f"{path}.{k}")
    elif isinstance(expected, list):
        assert type(actual) is list, f"{path}: {type(actual)}"
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, preserve=preserve, path=f"{path}[{i}]")
    else:
        assert type(actual) is type(expected), f"{path}: {type(actual)} != {type(expected)}"
        assert actual == expected, path


@pytest.mark.parametrize(("hexstr", "value"), GOLDEN_MSGPACK)
def test_golden_msgpack(hexstr: str, value: Any) -> None:
    raw = bytes.fromhex(hexstr)
    assert_same(unpackb(raw), value, preserve=False)
    assert packb(value).hex() == hexstr


@pytest.mark.parametrize(("text", "value"), GOLDEN_JSON)
def test_golden_json(text: str, value: Any) -> None:
    raw = text.encode()
    assert looks_like_json(raw)
    assert_same(loads_json(raw), value, preserve=False)
    assert dumps_json(value) == raw


# ------------------------------------------------------------------ Node captures


def from_notation(x: Any, *, legacy: bool) -> Any:
    """node-captures.json notation to Python; ``legacy`` gives the preserve=True markers.

    Without ``legacy``, JS semantics: a key whose value is undefined is absent, an undefined
    array element is None.
    """
    if isinstance(x, dict):
        if x.keys() == {"$bin"}:
            return bytes.fromhex(x["$bin"])
        if x.keys() == {"$date"}:
            return Ext0Date.from_ms(x["$date"]) if legacy else ms_date(x["$date"])
        if x.keys() == {"$undefined"}:
            return UNDEFINED if legacy else None
        return {
            k: from_notation(v, legacy=legacy)
            for k, v in x.items()
            if legacy or not (isinstance(v, dict) and v.keys() == {"$undefined"})
        }
    if isinstance(x, list):
        return [from_notation(v, legacy=legacy) for v in x]
    return x


def contains_marker(x: Any) -> bool:
    if isinstance(x, (Undefined, Ext0Bytes, Ext0Date)):
        return True
    if isinstance(x, dict):
        return any(contains_marker(v) for v in x.values())
    if isinstance(x, list):
        return any(contains_marker(v) for v in x)
    return False


def test_capture_counts() -> None:
    # 48 msgpack payloads captured on the wire plus 17 notepack 2.3.0 encode-only outputs.
    assert len(MSGPACK) == 65
    assert len(ENCODE_ONLY) == 17
    assert len(JSON_VECTORS) == 174


@pytest.mark.parametrize("vector", MSGPACK, ids=vid)
def test_capture_preserve_roundtrip(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["hex"])
    assert not looks_like_json(raw)
    decoded = unpackb(raw, preserve=True)
    legacy = vector["family"] == "legacy"
    assert_same(decoded, from_notation(vector["decoded"], legacy=legacy), preserve=True)
    assert packb(decoded) == raw


@pytest.mark.parametrize("vector", MSGPACK, ids=vid)
def test_capture_plain_decode(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["hex"])
    decoded = unpackb(raw)
    assert not contains_marker(decoded)
    assert_same(decoded, from_notation(vector["decoded"], legacy=False), preserve=False)
    # The pure-Python reader and writer agree with the C path on every real payload.
    assert_same(notepack._unpack_slow(raw, False, False), decoded, preserve=False)
    assert _slowpack.pack(decoded, notepack._slow_default, notepack._slow_key) == packb(decoded)
    iso = unpackb(raw, dates="iso")
    assert iso == notepack._unpack_slow(raw, True, False)
    assert iso == dates_to_iso(decoded)


NOT_REPRESENTABLE = {
    "82a161d40000a16201": "notepack 3 drops keys whose value is undefined; Python None is null",
    "c7040001000200": "notepack 3 truncates Uint16Array elements to bytes; bytes cannot say that",
}


@pytest.mark.parametrize("vector", ENCODE_ONLY, ids=vid)
def test_encode_only_matches_notepack3(vector: dict[str, Any]) -> None:
    if vector["hex"] in NOT_REPRESENTABLE:
        pytest.skip(NOT_REPRESENTABLE[vector["hex"]])
    plain = unpackb(bytes.fromhex(vector["hex"]))
    assert packb(plain).hex() == vector["notepack_3_0_1_encoding_of_same_value"]


@pytest.mark.parametrize("vector", JSON_VECTORS, ids=vid)
def test_capture_json_roundtrip(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["hex"])
    assert looks_like_json(raw)
    value = loads_json(raw, buffers=False)
    assert value == vector["decoded"]
    assert dumps_json(value) == raw
    assert dumps_json(loads_json(raw)) == raw  # Buffer shapes -> bytes -> Buffer shapes


# ------------------------------------------------------------------ legacy ext 0


@pytest.mark.parametrize(
    ("hexstr", "preserved", "plain"),
    [
        ("d40000", UNDEFINED, None),
        ("d400ff", UNDEFINED, None),  # notepack 2 ignores the data byte
        ("c70100ff", Ext0Bytes(b"\xff"), b"\xff"),
        ("c70100" + "00", Ext0Bytes(b"\x00"), b"\x00"),
        ("c7080001020304050607 08".replace(" ", ""), Ext0Bytes(bytes(range(1, 9))), None),
        ("d7000000018bcfe5687b", Ext0Date.from_ms(1700000000123), ms_date(1700000000123)),
        ("d700ffffffffffffffff", Ext0Date.from_ms(-1), ms_date(-1)),
        ("c70300010203", Ext0Bytes(b"\x01\x02\x03"), b"\x01\x02\x03"),
        ("c8000300010203", Ext0Bytes(b"\x01\x02\x03"), b"\x01\x02\x03"),
        ("c90000000100ff", Ext0Bytes(b"\xff"), b"\xff"),
    ],
)
def test_legacy_ext0(hexstr: str, preserved: Any, plain: Any) -> None:
    raw = bytes.fromhex(hexstr)
    got = unpackb(raw, preserve=True)
    assert type(got) is type(preserved)
    assert got == preserved
    if plain is None and preserved is not UNDEFINED:
        plain = bytes(preserved)
    assert_same(unpackb(raw), plain, preserve=False)


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16, 255, 256, 65536])
def test_ext0bytes_never_uses_fixext(size: int) -> None:
    data = bytes(i & 0xFF for i in range(size))
    out = packb(Ext0Bytes(data))
    if size < 256:
        assert out[:3] == bytes([0xC7, size, 0])
    elif size < 65536:
        assert out[:4] == b"\xc8" + size.to_bytes(2, "big") + b"\x00"
    else:
        assert out[:6] == b"\xc9" + size.to_bytes(4, "big") + b"\x00"
    assert out.endswith(data)
    back = unpackb(out, preserve=True)
    assert type(back) is Ext0Bytes
    assert back == data


def test_markers() -> None:
    assert Undefined() is UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"
    assert not UNDEFINED
    assert packb(UNDEFINED) == b"\xd4\x00\x00"
    assert packb({"a": UNDEFINED, "b": 1}).hex() == "82a161d40000a16201"
    assert packb(Ext0Date.from_ms(1700000000123)).hex() == "d7000000018bcfe5687b"
    assert packb([Ext0Date.from_ms(-1)]).hex() == "91d700ffffffffffffffff"
    # Markers mixed with ordinary values: the rest is still written the notepack 3 way.
    value = [datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC), b"\x01", UNDEFINED, 1.0]
    assert packb(value).hex() == "94d7ff1d5353006553f100c40101d40000cb3ff0000000000000"


# ------------------------------------------------------------------ packb details


class Color(enum.IntEnum):
    RED = 1


def test_packb_types() -> None:
    assert packb(1.0).hex() == "cb3ff0000000000000"  # floats stay floats
    assert packb(True) == b"\xc3"
    assert packb(None) == b"\xc0"
    assert packb((1, 2)) == packb([1, 2]) == b"\x92\x01\x02"
    assert packb({3}) == b"\x91\x03"
    assert packb(frozenset()) == b"\x90"
    assert packb(bytearray(b"ab")) == packb(memoryview(b"ab")) == b"\xc4\x02ab"
    assert packb(Color.RED) == b"\x01"
    assert packb("é") == b"\xa2\xc3\xa9"
    assert packb("x" * 32)[:2] == b"\xd9\x20"  # str8, as notepack writes it
    assert packb(-1) == b"\xff"
    assert packb(-33) == b"\xd0\xdf"
    assert packb(2**64 - 1) == b"\xcf" + b"\xff" * 8
    assert packb(-(2**63)) == b"\xd3\x80" + b"\x00" * 7
    assert packb(msgpack.Timestamp(1, 0)) == b"\xd6\xff\x00\x00\x00\x01"


def test_packb_datetimes() -> None:
    aware = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert packb(aware.replace(tzinfo=None)) == packb(aware)  # naive means UTC
    other = aware.astimezone(timezone(timedelta(hours=5)))
    assert packb(other) == packb(aware)
    # Microseconds are kept (a JS Date never has them, so JS values round-trip exactly).
    micro = aware.replace(microsecond=123456)
    assert unpackb(packb(micro)) == micro
    assert packb(ms_date(-1)).hex() == "c70cff3b8b87c0ffffffffffffffff"  # timestamp 96


def test_packb_keys() -> None:
    assert packb({1: "a", "b": 2}) == packb({"1": "a", "b": 2})
    assert packb({"x": {Color.RED: 1}}) == packb({"x": {"1": 1}})
    assert packb({1: UNDEFINED}) == packb({"1": UNDEFINED})
    for bad in ({(1, 2): 1}, {1.5: 1}, {None: 1}, {True: 1}, {"a": [{Ext0Date.from_ms(0): 1}]}):
        with pytest.raises(TypeError):
            packb(bad)
    # bytes keys are allowed and written as bin keys (Node reads them as their UTF-8 text).
    assert packb({b"k": 1}) == b"\x81\xc4\x01k\x01"
    # Large outputs check keys with a walk instead of the C unpacker: same rules.
    blob = bytes(20000)
    assert packb({1: blob, b"k": 2}) == packb({"1": blob, b"k": 2})
    with pytest.raises(TypeError):
        packb([blob, {"x": [{(1,): 1}]}])
    with pytest.raises(TypeError):
        packb([{None: 1}, blob])
    with pytest.raises(ValueError, match="equal"):
        packb({1: "a", "1": "b"})


class Shape(enum.Enum):
    ROUND = "r"


def test_packb_errors() -> None:
    with pytest.raises(TypeError, match="object"):
        packb(object())
    with pytest.raises(TypeError, match="Shape"):
        packb([Shape.ROUND])
    with pytest.raises(OverflowError):
        packb(2**64)
    with pytest.raises(OverflowError):
        packb([UNDEFINED, -(2**63) - 1])
    # The thread-local packer stays usable after errors.
    assert packb([1]) == b"\x91\x01"


def test_packb_threads() -> None:
    value = [(i, "x", (1.5, {"k": (b"\x00",)})) for i in range(50)]
    expected = packb(value)
    results: list[bool] = []

    def work() -> None:
        results.append(all(packb(value) == expected for _ in range(300)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


# ------------------------------------------------------------------ dates


def test_dates_iso() -> None:
    assert unpackb(packb(ms_date(1700000000123)), dates="iso") == "2023-11-14T22:13:20.123Z"
    assert unpackb(packb(ms_date(0)), dates="iso") == "1970-01-01T00:00:00.000Z"
    assert unpackb(packb(ms_date(-1)), dates="iso") == "1969-12-31T23:59:59.999Z"
    legacy = bytes.fromhex("92d7000000018bcfe5687bd40000")
    assert unpackb(legacy, dates="iso") == ["2023-11-14T22:13:20.123Z", None]
    # preserve wins over dates: the marker is kept so that it re-encodes.
    assert type(unpackb(legacy, dates="iso", preserve=True)[0]) is Ext0Date
    # Nested, in a map key too.
    nested = packb({"a": [{"b": ms_date(5)}]})
    assert unpackb(nested, dates="iso") == {"a": [{"b": "1970-01-01T00:00:00.005Z"}]}
    ts_key = b"\x81" + packb(msgpack.Timestamp(0, 0)) + b"\x01"
    assert unpackb(ts_key, dates="iso") == {"1970-01-01T00:00:00.000Z": 1}
    # A non-canonical timestamp header (ext8 of 8 bytes) is found too.
    odd = b"\x91\xc7\x08\xff" + msgpack.Timestamp(1, 0).to_bytes().rjust(8, b"\x00")
    assert unpackb(odd, dates="iso") == ["1970-01-01T00:00:01.000Z"]
    with pytest.raises(ValueError, match="dates"):
        unpackb(b"\xc0", dates="local")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ms", "iso"),
    [
        (8_640_000_000_000_000, "+275760-09-13T00:00:00.000Z"),
        (-8_640_000_000_000_000, "-271821-04-20T00:00:00.000Z"),
        (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
        (-62_167_219_200_001, "-000001-12-31T23:59:59.999Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
    ],
)
def test_iso_extended_years(ms: int, iso: str) -> None:
    # Same rules as JS's Date#toISOString, through both date encodings.
    s, rem = divmod(ms, 1000)
    assert unpackb(packb(msgpack.Timestamp(s, rem * 1_000_000)), dates="iso") == iso
    legacy = b"\xd7\x00" + ms.to_bytes(8, "big", signed=True)
    assert unpackb(legacy, dates="iso") == iso


def test_iso_matches_datetime() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        ms = rng.randrange(-62_135_596_800_000, 253_402_300_800_000)
        expected = ms_date(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert notepack._iso_from_ms(ms) == expected


def test_dates_out_of_range() -> None:
    beyond_js = b"\xd7\x00" + (8_640_000_000_000_001).to_bytes(8, "big")
    with pytest.raises(DecodeError):
        unpackb(beyond_js, dates="iso")
    year_20000 = packb(msgpack.Timestamp(569_000_000_000, 0))
    with pytest.raises(DecodeError):
        unpackb(year_20000)  # no datetime for it
    assert unpackb(year_20000, dates="iso").startswith("+020000-")


def test_sub_millisecond_timestamp_truncates_like_js() -> None:
    # new Date(-1000 + 0.5) is -999 ms in JS (time values are truncated toward zero).
    assert unpackb(packb(msgpack.Timestamp(-1, 500_000)), dates="iso") == (
        "1969-12-31T23:59:59.001Z"
    )


def test_dates_to_iso() -> None:
    value = {"d": (ms_date(1), [datetime(2023, 1, 1)]), "n": 1}
    assert dates_to_iso(value) == {
        "d": ["1970-01-01T00:00:00.001Z", ["2023-01-01T00:00:00.000Z"]],
        "n": 1,
    }
    # Lists and dicts are converted in place, tuples replaced.
    assert value["d"] == ["1970-01-01T00:00:00.001Z", ["2023-01-01T00:00:00.000Z"]]
    flat = [1, "a", b"b", None]
    assert dates_to_iso(flat) is flat
    assert dates_to_iso({ms_date(0): 1}) == {"1970-01-01T00:00:00.000Z": 1}


# ------------------------------------------------------------------ bad input


MODES: list[dict[str, Any]] = [{}, {"preserve": True}, {"dates": "iso"}]


def assert_decode_error(raw: bytes) -> None:
    for kwargs in MODES:
        with pytest.raises(DecodeError):
            unpackb(raw, **kwargs)


SLOW = b"\x92\xd4\x00\x00"  # array whose first item is ambiguous ext 0: the pure-Python reader


@pytest.mark.parametrize("prefix", [b"", SLOW], ids=["fast", "slow"])
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xdd\xff\xff\xff\xff",  # array of 2**32-1 items, no body
        b"\xdf\xff\xff\xff\xff",  # map of 2**32-1 pairs, no body
        b"\xc6\xff\xff\xff\xff",  # bin of 4 GiB, no body
        b"\xd4\x05\x00",  # unknown ext type
        b"\xc7\x03\x07abc",
        b"\xd8\x80" + bytes(16),
        b"\xa2\xff\xfe",  # invalid utf-8
        b"\xd9\x02\xc3\x28",
        b"\xc1",  # never used
        b"\x81\x91\x01\x01",  # unhashable key
        b"\xd6\xff\x00",  # truncated timestamp
        b"\xd7\xff\xff\xff\xff\xff\x00\x00\x00\x00",  # nanoseconds >= 10**9
        b"\xc7\x05\xff\x00\x00\x00\x00\x00",  # timestamp of a bad length
    ],
)
def test_bad_payloads(prefix: bytes, body: bytes) -> None:
    assert_decode_error(prefix + body)


def test_trailing_bytes() -> None:
    assert_decode_error(b"\xc0\xc0")
    assert_decode_error(b"\x91\x01\x02")
    assert_decode_error(b"\xd4\x00\x00\x00")  # slow path
    assert_decode_error(SLOW + b"\x01\x02")


def test_bytes_like_input() -> None:
    raw = packb([ms_date(0), b"x"])
    for data in (bytearray(raw), memoryview(raw)):
        assert unpackb(data) == [ms_date(0), b"x"]
        assert unpackb(data, dates="iso") == ["1970-01-01T00:00:00.000Z", b"x"]
    assert loads_json(memoryview(b'{"a":1}')) == {"a": 1}


def test_empty_and_non_bytes() -> None:
    assert_decode_error(b"")
    with pytest.raises(TypeError):
        unpackb("abc")  # type: ignore[arg-type]


def test_deep_nesting() -> None:
    assert_decode_error(b"\x91" * 100_000 + b"\xc0")
    assert_decode_error(SLOW + b"\x91" * 100_000 + b"\xc0")


TRUNCATE = [
    GOLDEN_MSGPACK[0].values[0],
    GOLDEN_MSGPACK[2].values[0],
    "c70cff3b8b87c0ffffffffffffffff",
    *(v["hex"] for v in ENCODE_ONLY if v["op_index"] in (9, 15, 16)),  # ext16, legacy messages
]


@pytest.mark.parametrize("hexstr", TRUNCATE)
def test_every_prefix_fails(hexstr: str) -> None:
    raw = bytes.fromhex(hexstr)
    unpackb(raw)  # the whole payload is fine
    for end in range(len(raw)):
        assert_decode_error(raw[:end])


def test_random_bytes() -> None:
    rng = random.Random(20231114)
    for i in range(3000):
        raw = rng.randbytes(rng.randrange(0, 48))
        if i % 3 == 0:
            raw = SLOW + raw
        for kwargs in MODES:
            with contextlib.suppress(DecodeError):
                unpackb(raw, **kwargs)
        with contextlib.suppress(DecodeError):
            loads_json(raw)


def test_random_valid_values_roundtrip() -> None:
    rng = random.Random(99)

    def gen(depth: int) -> Any:
        kind = rng.randrange(10 if depth < 4 else 7)
        if kind == 0:
            return rng.randrange(-(2**63), 2**64)
        if kind == 1:
            return rng.choice([0, 1, -1, 127, 128, 255, 256, -32, -33, -128, -129, 65535, 65536])
        if kind == 2:
            return rng.random() * 1e6
        if kind == 3:
            return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(40)))
        if kind == 4:
            return rng.randbytes(rng.choice([0, 1, 8, 300]))
        if kind == 5:
            return rng.choice([None, True, False, UNDEFINED])
        if kind == 6:
            return rng.choice([ms_date(rng.randrange(-(10**12), 10**13)), Ext0Date.from_ms(5)])
        if kind == 7:
            return Ext0Bytes(rng.randbytes(rng.choice([1, 2, 8, 20])))
        if kind == 8:
            return [gen(depth + 1) for _ in range(rng.randrange(20))]
        return {f"k{j}": gen(depth + 1) for j in range(rng.randrange(20))}

    for _ in range(300):
        value = gen(0)
        raw = packb(value)
        back = unpackb(raw, preserve=True)
        assert back == value
        assert packb(back) == raw


# ------------------------------------------------------------------ helpers and JSON


def test_has_binary() -> None:
    assert not has_binary([1, "a", None, 1.5, True])
    assert not has_binary({"a": [1, {"b": "c"}], "d": ()})
    assert has_binary(b"")
    assert has_binary(["x", {"y": [(1, bytearray(b"z"))]}])
    assert has_binary({"m": memoryview(b"1")})
    assert has_binary([Ext0Bytes(b"1")])
    assert not has_binary({b"key": 1})  # keys are not looked at, like Node
    assert not has_binary(datetime(2020, 1, 1))
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="deep"):
        has_binary([loop, "x", b"y"])


def test_dumps_json() -> None:
    assert dumps_json({"b": b"\x01\xff"}) == b'{"b":{"type":"Buffer","data":[1,255]}}'
    assert dumps_json([float("nan"), float("inf"), -float("inf"), 1.0]) == b"[null,null,null,1.0]"
    assert dumps_json({"s": "é€😀"}) == '{"s":"é€😀"}'.encode()
    assert dumps_json({"a": UNDEFINED, "b": [UNDEFINED, 1]}) == b'{"b":[null,1]}'
    assert dumps_json({"d": ms_date(1700000000123)}) == b'{"d":"2023-11-14T22:13:20.123Z"}'
    assert dumps_json([(1, 2), {3}, frozenset()]) == b"[[1,2],[3],[]]"
    assert dumps_json({"z": 1, "a": 2}) == b'{"z":1,"a":2}'
    assert dumps_json({1: True}) == b'{"1":true}'
    assert dumps_json("\ud800x\ud83d\ude00") == b'"\\ud800x\xf0\x9f\x98\x80"'
    assert dumps_json("\x00\n") == b'"\\u0000\\n"'
    with pytest.raises(TypeError, match="object"):
        dumps_json({"o": object()})
    with pytest.raises(TypeError):
        dumps_json(UNDEFINED)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="ircular"):
        dumps_json(loop)


def test_loads_json() -> None:
    raw = b'{"a":{"type":"Buffer","data":[1,2]},"b":[{"data":[],"type":"Buffer"}]}'
    assert loads_json(raw) == {"a": b"\x01\x02", "b": [b""]}
    assert loads_json(raw, buffers=False)["a"] == {"type": "Buffer", "data": [1, 2]}
    escaped = b'{"type":"\\u0042uffer","data":[7]}'
    assert loads_json(escaped) == b"\x07"
    for not_buffer in (
        b'{"type":"Buffer","data":[256]}',
        b'{"type":"Buffer","data":[true]}',
        b'{"type":"Buffer","data":[1.0]}',
        b'{"type":"Buffer","data":"ab"}',
        b'{"type":"Buffer","data":[1],"x":1}',
    ):
        assert isinstance(loads_json(not_buffer), dict)
    assert loads_json('{"é":1}') == {"é": 1}
    for bad in (b"", b"{", b'{"a":NaN}', b"[Infinity]", b"\xff", b'{"a":1} x', b"[" * 100_000):
        with pytest.raises(DecodeError):
            loads_json(bad)


def test_looks_like_json() -> None:
    assert looks_like_json(b'{"a":1}')
    assert looks_like_json(memoryview(b"{"))
    assert not looks_like_json(b"")
    assert not looks_like_json(b"\x81\xa1a\x01")
    assert not looks_like_json(packb({f"k{i}": i for i in range(20)}))  # map16: 0xde
