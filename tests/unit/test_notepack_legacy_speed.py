"""A large payload holding notepack 2's ext type 0 decodes at C speed, not pure-Python speed.

One such value used to send the whole payload through the pure-Python reader (a 10 MB message
blocked every node's event loop for seconds). These tests time the decode against msgpack's own
C decoder on a payload of the same shape, in the same test: only the ratio is checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import msgpack

from sioadapter.wire.notepack import UNDEFINED, Ext0Bytes, Ext0Date, unpackb

MAX_RATIO = 6.0  # measured 1.2-2.1x (undefined only), 1.7-3.1x (with ArrayBuffers); was 14x
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
