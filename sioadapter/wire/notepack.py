"""Payload codecs that match what Node.js socket.io adapters put on the wire.

Node adapters write MessagePack with notepack.io (3.0.1 today, 2.x in socket.io-redis 6.x and
old emitters) or JSON with ``JSON.stringify``; receivers tell them apart by the first byte
(:func:`looks_like_json`). This module is the Python side of both.

MessagePack contract:

* :func:`packb` writes what notepack.io 3.0.1 writes for the same JS value: smallest ints, every
  float as float64, ``bytes`` as bin, dates as timestamp ext -1, dict order kept, str keys. It
  runs on the C ``msgpack`` packer; values holding the legacy markers below, or dict keys that are
  not ``str``, take a pure-Python path (:mod:`._slowpack`).
* :func:`unpackb` reads notepack 3 and notepack 2 output. notepack 2's ext type 0 has three
  meanings told apart only by the header (fixext1 = ``undefined``, fixext8 = Date, ext8/16/32 =
  ArrayBuffer); with ``preserve=True`` they decode to :data:`UNDEFINED`, :class:`Ext0Date` and
  :class:`Ext0Bytes`, which :func:`packb` writes back byte for byte, so a decoded legacy payload
  re-encodes exactly. Without ``preserve`` they become ``None``, a date and ``bytes``.
* Any payload that cannot be decoded raises :class:`DecodeError`, never a msgpack exception.

JSON contract: :func:`dumps_json` gives ``JSON.stringify``'s bytes for JSON-like values (no
spaces, non-ASCII unescaped, Buffers as ``{"type":"Buffer","data":[...]}``, dates as ISO strings,
NaN/Infinity as null); floats keep Python's spelling (``1.0``, ``1e-07``), where JS would write
``1`` and ``1e-7``. :func:`loads_json` is strict JSON (no NaN literals) and can turn that Buffer
shape back into ``bytes``.
"""

from __future__ import annotations

import json
import math
import re
import struct
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Final, Literal, final

import msgpack

from sioadapter.wire import _slowpack
from sioadapter.wire._slowpack import RawExt

__all__ = [
    "UNDEFINED",
    "DecodeError",
    "Ext0Bytes",
    "Ext0Date",
    "Undefined",
    "dates_to_iso",
    "dumps_json",
    "has_binary",
    "loads_json",
    "looks_like_json",
    "packb",
    "unpackb",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JS_MAX_MS: Final = 8_640_000_000_000_000  # the largest |time value| a JS Date can hold
_Timestamp: Final[type[Any]] = msgpack.Timestamp


class DecodeError(ValueError):
    """The payload is not a value this codec can decode."""


@final
class Undefined:
    """JS ``undefined`` as notepack 2 writes it (``d4 00 00``); use the :data:`UNDEFINED` singleton.

    It is falsy, like ``undefined`` in JS.
    """

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

    def __reduce__(self) -> str:
        return "UNDEFINED"


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
        """Build from JS milliseconds since the epoch (UTC).

        Raises:
            OverflowError: outside the years 1..9999 that ``datetime`` supports.
        """
        d = _EPOCH + timedelta(milliseconds=ms)
        return cls(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, d.tzinfo)


class _NeedsSlowPath(Exception):
    """Internal: the C codec cannot handle this value; use the pure-Python one."""


# --------------------------------------------------------------------------------- dates


def _datetime_ms(dt: datetime) -> int:
    if dt.utcoffset() is None:  # naive means UTC
        dt = dt.replace(tzinfo=timezone.utc)
    d = dt - _EPOCH
    return d.days * 86_400_000 + d.seconds * 1000 + d.microseconds // 1000


def _iso_from_ms(ms: int) -> str:
    """``new Date(ms).toISOString()``, including JS's expanded years outside 0..9999."""
    if not -_JS_MAX_MS <= ms <= _JS_MAX_MS:
        raise DecodeError(f"date {ms} ms is outside the JS Date range")
    days, rem = divmod(ms, 86_400_000)
    # Proleptic Gregorian date from a day count (H. Hinnant's civil_from_days); datetime cannot
    # be used because JS dates reach years -271821..275760.
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
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


def _ts_ms(ts: Any) -> int:
    # notepack 3 decodes a timestamp as new Date(s * 1e3 + ns / 1e6): JS truncates toward zero.
    total = int(ts.seconds) * 1_000_000_000 + int(ts.nanoseconds)
    return total // 1_000_000 if total >= 0 else -(-total // 1_000_000)


def _timestamp(dt: datetime) -> Any:
    if dt.utcoffset() is None:
        dt = dt.replace(tzinfo=timezone.utc)
    d = dt - _EPOCH
    return _Timestamp(d.days * 86_400 + d.seconds, d.microseconds * 1000)


# --------------------------------------------------------------------------------- packb


def _convert(obj: object) -> object:
    """Map a value the packer has no native rule for onto one it has (shared by both paths)."""
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, datetime):
        return _timestamp(obj)
    # Subclasses (IntEnum, StrEnum, OrderedDict...) reach here because the packer runs with
    # strict_types=True, which is what lets Ext0Bytes/Ext0Date reach the hook at all.
    if isinstance(obj, int):
        if type(obj) is int:  # an exact int only comes here when it does not fit 64 bits
            raise OverflowError(f"int {obj} does not fit MessagePack's int64/uint64")
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, list):
        return list(obj)
    raise TypeError(f"cannot encode object of type {type(obj).__qualname__} as MessagePack")


