"""Payload codecs that match what Node.js socket.io adapters put on the wire.

Node adapters write MessagePack with notepack.io (3.0.1 today, 2.x in socket.io-redis 6.x and
old emitters) or JSON with ``JSON.stringify``; receivers tell the two apart by the first byte
(:func:`looks_like_json`).

* :func:`packb` writes what notepack.io 3.0.1 writes for the same JS value, on the C ``msgpack``
  packer. Values holding the legacy markers below, or dict keys to convert, take a pure-Python
  path (:mod:`._slowpack`).
* :func:`unpackb` reads notepack 3 and notepack 2 output. notepack 2's ext type 0 means three
  things, told apart only by the header: fixext1 ``undefined``, fixext8 a Date, ext8/16/32 an
  ArrayBuffer. With ``preserve=True`` they decode to :data:`UNDEFINED`, :class:`Ext0Date` and
  :class:`Ext0Bytes`, which :func:`packb` writes back byte for byte; otherwise to ``None``, a
  date and ``bytes``. Anything undecodable raises :class:`DecodeError`, never a msgpack error.
* :func:`dumps_json` gives ``JSON.stringify``'s UTF-8 bytes, except that floats keep Python's
  spelling (``1.0``, ``1e-07`` where JS writes ``1``, ``1e-7``). :func:`loads_json` is strict
  JSON and can turn Node's JSON form of a Buffer back into ``bytes``.
"""

from __future__ import annotations

import json
import math
import re
import struct
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Final, Literal, final

import msgpack

from sioadapter.wire import _slowpack
from sioadapter.wire._slowpack import RawExt

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JS_MAX_MS: Final = 8_640_000_000_000_000  # the largest |time value| a JS Date can hold
_Timestamp: Final[type[Any]] = msgpack.Timestamp
_BINARY: Final = (bytes, bytearray, memoryview)
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_PLAIN: Final = _SCALARS | {bytes}


class DecodeError(ValueError):
    """The payload is not a value this codec can decode."""


@final
class Undefined:
    """JS ``undefined`` as notepack 2 writes it (``d4 00 00``). Falsy; use :data:`UNDEFINED`."""

    __slots__ = ()
    _instance: ClassVar[Undefined | None] = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = Undefined()


