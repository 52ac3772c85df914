"""Message signing: an HMAC-SHA256 carried inside each payload, bound to its channel.

Pure: no I/O, no clock. A `Signer` holds the keys; the first one signs, any one
verifies, so keys can be rotated without stopping the cluster (see docs/security.md).

The MAC is ``HMAC-SHA256(key, len(channel) + channel + body)``: ``channel`` is the channel
name in UTF-8, ``len(channel)`` its length in bytes as 4 bytes big-endian, and ``body`` the
unsigned payload, byte for byte. A signed message therefore cannot be moved to another channel
(another namespace, room, request or response channel). It can be replayed on its own channel:
nothing here knows what was seen before.

Where the signature goes depends on the payload's form, so that the signed payload is still a
valid message of the same shape, which Node peers (and sioadapter nodes without keys) decode
as before: they ignore a map key or a trailing array element they do not know.

* **msgpack map** (ClusterAdapter messages, classic type-7 broadcasts with ack and type-9
  acks, binary requests and responses): a *first* entry, key fixstr ``"sig"`` (``a3 73 69 67``),
  value bin8 of the 32-byte MAC (``c4 20`` + MAC); the header's count goes up by one (fixmap
  ``0x8N``, or map16 ``0xde`` / map32 ``0xdf`` when the count outgrows the smaller form).
* **msgpack array of 3** (the classic broadcast ``[uid, packet, opts]``): a 4th element, bin8 of
  the MAC at the end; the header goes from ``0x93`` to ``0x94``.
* **JSON object** (classic requests and responses): a first member ``"sig":"<64 hex digits>"``,
  so the payload starts ``{"sig":"``.

Recognising a signature is a fixed-size check at a fixed place, with no decoding. It cannot be
confused with a peer's own data: the first key of every map and object a Node or sioadapter
peer publishes is one of the adapter's own (``type``, ``uid``, ``requestId``), never ``sig``, and
Node's broadcast arrays have exactly 3 elements. (A *last* map entry would be ambiguous: a
nested map ending in ``"sig": <32 bytes>``, or binary data, can end with the same bytes.)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Final

from ..errors import ForgedMessageError, SignatureError, UnsignedMessageError

MIN_KEY_BYTES: Final = 16
"""The shortest key accepted (HMAC-SHA256 keys should be random, 32 bytes is usual)."""
MAC_BYTES: Final = 32
"""The length of a signature (an HMAC-SHA256 digest)."""

_MAP_ENTRY: Final = b"\xa3sig\xc4\x20"  # fixstr "sig", then the bin8 header of 32 bytes
_MAP_SIGNATURE: Final = len(_MAP_ENTRY) + MAC_BYTES
_ARRAY_TAIL: Final = b"\xc4\x20"
_ARRAY_SIGNATURE: Final = len(_ARRAY_TAIL) + MAC_BYTES
_JSON_HEAD: Final = b'{"sig":"'
_JSON_SIGNATURE: Final = len(_JSON_HEAD) + 2 * MAC_BYTES + 2  # head, hex, '"' and ',' or '}'
_HEX_DIGITS: Final = b"0123456789abcdef"
SIGNATURE_OVERHEAD: Final = max(_MAP_SIGNATURE + 4, _ARRAY_SIGNATURE, _JSON_SIGNATURE)
"""The most bytes signing adds to a payload (a map header may grow by up to 4 bytes)."""


def _key_bytes(key: object, index: int) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"signing key #{index} must be bytes or str, not {type(key).__name__}")
    if len(key) < MIN_KEY_BYTES:
        # Never quote the key: it would land in a log line or a traceback.
        raise ValueError(f"signing key #{index} is too short: at least {MIN_KEY_BYTES} bytes")
    return bytes(key)


class Signer:
    """Signs and verifies payloads with HMAC-SHA256.

    Args:
        keys: one or more keys, ``bytes`` or ``str`` (encoded as UTF-8), each at least
            `MIN_KEY_BYTES` long. The first signs; every one verifies.

    Raises:
        ValueError: no key, or a key that is too short (the message names the key by its
            position, never by its value).
        TypeError: a key that is neither bytes nor str.

    ``repr()`` shows how many keys there are, never the keys.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[bytes | str]) -> None:
        if isinstance(keys, (bytes, str)):
            raise TypeError("signing keys are a list of keys, not one key")
        checked = tuple(_key_bytes(key, index) for index, key in enumerate(keys, 1))
        if not checked:
            raise ValueError("at least one signing key is needed")
        self._keys = checked

    def __repr__(self) -> str:
        return f"<Signer with {len(self._keys)} key{'s' if len(self._keys) != 1 else ''}>"

    def sign(self, channel: str, payload: bytes) -> bytes:
        """``payload`` with the first key's signature for ``channel`` embedded.

        Raises:
            ValueError: ``payload`` is none of the three forms (a msgpack map with its
                shortest header, a msgpack array of 3, a JSON object as ``JSON.stringify``
                writes it). The families only produce these.
        """
        mac = hmac.digest(self._keys[0], _signed(channel, payload), hashlib.sha256)
        return _embed(payload, mac)

    def verify(self, channel: str, payload: bytes, *, require: bool = True) -> bytes:
        """The unsigned body of ``payload`` (the exact bytes that were signed) when one of the
        keys signed it for ``channel``.

        Args:
            require: when False, an unsigned payload is returned as it is (for rolling
                upgrades and clusters with Node servers); a signed one must still verify.

        Raises:
            UnsignedMessageError: no signature, and ``require``.
            ForgedMessageError: a signature that matches no key.
        """
        parts = split(payload)
        if parts is None:
            if require:
                raise UnsignedMessageError("the message carries no signature")
            return payload
        body, mac = parts
        signed = _signed(channel, body)
        for key in self._keys:
            if hmac.compare_digest(hmac.digest(key, signed, hashlib.sha256), mac):
                return body
        raise ForgedMessageError("the message's signature matches none of the signing keys")


