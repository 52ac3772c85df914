"""A small pure-Python MessagePack reader and writer that can see and choose ext headers.

Both sides exist for the legacy notepack.io 2.x extension type 0, which the C ``msgpack``
library cannot handle exactly on its own:

* writing (behind :func:`~sioadapter.wire.notepack.packb`): notepack 2 writes ArrayBuffers with
  an ext8/16/32 header even when the length would fit a fixext; the C packer always picks the
  fixext. :class:`RawExt` says which header to use.
* reading: msgpack's ``ext_hook(code, data)`` is not told whether the header was a fixext or an
  ext8/16/32, but notepack 2 gives the two different meanings (``d4 00 00`` is ``undefined``,
  ``c7 01 00 ff`` is a 1-byte ArrayBuffer; ``d7 00 ...`` is a Date, ``c7 08 00 ...`` an 8-byte
  ArrayBuffer). :func:`unpack` passes the header kind to its ``ext`` callback. ``unpackb`` no
  longer reads with it (:mod:`._unpack` gets the header kinds at C speed); it is the reference
  that the tests hold the fast reader to.

The module knows the MessagePack format only. What an ext type means (dates, undefined, bytes)
is decided by the callbacks that :mod:`~sioadapter.wire.notepack` passes in, so both modules
agree on a single definition of notepack's semantics. Output of :func:`pack` is byte-identical to
the C packer's (``use_bin_type=True``, doubles) for every value both can write.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import DecodeError

MAX_DEPTH = 511
"""Deepest nesting accepted, the same limit as the C packer's default ``nest_limit``."""

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")

_FIXEXT_HEADERS = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}


class SlowDecodeError(DecodeError):
    """The bytes are not one complete, well-formed MessagePack value.

    A ``DecodeError`` like every decoding failure, so no path out of the wire codecs raises
    anything outside `sioadapter.errors`."""


@dataclass(frozen=True, slots=True)
class RawExt:
    """An extension value to write as is.

    Attributes:
        code: the ext type, -128..127.
        data: the ext payload.
        fixext: whether a fixext header may be used when the length allows it. ``False`` forces
            ext8/16/32, as notepack 2 does for ArrayBuffers.
    """

    code: int
    data: bytes
    fixext: bool = True


# ---------------------------------------------------------------------------------------------
# Writer


def pack(value: object, default: Callable[[Any], Any], key: Callable[[Any], str | bytes]) -> bytes:
    """Encode ``value``, calling ``default`` for every object that is not a native type.

    Native types are exactly ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``,
    ``bytearray``, ``memoryview``, ``list``, ``dict`` and :class:`RawExt` (exact types, like the C
    packer's ``strict_types=True``). Whatever ``default`` returns must be native at its top level;
    its children go through ``default`` again.

    Args:
        value: the object to encode.
        default: converts a non-native object, or raises ``TypeError``.
        key: turns a dict key that is not ``str`` or ``bytes`` into the ``str`` or ``bytes``
            to write, or raises ``TypeError``.

    Returns:
        The MessagePack bytes.

    Raises:
        TypeError: from ``default`` or ``key``.
        OverflowError: an int outside int64/uint64.
        ValueError: nesting deeper than :data:`MAX_DEPTH`.
    """
    out = bytearray()
    _write(out, value, default, key, MAX_DEPTH, True)
    return bytes(out)


