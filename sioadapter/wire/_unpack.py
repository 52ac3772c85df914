"""MessagePack decoding on the C ``msgpack`` library, notepack 2's ext type 0 included.

`unpackb` is one C decode whose ext hook sorts out notepack 2's ext type 0: when it
meets the first ext 0 of 1 or 8 bytes, whose meaning (``undefined``, a Date or an ArrayBuffer)
only its header tells, it learns the header of every such ext of the payload at C speed
(`._ext0_kinds`), and the decode goes on. That hook keeps state, and making it costs a
fifth of a small decode: payloads under 16 KiB are decoded without it first, and again with it
if they hold such an ext.

Without ``preserve``, ``undefined`` then follows JS (`drop_undefined`): a map entry
holding it is dropped, an array element or the whole value becomes None (a map *key* stays
`UNDEFINED`, as it always has).

The results equal the pure-Python reference reader's (``notepack._unpack_slow``) for every
input both accept; the C decoder nests up to 1024 levels where the reference stops at 511.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, Literal

import msgpack

from ..errors import DecodeError
from ._ext0_kinds import Ext0Kinds
from ._values import (
    _EPOCH,
    _PLAIN,
    UNDEFINED,
    Ext0Bytes,
    Ext0Date,
    _date_iso,
    _iso_from_ms,
    _Timestamp,
)

_SMALL: Final = 16384  # smaller payloads: decoded once without ext 0 state, to begin with


def ext0_value(payload: bytes, fixext: bool, iso: bool, preserve: bool) -> object:
    """What notepack 2's ext type 0 means, given its header kind (``fixext``).

    fixext1 is ``undefined`` (`UNDEFINED`; its data byte is ignored, as notepack 2 does),
    fixext8 a Date of int64 milliseconds (`Ext0Date` with ``preserve``, else an ISO
    string or a datetime), anything else an ArrayBuffer (`Ext0Bytes` or ``bytes``).

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
        preserve: decode notepack 2's ext-0 values as `UNDEFINED`, `Ext0Date` and
            `Ext0Bytes` (whatever ``dates`` says), so ``packb`` re-encodes them exactly.

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
    kinds: Ext0Kinds | None = None
    undefined = 0  # how many undefined values were decoded

    def ext_hook(code: int, payload: bytes) -> object:
        nonlocal kinds, undefined
        if code != 0:
            raise DecodeError(f"unknown MessagePack ext type {code}")
        n = len(payload)
        if n != 1 and n != 8:
            return Ext0Bytes(payload) if preserve else payload
        if kinds is None:
            kinds = Ext0Kinds(data)
        if kinds.kinds is not None and not kinds.fixext(n):
            return Ext0Bytes(payload) if preserve else payload
        if n == 1:
            undefined += 1
            return UNDEFINED
        return ext0_value(payload, True, iso, preserve)

    result = msgpack.unpackb(
        data, raw=False, strict_map_key=False, timestamp=0 if iso else 3, ext_hook=ext_hook
    )
    return drop_undefined(result, undefined) if undefined and not preserve else result


_CONTAINERS: Final = frozenset({list, dict})


def drop_undefined(value: Any, count: int) -> Any:
    """JS semantics for the ``count`` `UNDEFINED` values decoded into ``value``: a map
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


def timestamps_to_iso(value: Any) -> Any:
    """Each msgpack ``Timestamp`` in a freshly decoded value (list items, dict keys and values)
    as JS's ``Date#toISOString`` string. Lists and dicts are changed in place. Other dates are
    left alone: ext 0 ones are strings already, or `Ext0Date` kept for ``preserve``.

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