def _fast_default(obj: object) -> object:
    if isinstance(obj, (Undefined, Ext0Bytes, Ext0Date)):
        raise _NeedsSlowPath
    return _convert(obj)


def _slow_default(obj: object) -> object:
    if obj is UNDEFINED:
        return RawExt(0, b"\x00")
    if isinstance(obj, Ext0Date):
        return RawExt(0, struct.pack(">q", _datetime_ms(obj)))
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


_local = threading.local()


def _packer() -> Any:
    # The C Packer reuses one buffer and calls back into Python, where another thread may run:
    # one Packer per thread keeps concurrent packb calls apart.
    try:
        return _local.packer
    except AttributeError:
        _local.packer = msgpack.Packer(
            use_bin_type=True, datetime=True, strict_types=True, default=_fast_default
        )
        return _local.packer


def packb(value: object) -> bytes:
    """Encode ``value`` the way notepack.io 3.0.1 encodes the equivalent JS value.

    ``bytes``/``bytearray``/``memoryview`` become bin; ``str`` str; ``int`` the smallest int;
    ``float`` always float64; ``None`` nil; ``list``/``tuple``/``set`` arrays; ``dict`` a map
    in insertion order with ``str`` keys (``int`` keys are written as ``str(key)``, as JS does);
    ``datetime`` (naive means UTC) and ``msgpack.Timestamp`` the timestamp ext -1. The legacy
    markers :data:`UNDEFINED`, :class:`Ext0Date` and :class:`Ext0Bytes` are written the
    notepack 2 way (``d4 00 00``, ``d7 00 <int64 ms>``, ext8/16/32 type 0).

    Args:
        value: the value to encode.

    Returns:
        The MessagePack bytes.

    Raises:
        TypeError: a value or dict key of an unsupported type.
        OverflowError: an int outside int64/uint64.
        ValueError: nesting deeper than 511, or keys equal once converted (``1`` and ``"1"``).
    """
    try:
        out: bytes = _packer().pack(value)
    except _NeedsSlowPath:
        return _slowpack.pack(value, _slow_default, _slow_key)
    # The C packer writes dict keys of any type as they are, with no hook. Check them after the
    # fact: on small outputs the C unpacker's strict_map_key (str or bin keys only) is cheapest;
    # on large ones, which are often large because of binary, it would copy all that binary, so
    # walk the containers instead (cost per object, not per byte).
    if len(out) <= 16384:
        try:
            msgpack.unpackb(out, raw=True, strict_map_key=True)
        except (ValueError, TypeError):
            return _slowpack.pack(value, _slow_default, _slow_key)
    elif not _keys_ok(value):
        return _slowpack.pack(value, _slow_default, _slow_key)
    return out


def _keys_ok(obj: object) -> bool:
    if isinstance(obj, dict):
        for k in obj:
            if type(k) is not str and type(k) is not bytes:
                return False
        children: Any = obj.values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    else:
        return True
    for child in children:
        if isinstance(child, (dict, list, tuple)) and not _keys_ok(child):
            return False
    return True


