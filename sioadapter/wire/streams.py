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
)
from ..errors import DecodeError
from . import notepack
from ._entries import (
    ENTRY_MARK,
    ReceivedEntry,
    entry_channel,
    is_entry_payload,
    pack_entry,
    split_entry_channel,
    text,
    unbase64,
    unpack_received,
)
from ._sessions import (
    Session,
    decode_session,
    encode_session,
    next_entry_id,
    parse_entry_id,
    replays_to,
)
from .base import ChannelInfo, Role
from .cluster import _BINARY_CAPABLE, _CACHE_LIMIT, ClusterFamily

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
_DIGITS = re.compile(r"[0-9]+")
_FIELDS = ("uid", "nsp", "type", "data")


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One ``XADD``: the stream's name and the entry's fields, in the order Node writes them."""

    stream: str
    fields: dict[str, str]


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


class StreamsFamily(ClusterFamily):
    """``@socket.io/redis-streams-adapter`` 0.3.x: stream entries and pub/sub messages, never
    signed (`Family.signed`: Node's adapter has no signatures, and ``signing_keys`` is refused).

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

    signed = False

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
        self._uid_bytes = uid.encode("utf-8")

    def take_uid(self, uid: str) -> None:
        super().take_uid(uid)
        self._uid_bytes = uid.encode("utf-8")

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
            name = text(name, "a field name")
            if name in _FIELDS:
                entry[name] = value
        if "nsp" not in entry:
            raise DecodeError("stream entry without nsp")
        info = ChannelInfo(text(entry["nsp"], "field 'nsp'"), Role.MAIN)
        return self._entry_message(
            info, entry.get("uid"), entry.get("type"), entry.get("data"), preserve
        )

    def _entry_message(
        self, info: ChannelInfo, uid: Any, type_: Any, data: Any, preserve: bool
    ) -> ClusterMessage:
        """The message of an entry of namespace ``info.nsp`` (``info`` a MAIN channel's),
        from its fields, each as Redis returned it (bytes or str; None when absent), each
        decoded once: ``data`` stays bytes up to the JSON decoder (its fast path takes exact
        bytes)."""
        if type(type_) is bytes:  # ASCII digits only, as the regex below
            if not type_.isdigit():
                raise DecodeError(f"stream entry type must be a decimal number, not {type_!r}")
        elif _DIGITS.fullmatch(text(type_ or "", "field 'type'")) is None:
            raise DecodeError(f"stream entry type must be a decimal number, not {type_!r}")
        message: dict[str, Any] = {"type": int(type_), "nsp": info.nsp}
        if uid is not None:
            message["uid"] = text(uid, "field 'uid'")
        dated = False
        if data:  # Node ignores an empty data field as well
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            elif not isinstance(data, (bytes, str)):
                raise DecodeError(f"field 'data' must be a string, not {type(data).__name__}")
            if data[:1] in (b"{", "{"):
                message["data"] = notepack.loads_json(data, buffers=False)
            else:
                message["data"] = notepack.unpackb(
                    unbase64(data, "field 'data'"), preserve=preserve
                )
                dated = True
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
        if not channel.startswith(ENTRY_MARK):
            return super().parse_channel(channel)
        info = self._channel_cache.get(channel)
        if info is None:  # the same few channels come back for every entry: cache them
            parts = split_entry_channel(channel)
            if parts is None:
                return None
            info = ChannelInfo(parts[1], Role.MAIN)
            if len(self._channel_cache) >= _CACHE_LIMIT:
                self._channel_cache.clear()
            self._channel_cache[channel] = info
        return info

    def decode(
        self, info: ChannelInfo, payload: bytes, *, preserve: bool = False
    ) -> ClusterMessage:
        """A stream entry as a reader hands it on (a `ReceivedEntry`; a broadcast read from
        the stream gets its entry id as ``offset``), the family's own entry envelope (as a
        test decodes it), or a pub/sub message: Node always writes msgpack there (JSON is
        accepted too)."""
        if type(payload) is ReceivedEntry:
            message = self._entry_message(info, payload.uid, payload.type, payload.data, preserve)
            if type(message) is Broadcast:
                message.offset = payload.entry_id
            return message
        if not is_entry_payload(payload):
            return super().decode(info, payload, preserve=preserve)
        uid, type_, data, entry_id = unpack_received(payload)
        if info.role is not Role.MAIN:  # an entry is its namespace's, whatever the channel
            info = ChannelInfo(info.nsp, Role.MAIN)
        message = self._entry_message(info, uid, type_, data, preserve)
        if entry_id is not None and type(message) is Broadcast:
            message.offset = entry_id
        return message

    def is_own(self, info: ChannelInfo, payload: bytes) -> bool:
        """True for an entry this node wrote, read back from the stream: the receiver drops
        it undecoded (it does not when it delivers its own broadcasts on read back, for their
        offsets). Pub/sub messages are decoded: their uid is checked then."""
        if type(payload) is not ReceivedEntry:
            return False
        uid = payload.uid
        return uid == self._uid_bytes if type(uid) is bytes else uid == self.uid