class Ext0Bytes(bytes):
    """Bytes that arrived as a notepack 2 ArrayBuffer (ext type 0) and are written back that way."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Ext0Bytes({bytes(self)!r})"


class Ext0Date(datetime):
    """A Date that arrived as notepack 2 fixext8 type 0 and is written back that way."""

    @classmethod
    def from_ms(cls, ms: int) -> Ext0Date:
        """Build from JS milliseconds since the epoch; ``OverflowError`` outside years 1..9999."""
        d = _EPOCH + timedelta(milliseconds=ms)
        return cls(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, d.tzinfo)


class _NeedsSlowPath(Exception):
    """Internal: the C codec cannot handle this value; use the pure-Python one."""


# --------------------------------------------------------------------------------- dates


def _since_epoch(dt: datetime) -> timedelta:
    return (dt if dt.utcoffset() is not None else dt.replace(tzinfo=timezone.utc)) - _EPOCH


def _ts_ms(ts: Any) -> int:
    # notepack 3 decodes a timestamp as new Date(s * 1e3 + ns / 1e6): JS truncates toward zero.
    total = int(ts.seconds) * 1_000_000_000 + int(ts.nanoseconds)
    return total // 1_000_000 if total >= 0 else -(-total // 1_000_000)


def _iso_from_ms(ms: int) -> str:
    """``new Date(ms).toISOString()``, with JS's expanded years outside 0..9999."""
    if not -_JS_MAX_MS <= ms <= _JS_MAX_MS:
        raise DecodeError(f"date {ms} ms is outside the JS Date range")
    days, rem = divmod(ms, 86_400_000)
    # Day count to proleptic Gregorian date (H. Hinnant's civil_from_days): datetime cannot be
    # used, JS dates reach years -271821..275760.
    era, doe = divmod(days + 719_468, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    ys = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    hh, rem = divmod(rem, 3_600_000)
    mi, rem = divmod(rem, 60_000)
    return f"{ys}-{month:02d}-{day:02d}T{hh:02d}:{mi:02d}:{rem // 1000:02d}.{rem % 1000:03d}Z"


def _date_iso(value: datetime | Any) -> str:
    if isinstance(value, datetime):
        return _iso_from_ms(_since_epoch(value) // timedelta(milliseconds=1))
    return _iso_from_ms(_ts_ms(value))


def dates_to_iso(value: Any) -> Any:
    """Replace each date inside ``value`` by the string JS's ``Date#toISOString`` gives.

    Dates are ``datetime`` (naive means UTC) and ``msgpack.Timestamp``, found in list and tuple
    items and dict keys and values. Meant for freshly decoded payloads: lists and dicts are
    changed in place; tuples, and dicts with date keys, are replaced by new objects.

    Raises:
        DecodeError: a date outside the JS Date range.
    """
    t = type(value)
    if t is list:
        if not _PLAIN.issuperset(map(type, value)):  # one C-level pass skips flat lists
            for i, item in enumerate(value):
                value[i] = dates_to_iso(item)
    elif t is dict:
        if not _PLAIN.issuperset(map(type, value)):
            return {dates_to_iso(k): dates_to_iso(v) for k, v in value.items()}
        if not _PLAIN.issuperset(map(type, value.values())):
            for k, v in value.items():
                value[k] = dates_to_iso(v)
    elif t is tuple:
        return dates_to_iso(list(value))
    elif isinstance(value, datetime) or t is _Timestamp:
        return _date_iso(value)
    return value


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
    and ``msgpack.Timestamp`` become the timestamp ext -1. :data:`UNDEFINED`, :class:`Ext0Date`
    and :class:`Ext0Bytes` are written the notepack 2 way: ``d4 00 00``, ``d7 00`` + int64 ms,
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


def _ext_hook(preserve: bool) -> Any:
    def hook(code: int, data: bytes) -> object:
        if code != 0:
            raise DecodeError(f"unknown MessagePack ext type {code}")
        if len(data) in (1, 8):  # fixext1/fixext8 or an ext8 of that length: ask the header
            raise _NeedsSlowPath
        return Ext0Bytes(data) if preserve else data

    return hook


_EXT_HOOKS: Final = {False: _ext_hook(False), True: _ext_hook(True)}


def _unpack_slow(data: bytes | bytearray | memoryview, iso: bool, preserve: bool) -> Any:
    def ext(code: int, payload: bytes, fixext: bool) -> object:
        if code == -1:
            ts = _Timestamp.from_bytes(payload)
            return _date_iso(ts) if iso else ts.to_datetime()
        if code != 0:
            raise DecodeError(f"unknown MessagePack ext type {code}")
        if fixext and len(payload) == 1:
            return UNDEFINED
        if fixext and len(payload) == 8:
            ms = int.from_bytes(payload, "big", signed=True)
            if preserve:
                return Ext0Date.from_ms(ms)
            return _iso_from_ms(ms) if iso else _EPOCH + timedelta(milliseconds=ms)
        return Ext0Bytes(payload) if preserve else payload

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


def unpackb(
    data: bytes | bytearray | memoryview,
    *,
    dates: Literal["datetime", "iso"] = "datetime",
    preserve: bool = False,
) -> Any:
    """Decode one MessagePack value written by notepack.io 2.x or 3.x (or any msgpack writer).

    str decodes to ``str``, bin and ext-0 ArrayBuffers to ``bytes``, arrays to ``list``, maps
    to ``dict`` (any hashable key), notepack 2's ``undefined`` to ``None``.

    Args:
        data: exactly one encoded value; trailing bytes are an error.
        dates: ``"datetime"`` gives tz-aware UTC ``datetime`` objects; ``"iso"`` gives the
            string JS's ``Date#toISOString`` gives (``"2023-11-14T22:13:20.123Z"``).
        preserve: decode notepack 2's ext-0 values as :data:`UNDEFINED`, :class:`Ext0Date` and
            :class:`Ext0Bytes` (whatever ``dates`` says), so :func:`packb` re-encodes them exactly.

    Raises:
        DecodeError: malformed or truncated input, trailing bytes, invalid UTF-8, an unknown
            ext type, a date out of range.
        TypeError: ``data`` is not bytes-like.
        ValueError: an unknown ``dates`` mode.
    """
    if isinstance(data, memoryview):
        data = data.tobytes()  # `in` below must search bytes, not a sequence of ints
    elif not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"expected a bytes-like payload, got {type(data).__qualname__}")
    if dates not in ("datetime", "iso"):
        raise ValueError(f"dates must be 'datetime' or 'iso', not {dates!r}")
    iso = dates == "iso"
    try:
        try:
            result = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=False,
                timestamp=0 if iso else 3,
                ext_hook=_EXT_HOOKS[preserve],
            )
        except _NeedsSlowPath:
            return _unpack_slow(data, iso, preserve)
        # Every timestamp header holds the ext type byte 0xff: without one (a memchr, much
        # faster than searching for each possible header) there is no date to convert.
        return dates_to_iso(result) if iso and b"\xff" in data else result
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError(f"bad MessagePack payload: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------- JSON


def has_binary(value: object) -> bool:
    """Whether bytes-like data occurs in ``value``, like Node's ``hasBinary``.

    Looks into list, tuple, set and dict values (not keys). ``ValueError`` beyond 511 levels.
    """
    return _has_binary(value, 511)


def _has_binary(value: Any, depth: int) -> bool:
    if isinstance(value, _BINARY):
        return True
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple, set, frozenset)):
        return False
    if _SCALARS.issuperset(map(type, value)):  # one C-level pass settles flat containers
        return False
    if depth <= 0:
        raise ValueError("has_binary: nesting too deep")
    # Not any(genexpr): a plain loop costs one stack frame per level, so 511 levels fit.
    for item in value:  # noqa: SIM110
        if _has_binary(item, depth - 1):
            return True
    return False


