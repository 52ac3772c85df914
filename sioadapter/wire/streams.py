"""The protocol of Node's ``@socket.io/redis-streams-adapter`` 0.3.x (and its streams emitter).

It is socket.io-adapter's ClusterAdapter protocol (`sioadapter.wire.cluster`, no heartbeats) on
two Redis transports, as captured in ``tests/fixtures/streams-node-captures.json``:

* **The stream** (``XADD <stream> MAXLEN ~ <max_len> * uid U nsp N type T data D``) carries the
  messages every node must see in order: broadcasts without acknowledgement, socketsJoin,
  socketsLeave, disconnectSockets (`goes_to_stream`). An entry is four string fields in this
  order: ``uid``, ``nsp``, ``type`` (the MessageType as a decimal string) and ``data``:
  ``JSON.stringify(message.data)``, or, for a type that may carry binary (3, 8, 9, 10, 12)
  whose data holds some, base64 of the msgpack of ``data`` (`encode_entry`, `decode_entry`).
  The stream entry's id is the broadcast's offset for connection state recovery.
* **Pub/sub** carries the ephemeral messages: acknowledged broadcasts, server-side emits and
  fetchSockets go to ``<key>#<nsp>#``, their responses to the requester's ``<key>#<nsp>#<uid>#``
  (``key`` is Node's ``channelPrefix``). Payloads are always msgpack of the whole
  ``{type, data, uid, nsp}`` (`encode`, `decode`). ``PUBSUB NUMSUB <key>#<nsp>#`` counts the
  servers.

The streams emitter writes every message, server-side emits included, to the stream, with uid
``"emitter"``; its broadcasts carry ``packet.nsp`` and list ``opts`` as rooms, flags, except
(``layout="emitter"``). Readers accept both layouts.

A namespace's stream is ``stream_name``, or with ``stream_count`` > 1 ``stream_name-i`` where
``i`` is Node's ``hashCode(nsp) % stream_count`` (`stream_index`; it may be negative).

Sessions (`Session`, `encode_session`) are stored by the adapter at ``<session_key_prefix><pid>``
as base64 of the msgpack of ``{sid, pid, rooms, data}``; entry ids are validated and stepped as
Node does when it replays missed packets (`parse_entry_id`, `next_entry_id`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.messages import (
    AdapterClose,
    Broadcast,
    ClusterMessage,
    DisconnectSockets,
    Heartbeat,
    Room,
    SocketsJoin,
    SocketsLeave,
    Target,
)
from ..errors import DecodeError
from . import notepack
from ._entries import (
    ENTRY_MARK,
    entry_channel,
    is_entry_payload,
    pack_entry,
    split_entry_channel,
    unpack_received,
)
from ._fields import as_map, as_rooms, req_str
from .base import ChannelInfo, Role
from .cluster import _BINARY_CAPABLE, ClusterFamily

__all__ = [
    "LAYOUTS",
    "Session",
    "StreamEntry",
    "StreamsFamily",
    "decode_session",
    "encode_session",
    "hash_code",
    "missed_packets",
    "next_entry_id",
    "parse_entry_id",
    "replays_to",
    "stream_index",
]

LAYOUTS = ("adapter", "emitter")
# Node's restoreSession accepts offsets of this shape only.
_ENTRY_ID = re.compile(r"[0-9]+-[0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_FIELDS = ("uid", "nsp", "type", "data")


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One ``XADD``: the stream's name and the entry's fields, in the order Node writes them."""

    stream: str
    fields: dict[str, str]


@dataclass(slots=True)
class Session:
    """A disconnected socket's state, as the adapter stores it for connection state recovery.

    ``rooms`` includes the socket's own sid room, as Node's does; ``data`` is the socket's data
    (Node's ``socket.data``, python-socketio's session).
    """

    sid: str
    pid: str
    rooms: list[Room]
    data: Any = None