def _write(
    out: bytearray,
    obj: Any,
    default: Callable[[Any], Any],
    key: Callable[[Any], str | bytes],
    depth: int,
    may_default: bool,
) -> None:
    if depth < 0:
        raise ValueError("recursion limit exceeded.")
    t = type(obj)
    if obj is None:
        out.append(0xC0)
    elif t is bool:
        out.append(0xC3 if obj else 0xC2)
    elif t is int:
        _write_int(out, obj)
    elif t is float:
        out.append(0xCB)
        out += _F64.pack(obj)
    elif t is str:
        raw = obj.encode("utf-8")
        n = len(raw)
        if n < 32:
            out.append(0xA0 | n)
        else:
            _write_len(out, n, 0xD9, 0xDA, 0xDB)
        out += raw
    elif t is bytes or t is bytearray or t is memoryview:
        raw = bytes(obj)
        _write_len(out, len(raw), 0xC4, 0xC5, 0xC6)
        out += raw
    elif t is list:
        n = len(obj)
        if n < 16:
            out.append(0x90 | n)
        else:
            _write_len(out, n, None, 0xDC, 0xDD)
        for item in obj:
            _write(out, item, default, key, depth - 1, True)
    elif t is dict:
        _write_map(out, obj, default, key, depth)
    elif t is RawExt:
        n = len(obj.data)
        if obj.fixext and n in _FIXEXT_HEADERS:
            out.append(_FIXEXT_HEADERS[n])
        else:
            _write_len(out, n, 0xC7, 0xC8, 0xC9)
        out += _I8.pack(obj.code)
        out += obj.data
    elif may_default:
        _write(out, default(obj), default, key, depth, False)
    else:
        raise TypeError(f"cannot serialize {t.__qualname__!r} object")


def _write_map(
    out: bytearray,
    obj: dict[Any, Any],
    default: Callable[[Any], Any],
    key: Callable[[Any], str | bytes],
    depth: int,
) -> None:
    n = len(obj)
    if n < 16:
        out.append(0x80 | n)
    else:
        _write_len(out, n, None, 0xDE, 0xDF)
    keys: list[Any] = list(obj)
    if not all(type(k) is str or type(k) is bytes for k in keys):
        keys = [k if type(k) is str or type(k) is bytes else key(k) for k in keys]
        # A converted key can collide with an existing one (1 and "1"). A JS object cannot
        # hold both, so refuse rather than write a map with a duplicate key.
        if len(set(keys)) != n:
            raise ValueError("dict has keys that are equal once converted to str")
    for k, v in zip(keys, obj.values(), strict=True):
        _write(out, k, default, key, depth - 1, False)
        _write(out, v, default, key, depth - 1, True)


def _write_int(out: bytearray, n: int) -> None:
    # The smallest encoding, exactly as notepack.io and the C packer choose it.
    if n >= 0:
        if n < 0x80:
            out.append(n)
        elif n <= 0xFF:
            out.append(0xCC)
            out.append(n)
        elif n <= 0xFFFF:
            out.append(0xCD)
            out += _U16.pack(n)
        elif n <= 0xFFFFFFFF:
            out.append(0xCE)
            out += _U32.pack(n)
        elif n <= 0xFFFFFFFFFFFFFFFF:
            out.append(0xCF)
            out += _U64.pack(n)
        else:
            raise OverflowError("Integer value out of range")
    elif n >= -32:
        out.append(n & 0xFF)
    elif n >= -0x80:
        out.append(0xD0)
        out += _I8.pack(n)
    elif n >= -0x8000:
        out.append(0xD1)
        out += _I16.pack(n)
    elif n >= -0x80000000:
        out.append(0xD2)
        out += _I32.pack(n)
    elif n >= -0x8000000000000000:
        out.append(0xD3)
        out += _I64.pack(n)
    else:
        raise OverflowError("Integer value out of range")


def _write_len(out: bytearray, n: int, h8: int | None, h16: int, h32: int) -> None:
    if h8 is not None and n <= 0xFF:
        out.append(h8)
        out.append(n)
    elif n <= 0xFFFF:
        out.append(h16)
        out += _U16.pack(n)
    elif n <= 0xFFFFFFFF:
        out.append(h32)
        out += _U32.pack(n)
    else:
        raise ValueError("object too large for MessagePack")


# ---------------------------------------------------------------------------------------------
# Reader

ExtCallback = Callable[[int, bytes, bool], Any]
"""``ext(code, data, fixext)``: the value for one ext; ``fixext`` tells the header kind."""


