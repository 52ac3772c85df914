"""MessagePack decoding on the C ``msgpack`` library, notepack 2's ext type 0 included.

notepack 2 gives ext type 0 three meanings that only the header tells apart: fixext1 (``d4 00``)
is ``undefined``, fixext8 (``d7 00``) a Date, ext8/16/32 (``c7``/``c8``/``c9``) an ArrayBuffer,
1- and 8-byte ones included. msgpack's ``ext_hook(code, data)`` is not told the header. So when
the decode meets the first ext 0 of 1 or 8 bytes (an *ambiguous* ext), its hook stops to learn
the header kind of every ambiguous ext of the payload, and the decode goes on. The i-th
ambiguous ext then takes the i-th kind. (That hook keeps state, and making it costs a fifth of
a small decode: payloads under 16 KiB are decoded without it first, and again with it if they
hold an ambiguous ext.) The kinds come from one of two C-speed passes, the cheaper for the
payload:

* A *walk* over the elements with msgpack's ``Unpacker`` (array and map headers are read, every
  other value is skipped whole) that reads each ext's header. It costs a Python step per
  element, so it is tried on payloads of 16 KiB and more, and given up after one element per
  128 bytes: it wins on payloads of few, large values (binary data), where msgpack's own
  decode is little more than a copy.
* Otherwise, if the payload holds none of the six byte strings that start an ambiguous
  ext8/16/32 header (:data:`AMBIGUOUS_HEADERS`), every ambiguous ext is a fixext; else a
  *marker decode*: a copy where those strings' last byte (the ext type, 0) is 0x7f is decoded
  once (``raw=True``, values thrown away), recording each ambiguous ext's code in order: still
  0 after a fixext header, 0x7f after an ext8/16/32 one.

Why the marker decode is exact: a changed byte was 0 and is now 0x7f. Where it is a header
byte (the fixint 0 becomes 127), str/bin/ext content, an ext type or part of a fixed-size
number, the structure is the same, so both decodes meet the same exts in the same order (and
an ext whose type byte was changed but is not 1 or 8 bytes long is not looked at). A changed
byte follows ``01`` or ``08`` (as in all six strings), so it is not an 8- or 16-bit length,
nor a fixext's type. It can be the last byte of a 32-bit length only as ``H L c7 01 00`` or
``H L c7 08 00`` with H a str32/bin32/ext32/array32/map32 header, a length of at least
0xc70100: only payloads of 12.4 MiB and more are searched for that shape (:func:`_length_tail`),
and one that holds it (and is too dense for the walk) is refused with :class:`DecodeError`
rather than decoded slowly: no real peer writes it (a legacy ext 0 beside a value of over
12 MiB whose length ends in those bytes, among more than one element per 128 bytes).
Nor can a changed byte turn a valid timestamp (ext -1) invalid (msgpack checks that its
nanoseconds are below 10**9): where one of the six strings can lie over a 64-bit timestamp's
nanoseconds, they are below 835 million and gain 8128, or below 997.4 million and gain 31;
over a 96-bit one's, below 986.2 million, gaining 127. Elsewhere they are seconds, all valid.

Without ``preserve``, ``undefined`` then follows JS (:func:`drop_undefined`): a map entry
holding it is dropped, an array element or the whole value becomes None (a map *key* stays
:data:`UNDEFINED`, as it always has).

The results equal the pure-Python reference reader's (``notepack._unpack_slow``) for every
input both accept; the C decoder nests up to 1024 levels where the reference stops at 511.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, Literal

import msgpack

from ._values import (
    _EPOCH,
    _PLAIN,
    UNDEFINED,
    DecodeError,
    Ext0Bytes,
    Ext0Date,
    _date_iso,
    _iso_from_ms,
    _Timestamp,
)

AMBIGUOUS_HEADERS: Final = (
    b"\xc7\x01\x00",
    b"\xc7\x08\x00",
    b"\xc8\x00\x01\x00",
    b"\xc8\x00\x08\x00",
    b"\xc9\x00\x00\x00\x01\x00",
    b"\xc9\x00\x00\x00\x08\x00",
)
"""Every way to start an ext8/16/32 header of type 0 and length 1 or 8."""

_MARK: Final = 0x7F
_MARKED: Final = tuple(h[:-1] + bytes([_MARK]) for h in AMBIGUOUS_HEADERS)
_TAIL_MIN: Final = 0xC70100  # the smallest 32-bit length that can end in c7 01 00
_EXT8: Final = 0x10  # in a kind: the ext had an ext8/16/32 header
_SMALL: Final = 16384  # smaller payloads: decoded once without ext 0 state, to begin with
_WALK_MIN: Final = 16384  # smaller payloads: the marker decode costs less than a walk
_WALK_BYTES_PER_STEP: Final = 128  # denser payloads: the marker decode costs less


def ext0_value(payload: bytes, fixext: bool, iso: bool, preserve: bool) -> object:
    """What notepack 2's ext type 0 means, given its header kind (``fixext``).

    fixext1 is ``undefined`` (:data:`UNDEFINED`; its data byte is ignored, as notepack 2 does),
    fixext8 a Date of int64 milliseconds (:class:`Ext0Date` with ``preserve``, else an ISO
    string or a datetime), anything else an ArrayBuffer (:class:`Ext0Bytes` or ``bytes``).

    Raises:
        DecodeError: (``iso``) a date outside the JS range.
        OverflowError: a date outside ``datetime``'s range.
    """
    n = len(payload)
    if fixext and n == 1:
        return UNDEFINED
    if fixext and n == 8:
        ms = int.from_bytes(payload, "big", signed=True)
        if preserve:
            return Ext0Date.from_ms(ms)
        return _iso_from_ms(ms) if iso else _EPOCH + timedelta(milliseconds=ms)
    return Ext0Bytes(payload) if preserve else payload


class _Kinds:
    """The header kinds of one payload's ambiguous exts, found when the first one is met."""

    __slots__ = ("index", "kinds", "undefined")

    def __init__(self, data: bytes | bytearray) -> None:
        self.kinds = _header_kinds(data)
        self.index = 0
        self.undefined = 0  # how many undefined values were decoded

    def fixext(self, n: int) -> bool:
        """Whether the next ambiguous ext, of ``n`` bytes, had a fixext header."""
        kinds = self.kinds
        if kinds is None:
            return True  # no ambiguous ext8/16/32 header anywhere
        i = self.index
        # The marker decode met the same exts in the same order; check it all the same.
        kind = kinds[i] if i < len(kinds) else 0
        if kind & 0xF != n:
            raise DecodeError("the marked copy of the payload decoded differently")
        self.index = i + 1
        return kind < _EXT8


