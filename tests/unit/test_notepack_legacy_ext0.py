"""notepack 2's ext type 0 in large payloads: decoded at C speed, and exactly.

One such value used to send the whole payload through the pure-Python reader (a 10 MB message
blocked every node's event loop for seconds). The speed tests time the decode against msgpack's
own C decoder on a payload of the same shape, in the same test: only the ratio is checked. The
others cover the edges of how header kinds are found (see ``sioadapter/wire/_ext0_kinds.py``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import msgpack
import pytest

from sioadapter.wire.notepack import UNDEFINED, DecodeError, Ext0Bytes, Ext0Date, unpackb

MAX_RATIO = 6.0  # measured 1.2-1.4x (undefined only), 1.9-2.5x (with ArrayBuffers); was 14x
UNDEFINED_BYTES = b"\xd4\x00\x00"  # fixext1 type 0
AMBIGUOUS = b"\xc7\x01\x00\xd4\x00\x00\xc7\x08\x00\xc8\x00\x01\x00"  # headers, inside a bin here


def best_of(runs: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def small_items(size: int) -> tuple[list[Any], bytes]:
    """About ``size`` bytes of small ints and short strings, and their encoding (no header)."""
    items: list[Any] = []
    for i in range(size // 4):
        items.append(i % 1000 if i % 2 else f"s{i % 97}")
    return items, b"".join(msgpack.packb(x) for x in items)


def array32(count: int, body: bytes) -> bytes:
    return b"\xdd" + count.to_bytes(4, "big") + body


def ratio(payload: bytes, same_shape: bytes, **kwargs: Any) -> float:
    ours = best_of(5, lambda: unpackb(payload, **kwargs))
    theirs = best_of(5, lambda: msgpack.unpackb(same_shape, strict_map_key=False))
    return ours / theirs


def test_one_undefined_in_a_large_payload() -> None:
    items, body = small_items(2 << 20)
    # {"a": [undefined, ...items], "u": undefined}: JS drops the key, the element becomes null.
    payload = b"\x82\xa1a" + array32(len(items) + 1, UNDEFINED_BYTES + body) + b"\xa1u"
    payload += UNDEFINED_BYTES
    same_shape = payload[:-3].replace(UNDEFINED_BYTES, b"\xc0", 1) + b"\xc0"
    assert unpackb(payload) == {"a": [None, *items]}
    assert unpackb(payload, preserve=True) == {"a": [UNDEFINED, *items], "u": UNDEFINED}
    assert ratio(payload, same_shape) < MAX_RATIO
    assert ratio(payload, same_shape, preserve=True) < MAX_RATIO


def test_ext8_arraybuffers_and_header_bytes_in_a_large_payload() -> None:
    # notepack 2's 1- and 8-byte ArrayBuffers (ext8 headers), a Date, undefined, and the same
    # header bytes inside a bin, after 2 MB of small values.
    items, body = small_items(2 << 20)
    date_ms = 1_700_000_000_123
    bin_ = b"\xc4" + bytes([len(AMBIGUOUS)]) + AMBIGUOUS
    legacy = [
        b"\xc7\x01\x00\x07",  # ArrayBuffer [7]
        b"\xc7\x08\x00" + bytes(range(8)),  # ArrayBuffer of 8 bytes
        b"\xd7\x00" + date_ms.to_bytes(8, "big"),  # Date
        bin_,
        UNDEFINED_BYTES,
    ]
    payload = array32(len(items) + 5, body + b"".join(legacy))
    # The same shape without ext 0: plain bins, a timestamp, nil.
    plain = [b"\xc4\x01\x07", b"\xc4\x08" + bytes(range(8)), b"\xd7\xff" + bytes(8), bin_, b"\xc0"]
    same_shape = array32(len(items) + 5, body + b"".join(plain))
    when = datetime.fromtimestamp(date_ms / 1000, tz=timezone.utc)
    tail = [b"\x07", bytes(range(8)), when, AMBIGUOUS, None]
    assert unpackb(payload) == [*items, *tail]
    preserved = unpackb(payload, preserve=True)
    assert preserved[-5:] == [b"\x07", bytes(range(8)), when, AMBIGUOUS, UNDEFINED]
    assert [type(x) for x in preserved[-5:-2]] == [Ext0Bytes, Ext0Bytes, Ext0Date]
    assert unpackb(payload, dates="iso")[-3] == "2023-11-14T22:13:20.123Z"
    assert ratio(payload, same_shape) < MAX_RATIO
    assert ratio(payload, same_shape, preserve=True) < MAX_RATIO


# -- header kinds: edge cases of the marked copy -----------------------------------------

BIN_OF_MARKERS = (b"\xc7\x01\x00x" + b"\xc7\x08\x00" + b"\xc8\x00\x01\x00") * 4


def test_header_bytes_outside_headers_change_nothing() -> None:
    # The same bytes in an int, a bin and a timestamp's nanoseconds (valid UTF-8 cannot hold
    # them), beside a real 1-byte ArrayBuffer and undefined.
    for raw in (
        b"\xce\x00\xc7\x01\x00",
        b"\xcd\xc7\x01",
        b"\xc4\x0e" + BIN_OF_MARKERS[:14],
        b"\xd7\xff\xed\xc7\x01\x00\x00\x00\x00\x00",
        b"\xc7\x0c\xff\x3a\xc7\x08\x00" + b"\xff" * 8,
    ):
        value = msgpack.unpackb(raw, timestamp=3)
        payload = b"\x94" + raw + b"\xc7\x01\x00\x07" + UNDEFINED_BYTES + b"\x00"
        assert unpackb(payload) == [value, b"\x07", None, 0]
        preserved = unpackb(payload, preserve=True)
        assert preserved == [value, b"\x07", UNDEFINED, 0]
        assert type(preserved[1]) is Ext0Bytes


DENSE = 200_000  # small ints after a huge bin: too many elements for the walk over headers


def huge_payload(blob: bytes, tail: list[bytes], dense: bool) -> bytes:
    ints = bytes(i % 128 for i in range(DENSE)) if dense else b""
    items = [b"\xc6" + len(blob).to_bytes(4, "big") + blob, *tail]
    return array32(len(items) + len(ints), items[0] + ints + b"".join(items[1:]))


def test_a_32_bit_length_that_could_be_a_header_is_refused_on_huge_dense_payloads() -> None:
    # A bin32 of 0xc70100 bytes: its length field ends in c7 01 00, the start of an ext8
    # header. Beside a legacy ext 0, in a payload too dense to walk, the marker decode cannot
    # tell the two readings apart.
    blob = bytes(0xC70100)
    ints = [i % 128 for i in range(DENSE)]
    with pytest.raises(DecodeError, match="32-bit length"):
        unpackb(huge_payload(blob, [UNDEFINED_BYTES], dense=True))
    assert unpackb(huge_payload(blob, [b"\xc0"], dense=True)) == [blob, *ints, None]
    # With few elements the walk reads the headers themselves.
    assert unpackb(huge_payload(blob, [UNDEFINED_BYTES], dense=False)) == [blob, None]


def test_huge_payloads_with_header_bytes_decode() -> None:
    blob = BIN_OF_MARKERS * (0xC80000 // len(BIN_OF_MARKERS))
    tail = [b"\xc7\x01\x00\x07", b"\xc8\x00\x08\x00" + bytes(8), UNDEFINED_BYTES]
    ints = [i % 128 for i in range(DENSE)]
    for dense in (False, True):
        payload = huge_payload(blob, tail, dense)
        middle = ints if dense else []
        assert unpackb(payload) == [blob, *middle, b"\x07", bytes(8), None]
        preserved = unpackb(payload, preserve=True)
        assert preserved[-3:] == [b"\x07", bytes(8), UNDEFINED]
        assert [type(x) for x in preserved[-3:-1]] == [Ext0Bytes, Ext0Bytes]


def test_the_marked_copy_keeps_every_valid_timestamp_valid() -> None:
    # The marker decode changes the last byte (0) of each ambiguous header string to 0x7f,
    # wherever the string lies; msgpack rejects timestamps with nanoseconds >= 10**9.
    rng = random.Random(11)
    headers = [b"\xc7\x01\x00", b"\xc7\x08\x00", b"\xc8\x00\x01\x00", b"\xc8\x00\x08\x00"]
    checked = 0
    for size in (8, 12):
        for header in headers:
            for at in range(size - len(header) + 1):
                for _ in range(400):
                    data = bytearray(rng.randbytes(size))
                    data[0] = rng.choice([data[0], 0x3A, 0xED, 0xEE])  # near the limits
                    data[at : at + len(header)] = header
                    try:
                        msgpack.Timestamp.from_bytes(bytes(data))
                    except ValueError:
                        continue  # not valid to begin with
                    checked += 1
                    data[at + len(header) - 1] = 0x7F
                    msgpack.Timestamp.from_bytes(bytes(data))  # still valid
    assert checked > 3_000