def unpack(data: bytes | bytearray | memoryview, ext: ExtCallback) -> Any:
    """Decode exactly one MessagePack value that fills ``data``.

    Strings are decoded as strict UTF-8, bin as ``bytes``, arrays as ``list`` and maps as
    ``dict`` (any hashable key). Every ext, including the timestamp type -1, goes to ``ext``.

    Args:
        data: the payload.
        ext: builds the value of an ext from its type, its data and whether its header was a
            fixext (``d4``..``d8``) rather than ext8/16/32 (``c7``..``c9``).

    Returns:
        The decoded value.

    Raises:
        SlowDecodeError: truncated input, trailing bytes, the reserved byte ``c1``, nesting
            deeper than :data:`MAX_DEPTH`.
        UnicodeDecodeError: a str that is not UTF-8.
        TypeError: an unhashable map key.
        Exception: whatever ``ext`` raises.
    """
    reader = _Reader(bytes(data), ext)
    value = reader.read(MAX_DEPTH)
    extra = len(reader.buf) - reader.pos
    if extra:
        raise SlowDecodeError(f"{extra} extra bytes after the value")
    return value


class _Reader:
    __slots__ = ("buf", "ext", "pos")

    def __init__(self, buf: bytes, ext: ExtCallback) -> None:
        self.buf = buf
        self.ext = ext
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise SlowDecodeError("truncated input")
        chunk = self.buf[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: struct.Struct) -> Any:
        return fmt.unpack(self.take(fmt.size))[0]

    def read(self, depth: int) -> Any:
        if depth < 0:
            raise SlowDecodeError("nesting too deep")
        b = self.take(1)[0]
        if b < 0x80:
            return b
        if b >= 0xE0:
            return b - 0x100
        if b < 0x90:
            return self.read_map(b & 0x0F, depth)
        if b < 0xA0:
            return self.read_array(b & 0x0F, depth)
        if b < 0xC0:
            return self.take(b & 0x1F).decode("utf-8")
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if 0xC4 <= b <= 0xC6:
            return self.take(self.unpack((_U8, _U16, _U32)[b - 0xC4]))
        if 0xC7 <= b <= 0xC9:
            n = self.unpack((_U8, _U16, _U32)[b - 0xC7])
            code = self.unpack(_I8)
            return self.ext(code, self.take(n), False)
        if b == 0xCA:
            return self.unpack(_F32)
        if b == 0xCB:
            return self.unpack(_F64)
        if 0xCC <= b <= 0xD3:
            return self.unpack((_U8, _U16, _U32, _U64, _I8, _I16, _I32, _I64)[b - 0xCC])
        if 0xD4 <= b <= 0xD8:
            code = self.unpack(_I8)
            return self.ext(code, self.take(1 << (b - 0xD4)), True)
        if 0xD9 <= b <= 0xDB:
            return self.take(self.unpack((_U8, _U16, _U32)[b - 0xD9])).decode("utf-8")
        if b == 0xDC or b == 0xDD:
            return self.read_array(self.unpack(_U16 if b == 0xDC else _U32), depth)
        if b == 0xDE or b == 0xDF:
            return self.read_map(self.unpack(_U16 if b == 0xDE else _U32), depth)
        raise SlowDecodeError("byte 0xc1 is never used in MessagePack")

    def read_array(self, n: int, depth: int) -> list[Any]:
        # Every element takes at least one byte: refuse impossible counts before looping.
        if n > len(self.buf) - self.pos:
            raise SlowDecodeError("truncated input")
        return [self.read(depth - 1) for _ in range(n)]

    def read_map(self, n: int, depth: int) -> dict[Any, Any]:
        if 2 * n > len(self.buf) - self.pos:
            raise SlowDecodeError("truncated input")
        result: dict[Any, Any] = {}
        for _ in range(n):
            k = self.read(depth - 1)
            result[k] = self.read(depth - 1)
        return result
