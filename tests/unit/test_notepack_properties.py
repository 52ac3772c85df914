"""Property tests (hypothesis) of the MessagePack codec: ``packb``/``unpackb`` round trips, and
the C-backed ``unpackb`` gives exactly what the pure-Python reference reader
(``notepack._unpack_slow``) gives on payloads holding notepack 2's ext type 0, along each path
it can take (the marker decode, the walk over headers, the undefined rules on long lists).
"""

from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sioadapter.wire import _ext0_kinds, notepack
from sioadapter.wire.notepack import UNDEFINED, Ext0Bytes, Ext0Date, packb, unpackb

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


# -- packb/unpackb round trips ------------------------------------------------------

dates = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), None]),
)
ext0_dates = st.integers(-62_000_000_000_000, 253_000_000_000_000).map(Ext0Date.from_ms)
packable = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(*INT64)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=12)
    | dates
    | ext0_dates
    | st.just(UNDEFINED)
    | st.binary(max_size=12).map(Ext0Bytes),
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), children, max_size=5)
        | st.dictionaries(st.integers(-5, 5), children, max_size=3)
    ),
    max_leaves=30,
)


def js_iso(when: datetime) -> str:
    """Date#toISOString of the JS Date notepack 3 makes of ``when`` (ms truncated to zero)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    us = (aware - EPOCH) // timedelta(microseconds=1)
    ms = us // 1000 if us >= 0 else -(-us // 1000)
    day = EPOCH + timedelta(milliseconds=ms)
    return f"{day.year:04d}-" + day.strftime("%m-%dT%H:%M:%S.") + f"{day.microsecond // 1000:03d}Z"


def expected(value: Any, preserve: bool, iso: bool) -> Any:
    """What unpackb(packb(value)) must give, by the documented rules."""
    if value is UNDEFINED:
        return UNDEFINED if preserve else None
    if isinstance(value, Ext0Bytes):
        return value if preserve else bytes(value)
    if isinstance(value, Ext0Date):
        if preserve:
            return value
        return js_iso(value) if iso else EPOCH + (value - EPOCH)
    if isinstance(value, datetime):
        if iso:
            return js_iso(value)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (list, tuple)):
        return [expected(item, preserve, iso) for item in value]
    if isinstance(value, dict):
        return {
            str(k) if type(k) is int else k: expected(v, preserve, iso)
            for k, v in value.items()
            if preserve or v is not UNDEFINED
        }
    return value


def assert_same(actual: Any, wanted: Any) -> None:
    """Equality that also checks types and dict key order (and takes NaN as equal)."""
    assert type(actual) is type(wanted), (actual, wanted)
    if isinstance(wanted, dict):
        assert list(actual) == list(wanted)
        for key in wanted:
            assert_same(actual[key], wanted[key])
    elif isinstance(wanted, list):
        assert len(actual) == len(wanted)
        for a, w in zip(actual, wanted, strict=True):
            assert_same(a, w)
    elif isinstance(wanted, float):
        assert struct.pack(">d", actual) == struct.pack(">d", wanted) or (
            math.isnan(actual) and math.isnan(wanted)
        )
    else:
        assert actual == wanted


@PROPERTY
@given(packable)
def test_packb_unpackb_round_trip(value: Any) -> None:
    raw = packb(value)
    for preserve in (False, True):
        for iso in (False, True):
            back = unpackb(raw, dates="iso" if iso else "datetime", preserve=preserve)
            assert_same(back, expected(value, preserve, iso))
    # With preserve, notepack 2's markers come back and encode to the very same bytes.
    assert packb(unpackb(raw, preserve=True)) == raw


# -- the C-backed decoder equals the pure-Python reference on ext 0 ------------------

EXT0_ITEMS = [
    b"\xd4\x00\x00",  # undefined
    b"\xd4\x00\x2a",
    b"\xd7\x00" + (1_700_000_000_123).to_bytes(8, "big"),  # Date
    b"\xd7\x00" + (-1).to_bytes(8, "big", signed=True),
    b"\xd7\x00\x7f" + b"\xff" * 7,  # a Date out of every range
    b"\xc7\x01\x00\x07",  # 1-byte ArrayBuffer
    b"\xc7\x08\x00" + bytes(range(8)),  # 8-byte ArrayBuffer
    b"\xc8\x00\x01\x00\x00",  # the same, non-canonical headers
    b"\xc8\x00\x08\x00" + b"\xc7\x01\x00\xd4\x00\x00\x00\x00",
    b"\xc9\x00\x00\x00\x01\x00\x09",
    b"\xc9\x00\x00\x00\x08\x00" + bytes(8),
    b"\xd5\x00\x01\x02",  # fixext2: an ArrayBuffer
    b"\xc7\x03\x00\xc7\x01\x00",
    b"\xc4\x04\xc7\x01\x00\x00",  # bins, strs and ints holding header bytes
    b"\xc4\x07\xc8\x00\x01\x00\xd4\x00\x00",
    b"\xa3\xc7\x08\x00",
    b"\xa6\xc9\x00\x00\x00\x01\x00",
    b"\xce\x00\xc7\x01\x00",
    b"\xcd\xc7\x01\x00",
    b"\xcb\xc7\x08\x00\x00\x00\x00\x00\x00",
    b"\xd7\xff" + b"\xc7\x01\x00" + b"\x00" * 5,  # timestamps holding header bytes
    b"\xd7\xff\xed\xc7\x01\x00" + b"\x00" * 4,
    b"\xc7\x0c\xff\x3a\xc7\x01\x00" + b"\x00" * 8,
    b"\xc7\x0c\xff\x3a\xc7\x08\x00" + b"\xff" * 8,
    b"\xd4\x05\x00",  # another ext type
    b"\xc0",
    b"\x01",
    b"\xa1a",
]


UNDEFINED_BYTES = b"\xd4\x00\x00"
MAP_KEYS = [b"\xa1a", b"\xa1b", b"\x01", b"\xd4\x00\x00", b"\xd7\x00" + bytes(8)]


@st.composite
def ext0_payloads(draw: st.DrawFn) -> bytes:
    """A well-formed tree whose leaves include ext 0 items, or a near miss of one."""

    def tree(depth: int) -> bytes:
        kind = draw(st.integers(0, 4 if depth < 4 else 1))
        if kind <= 1:
            return draw(st.sampled_from(EXT0_ITEMS))
        n = draw(st.integers(0, 5))
        if kind == 2:
            return bytes([0x90 | n]) + b"".join(tree(depth + 1) for _ in range(n))
        if kind == 3:
            return b"\xdc" + n.to_bytes(2, "big") + b"".join(tree(depth + 1) for _ in range(n))
        keys = [
            draw(st.sampled_from([b"\xa1a", b"\xa1b", b"\x01", b"\xd4\x00\x00"])) for _ in range(n)
        ]
        return bytes([0x80 | n]) + b"".join(k + tree(depth + 1) for k in keys)

    payload = tree(0)
    if draw(st.booleans()):
        return payload
    cut = draw(st.integers(0, len(payload)))  # truncated, or with bytes added
    return payload[:cut] + draw(st.binary(max_size=3))


def decoded_or_error(decode: Any, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    try:
        return True, decode(*args, **kwargs)
    except (ValueError, TypeError, OverflowError, RecursionError):  # DecodeError included
        return False, None


def assert_matches_reference(raw: bytes) -> None:
    for preserve in (False, True):
        for iso in (False, True):
            dates = "iso" if iso else "datetime"
            ok, fast = decoded_or_error(unpackb, raw, dates=dates, preserve=preserve)
            ref_ok, ref = decoded_or_error(notepack._unpack_slow, raw, iso, preserve)
            assert ok == ref_ok, (raw.hex(), preserve, iso, fast, ref)
            if ok:
                assert_same(fast, ref)


@PROPERTY
@given(ext0_payloads())
def test_fast_decoder_matches_reference_on_ext0(raw: bytes) -> None:
    assert_matches_reference(raw)


@st.composite
def long_lists(draw: st.DrawFn) -> bytes:
    """Arrays of up to 300 items with undefined at a few or many places, and maybe one more
    ext 0 tree inside: the paths for long lists."""
    n = draw(st.integers(0, 300))
    items = [b"\x01" if i % 3 else b"\xa1a" for i in range(n)]
    if n:
        many = draw(st.booleans())
        places = range(0, n, 2) if many else draw(st.sets(st.integers(0, n - 1), max_size=12))
        for i in places:
            items[i] = UNDEFINED_BYTES
        if draw(st.booleans()):
            items[draw(st.integers(0, n - 1))] = draw(ext0_payloads())
    return b"\xdc" + n.to_bytes(2, "big") + b"".join(items)


@PROPERTY
@given(long_lists())
def test_fast_decoder_matches_reference_on_long_lists(raw: bytes) -> None:
    assert_matches_reference(raw)


ext0_bytes = st.lists(
    st.sampled_from([*EXT0_ITEMS, b"\x91", b"\x92", b"\x81", b"\xdc\x00\x02", b"\xdd"])
    | st.binary(min_size=1, max_size=4),
    max_size=16,
).map(b"".join)


@PROPERTY
@given(ext0_payloads() | ext0_bytes)
def test_walk_over_headers_matches_reference(raw: bytes) -> None:
    # Payloads this small take the marker decode; make them take the walk (big payloads of
    # few values do), with a budget it cannot run out of.
    with (
        mock.patch.object(_ext0_kinds, "_WALK_MIN", 0),
        mock.patch.object(_ext0_kinds, "_WALK_BYTES_PER_STEP", 1),
    ):
        assert_matches_reference(raw)


@PROPERTY
@given(packable)
def test_fast_decoder_matches_reference_on_packb_output(value: Any) -> None:
    assert_matches_reference(packb(value))


@PROPERTY
@given(ext0_bytes)
def test_fast_decoder_matches_reference_on_any_bytes(raw: bytes) -> None:
    assert_matches_reference(raw)


# -- has_binary: the shortcuts of the send path answer what the plain walk answers -----------


def _has_binary_reference(value: Any, depth: int = 511) -> bool:
    """The plain recursive walk (one call per item) that ``has_binary`` short-cuts."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple, set, frozenset)):
        return False
    if all(type(item) in (str, int, float, bool, type(None)) for item in value):
        return False
    if depth <= 0:
        raise ValueError("has_binary: nesting too deep")
    return any(_has_binary_reference(item, depth - 1) for item in value)