def unpackb(
    data: bytes | bytearray | memoryview,
    *,
    dates: Literal["datetime", "iso"] = "datetime",
    preserve: bool = False,
) -> Any:
    """Decode one MessagePack value written by notepack.io 2.x or 3.x (or any msgpack writer).

    str decodes to ``str``, bin and ext-0 ArrayBuffers to ``bytes``, arrays to ``list``, maps
    to ``dict`` (any hashable key), notepack 2's ``undefined`` to ``None`` (a map entry holding
    it is dropped, as JS does).

    Args:
        data: exactly one encoded value; trailing bytes are an error.
        dates: ``"datetime"`` gives tz-aware UTC ``datetime`` objects; ``"iso"`` gives the
            string JS's ``Date#toISOString`` gives (``"2023-11-14T22:13:20.123Z"``).
        preserve: decode notepack 2's ext-0 values as :data:`UNDEFINED`, :class:`Ext0Date` and
            :class:`Ext0Bytes` (whatever ``dates`` says), so ``packb`` re-encodes them exactly.

    Raises:
        DecodeError: malformed or truncated input, trailing bytes, invalid UTF-8, an unknown
            ext type, a date out of range, nesting deeper than 1024 levels; and a payload of
            12.4 MiB or more whose legacy ext 0 headers cannot be told apart at C speed (see
            the module docstring).
        TypeError: ``data`` is not bytes-like.
        ValueError: an unknown ``dates`` mode.
    """
    if isinstance(data, memoryview):
        data = data.tobytes()  # `in` below must search bytes, not a sequence of ints
    elif not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"expected a bytes-like payload, got {type(data).__qualname__}")
    if dates != "datetime" and dates != "iso":
        raise ValueError(f"dates must be 'datetime' or 'iso', not {dates!r}")
    iso = dates == "iso"
    try:
        if len(data) < _SMALL:
            # Most payloads are small and hold no ambiguous ext: no per-call state for them
            # (it costs a fifth of such a decode). The others start again, for little.
            try:
                result = msgpack.unpackb(
                    data,
                    raw=False,
                    strict_map_key=False,
                    timestamp=0 if iso else 3,
                    ext_hook=_PLAIN_HOOKS[preserve],
                )
            except _Ambiguous:
                result = _decode(data, iso, preserve)
        else:
            result = _decode(data, iso, preserve)
        # Every timestamp header holds the ext type byte 0xff: without one (a memchr, much
        # faster than searching for each possible header) there is no date to convert.
        return timestamps_to_iso(result) if iso and b"\xff" in data else result
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError(f"bad MessagePack payload: {type(exc).__name__}: {exc}") from exc


