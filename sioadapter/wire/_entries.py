"""How a stream entry travels between the streams family and the Redis streams backend.

The bus under a manager carries ``(channel, bytes)`` pairs; a stream entry is a stream name
and four string fields. An entry is therefore carried as:

* the channel ``"\\x00<stream>\\x00<nsp>"``: no pub/sub channel of Node's starts with NUL, so the
  backend tells an entry from a message to PUBLISH by its first character, and the family
  still reads the namespace off the channel (a node skips entries for namespaces it does not
  serve, or rooms it has no member in, without decoding them);
* the payload: the msgpack array ``[uid, type, data]`` as the family wrote it, and on the
  receiving side ``[uid, type, data, entry_id]`` (``data`` may be absent: ``[uid, type]``
  becomes ``[uid, type, None, entry_id]``). Node writes maps on pub/sub, so an array is never
  mistaken for a pub/sub message.

Nothing here reaches Redis or another node: the backend XADDs the fields, and a reader builds
the envelope from what it read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack

from ..errors import DecodeError

__all__ = [
    "ENTRY_MARK",
    "entry_channel",
    "entry_fields",
    "is_entry_payload",
    "received_entry",
    "split_entry_channel",
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


def received_entry(stream: str, entry_id: str, fields: Mapping[Any, Any]) -> tuple[str, bytes]:
    """The ``(channel, payload)`` a reader hands on for an entry it read (fields as redis-py
    returns them: bytes or str). An entry without ``nsp`` gets the empty namespace, which no
    node serves: it is counted as foreign and dropped, as Node's readers skip it."""
    get = fields.get
    nsp = get(b"nsp", get("nsp", b""))
    if isinstance(nsp, bytes):
        nsp = nsp.decode("utf-8", "replace")
    values = [get(b"uid", get("uid")), get(b"type", get("type")), get(b"data", get("data"))]
    packed: bytes = msgpack.packb([*values, entry_id])
    return entry_channel(stream, nsp), packed


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
