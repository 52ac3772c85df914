"""How a stream entry travels between the streams family and the Redis streams backend.

The bus under a manager carries ``(channel, bytes)`` pairs; a stream entry is a stream name
and four string fields. An entry is therefore carried as:

* the channel ``"\\x00<stream>\\x00<nsp>"``: no pub/sub channel of Node's starts with NUL, so the
  backend tells an entry from a message to PUBLISH by its first character, and the family
  still reads the namespace off the channel (a node skips entries for namespaces it does not
  serve, or rooms it has no member in, without decoding them);
* the payload, on the sending side: the msgpack array ``[uid, type, data]`` as the family
  wrote it (``[uid, type]`` without data), which the backend turns into XADD's fields;
* the payload, on the receiving side: a `ReceivedEntry`, the ``data`` field's bytes with the
  entry's other fields and its id as attributes, as the reader got them from Redis. Nothing
  is re-encoded between the reader and the family (this is the hot path of every node: an
  envelope packed by the reader and unpacked by the family cost as much as the rest of the
  decoding), and the family decodes each field once. Anything that only sees bytes (a size
  limit, a census) sees the data.

Nothing here reaches Redis or another node: the backend XADDs the fields, and a reader builds
the `ReceivedEntry` from what it read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import msgpack

from ..errors import DecodeError

__all__ = [
    "ENTRY_MARK",
    "ReceivedEntry",
    "entry_channel",
    "entry_fields",
    "is_entry_payload",
    "received_entry",
    "split_entry_channel",
    "text",
    "unbase64",
    "unpack_received",
]

ENTRY_MARK = "\x00"
_FIXARRAY = range(0x90, 0xA0)


def entry_channel(stream: str, nsp: str) -> str:
    """The channel that carries an entry of ``nsp`` for ``stream``."""
    return f"{ENTRY_MARK}{stream}{ENTRY_MARK}{nsp}"


def split_entry_channel(channel: str) -> tuple[str, str] | None:
    """``(stream, nsp)`` of an entry channel, None for any other channel."""
    if not channel.startswith(ENTRY_MARK):
        return None
    stream, mark, nsp = channel[1:].partition(ENTRY_MARK)
    return (stream, nsp) if mark else None


def pack_entry(uid: str, type_: str, data: str | None) -> bytes:
    """The payload the family publishes for an entry."""
    packed: bytes = msgpack.packb([uid, type_] if data is None else [uid, type_, data])
    return packed


def entry_fields(channel: str, payload: bytes) -> tuple[str, dict[str, Any]]:
    """``(stream, fields)`` to XADD for an entry the family published (fields in Node's order:
    uid, nsp, type, data). ValueError for what is not one."""
    parts = split_entry_channel(channel)
    if parts is None:
        raise ValueError(f"not a stream entry channel: {channel!r}")
    stream, nsp = parts
    values = msgpack.unpackb(payload)
    fields = {"uid": values[0], "nsp": nsp, "type": values[1]}
    if len(values) > 2:
        fields["data"] = values[2]
    return stream, fields


class ReceivedEntry(bytes):
    """A stream entry as a reader read it: ``bytes`` of its ``data`` field (empty when it has
    none: Node ignores an empty data field as well), with the other fields as Redis returned
    them (bytes, or str from a client that decodes responses; None when absent) and its id.

    A bytes subclass so that it travels the bus's ``(channel, bytes)`` path unchanged; only
    the exact type is an entry (a copy, ``bytes(entry)``, is plain data). ``data`` is the
    field's own value as Redis returned it (exact ``bytes`` from redis-py, for the decoders'
    fast paths; None when absent), decoded or refused by the family. Stream entries carry no
    signature (``signing_keys`` does not apply to the streams protocol).
    """

    data: Any
    uid: Any
    type: Any
    entry_id: str

    def __new__(cls, data: Any, uid: Any, type_: Any, entry_id: str) -> ReceivedEntry:
        if type(data) is bytes:
            value = data
        elif isinstance(data, str):
            value = data.encode("utf-8", "surrogatepass")
        else:  # what a size limit measures; the family refuses what is not text
            value = b""
        self = super().__new__(cls, value)
        self.data = data
        self.uid = uid
        self.type = type_
        self.entry_id = entry_id
        return self


def received_entry(
    stream: str, entry_id: str, fields: Mapping[Any, Any]
) -> tuple[str, ReceivedEntry]:
    """The ``(channel, payload)`` a reader hands on for an entry it read (fields as redis-py
    returns them: bytes or str). An entry without ``nsp`` gets the empty namespace, which no
    node serves: it is counted as foreign and dropped, as Node's readers skip it. Fields
    other than Node's four are ignored, as Node's readers ignore them."""
    get = fields.get
    if b"nsp" in fields or b"data" in fields or b"uid" in fields:  # bytes: redis-py's default
        nsp, uid, type_, data = get(b"nsp", b""), get(b"uid"), get(b"type"), get(b"data")
    else:
        nsp, uid, type_, data = get("nsp", b""), get("uid"), get("type"), get("data")
    if isinstance(nsp, bytes):
        nsp = nsp.decode("utf-8", "replace")
    return entry_channel(stream, nsp), ReceivedEntry(data, uid, type_, entry_id)


def is_entry_payload(payload: bytes) -> bool:
    """True for an entry's payload (a msgpack array of at most 15 items)."""
    return bool(payload) and payload[0] in _FIXARRAY


def unpack_received(payload: bytes) -> tuple[Any, Any, Any, str | None]:
    """``(uid, type, data, entry_id)`` of an entry payload (entry_id None when the family's own
    payload is decoded, as by a test). DecodeError for anything else."""
    try:
        values = msgpack.unpackb(payload)
    except Exception as error:
        raise DecodeError(f"stream entry envelope: {error}") from None
    if not isinstance(values, list) or not 2 <= len(values) <= 4:
        raise DecodeError("stream entry envelope must be an array of 2 to 4 items")
    values += [None] * (4 - len(values))
    entry_id = values[3]
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode("ascii", "replace")
    return values[0], values[1], values[2], entry_id


def text(value: Any, what: str) -> str:
    """``value`` (a field as Redis returned it) as text. DecodeError for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{what} is not UTF-8") from None
    raise DecodeError(f"{what} must be a string, not {type(value).__name__}")


def unbase64(value: Any, what: str) -> bytes:
    """The bytes ``value`` is the base64 of. DecodeError for anything else."""
    try:
        return base64.b64decode(text(value, what), validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError(f"{what} is neither JSON nor base64") from None