class _Ambiguous(Exception):
    """Internal: a small payload's plain decode met an ext 0 of 1 or 8 bytes."""


def _plain_hook(preserve: bool) -> Callable[[int, bytes], object]:
    def hook(code: int, payload: bytes) -> object:
        if code != 0:
            raise DecodeError(f"unknown MessagePack ext type {code}")
        if len(payload) == 1 or len(payload) == 8:
            raise _Ambiguous
        return Ext0Bytes(payload) if preserve else payload

    return hook


_PLAIN_HOOKS: Final = {False: _plain_hook(False), True: _plain_hook(True)}


def _decode(data: bytes | bytearray, iso: bool, preserve: bool) -> Any:
    """The decode whose ext hook learns the header kinds when it meets an ambiguous ext."""
    state: _Kinds | None = None

    def ext_hook(code: int, payload: bytes) -> object:
        nonlocal state
        if code != 0:
            raise DecodeError(f"unknown MessagePack ext type {code}")
        n = len(payload)
        if n != 1 and n != 8:
            return Ext0Bytes(payload) if preserve else payload
        if state is None:
            state = _Kinds(data)
        if state.kinds is not None and not state.fixext(n):
            return Ext0Bytes(payload) if preserve else payload
        if n == 1:
            state.undefined += 1
            return UNDEFINED
        return ext0_value(payload, True, iso, preserve)

    result = msgpack.unpackb(
        data, raw=False, strict_map_key=False, timestamp=0 if iso else 3, ext_hook=ext_hook
    )
    if state is not None and state.undefined and not preserve:
        result = drop_undefined(result, state.undefined)
    return result


_CONTAINERS: Final = frozenset({list, dict})


def drop_undefined(value: Any, count: int) -> Any:
    """JS semantics for the ``count`` :data:`UNDEFINED` values decoded into ``value``: a map
    entry holding one is dropped, an array element or the whole value becomes None; one used
    as a map key stays. Lists and dicts are changed in place.

    A walk in document order, without recursion (the C decoder nests 1024 levels), that stops
    once ``count`` values are found. Python steps go to the items of containers that hold
    containers; finding and replacing the values is done by C-level passes (``count``,
    ``index``, ``map(type, ...)``).
    """
    if value is UNDEFINED:
        return None
    if type(value) not in _CONTAINERS:
        return value
    count -= _fix_undefined(value, count)
    if count <= 0 or _CONTAINERS.isdisjoint(map(type, _items(value))):
        return value
    stack = [iter(_items(value))]
    while stack:
        for item in stack[-1]:
            if type(item) in _CONTAINERS:
                count -= _fix_undefined(item, count)
                if count <= 0:
                    return value
                if not _CONTAINERS.isdisjoint(map(type, _items(item))):
                    stack.append(iter(_items(item)))
                    break
        else:
            stack.pop()
    return value


def _items(node: list[Any] | dict[Any, Any]) -> Any:
    return node if isinstance(node, list) else node.values()


def _fix_undefined(node: list[Any] | dict[Any, Any], wanted: int) -> int:
    """Apply JS semantics to the undefined values directly in ``node``, of the ``wanted``
    ones not found yet; how many it held."""
    if isinstance(node, list):
        if len(node) > 64:
            return _fix_long_list(node, wanted)
        found = node.count(UNDEFINED)
        if found > 8:
            node[:] = [None if x is UNDEFINED else x for x in node]
        elif found:
            i = -1
            for _ in range(found):
                i = node.index(UNDEFINED, i + 1)
                node[i] = None
        return found
    found = operator.countOf(node.values(), UNDEFINED)
    if found:
        for key in [k for k, v in node.items() if v is UNDEFINED]:
            del node[key]
    return found + 1 if UNDEFINED in node else found  # a key is kept (a cheap hash lookup)


def _fix_long_list(node: list[Any], wanted: int) -> int:
    # One C-level pass up to the last one wanted, not a count and then a search: in a long
    # list, the ValueError that ends the search costs less than a second pass.
    found, i = 0, -1
    try:
        while found < wanted:
            if found == 8:  # many: one pass for the rest
                rest = node.count(UNDEFINED)
                node[:] = [None if x is UNDEFINED else x for x in node]
                return found + rest
            i = node.index(UNDEFINED, i + 1)
            node[i] = None
            found += 1
    except ValueError:
        pass
    return found