def _json_default(obj: object) -> object:
    if isinstance(obj, _BINARY):
        return {"type": "Buffer", "data": list(bytes(obj))}  # Node's Buffer#toJSON
    if isinstance(obj, (datetime, _Timestamp)):
        return _date_iso(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if obj is UNDEFINED:
        raise _NeedsSlowPath
    raise TypeError(f"cannot encode object of type {type(obj).__qualname__} as JSON")


def _json_normalize(obj: Any) -> Any:
    # Only for what the C encoder cannot write: NaN/Infinity (JS: null) and undefined (JS: key
    # left out of an object, null in an array).
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_normalize(v) for k, v in obj.items() if v is not UNDEFINED}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [None if v is UNDEFINED else _json_normalize(v) for v in obj]
    return obj


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_JSON_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
)


def dumps_json(value: object) -> bytes:
    """Encode ``value`` as the UTF-8 bytes ``JSON.stringify`` gives.

    bytes-likes become ``{"type":"Buffer","data":[...]}``, dates ISO strings, tuples and sets
    arrays, NaN and infinities ``null``. An :data:`UNDEFINED` dict value drops its key; an
    :data:`UNDEFINED` array item becomes ``null``. Floats keep Python's spelling (``1.0``).

    Raises:
        TypeError: an unsupported type, or ``value`` is :data:`UNDEFINED` (JS gives no text).
        ValueError: a circular reference.
    """
    if value is UNDEFINED:
        raise TypeError("UNDEFINED alone has no JSON text")
    try:
        text = _JSON_ENCODER.encode(value)
    except (_NeedsSlowPath, ValueError):  # ValueError: NaN/Infinity, or a genuine error
        try:
            text = _JSON_ENCODER.encode(_json_normalize(value))
        except RecursionError:
            raise ValueError("dumps_json: nesting too deep, or circular") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Surrogates: a pair is one character to JS, a lone one is written as a \udxxx escape.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _buffer_hook(obj: dict[str, Any]) -> object:
    if len(obj) == 2 and obj.get("type") == "Buffer":
        data = obj.get("data")
        if type(data) is list and all(type(x) is int for x in data):
            try:
                return bytes(data)
            except ValueError:  # an item outside 0..255
                pass
    return obj


_JSON_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
_BUFFER_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant, object_hook=_buffer_hook)


def loads_json(data: bytes | bytearray | memoryview | str, *, buffers: bool = True) -> Any:
    """Decode JSON as ``JSON.parse`` does (so no ``NaN``/``Infinity`` literals).

    Args:
        data: UTF-8 bytes or text.
        buffers: turn each object that is exactly ``{"type": "Buffer", "data": [0..255, ...]}``
            (Node's JSON form of a Buffer, keys in any order) into ``bytes``.

    Raises:
        DecodeError: invalid UTF-8 or invalid JSON.
    """
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        # The object hook costs a call per object: pay it only when a Buffer may be there
        # ("\u" because the word could be spelt with escapes).
        if buffers and ("Buffer" in text or "\\u" in text):
            return _BUFFER_DECODER.decode(text)
        return _JSON_DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"bad JSON payload: {exc}") from exc


def looks_like_json(data: bytes | bytearray | memoryview) -> bool:
    """Whether a payload is JSON rather than MessagePack, sniffed as Node's adapters do.

    Both protocols' JSON payloads are objects, so they start with ``{`` (0x7B). MessagePack
    payloads are arrays or maps, and a map of up to 15 keys starts with 0x8X (larger ones with
    0xDE/0xDF), so the two cannot be confused. (0x7B alone would be the fixint 123.)
    """
    return data[:1] == b"{"