class _SubList(list):  # type: ignore[type-arg]
    pass


class _SubDict(dict):  # type: ignore[type-arg]
    pass


_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3),
    st.binary(max_size=2), st.binary(max_size=2).map(bytearray), st.builds(datetime.now),
    st.binary(max_size=2).map(Ext0Bytes), st.just(UNDEFINED),
)  # fmt: skip
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.lists(inner, max_size=4).map(_SubList),
        st.dictionaries(st.text(max_size=2), inner, max_size=4),
        st.dictionaries(st.text(max_size=2), inner, max_size=4).map(_SubDict),
        st.frozensets(st.one_of(st.integers(), st.binary(max_size=2)), max_size=3),
    ),
    max_leaves=20,
)


@PROPERTY
@given(_values)
def test_has_binary_matches_the_plain_walk(value: Any) -> None:
    assert notepack.has_binary(value) == _has_binary_reference(value)


@given(st.integers(min_value=505, max_value=515), st.sampled_from(["list", "dict", "flat"]))
@settings(deadline=None, database=None)
def test_has_binary_nesting_limit_is_unchanged(levels: int, kind: str) -> None:
    value: Any = [1] if kind == "flat" else [b"x"]
    for _ in range(levels):
        value = {"k": value, "s": 1} if kind == "dict" else [value, "s"]
    try:
        expected: bool | None = _has_binary_reference(value)
    except ValueError:
        expected = None
    try:
        got: bool | None = notepack.has_binary(value)
    except ValueError:
        got = None
    assert got == expected


def _outcome(call: Any, value: Any) -> Any:
    try:
        return call(value)
    except (TypeError, ValueError) as error:
        return type(error)


@PROPERTY
@given(_values)
def test_json_unless_binary_is_has_binary_then_dumps_json(value: Any) -> None:
    # What the ClusterAdapter senders relied on (has_binary, then msgpack or dumps_json), in
    # the one pass they now make.
    got = _outcome(notepack.dumps_json_unless_binary, value)
    if _outcome(notepack.has_binary, value) is True:
        assert got is None
    else:
        assert got == _outcome(notepack.dumps_json, value)