def _header_kinds(data: bytes | bytearray) -> list[int] | None:
    """The kind of each ext 0 of 1 or 8 bytes in ``data``, in order: its length, plus
    :data:`_EXT8` for an ext8/16/32 header; None when every one is a fixext."""
    if len(data) >= _WALK_MIN:
        kinds = _walk_kinds(data, len(data) // _WALK_BYTES_PER_STEP)
        if kinds is not None:
            return kinds
    return _marked_kinds(data)


def _walk_kinds(data: bytes | bytearray, budget: int) -> list[int] | None:
    """The kinds, read from the headers by walking the payload's elements with msgpack's C
    Unpacker (``skip`` passes over a whole value at C speed); None after ``budget`` elements,
    or if the payload is malformed (the real decode then tells why)."""
    unpacker = msgpack.Unpacker(raw=True, max_buffer_size=len(data))
    unpacker.feed(data)
    tell, skip = unpacker.tell, unpacker.skip
    kinds: list[int] = []
    left = 1  # elements still to read
    try:
        for _ in range(budget):
            pos = tell()
            head = data[pos]
            if 0x90 <= head <= 0x9F or head == 0xDC or head == 0xDD:
                left += unpacker.read_array_header() - 1
            elif 0x80 <= head <= 0x8F or head == 0xDE or head == 0xDF:
                left += 2 * unpacker.read_map_header() - 1
            else:
                if 0xD4 <= head <= 0xD8:  # fixext: length 1, 2, 4, 8 or 16, then the type
                    n, code = 1 << (head - 0xD4), data[pos + 1]
                    if code == 0 and (n == 1 or n == 8):
                        kinds.append(n)
                elif 0xC7 <= head <= 0xC9:  # ext8/16/32: a 1, 2 or 4-byte length, the type
                    size = 1 << (head - 0xC7)
                    n = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
                    if data[pos + 1 + size] == 0 and (n == 1 or n == 8):
                        kinds.append(n | _EXT8)
                skip()
                left -= 1
            if not left:
                return kinds
    except (msgpack.OutOfData, ValueError, IndexError):
        pass
    return None


def _marked_kinds(data: bytes | bytearray) -> list[int] | None:
    """The kinds, found by the marker decode (see the module docstring)."""
    original = bytes(data)
    marked = original
    for header, mark in zip(AMBIGUOUS_HEADERS, _MARKED, strict=True):
        marked = marked.replace(header, mark)  # the same object when there is none
    if marked is original:
        return None
    if len(data) >= _TAIL_MIN and _length_tail(data):
        raise DecodeError(
            f"cannot tell notepack 2's ext 0 headers apart in this {len(data)}-byte payload: "
            "it also holds bytes that may end a 32-bit length (refused rather than decoded "
            "on the slow path)"
        )
    kinds: list[int] = []
    append = kinds.append

    def ext_hook(code: int, payload: bytes) -> None:
        n = len(payload)
        if n == 1 or n == 8:
            append(n if code == 0 else n | _EXT8)

    # Its errors are the real decode's errors: the structure is the same.
    msgpack.unpackb(marked, raw=True, strict_map_key=False, timestamp=0, ext_hook=ext_hook)
    return kinds


def _length_tail(data: bytes | bytearray) -> bool:
    """Whether ``data`` holds ``H L c7 01 00`` or ``H L c7 08 00`` with H a 32-bit length
    header and a length ``L<<24 | c70100`` that fits in ``data``."""
    top = min((len(data) - _TAIL_MIN) >> 24, 0xFF)
    pattern = rb"[\xc6\xc9\xdb\xdd\xdf][\x00-\x%02x]\xc7[\x01\x08]\x00" % top
    return re.search(pattern, data) is not None


def timestamps_to_iso(value: Any) -> Any:
    """Each msgpack ``Timestamp`` in a freshly decoded value (list items, dict keys and values)
    as JS's ``Date#toISOString`` string. Lists and dicts are changed in place. Other dates are
    left alone: ext 0 ones are strings already, or :class:`Ext0Date` kept for ``preserve``.

    Raises:
        DecodeError: a date outside the JS Date range.
    """
    t = type(value)
    if t is list:
        if not _PLAIN.issuperset(map(type, value)):  # one C-level pass skips flat lists
            for i, item in enumerate(value):
                value[i] = timestamps_to_iso(item)
    elif t is dict:
        if not _PLAIN.issuperset(map(type, value)):
            return {timestamps_to_iso(k): timestamps_to_iso(v) for k, v in value.items()}
        if not _PLAIN.issuperset(map(type, value.values())):
            for k, v in value.items():
                value[k] = timestamps_to_iso(v)
    elif t is _Timestamp:
        return _date_iso(value)
    return value
