"""Payload codecs that match what Node.js socket.io adapters put on the wire.

Node adapters write MessagePack with notepack.io (3.0.1 today, 2.x in socket.io-redis 6.x and
old emitters) or JSON with ``JSON.stringify``; receivers tell the two apart by the first byte
(`looks_like_json`).

* `packb` writes what notepack.io 3.0.1 writes for the same JS value, on the C ``msgpack``
  packer. Values holding the legacy markers below, or dict keys to convert, take a pure-Python
  path (`._slowpack`).
* `unpackb` reads notepack 3 and notepack 2 output. notepack 2's ext type 0 means three
  things, told apart only by the header: fixext1 ``undefined``, fixext8 a Date, ext8/16/32 an
  ArrayBuffer. With ``preserve=True`` they decode to `UNDEFINED`, `Ext0Date` and
  `Ext0Bytes`, which `packb` writes back byte for byte; otherwise to ``None``, a
  date and ``bytes``. Anything undecodable raises `DecodeError`, never a msgpack error.
  It runs on the C ``msgpack`` unpacker, ext 0 included (`._unpack` says how it finds
  each header), at a small multiple of msgpack's own cost whatever the payload.
* The JSON side (`dumps_json`, `loads_json`, `looks_like_json`,
  `has_binary`) lives in `.jsonwire` and is re-exported here, with the shared values
  of `._values`, so that one import gives the whole codec.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

import msgpack

from sioadapter.wire import _slowpack
from sioadapter.wire._slowpack import RawExt

from ..errors import DecodeError
from ._unpack import ext0_value, unpackb
from ._values import (
    UNDEFINED,
    Ext0Bytes,
    Ext0Date,
    Undefined,
    _date_iso,
    _NeedsSlowPath,
    _since_epoch,
    _Timestamp,
    dates_to_iso,
)
from ._values import _iso_from_ms as _iso_from_ms  # the tests' reference for ISO dates
from .jsonwire import dumps_json, dumps_json_unless_binary, has_binary, loads_json, looks_like_json

__all__ = [
    "UNDEFINED",
    "DecodeError",
    "Ext0Bytes",
    "Ext0Date",
    "Undefined",
    "dates_to_iso",
    "dumps_json",
    "dumps_json_unless_binary",
    "has_binary",
    "loads_json",
    "looks_like_json",
    "packb",
    "unpackb",
]


# --------------------------------------------------------------------------------- packb

# Subclasses (IntEnum, OrderedDict...) reach the hooks because the packer runs with
# strict_types=True, which is what lets Ext0Bytes and Ext0Date reach them at all.
_CASTS: Final[tuple[tuple[type | tuple[type, ...], Callable[[Any], object]], ...]] = (
    ((tuple, set, frozenset, list), list),
    (int, int),  # an exact int arrives only when too big; the packer then raises OverflowError
    (float, float),
    (str, str.__str__),
    ((bytes, bytearray), bytes),
    (dict, dict),
)


def _convert(obj: object) -> object:
    """A value the packer writes natively in place of ``obj`` (shared by both paths)."""
    if isinstance(obj, datetime):
        d = _since_epoch(obj)
        return _Timestamp(d.days * 86_400 + d.seconds, d.microseconds * 1000)
    for base, cast in _CASTS:
        if isinstance(obj, base):
            return cast(obj)
    raise TypeError(f"cannot encode object of type {type(obj).__qualname__} as MessagePack")


def _fast_default(obj: object) -> object:
    if isinstance(obj, (Undefined, Ext0Bytes, Ext0Date)):
        raise _NeedsSlowPath
    return _convert(obj)


def _slow_default(obj: object) -> object:
    if obj is UNDEFINED:
        return RawExt(0, b"\x00")
    if isinstance(obj, Ext0Date):
        return RawExt(0, struct.pack(">q", _since_epoch(obj) // timedelta(milliseconds=1)))
    if isinstance(obj, Ext0Bytes):
        return RawExt(0, bytes(obj), fixext=False)  # notepack 2 never uses fixext here
    if isinstance(obj, msgpack.ExtType):
        return RawExt(obj.code, bytes(obj.data))
    value = obj if isinstance(obj, _Timestamp) else _convert(obj)
    return RawExt(-1, value.to_bytes()) if isinstance(value, _Timestamp) else value


def _slow_key(key: object) -> str | bytes:
    if isinstance(key, (str, bytes)):
        return str.__str__(key) if isinstance(key, str) else bytes(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(int(key))  # what JS does with a number used as a property name
    raise TypeError(f"dict keys must be str or int, not {type(key).__qualname__}")


def _keys_ok(obj: Any) -> bool:
    # Plain loops rather than all(genexpr): one stack frame per level, so 511 levels fit.
    if isinstance(obj, dict):
        for k in obj:
            if type(k) is not str and type(k) is not bytes:
                return False
        obj = obj.values()
    elif not isinstance(obj, (list, tuple)):
        return True
    for child in obj:
        if isinstance(child, (dict, list, tuple)) and not _keys_ok(child):
            return False
    return True


_local = threading.local()


def packb(value: object) -> bytes:
    """Encode ``value`` the way notepack.io 3.0.1 encodes the equivalent JS value.

    bytes-likes are written as bin, ``str`` as str, ``int`` as the smallest int, ``float``
    always as float64, ``None`` as nil, list/tuple/set as arrays, ``dict`` as a map in insertion
    order. Keys must be ``str`` (or ``bytes``, written as bin, which Node reads as their UTF-8
    text); ``int`` keys are written as ``str(key)`` as JS would. ``datetime`` (naive means UTC)
    and ``msgpack.Timestamp`` become the timestamp ext -1. `UNDEFINED`, `Ext0Date`
    and `Ext0Bytes` are written the notepack 2 way: ``d4 00 00``, ``d7 00`` + int64 ms,
    and ext8/16/32 type 0 even where a fixext would fit.

    Raises:
        TypeError: a value or dict key of an unsupported type.
        OverflowError: an int outside int64/uint64.
        ValueError: nesting deeper than 511, or keys equal once converted (``1`` and ``"1"``).
    """
    try:
        packer = _local.packer
    except AttributeError:
        # One Packer per thread: it reuses a buffer and calls back into Python, where another
        # thread could otherwise start packing into the same buffer.
        packer = _local.packer = msgpack.Packer(
            use_bin_type=True, datetime=True, strict_types=True, default=_fast_default
        )
    try:
        out: bytes = packer.pack(value)
    except _NeedsSlowPath:
        return _slowpack.pack(value, _slow_default, _slow_key)
    # The C packer writes dict keys of any type as they are, with no hook, so check afterwards.
    # For small outputs the C unpacker's strict_map_key (str and bin keys only) is cheapest; a
    # large output is often large because of binary, which it would copy, so walk instead.
    if len(out) <= 16384:
        try:
            msgpack.unpackb(out, raw=True, strict_map_key=True)
            return out
        except (ValueError, TypeError):
            pass
    elif _keys_ok(value):
        return out
    return _slowpack.pack(value, _slow_default, _slow_key)


# --------------------------------------------------------------------------------- unpackb


def _unpack_slow(data: bytes | bytearray | memoryview, iso: bool, preserve: bool) -> Any:
    """The pure-Python reference reader: what `unpackb` must give, decoded by
    `._slowpack`, which sees each ext header (for tests; nesting up to 511 levels)."""

    def ext(code: int, payload: bytes, fixext: bool) -> object:
        if code == -1:
            ts = _Timestamp.from_bytes(payload)
            return _date_iso(ts) if iso else ts.to_datetime()
        if code != 0:
            raise DecodeError(f"unknown MessagePack ext type {code}")
        return ext0_value(payload, fixext, iso, preserve)

    value = _slowpack.unpack(data, ext)
    return value if preserve else _drop_undefined(value)


def _drop_undefined(value: Any) -> Any:
    """JS semantics for notepack 2's ``undefined``: a map key holding it is absent (what
    ``JSON.stringify`` and a Node server's clients see), an array element holding it is null."""
    if value is UNDEFINED:
        return None
    if type(value) is list:
        return [_drop_undefined(item) for item in value]
    if type(value) is dict:
        return {k: _drop_undefined(v) for k, v in value.items() if v is not UNDEFINED}
    return value