# --------------------------------------------------------------------------------- unpackb


def _ext_plain(code: int, data: bytes) -> object:
    if code == 0:
        if len(data) in (1, 8):  # fixext1/fixext8 or an ext8 of the same length: ask the header
            raise _NeedsSlowPath
        return data
    raise DecodeError(f"unknown MessagePack ext type {code}")


def _ext_preserve(code: int, data: bytes) -> object:
    if code == 0 and len(data) not in (1, 8):
        return Ext0Bytes(data)
    return _ext_plain(code, data)


_PLAIN: Final = frozenset({str, int, float, bool, type(None), bytes})


def dates_to_iso(value: Any) -> Any:
    """Replace each date inside ``value`` by the string JS's ``Date#toISOString`` gives.

    Dates are ``datetime`` (naive means UTC) and ``msgpack.Timestamp``, found in ``list`` and
    ``tuple`` items and ``dict`` keys and values. Meant for freshly decoded payloads: lists and
    dicts are modified in place (tuples and dicts with date keys are replaced by new objects).

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
    elif isinstance(value, datetime):
        return _iso_from_ms(_datetime_ms(value))
    elif t is _Timestamp:
        return _iso_from_ms(_ts_ms(value))
    return value


def _unpack_slow(data: bytes | bytearray | memoryview, iso: bool, preserve: bool) -> Any:
    def ext(code: int, payload: bytes, fixext: bool) -> object:
        if code == -1:
            ts = _Timestamp.from_bytes(payload)
            return _iso_from_ms(_ts_ms(ts)) if iso else ts.to_datetime()
        if code != 0:
            raise DecodeError(f"unknown MessagePack ext type {code}")
        if fixext and len(payload) == 1:
            return UNDEFINED if preserve else None
        if fixext and len(payload) == 8:
            ms = int.from_bytes(payload, "big", signed=True)
            if preserve:
                return Ext0Date.from_ms(ms)
            return _iso_from_ms(ms) if iso else _EPOCH + timedelta(milliseconds=ms)
        return Ext0Bytes(payload) if preserve else payload

    return _slowpack.unpack(data, ext)


def unpackb(
    data: bytes | bytearray | memoryview,
    *,
    dates: Literal["datetime", "iso"] = "datetime",
    preserve: bool = False,
) -> Any:
    """Decode one MessagePack value written by notepack.io 2.x or 3.x (or any msgpack writer).

    Strings decode to ``str``, bin and ext-0 ArrayBuffers to ``bytes``, arrays to ``list``, maps
    to ``dict`` (non-str keys allowed). notepack 2's ``undefined`` decodes to ``None``.

    Args:
        data: exactly one encoded value; trailing bytes are an error.
        dates: ``"datetime"`` gives dates as tz-aware UTC ``datetime``; ``"iso"`` gives the
            string JS's ``Date#toISOString`` gives (``"2023-11-14T22:13:20.123Z"``).
        preserve: decode notepack 2's ext-0 values as :data:`UNDEFINED`, :class:`Ext0Date` and
            :class:`Ext0Bytes`, so that :func:`packb` re-encodes them byte for byte.

    Returns:
        The decoded value.

    Raises:
        DecodeError: truncated or malformed input, trailing bytes, invalid UTF-8, an unknown
            ext type, a date out of range.
        TypeError: ``data`` is not bytes-like.
        ValueError: ``dates`` is not one of the two modes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
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
                ext_hook=_ext_preserve if preserve else _ext_plain,
            )
        except _NeedsSlowPath:
            return _unpack_slow(data, iso, preserve)
        # Any timestamp has the ext type byte 0xff in its header: without one (found by memchr,
        # far faster than searching for each possible header) there is nothing to convert.
        if iso and b"\xff" in data:
            result = dates_to_iso(result)
        return result
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError(f"bad MessagePack payload: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------- helpers

_BINARY: Final = (bytes, bytearray, memoryview)
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def has_binary(value: object) -> bool:
    """Whether bytes-like data occurs anywhere in ``value``, like Node's ``hasBinary``.

    Looks inside ``list``, ``tuple``, ``set``/``frozenset`` and ``dict`` values (not keys).

    Raises:
        ValueError: nesting deeper than 511 (a container that holds itself).
    """
    return _has_binary(value, 511)


def _has_binary(value: object, depth: int) -> bool:
    if isinstance(value, _BINARY):
        return True
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        return False
    if _SCALARS.issuperset(map(type, items)):  # one C-level pass settles flat containers
        return False
    if depth <= 0:
        raise ValueError("has_binary: nesting too deep")
    # Not any(genexpr): a plain loop costs one stack frame per level, so 511 levels fit.
    for item in items:  # noqa: SIM110
        if _has_binary(item, depth - 1):
            return True
    return False


def _json_default(obj: object) -> object:
    if isinstance(obj, _BINARY):
        return {"type": "Buffer", "data": list(bytes(obj))}  # Node's Buffer#toJSON
    if isinstance(obj, datetime):
        return _iso_from_ms(_datetime_ms(obj))
    if isinstance(obj, _Timestamp):
        return _iso_from_ms(_ts_ms(obj))
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if obj is UNDEFINED:
        raise _NeedsSlowPath
    raise TypeError(f"cannot encode object of type {type(obj).__qualname__} as JSON")


def _json_normalize(obj: Any, depth: int = 511) -> Any:
    # Only for what the C encoder cannot express: NaN/Infinity (JS: null) and undefined (JS:
    # key left out of an object, null inside an array). Plain loops: one frame per level.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if not isinstance(obj, (dict, list, tuple, set, frozenset)):
        return obj
    if depth < 0:
        raise ValueError("dumps_json: nesting too deep (or circular)")
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            if v is not UNDEFINED:
                out[k] = _json_normalize(v, depth - 1)
        return out
    items: list[Any] = []
    for v in obj:
        items.append(None if v is UNDEFINED else _json_normalize(v, depth - 1))
    return items


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_JSON_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
)


