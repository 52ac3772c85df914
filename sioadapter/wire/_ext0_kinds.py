"""Which header each of a payload's ambiguous notepack 2 ext 0 values had.

notepack 2 gives ext type 0 three meanings that only the header tells apart: fixext1 (``d4 00``)
is ``undefined``, fixext8 (``d7 00``) a Date, ext8/16/32 (``c7``/``c8``/``c9``) an ArrayBuffer,
1- and 8-byte ones included. msgpack's ``ext_hook(code, data)`` is not told the header, so for
an ext 0 of 1 or 8 bytes (an *ambiguous* ext) the decoder asks :class:`Ext0Kinds`, built when
it meets the first one. The kinds of all of them come from one of two C-speed passes, the
cheaper for the payload:

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
"""

from __future__ import annotations

import re
from typing import Final

import msgpack

from ..errors import DecodeError

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
_WALK_MIN: Final = 16384  # smaller payloads: the marker decode costs less than a walk
_WALK_BYTES_PER_STEP: Final = 128  # denser payloads: the marker decode costs less


class Ext0Kinds:
    """The header kinds of one payload's ambiguous exts, in the order a decode meets them."""

    __slots__ = ("index", "kinds")

    def __init__(self, data: bytes | bytearray) -> None:
        self.kinds = _header_kinds(data)
        self.index = 0

    def fixext(self, n: int) -> bool:
        """Whether the next ambiguous ext, of ``n`` bytes, had a fixext header."""
        kinds = self.kinds
        if kinds is None:
            return True  # no ambiguous ext8/16/32 header anywhere
        i = self.index
        # The pass met the same exts in the same order; check it all the same.
        kind = kinds[i] if i < len(kinds) else 0
        if kind & 0xF != n:
            raise DecodeError("the marked copy of the payload decoded differently")
        self.index = i + 1
        return kind < _EXT8


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
