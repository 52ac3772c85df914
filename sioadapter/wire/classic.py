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
from . import notepack
from .base import (
    ChannelInfo,
    Family,
    Role,
    as_event_data,
    as_list,
    as_map,
    as_rooms,
    opt_str,
    read_target,
    req_int,
    req_str,
    split_channel,
    write_target,
)
from .notepack import DecodeError

# Classic RequestType numbers (socket.io-redis-adapter lib/index.ts).
SOCKETS, ALL_ROOMS, REMOTE_JOIN, REMOTE_LEAVE, REMOTE_DISCONNECT = 0, 1, 2, 3, 4
REMOTE_FETCH, SERVER_SIDE_EMIT, BROADCAST, BROADCAST_CLIENT_COUNT, BROADCAST_ACK = 5, 6, 7, 8, 9

_CACHE_LIMIT = 4096
SUBSCRIPTION_MODES = ("pattern", "dynamic-private")


def _json_or_msgpack(fields: dict[str, Any]) -> bytes:
    """JSON as Node writes it, unless the payload holds binary (then msgpack)."""
    if notepack.has_binary(fields):
        return notepack.packb(fields)
    return notepack.dumps_json(fields)


def _read_map(payload: bytes, preserve: bool) -> dict[Any, Any]:
    """Sniff and decode a request or response payload (``{`` means JSON, as in Node)."""
    if notepack.looks_like_json(payload):
        value = notepack.loads_json(payload, buffers=not preserve)
    else:
        value = notepack.unpackb(payload, preserve=preserve)
    return as_map(value, "request/response")


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
    ) -> None:
        super().__init__(key, uid)
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
        self._channel_cache: dict[str, ChannelInfo | None] = {}
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
        return self.request_channel(message.nsp), _json_or_msgpack(head)

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
        return self._reply_channel(message.nsp, message.requester), _json_or_msgpack(fields)

    def _encode_server_side_response(self, message: ServerSideEmitResponse) -> tuple[str, bytes]:
        fields = {"type": SERVER_SIDE_EMIT, "requestId": message.request_id, "data": message.data}
        # Node publishes these on the shared channel even with specific response channels.
        return self.response_channel(message.nsp), _json_or_msgpack(fields)

    def _encode_client_count(self, message: BroadcastClientCount) -> tuple[str, bytes]:
        fields = {
            "type": BROADCAST_CLIENT_COUNT,
            "requestId": message.request_id,
            "clientCount": message.client_count,
        }
        return self._reply_channel(message.nsp, message.requester), _json_or_msgpack(fields)

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
            return self._decode_broadcast(payload, preserve)
        fields = _read_map(payload, preserve)
        if info.role is Role.REQUEST:
            return self._decode_request(info, fields, preserve)
        if info.role is Role.RESPONSE:
            return self._decode_response(info, fields)
        raise DecodeError(f"the classic protocol has no {info.role.value} channel")

    @staticmethod
    def _decode_packet(value: Any) -> tuple[str, int, list[Any]]:
        packet = as_map(value, "packet")
        nsp = packet.get("nsp", "/")  # emitters before 4.x sent no nsp
        if not isinstance(nsp, str):
            raise DecodeError("packet.nsp must be a string")
        packet_type = packet.get("type", 2)
        if packet_type not in (2, 5):  # EVENT, or BINARY_EVENT from emitter 3.1.x
            raise DecodeError(f"packet.type {packet_type!r} is not an event")
        return nsp, packet_type, as_event_data(packet.get("data"), "packet.data")

    def _decode_broadcast(self, payload: bytes, preserve: bool) -> Broadcast:
        if preserve:
            value = notepack.unpackb(payload, preserve=True)
        else:
            value = notepack.unpackb(payload, dates="iso")
        items = as_list(value, "broadcast")
        if len(items) < 2:
            raise DecodeError("a broadcast is [uid, packet, opts]")
        uid = items[0]
        if not isinstance(uid, str):
            raise DecodeError("broadcast uid must be a string")
        nsp, packet_type, data = self._decode_packet(items[1])
        target = read_target(items[2] if len(items) > 2 else None)
        return Broadcast(nsp, uid, data, target, packet_type=packet_type)

    def _decode_request(
        self, info: ChannelInfo, fields: dict[Any, Any], preserve: bool
    ) -> ClusterMessage:
        nsp, uid = info.nsp, opt_str(fields, "uid")
        type_ = req_int(fields, "type")
        if type_ in (REMOTE_JOIN, REMOTE_LEAVE, REMOTE_DISCONNECT):
            if "opts" in fields:
                target = read_target(fields["opts"])
                if type_ == REMOTE_DISCONNECT:
                    return DisconnectSockets(nsp, uid, target, bool(fields.get("close")))
                rooms = as_rooms(fields.get("rooms"), "rooms")
                cls = SocketsJoin if type_ == REMOTE_JOIN else SocketsLeave
                return cls(nsp, uid, target, rooms)
            request_id, sid = req_str(fields, "requestId"), req_str(fields, "sid")
            if type_ == REMOTE_DISCONNECT:
                return RemoteDisconnect(nsp, uid, request_id, sid, bool(fields.get("close")))
            room = fields.get("room")
            if isinstance(room, bool) or not isinstance(room, (str, int)):
                raise DecodeError("field 'room' must be a room name")
            op = RemoteJoin if type_ == REMOTE_JOIN else RemoteLeave
            return op(nsp, uid, request_id, sid, room)
        if type_ == REMOTE_FETCH:
            return FetchSockets(
                nsp, uid, req_str(fields, "requestId"), read_target(fields.get("opts"))
            )
        if type_ == SERVER_SIDE_EMIT:
            data = as_event_data(fields.get("data"), "data")
            return ServerSideEmit(nsp, uid, data, opt_str(fields, "requestId"))
        if type_ == BROADCAST:
            packet_nsp, packet_type, data = self._decode_packet(fields.get("packet"))
            return Broadcast(
                packet_nsp,
                uid,
                data if preserve else notepack.dates_to_iso(data),
                read_target(fields.get("opts")),
                request_id=req_str(fields, "requestId"),
                packet_type=packet_type,
            )
        if type_ == ALL_ROOMS:
            return AllRooms(nsp, uid, req_str(fields, "requestId"))
        if type_ == SOCKETS:
            rooms = as_rooms(fields.get("rooms"), "rooms")
            return SocketIds(nsp, uid, req_str(fields, "requestId"), rooms)
        raise DecodeError(f"unknown classic request type {type_}")

    def _decode_response(self, info: ChannelInfo, fields: dict[Any, Any]) -> ClusterMessage:
        nsp, request_id = info.nsp, req_str(fields, "requestId")
        requester = info.room  # set on a per-node response channel
        if "type" not in fields:
            rooms = fields.get("rooms")
            sockets = fields.get("sockets")
            return RequestReply(
                nsp,
                request_id,
                rooms=None if rooms is None else as_rooms(rooms, "rooms"),
                sockets=None if sockets is None else as_list(sockets, "sockets"),
                requester=requester,
            )
        type_ = req_int(fields, "type")
        if type_ == SERVER_SIDE_EMIT:
            return ServerSideEmitResponse(nsp, None, request_id, fields.get("data"), requester)
        if type_ == BROADCAST_CLIENT_COUNT:
            count = req_int(fields, "clientCount")
            return BroadcastClientCount(nsp, None, request_id, count, requester)
        if type_ == BROADCAST_ACK:
            args = fields.get("args")
            return BroadcastAck(
                nsp,
                None,
                request_id,
                data=fields.get("packet"),
                args=None if args is None else as_list(args, "args"),
                has_data="packet" in fields,
                requester=requester,
            )
        raise DecodeError(f"unknown classic response type {type_}")