def dumps_json(value: object) -> bytes:
    """Encode ``value`` as the UTF-8 bytes of ``JSON.stringify``.

    Bytes-likes become ``{"type":"Buffer","data":[...]}``, dates ISO strings, tuples and sets
    arrays, non-finite floats ``null``; an :data:`UNDEFINED` dict value drops its key, an
    :data:`UNDEFINED` array item becomes ``null``. Floats keep Python's spelling (``1.0``).

    Raises:
        TypeError: an unsupported type, or ``value`` itself is :data:`UNDEFINED`
            (``JSON.stringify(undefined)`` produces no text).
        ValueError: a circular reference.
    """
    if value is UNDEFINED:
        raise TypeError("UNDEFINED alone has no JSON text")
    try:
        text = _JSON_ENCODER.encode(value)
    except (_NeedsSlowPath, ValueError):  # ValueError: NaN/Infinity, or a genuine error
        text = _JSON_ENCODER.encode(_json_normalize(value))
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
_JSON_BUFFER_DECODER: Final = json.JSONDecoder(
    parse_constant=_reject_constant, object_hook=_buffer_hook
)


def loads_json(data: bytes | bytearray | memoryview | str, *, buffers: bool = True) -> Any:
    """Decode JSON as ``JSON.parse`` does (no ``NaN``/``Infinity`` literals).

    Args:
        data: UTF-8 bytes or text.
        buffers: turn every object that is exactly ``{"type": "Buffer", "data": [0..255, ...]}``
            (Node's JSON form of a Buffer) into ``bytes``.

    Raises:
        DecodeError: invalid UTF-8 or invalid JSON.
    """
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        # The object hook costs a call per object: only pay it when a Buffer may be there
        # ("\u" because the word could be spelt with escapes).
        if buffers and ("Buffer" in text or "\\u" in text):
            return _JSON_BUFFER_DECODER.decode(text)
        return _JSON_DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"cannot decode JSON payload: {exc}") from exc


def looks_like_json(data: bytes | bytearray | memoryview) -> bool:
    """Whether a payload is JSON rather than MessagePack, sniffed as Node's adapters do.

    JSON payloads are always objects, so they start with ``{`` (0x7B). A MessagePack payload
    never does: it is an array (``0x9X``/``dc``/``dd``) or a map, and a map of up to 15 keys
    starts with ``0x8X``, larger ones with ``de``/``df``. (0x7B alone would be the fixint 123.)
    """
    return data[:1] == b"{"
