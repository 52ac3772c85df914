"""JSON as Node's adapters write it (``JSON.stringify``), and the binary check that picks
JSON or msgpack.

* `dumps_json` gives ``JSON.stringify``'s UTF-8 bytes, except that floats keep Python's
  spelling (``1.0``, ``1e-07`` where JS writes ``1``, ``1e-7``).
* `loads_json` is strict JSON and can turn Node's JSON form of a Buffer back into ``bytes``.
* `looks_like_json` is how Node's adapters sniff a payload: ``{`` first means JSON.
"""

from __future__ import annotations

import functools
import json
import math
import re
from datetime import datetime
from typing import Any, Final

from ..errors import DecodeError
from . import _fastjson
from ._values import (
    _BINARY,
    _SCALARS,
    UNDEFINED,
    _date_iso,
    _NeedsSlowPath,
    _Timestamp,
)

__all__ = [
    "dumps_json",
    "dumps_json_unless_binary",
    "has_binary",
    "loads_json",
    "looks_like_json",
]


def has_binary(value: object) -> bool:
    """Whether bytes-like data occurs in ``value``, like Node's ``hasBinary``.

    Looks into list, tuple, set and dict values (not keys). ``ValueError`` beyond 511 levels.
    """
    return _has_binary(value, 511)


def _has_binary(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is dict:  # the plain types first: one identity test each, no isinstance walk
        value = value.values()
    elif kind is list or kind is tuple:
        pass
    elif isinstance(value, _BINARY):
        return True
    elif isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple, set, frozenset)):
        return False
    if _SCALARS.issuperset(map(type, value)):  # one C-level pass settles flat containers
        return False
    if depth <= 0:
        raise ValueError("has_binary: nesting too deep")
    for item in value:
        # What the call for the item would answer at once, settled without the call (this
        # runs for every message sent): a scalar, or a plain dict or list of scalars.
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is dict:
            if _SCALARS.issuperset(map(type, item.values())):
                continue
        elif (kind is list or kind is tuple) and _SCALARS.issuperset(map(type, item)):
            continue
        # A plain loop, not any(genexpr): one stack frame per level, so 511 levels fit.
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


_HoldsBinary = _fastjson._HoldsBinary  # raised by the encoders' default at a bytes-like
_FAST = _fastjson.ENABLED


def _json_default_no_binary(obj: object) -> object:
    if isinstance(obj, _BINARY):
        raise _HoldsBinary
    return _json_default(obj)


_JSON_UNLESS_BINARY: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default_no_binary
)


@functools.lru_cache(maxsize=16)
def _fallback_encoder(module: Any, binary: bool = True) -> json.JSONEncoder:
    """An encoder that hands each value ours refuses to ``module.dumps`` (python-socketio's
    ``json=`` option: a module with ``dumps``/``loads`` compatible with the standard one);
    with ``binary`` False, a bytes-like raises `_HoldsBinary` instead of becoming a Buffer."""
    ours = _json_default if binary else _json_default_no_binary

    def default(obj: object) -> object:
        try:
            return ours(obj)
        except TypeError:
            # The module's text for the value, parsed back so that it nests in ours.
            return json.loads(module.dumps(obj))

    return json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                            default=default)  # fmt: skip


def dumps_json(value: object, json_module: Any = None) -> bytes:
    """Encode ``value`` as the UTF-8 bytes ``JSON.stringify`` gives.

    bytes-likes become ``{"type":"Buffer","data":[...]}``, dates ISO strings, tuples and sets
    arrays, NaN and infinities ``null``. An `UNDEFINED` dict value drops its key; an
    `UNDEFINED` array item becomes ``null``. Floats keep Python's spelling (``1.0``).

    ``json_module`` (python-socketio's ``json=``): a value of a type none of the above covers
    is encoded by ``json_module.dumps`` instead of raising TypeError.

    Raises:
        TypeError: an unsupported type, or ``value`` is `UNDEFINED` (JS gives no text).
        ValueError: a circular reference.
    """
    if value is UNDEFINED:
        raise TypeError("UNDEFINED alone has no JSON text")
    if json_module is None:
        if _FAST:
            try:
                return _fastjson.dumps(value, _json_default)
            except _fastjson._Declined:
                pass
        return _encode(_JSON_ENCODER, value)
    return _encode(_fallback_encoder(json_module), value)


def dumps_json_unless_binary(value: object, json_module: Any = None) -> bytes | None:
    """`dumps_json`'s bytes, or None when `has_binary` would say True (bytes-like data in a
    value, at any depth): what a sender that writes msgpack for binary needs, in one pass of
    the C encoder instead of a Python walk and then the encoder (messages without binary,
    nearly all of them, pay for no walk at all). Raises as `dumps_json`, except that nesting
    too deep for the encoder is a ValueError as in `has_binary`.
    """
    if value is UNDEFINED:
        raise TypeError("UNDEFINED alone has no JSON text")
    if json_module is None:
        if _FAST:
            try:
                return _fastjson.dumps(value, _json_default_no_binary)
            except _fastjson._HoldsBinary:
                return None
            except _fastjson._Declined:
                pass
        encoder = _JSON_UNLESS_BINARY
    else:
        encoder = _fallback_encoder(json_module, binary=False)
    try:
        return _encode(encoder, value)
    except _HoldsBinary:
        return None
    except RecursionError:
        raise ValueError("dumps_json: nesting too deep, or circular") from None


def _encode(encoder: json.JSONEncoder, value: object) -> bytes:
    try:
        text = encoder.encode(value)
    except (_NeedsSlowPath, ValueError):  # ValueError: NaN/Infinity, or a genuine error
        try:
            text = encoder.encode(_json_normalize(value))
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
    if _FAST and type(data) is bytes and not (buffers and (b"Buffer" in data or b"\\u" in data)):
        try:
            return _fastjson.loads(data)
        except _fastjson._Declined:
            pass
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