def hash_code(text: str) -> int:
    """Node's ``hashCode``: Java's string hash over UTF-16 code units, as a signed int32."""
    value = 0
    units = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(units), 2):
        value = (value * 31 + (units[i] | units[i + 1] << 8)) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def stream_index(nsp: str, stream_count: int) -> int:
    """``hashCode(nsp) % stream_count`` with JavaScript's remainder (the dividend's sign)."""
    value = hash_code(nsp)
    index = abs(value) % stream_count
    return -index if value < 0 else index


def parse_entry_id(text: str) -> tuple[int, int] | None:
    """``(milliseconds, sequence)`` of a stream entry id ``"<ms>-<seq>"``, or None for any other
    string (Node refuses to restore a session from such an offset)."""
    if not isinstance(text, str) or _ENTRY_ID.fullmatch(text) is None:
        return None
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)


def next_entry_id(entry_id: str) -> str:
    """The smallest id after ``entry_id`` (``ms-(seq+1)``): where a replay resumes, as Node does
    it for Redis servers older than 6.2, which have no exclusive ranges. ValueError for an
    invalid id."""
    parsed = parse_entry_id(entry_id)
    if parsed is None:
        raise ValueError(f"not a stream entry id: {entry_id!r}")
    return f"{parsed[0]}-{parsed[1] + 1}"


def encode_session(session: Session) -> str:
    """The session key's value: base64 of the msgpack of ``{sid, pid, rooms, data}``.
    TypeError for data msgpack cannot carry."""
    fields = {"sid": session.sid, "pid": session.pid, "rooms": session.rooms, "data": session.data}
    return base64.b64encode(notepack.packb(fields)).decode("ascii")


def decode_session(value: bytes | str) -> Session:
    """The session in a session key's value (DecodeError if it is not one)."""
    fields = as_map(notepack.unpackb(_unbase64(value, "session")), "session")
    return Session(
        req_str(fields, "sid"),
        req_str(fields, "pid"),
        as_rooms(fields.get("rooms"), "session.rooms"),
        fields.get("data"),
    )


def replays_to(session_rooms: Sequence[Room], target: Target) -> bool:
    """Whether a missed broadcast for ``target`` is replayed to a session in ``session_rooms``
    (Node's ``shouldIncludePacket``: no rooms or a shared room, and no room excepted; rooms
    compare as they are, ``"1"`` is not ``1``)."""
    included = not target.rooms or any(room in target.rooms for room in session_rooms)
    return included and not any(room in target.except_rooms for room in session_rooms)


def missed_packets(
    entries: Iterable[tuple[str, Mapping[Any, Any]]],
    family: StreamsFamily,
    nsp: str,
    session_rooms: Sequence[Room],
    *,
    include_volatile: bool = False,
) -> list[list[Any]]:
    """The event data a recovering session missed, each with its entry id appended, in stream
    order, from the entries after its offset (Node's ``restoreSession``): broadcasts of ``nsp``
    that `replays_to` its rooms. Node replays volatile broadcasts too, although it gave them no
    offset live, so a client can get one twice; ``include_volatile=True`` does as Node does.
    Entries that do not decode are skipped, as Node's reader skips them."""
    missed: list[list[Any]] = []
    for entry_id, fields in entries:
        try:
            message = family.decode_entry(fields)
        except DecodeError:
            continue
        if type(message) is not Broadcast or message.nsp != nsp:
            continue
        if not include_volatile and "volatile" in message.target.flags:
            continue
        if replays_to(session_rooms, message.target):
            missed.append([*message.data, entry_id])
    return missed


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{what} is not UTF-8") from None
    raise DecodeError(f"{what} must be a string, not {type(value).__name__}")