def _signed(channel: str, body: bytes) -> bytes:
    """What the MAC covers: the channel name's length (4 bytes, big-endian), the name, the
    body. The length makes the split unambiguous: a channel name built from a room name may
    hold any character, a NUL included, so a separator alone would not do."""
    # surrogateescape: the backends give channel names that were not UTF-8 that way.
    name = channel.encode("utf-8", "surrogateescape")
    return b"".join((len(name).to_bytes(4, "big"), name, body))


def _map_header(count: int) -> bytes:
    """The shortest msgpack map header for ``count`` entries."""
    if count < 16:
        return bytes((0x80 | count,))
    if count < 0x10000:
        return b"\xde" + count.to_bytes(2, "big")
    return b"\xdf" + count.to_bytes(4, "big")


def _map_count(payload: bytes) -> tuple[int, int] | None:
    """(header length, entry count) when ``payload`` starts with a msgpack map header."""
    first = payload[0]
    if 0x80 <= first <= 0x8F:
        return 1, first & 0x0F
    if first == 0xDE and len(payload) >= 3:
        return 3, int.from_bytes(payload[1:3], "big")
    if first == 0xDF and len(payload) >= 5:
        return 5, int.from_bytes(payload[1:5], "big")
    return None


def _embed(payload: bytes, mac: bytes) -> bytes:
    first = payload[:1]
    if first == b"{":
        if payload == b"{}":
            return b"".join((_JSON_HEAD, mac.hex().encode("ascii"), b'"}'))
        if payload[1:2] != b'"' or payload[-1:] != b"}":
            raise ValueError("a JSON payload must be an object, written without whitespace")
        return b"".join((_JSON_HEAD, mac.hex().encode("ascii"), b'",', payload[1:]))
    if first == b"\x93":
        return b"".join((b"\x94", payload[1:], _ARRAY_TAIL, mac))
    header = _map_count(payload) if payload else None
    if header is None:
        raise ValueError("only msgpack maps, msgpack arrays of 3 and JSON objects can be signed")
    size, count = header
    if size != len(_map_header(count)):
        # Stripping gives the shortest header back; a longer one would not verify.
        raise ValueError("the msgpack map header is not the shortest one for its count")
    return b"".join((_map_header(count + 1), _MAP_ENTRY, mac, payload[size:]))


def split(payload: bytes) -> tuple[bytes, bytes] | None:
    """``(body, mac)`` when ``payload`` carries a signature in one of the three layouts, else
    None. Verifies nothing: the MAC may be anything."""
    if not payload:
        return None
    first = payload[0]
    if first == 0x7B:  # "{": JSON
        if not payload.startswith(_JSON_HEAD) or len(payload) < _JSON_SIGNATURE:
            return None
        digits = payload[len(_JSON_HEAD) : len(_JSON_HEAD) + 2 * MAC_BYTES]
        close, after = _JSON_SIGNATURE - 2, _JSON_SIGNATURE - 1
        if digits.translate(None, _HEX_DIGITS) or payload[close : close + 1] != b'"':
            return None
        mark = payload[after : after + 1]
        if mark == b",":
            body = b"{" + payload[_JSON_SIGNATURE:]
        elif mark == b"}" and len(payload) == _JSON_SIGNATURE:
            body = b"{}"
        else:
            return None
        return body, bytes.fromhex(digits.decode("ascii"))
    if first == 0x94:  # a 4-element array: [uid, packet, opts, mac]
        if len(payload) <= _ARRAY_SIGNATURE or payload[-_ARRAY_SIGNATURE:-MAC_BYTES] != _ARRAY_TAIL:
            return None
        return b"\x93" + payload[1:-_ARRAY_SIGNATURE], payload[-MAC_BYTES:]
    header = _map_count(payload)
    if header is None:
        return None
    size, count = header
    end = size + _MAP_SIGNATURE
    if count == 0 or len(payload) < end or payload[size : size + len(_MAP_ENTRY)] != _MAP_ENTRY:
        return None
    return _map_header(count - 1) + payload[end:], payload[end - MAC_BYTES : end]


def strip(payload: bytes) -> bytes:
    """``payload`` without its signature, if it has one, unverified: what a node without keys
    (or a monitor) decodes, so that signed and unsigned nodes can share a cluster."""
    if payload[:1] == b"{" and not payload.startswith(_JSON_HEAD):
        return payload  # unsigned JSON, what most nodes receive: split() would say so
    parts = split(payload)
    return payload if parts is None else parts[0]


__all__ = [
    "MAC_BYTES",
    "MIN_KEY_BYTES",
    "SIGNATURE_OVERHEAD",
    "ForgedMessageError",
    "SignatureError",
    "Signer",
    "UnsignedMessageError",
    "split",
    "strip",
]
