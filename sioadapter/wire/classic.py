"""The classic protocol of Node's ``@socket.io/redis-adapter`` (``createAdapter``) and emitter.

Channels, for key prefix ``key`` and namespace ``nsp``:

* broadcasts on ``key#nsp#``, or ``key#nsp#room#`` when exactly one room is targeted; a node
  pattern-subscribes to ``key#nsp#*``;
* requests on ``key-request#nsp#``;
* responses on ``key-response#nsp#``, or on the requester's ``key-response#nsp#uid#`` when
  ``publish_on_specific_response_channel`` is set (a node subscribes to both).

Payloads: a broadcast is the msgpack array ``[uid, packet, opts]``. Requests and responses are
JSON objects, except the acknowledged broadcast (type 7) and its acknowledgements (type 9),
which are msgpack maps. Receivers sniff: a payload starting with ``{`` is JSON. sioadapter also
sends msgpack for any request or response holding binary, which Node (7.2+) reads the same way
and which keeps bytes as bytes, where JSON would turn a Buffer into ``{"type":"Buffer",...}``.

Field layouts and key orders follow what Node 8.3 publishes (see PROTOCOL.md sections 3.2 and
4.1), so that a message decoded from Node's bytes encodes back to the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ..core.messages import (
    EMITTER_UID,
    AllRooms,
    Broadcast,
    BroadcastAck,
    BroadcastClientCount,
    ClusterMessage,
    DisconnectSockets,
    FetchSockets,
    FetchSocketsResponse,
    RemoteDisconnect,
    RemoteJoin,
    RemoteLeave,
    RequestReply,
    ServerSideEmit,
    ServerSideEmitResponse,
    SocketIds,
    SocketsJoin,
    SocketsLeave,
)
from ..errors import DecodeError
from . import notepack
from ._classic_decode import (
    ALL_ROOMS,
    BROADCAST,
    BROADCAST_ACK,
    BROADCAST_CLIENT_COUNT,
    REMOTE_DISCONNECT,
    REMOTE_FETCH,
    REMOTE_JOIN,
    REMOTE_LEAVE,
    SERVER_SIDE_EMIT,
    SOCKETS,
    decode_broadcast,
    decode_request,
    decode_response,
    read_map,
)
from ._fields import (
    split_channel,
    write_target,
)
from .base import (
    ChannelInfo,
    Family,
    Role,
)

__all__ = [
    "SUBSCRIPTION_MODES",
    "ClassicFamily",
]

_CACHE_LIMIT = 4096
SUBSCRIPTION_MODES = ("pattern", "dynamic-private")


def _json_or_msgpack(fields: dict[str, Any], json_module: Any = None) -> bytes:
    """JSON as Node writes it, unless the payload holds binary (then msgpack)."""
    if notepack.has_binary(fields):
        return notepack.packb(fields)
    return notepack.dumps_json(fields, json_module)


class ClassicFamily(Family):
    """Node's classic Redis adapter protocol.

    Args:
        key: the channel prefix (Node's ``key`` option, default ``"socket.io"``).
        uid: this node's uid.
        publish_on_specific_response_channel: answer on the requester's own response channel
            instead of the shared one (Node's option of the same name; all Node 7.1+ nodes
            listen on both).
        subscription_mode: ``"pattern"`` (default, as Node's classic adapter:
            ``PSUBSCRIBE key#nsp#*``, so every node receives every broadcast of the namespace
            and drops single-room ones for rooms it lacks from the channel name), or
            ``"dynamic-private"``: ``SUBSCRIBE`` to the namespace channel and to one channel
            per local room, socket-id rooms included, so a node is not even woken by
            broadcasts to rooms it has no member in. The wire format is the same: publishers,
            Node or Python, cannot tell. The cost: a SUBSCRIBE per new room (one per
            connection), and a broadcast sent by another publisher right after it made a
            socket of this node join a new room can arrive before this node listens on that
            room's channel (sioadapter publishers avoid it; Node's and emitters do not).
        json_module: python-socketio's ``json=``: encodes, in the JSON requests and
            responses, values the wire's JSON encoder refuses.
    """

    name: ClassVar[str] = "classic"
    supported: ClassVar[frozenset[type]] = frozenset(
        {
            Broadcast,
            SocketsJoin,
            SocketsLeave,
            DisconnectSockets,
            FetchSockets,
            FetchSocketsResponse,
            ServerSideEmit,
            ServerSideEmitResponse,
            BroadcastClientCount,
            BroadcastAck,
            AllRooms,
            SocketIds,
            RemoteJoin,
            RemoteLeave,
            RemoteDisconnect,
            RequestReply,
        }
    )

    def __init__(
        self,
        key: str = "socket.io",
        uid: str = "",
        *,
        publish_on_specific_response_channel: bool = False,
        subscription_mode: str = "pattern",
        json_module: Any = None,
    ) -> None:
        super().__init__(key, uid, json_module=json_module)
        if subscription_mode not in SUBSCRIPTION_MODES:
            raise ValueError(
                f"the classic protocol's subscription_mode is one of "
                f"{', '.join(SUBSCRIPTION_MODES)}, not {subscription_mode!r}"
            )
        self.subscription_mode = subscription_mode
        self.specific_responses = publish_on_specific_response_channel
        self._broadcast_prefix = f"{key}#"
        self._request_prefix = f"{key}-request#"
        self._response_prefix = f"{key}-response#"
        self._encoders: dict[type, Callable[[Any], tuple[str, bytes]]] = {
            Broadcast: self._encode_broadcast,
            SocketsJoin: self._encode_room_change,
            SocketsLeave: self._encode_room_change,
            DisconnectSockets: self._encode_disconnect,
            FetchSockets: self._encode_fetch,
            ServerSideEmit: self._encode_server_side_emit,
            AllRooms: self._encode_all_rooms,
            SocketIds: self._encode_socket_ids,
            RemoteJoin: self._encode_remote_op,
            RemoteLeave: self._encode_remote_op,
            RemoteDisconnect: self._encode_remote_op,
            FetchSocketsResponse: self._encode_reply,
            RequestReply: self._encode_reply,
            ServerSideEmitResponse: self._encode_server_side_response,
            BroadcastClientCount: self._encode_client_count,
            BroadcastAck: self._encode_ack,
        }

    # -- channels -------------------------------------------------------------------------

    def broadcast_channel(self, nsp: str, room: Any = None) -> str:
        """``key#nsp#`` or, for a single room, ``key#nsp#room#``."""
        base = f"{self._broadcast_prefix}{nsp}#"
        return base if room is None else f"{base}{room}#"

    def request_channel(self, nsp: str) -> str:
        """``key-request#nsp#``: NUMSUB of this channel is the server count."""
        return f"{self._request_prefix}{nsp}#"

    def response_channel(self, nsp: str, uid: str | None = None) -> str:
        """The shared response channel, or ``uid``'s own one."""
        base = f"{self._response_prefix}{nsp}#"
        return base if uid is None else f"{base}{uid}#"

    def count_channel(self, nsp: str) -> str:
        return self.request_channel(nsp)

    def subscriptions(self, nsp: str) -> tuple[list[str], list[str]]:
        channels = [
            self.request_channel(nsp),
            self.response_channel(nsp),
            self.response_channel(nsp, self.uid),
        ]
        if self.subscription_mode == "dynamic-private":
            return [*channels, self.broadcast_channel(nsp)], []
        return channels, [f"{self._broadcast_prefix}{nsp}#*"]

    def room_channel(self, nsp: str, room: Any, is_sid: bool) -> str | None:
        if self.subscription_mode == "dynamic-private":
            return self.broadcast_channel(nsp, room)
        return None

    def parse_channel(self, channel: str) -> ChannelInfo | None:
        try:
            return self._channel_cache[channel]
        except KeyError:
            pass
        info = self._parse_channel(channel)
        if len(self._channel_cache) >= _CACHE_LIMIT:
            self._channel_cache.clear()
        self._channel_cache[channel] = info
        return info

    def _parse_channel(self, channel: str) -> ChannelInfo | None:
        if channel.startswith(self._request_prefix):
            parts = split_channel(channel, self._request_prefix)
            if parts is None or parts[1] is not None:
                return None
            return ChannelInfo(parts[0], Role.REQUEST)
        if channel.startswith(self._response_prefix):
            parts = split_channel(channel, self._response_prefix)
            if parts is None:
                return None
            # The room slot of a response channel is the requester's uid.
            return ChannelInfo(parts[0], Role.RESPONSE, parts[1])
        parts = split_channel(channel, self._broadcast_prefix)
        if parts is None:
            return None
        return ChannelInfo(parts[0], Role.BROADCAST, parts[1])

    # -- encoding -------------------------------------------------------------------------

    def encode(
        self, message: ClusterMessage, *, use_room_channel: bool = True
    ) -> tuple[str, bytes]:
        if type(message) is Broadcast:
            return self._encode_broadcast(message, use_room_channel)
        encoder = self._encoders.get(type(message))
        if encoder is None:
            raise TypeError(f"the classic protocol cannot carry {type(message).__name__}")
        return encoder(message)

    @staticmethod
    def _packet(message: Broadcast) -> dict[str, Any]:
        return {"type": message.packet_type, "data": message.data, "nsp": message.nsp}

    def _encode_broadcast(
        self, message: Broadcast, use_room_channel: bool = True
    ) -> tuple[str, bytes]:
        target = message.target
        if message.request_id is not None:
            fields = {
                "uid": message.uid,
                "requestId": message.request_id,
                "type": BROADCAST,
                "packet": self._packet(message),
                "opts": write_target(target),
            }
            return self.request_channel(message.nsp), notepack.packb(fields)
        if message.uid == EMITTER_UID:
            # The emitter writes its options in this order; keep it byte-compatible.
            opts = {"rooms": target.rooms, "flags": target.flags, "except": target.except_rooms}
        else:
            opts = write_target(target)
        room = target.rooms[0] if len(target.rooms) == 1 and use_room_channel else None
        payload = notepack.packb([message.uid, self._packet(message), opts])
        return self.broadcast_channel(message.nsp, room), payload

    def _request(self, message: Any, type_: int, **fields: Any) -> tuple[str, bytes]:
        head: dict[str, Any] = {}
        if message.uid is not None:
            head["uid"] = message.uid
        request_id = getattr(message, "request_id", None)
        if request_id is not None:
            head["requestId"] = request_id
        head["type"] = type_
        head.update(fields)
        return self.request_channel(message.nsp), _json_or_msgpack(head, self.json_module)

    def _encode_room_change(self, message: SocketsJoin | SocketsLeave) -> tuple[str, bytes]:
        type_ = REMOTE_JOIN if isinstance(message, SocketsJoin) else REMOTE_LEAVE
        opts = write_target(message.target, flags=False)
        return self._request(message, type_, opts=opts, rooms=message.rooms)

    def _encode_disconnect(self, message: DisconnectSockets) -> tuple[str, bytes]:
        opts = write_target(message.target, flags=False)
        return self._request(message, REMOTE_DISCONNECT, opts=opts, close=message.close)

    def _encode_fetch(self, message: FetchSockets) -> tuple[str, bytes]:
        return self._request(message, REMOTE_FETCH, opts=write_target(message.target, False))

    def _encode_server_side_emit(self, message: ServerSideEmit) -> tuple[str, bytes]:
        return self._request(message, SERVER_SIDE_EMIT, data=message.data)

    def _encode_all_rooms(self, message: AllRooms) -> tuple[str, bytes]:
        return self._request(message, ALL_ROOMS)

    def _encode_socket_ids(self, message: SocketIds) -> tuple[str, bytes]:
        return self._request(message, SOCKETS, rooms=message.rooms)

    def _encode_remote_op(
        self, message: RemoteJoin | RemoteLeave | RemoteDisconnect
    ) -> tuple[str, bytes]:
        if isinstance(message, RemoteDisconnect):
            return self._request(message, REMOTE_DISCONNECT, sid=message.sid, close=message.close)
        type_ = REMOTE_JOIN if isinstance(message, RemoteJoin) else REMOTE_LEAVE
        return self._request(message, type_, sid=message.sid, room=message.room)

    def _reply_channel(self, nsp: str, requester: str | None) -> str:
        # Node 6.x requesters send no uid; their answer can only go to the shared channel.
        if self.specific_responses and requester is not None:
            return self.response_channel(nsp, requester)
        return self.response_channel(nsp)

    def _encode_reply(self, message: FetchSocketsResponse | RequestReply) -> tuple[str, bytes]:
        fields: dict[str, Any] = {"requestId": message.request_id}
        if isinstance(message, FetchSocketsResponse):
            fields["sockets"] = message.sockets
        else:
            if message.rooms is not None:
                fields["rooms"] = message.rooms
            if message.sockets is not None:
                fields["sockets"] = message.sockets
        channel = self._reply_channel(message.nsp, message.requester)
        return channel, _json_or_msgpack(fields, self.json_module)

    def _encode_server_side_response(self, message: ServerSideEmitResponse) -> tuple[str, bytes]:
        fields = {"type": SERVER_SIDE_EMIT, "requestId": message.request_id, "data": message.data}
        # Node publishes these on the shared channel even with specific response channels.
        return self.response_channel(message.nsp), _json_or_msgpack(fields, self.json_module)

    def _encode_client_count(self, message: BroadcastClientCount) -> tuple[str, bytes]:
        fields = {
            "type": BROADCAST_CLIENT_COUNT,
            "requestId": message.request_id,
            "clientCount": message.client_count,
        }
        channel = self._reply_channel(message.nsp, message.requester)
        return channel, _json_or_msgpack(fields, self.json_module)

    def _encode_ack(self, message: BroadcastAck) -> tuple[str, bytes]:
        fields: dict[str, Any] = {"type": BROADCAST_ACK, "requestId": message.request_id}
        if message.has_data:
            fields["packet"] = message.data
        if message.args is not None:
            fields["args"] = message.args
        channel = self._reply_channel(message.nsp, message.requester)
        return channel, notepack.packb(fields)

    # -- decoding -------------------------------------------------------------------------

    def decode(
        self, info: ChannelInfo, payload: bytes, *, preserve: bool = False
    ) -> ClusterMessage:
        if info.role is Role.BROADCAST:
            return decode_broadcast(payload, preserve)
        fields = read_map(payload, preserve)
        if info.role is Role.REQUEST:
            return decode_request(info, fields, preserve)
        if info.role is Role.RESPONSE:
            return decode_response(info, fields)
        raise DecodeError(f"the classic protocol has no {info.role.value} channel")