def _unbase64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(_text(value, what), validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError(f"{what} is neither JSON nor base64") from None


class StreamsFamily(ClusterFamily):
    """``@socket.io/redis-streams-adapter`` 0.3.x: stream entries and pub/sub messages.

    Args:
        key: the pub/sub channel prefix (Node's ``channelPrefix``, default ``"socket.io"``).
        uid: this node's uid.
        stream_name: the stream (Node's ``streamName``, default ``"socket.io"``).
        stream_count: how many streams the namespaces are spread over (Node's ``streamCount``).
        only_plaintext: write binary-holding data as JSON too (Node's ``onlyPlaintext``; a
            Buffer then arrives as ``{"type": "Buffer", "data": [...]}``).
        json_module: python-socketio's ``json=`` (see `ClusterFamily`).
        layout: ``"adapter"`` (a server: `goes_to_stream` decides) or ``"emitter"`` (the
            streams emitter: every message is a stream entry, broadcasts in its layout).

    Raises:
        ValueError: an empty ``stream_name``, or ``stream_count`` not a positive int.
    """

    name: ClassVar[str] = "streams"
    protocol_title: ClassVar[str] = "the Redis streams adapter protocol"
    # 0.3.x is a ClusterAdapter without heartbeats: PUBSUB NUMSUB counts the servers.
    supported: ClassVar[frozenset[type]] = ClusterFamily.supported - {Heartbeat, AdapterClose}

    def __init__(
        self,
        key: str = "socket.io",
        uid: str = "",
        *,
        stream_name: str = "socket.io",
        stream_count: int = 1,
        only_plaintext: bool = False,
        json_module: Any = None,
        layout: str = "adapter",
    ) -> None:
        super().__init__(key, uid, subscription_mode="static", json_module=json_module)
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        self.layout = layout
        if not isinstance(stream_name, str) or not stream_name:
            raise ValueError("stream_name must be a non-empty string")
        if isinstance(stream_count, bool) or not isinstance(stream_count, int) or stream_count < 1:
            raise ValueError(f"stream_count must be a positive int, not {stream_count!r}")
        self.stream_name = stream_name
        self.stream_count = stream_count
        self.only_plaintext = only_plaintext

    # -- streams --------------------------------------------------------------------------

    def stream_for(self, nsp: str) -> str:
        """The stream that carries ``nsp``'s messages (one per namespace keeps their order).

        With ``stream_count`` > 1 this is Node's name even when the hash is negative
        (``socket.io--2``): Node writes there, although its readers only read ``-0`` to
        ``-(count-1)``. A reader reads the streams of the namespaces it serves."""
        if self.stream_count == 1:
            return self.stream_name
        return f"{self.stream_name}-{stream_index(nsp, self.stream_count)}"

    def stream_of_channel(self, channel: str) -> str | None:
        """The stream a node reads once it subscribes to ``channel``: a namespace's main
        pub/sub channel names the namespace whose stream it reads; None for other channels."""
        if channel.startswith(ENTRY_MARK):
            return None
        info = super().parse_channel(channel)
        if info is None or info.role is not Role.MAIN:
            return None
        return self.stream_for(info.nsp)

    @staticmethod
    def goes_to_stream(message: ClusterMessage) -> bool:
        """True for what the adapter XADDs (a broadcast without ack, socketsJoin/Leave,
        disconnectSockets); everything else goes over pub/sub."""
        if type(message) is Broadcast:
            return message.request_id is None
        return type(message) in (SocketsJoin, SocketsLeave, DisconnectSockets)

    def encode_entry(self, message: ClusterMessage, *, layout: str = "adapter") -> StreamEntry:
        """The stream entry for ``message`` (any supported type: the emitter writes server-side
        emits here too). ``layout="emitter"`` writes broadcasts as the streams emitter does.
        TypeError for what the protocol cannot carry or values that cannot be encoded."""
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        if type(message) not in self.supported:
            raise TypeError(f"{self.protocol_title} cannot carry {type(message).__name__}")
        _, fields, _ = self._fields(message, False)
        data: dict[str, Any] | None = fields.get("data")
        # Node's rule, decided here (not by _fields) so that it stays the streams adapter's.
        binary = fields["type"] in _BINARY_CAPABLE and notepack.has_binary(data)
        if layout == "emitter" and data is not None and type(message) is Broadcast:
            opts = data["opts"]
            data = {
                "packet": {**data["packet"], "nsp": message.nsp},
                **{k: v for k, v in data.items() if k not in ("packet", "opts")},
                "opts": {"rooms": opts["rooms"], "flags": opts["flags"], "except": opts["except"]},
            }
        entry = {"uid": message.uid or "", "nsp": message.nsp, "type": str(fields["type"])}
        if data is not None:
            if binary and not self.only_plaintext:
                entry["data"] = base64.b64encode(notepack.packb(data)).decode("ascii")
            else:
                entry["data"] = notepack.dumps_json(data, self.json_module).decode("utf-8")
        return StreamEntry(self.stream_for(message.nsp), entry)

    def decode_entry(self, fields: Mapping[Any, Any], *, preserve: bool = False) -> ClusterMessage:
        """The message in a stream entry's fields (str or bytes keys and values, as a Redis
        client returns them). DecodeError for anything else, an entry without ``nsp`` included
        (Node's readers skip those). ``preserve`` as in `decode`."""
        entry: dict[str, Any] = {}
        for name, value in fields.items():
            name = _text(name, "a field name")
            if name in _FIELDS:
                entry[name] = _text(value, f"field {name!r}")
        if "nsp" not in entry:
            raise DecodeError("stream entry without nsp")
        type_text = entry.get("type", "")
        if _DIGITS.fullmatch(type_text) is None:
            raise DecodeError(f"stream entry type must be a decimal number, not {type_text!r}")
        message: dict[str, Any] = {"type": int(type_text), "nsp": entry["nsp"]}
        if "uid" in entry:
            message["uid"] = entry["uid"]
        data = entry.get("data")
        dated = False
        if data:  # Node ignores an empty data field as well
            if data.startswith("{"):
                message["data"] = notepack.loads_json(data, buffers=False)
            else:
                message["data"] = notepack.unpackb(
                    _unbase64(data, "field 'data'"), preserve=preserve
                )
                dated = True
        info = ChannelInfo(entry["nsp"], Role.MAIN)
        return self._message(message, info, dated=dated, preserve=preserve)

    # -- pub/sub --------------------------------------------------------------------------

    def encode(
        self, message: ClusterMessage, *, use_room_channel: bool = True
    ) -> tuple[str, bytes]:
        """The channel and payload of ``message``: for what goes into the stream
        (`goes_to_stream`; everything with the emitter layout), an entry in the envelope the
        Redis streams backend XADDs (`sioadapter.wire._entries`); else the pub/sub channel
        and the msgpack of the whole message. TypeError for what the protocol cannot carry."""
        if self.layout == "emitter" or self.goes_to_stream(message):
            entry = self.encode_entry(message, layout=self.layout)
            fields = entry.fields
            return entry_channel(entry.stream, message.nsp), pack_entry(
                fields["uid"], fields["type"], fields.get("data")
            )
        if type(message) not in self.supported:
            raise TypeError(f"{self.protocol_title} cannot carry {type(message).__name__}")
        channel, fields_, _ = self._fields(message, False)
        return channel, notepack.packb(fields_)

    def parse_channel(self, channel: str) -> ChannelInfo | None:
        """An entry channel is the namespace's main channel (its entries are broadcasts and
        room changes); pub/sub channels are the ClusterAdapter's."""
        parts = split_entry_channel(channel)
        if parts is not None:
            return ChannelInfo(parts[1], Role.MAIN)
        return super().parse_channel(channel)

    def decode(
        self, info: ChannelInfo, payload: bytes, *, preserve: bool = False
    ) -> ClusterMessage:
        """A stream entry's envelope (a broadcast read from the stream gets its entry id as
        ``offset``), or a pub/sub message: Node always writes msgpack there (JSON is accepted
        too)."""
        if not is_entry_payload(payload):
            return super().decode(info, payload, preserve=preserve)
        uid, type_, data, entry_id = unpack_received(payload)
        fields = {"nsp": info.nsp, "type": type_}
        if uid is not None:
            fields["uid"] = uid
        if data is not None:
            fields["data"] = data
        message = self.decode_entry(fields, preserve=preserve)
        if entry_id is not None and type(message) is Broadcast:
            message.offset = entry_id
        return message
