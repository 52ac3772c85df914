"""The ClusterAdapter protocol of socket.io-adapter, as Node's sharded Redis adapter uses it.

Every message is ``{type, data?, uid, nsp}`` (``createShardedAdapter`` in
``@socket.io/redis-adapter`` 8.3, socket.io-adapter's ``ClusterAdapter``). Channels, for prefix
``key`` and namespace ``nsp``:

* ``key#nsp#``: the main channel, every message except responses;
* ``key#nsp#uid#``: responses to the node ``uid``;
* ``key#nsp#room#``: single-room broadcasts, in the ``dynamic`` subscription modes.

``subscription_mode`` is Node's option: ``"dynamic"`` (default) publishes a single-room
broadcast on the room's channel unless the room looks like a socket id (a 20-character
string), ``"dynamic-private"`` does so for every room, ``"static"`` never. A node subscribes
to the room channels of its local rooms accordingly. All nodes of a cluster must use the same
mode: a static node never hears a room-channel broadcast.

Payloads are JSON, except that a BROADCAST, BROADCAST_ACK, FETCH_SOCKETS_RESPONSE,
SERVER_SIDE_EMIT or SERVER_SIDE_EMIT_RESPONSE whose data holds binary is msgpack as a whole.
On this path ``data.packet`` carries no ``nsp`` (PROTOCOL.md, correction 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ..core.messages import (
    AdapterClose,
    Broadcast,
    BroadcastAck,
    BroadcastClientCount,
    ClusterMessage,
    DisconnectSockets,
    FetchSockets,
    FetchSocketsResponse,
    Heartbeat,
    Room,
    ServerSideEmit,
    ServerSideEmitResponse,
    SocketsJoin,
    SocketsLeave,
)
from ..errors import DecodeError
from . import notepack
from ._fields import (
    as_event_data,
    as_list,
    as_map,
    as_rooms,
    as_socket_details,
    iso_dates,
    opt_str,
    packet_type,
    plain_broadcast,
    read_target,
    req_count,
    req_int,
    req_str,
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
    "ClusterFamily",
]

# socket.io-adapter MessageType numbers.
INITIAL_HEARTBEAT, HEARTBEAT, BROADCAST, SOCKETS_JOIN, SOCKETS_LEAVE = 1, 2, 3, 4, 5
DISCONNECT_SOCKETS, FETCH_SOCKETS, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT = 6, 7, 8, 9
SERVER_SIDE_EMIT_RESPONSE, BROADCAST_CLIENT_COUNT, BROADCAST_ACK, ADAPTER_CLOSE = 10, 11, 12, 13

# Types whose data Node msgpack-encodes when it holds binary (others are always JSON).
_BINARY_CAPABLE = frozenset(
    {BROADCAST, BROADCAST_ACK, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE}
)
SUBSCRIPTION_MODES = ("dynamic", "dynamic-private", "static")
_CACHE_LIMIT = 4096


def _looks_like_socket_id(room: Room) -> bool:
    """Node's heuristic: socket ids are 20-character strings (so are python-engineio's)."""
    return isinstance(room, str) and len(room) == 20


class ClusterFamily(Family):
    """socket.io-adapter's ClusterAdapter protocol (Node's sharded Redis adapter).

    Args:
        key: the channel prefix (Node's ``channelPrefix``, default ``"socket.io"``).
        uid: this node's uid.
        subscription_mode: ``"dynamic"``, ``"dynamic-private"`` or ``"static"``.
        json_module: python-socketio's ``json=``: encodes, in the messages sent as JSON (all
            but those with binary), values the wire's JSON encoder refuses.
    """

    name: ClassVar[str] = "cluster"
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
            Heartbeat,
            AdapterClose,
        }
    )

    def __init__(
        self,
        key: str = "socket.io",
        uid: str = "",
        *,
        subscription_mode: str = "dynamic",
        json_module: Any = None,
    ) -> None:
        super().__init__(key, uid, json_module=json_module)
        if subscription_mode not in SUBSCRIPTION_MODES:
            raise ValueError(
                f"subscription_mode must be one of {', '.join(SUBSCRIPTION_MODES)}, "
                f"not {subscription_mode!r}"
            )
        self.subscription_mode = subscription_mode
        self._prefix = f"{key}#"
        self._encoders: dict[type, Callable[[Any], tuple[int, dict[str, Any] | None, str]]] = {
            Broadcast: self._broadcast,
            SocketsJoin: self._room_change,
            SocketsLeave: self._room_change,
            DisconnectSockets: self._disconnect,
            FetchSockets: self._fetch,
            FetchSocketsResponse: self._fetch_response,
            ServerSideEmit: self._server_side_emit,
            ServerSideEmitResponse: self._server_side_response,
            BroadcastClientCount: self._client_count,
            BroadcastAck: self._ack,
            Heartbeat: self._heartbeat,
            AdapterClose: self._close,
        }

    # -- channels -------------------------------------------------------------------------

    def main_channel(self, nsp: str) -> str:
        """``key#nsp#``: SHARDNUMSUB of this channel is the server count."""
        return f"{self._prefix}{nsp}#"

    def node_channel(self, nsp: str, uid: str) -> str:
        """``key#nsp#uid#``: where the node ``uid`` receives its responses."""
        return f"{self._prefix}{nsp}#{uid}#"

    def count_channel(self, nsp: str) -> str:
        return self.main_channel(nsp)

    def subscriptions(self, nsp: str) -> tuple[list[str], list[str]]:
        return [self.main_channel(nsp), self.node_channel(nsp, self.uid)], []

    def room_channel(self, nsp: str, room: Room, is_sid: bool) -> str | None:
        if self.subscription_mode == "static":
            return None
        if self.subscription_mode == "dynamic" and is_sid:
            return None
        return f"{self._prefix}{nsp}#{room}#"

    def _uses_room_channel(self, room: Room) -> bool:
        if self.subscription_mode == "dynamic-private":
            return True
        return self.subscription_mode == "dynamic" and not _looks_like_socket_id(room)

    def parse_channel(self, channel: str) -> ChannelInfo | None:
        try:
            return self._channel_cache[channel]
        except KeyError:
            pass
        parts = split_channel(channel, self._prefix)
        info: ChannelInfo | None = None
        if parts is not None:
            nsp, suffix = parts
            if suffix is None:
                info = ChannelInfo(nsp, Role.MAIN)
            elif suffix == self.uid:
                info = ChannelInfo(nsp, Role.RESPONSE, suffix)
            else:
                info = ChannelInfo(nsp, Role.ROOM, suffix)
        if len(self._channel_cache) >= _CACHE_LIMIT:
            self._channel_cache.clear()
        self._channel_cache[channel] = info
        return info

    # -- encoding -------------------------------------------------------------------------

    #: How encode's TypeError names the protocol.
    protocol_title: ClassVar[str] = "the ClusterAdapter protocol"

    def encode(
        self, message: ClusterMessage, *, use_room_channel: bool = True
    ) -> tuple[str, bytes]:
        channel, fields, capable = self._fields(message, use_room_channel)
        if not capable:
            return channel, notepack.dumps_json(fields, self.json_module)
        payload = notepack.dumps_json_unless_binary(fields, self.json_module)
        return channel, notepack.packb(fields) if payload is None else payload

    def _fields(
        self, message: ClusterMessage, use_room_channel: bool
    ) -> tuple[str, dict[str, Any], bool]:
        """The channel, the message's ``{type, data?, uid, nsp}`` and whether its type may
        carry binary (Node then sends it as msgpack if it holds any, JSON otherwise)."""
        encoder = self._encoders.get(type(message))
        if encoder is None:
            raise TypeError(f"{self.protocol_title} cannot carry {type(message).__name__}")
        data: dict[str, Any] | None
        if type(message) is Broadcast:
            type_, data, channel = self._broadcast(message, use_room_channel)
        else:
            type_, data, channel = encoder(message)
        fields: dict[str, Any] = {"type": type_}
        if data is not None:
            fields["data"] = data
        fields["uid"] = message.uid
        fields["nsp"] = message.nsp
        return channel, fields, type_ in _BINARY_CAPABLE

    def _reply_channel(self, message: Any) -> str:
        if message.requester is None:
            raise TypeError("a ClusterAdapter response needs the requester's uid")
        return self.node_channel(message.nsp, message.requester)

    def _broadcast(
        self, message: Broadcast, use_room_channel: bool = True
    ) -> tuple[int, dict[str, Any], str]:
        data: dict[str, Any] = {"packet": {"type": message.packet_type, "data": message.data}}
        if message.request_id is not None:
            data["requestId"] = message.request_id
        data["opts"] = write_target(message.target)
        rooms = message.target.rooms
        channel = self.main_channel(message.nsp)
        # Acknowledged broadcasts stay on the main channel: every counted node must answer.
        if (
            use_room_channel
            and message.request_id is None
            and len(rooms) == 1
            and self._uses_room_channel(rooms[0])
        ):
            channel = f"{channel}{rooms[0]}#"
        return BROADCAST, data, channel

    def _room_change(self, message: SocketsJoin | SocketsLeave) -> tuple[int, dict[str, Any], str]:
        type_ = SOCKETS_JOIN if isinstance(message, SocketsJoin) else SOCKETS_LEAVE
        data = {"opts": write_target(message.target), "rooms": message.rooms}
        return type_, data, self.main_channel(message.nsp)

    def _disconnect(self, message: DisconnectSockets) -> tuple[int, dict[str, Any], str]:
        data = {"opts": write_target(message.target), "close": message.close}
        return DISCONNECT_SOCKETS, data, self.main_channel(message.nsp)

    def _fetch(self, message: FetchSockets) -> tuple[int, dict[str, Any], str]:
        data = {"opts": write_target(message.target), "requestId": message.request_id}
        return FETCH_SOCKETS, data, self.main_channel(message.nsp)

    def _fetch_response(self, message: FetchSocketsResponse) -> tuple[int, dict[str, Any], str]:
        data = {"requestId": message.request_id, "sockets": message.sockets}
        return FETCH_SOCKETS_RESPONSE, data, self._reply_channel(message)

    def _server_side_emit(self, message: ServerSideEmit) -> tuple[int, dict[str, Any], str]:
        data: dict[str, Any] = {}
        if message.request_id is not None:
            data["requestId"] = message.request_id
        data["packet"] = message.data
        return SERVER_SIDE_EMIT, data, self.main_channel(message.nsp)

    def _server_side_response(
        self, message: ServerSideEmitResponse
    ) -> tuple[int, dict[str, Any], str]:
        data = {"requestId": message.request_id, "packet": message.data}
        return SERVER_SIDE_EMIT_RESPONSE, data, self._reply_channel(message)

    def _client_count(self, message: BroadcastClientCount) -> tuple[int, dict[str, Any], str]:
        data = {"requestId": message.request_id, "clientCount": message.client_count}
        return BROADCAST_CLIENT_COUNT, data, self._reply_channel(message)

    def _ack(self, message: BroadcastAck) -> tuple[int, dict[str, Any], str]:
        data: dict[str, Any] = {"requestId": message.request_id}
        if message.has_data:
            data["packet"] = message.data
        if message.args is not None:
            data["args"] = message.args
        return BROADCAST_ACK, data, self._reply_channel(message)

    def _heartbeat(self, message: Heartbeat) -> tuple[int, None, str]:
        type_ = INITIAL_HEARTBEAT if message.initial else HEARTBEAT
        return type_, None, self.main_channel(message.nsp)

    def _close(self, message: AdapterClose) -> tuple[int, None, str]:
        return ADAPTER_CLOSE, None, self.main_channel(message.nsp)

    # -- decoding -------------------------------------------------------------------------

    def decode(
        self, info: ChannelInfo, payload: bytes, *, preserve: bool = False
    ) -> ClusterMessage:
        # JSON holds no dates (msgpack's may): a JSON broadcast's data needs no walk for them.
        dated = not notepack.looks_like_json(payload)
        if not dated:
            # Node sends binary as msgpack on this protocol, never as JSON Buffer objects.
            value = notepack.loads_json(payload, buffers=False)
        else:
            value = notepack.unpackb(payload, preserve=preserve)
        return self._message(as_map(value, "message"), info, dated=dated, preserve=preserve)

    def _message(
        self, fields: dict[Any, Any], info: ChannelInfo, *, dated: bool, preserve: bool
    ) -> ClusterMessage:
        """The message a decoded ``{type, data?, uid, nsp?}`` map holds. ``dated``: its values
        came from msgpack and may hold dates (JSON's never do)."""
        type_ = req_int(fields, "type")
        uid = opt_str(fields, "uid")
        # 8.2.x sharded adapters sent no nsp: the channel says which namespace it is.
        nsp = fields.get("nsp", info.nsp)
        if not isinstance(nsp, str):
            raise DecodeError("field 'nsp' must be a string")
        if type_ in (INITIAL_HEARTBEAT, HEARTBEAT):
            return Heartbeat(nsp, uid, initial=type_ == INITIAL_HEARTBEAT)
        if type_ == ADAPTER_CLOSE:
            return AdapterClose(nsp, uid)
        data = as_map(fields.get("data"), "data")
        if type_ == BROADCAST:
            if not dated:  # JSON: no dates to convert, and the plain shape is the usual one
                message = plain_broadcast(data, nsp, uid)
                if message is not None:
                    return message
            packet = as_map(data.get("packet"), "data.packet")
            type_code = packet_type(packet)
            data_ = as_event_data(packet.get("data"), "packet.data")
            return Broadcast(
                nsp,
                uid,
                iso_dates(data_) if dated and not preserve else data_,
                read_target(data.get("opts")),
                request_id=opt_str(data, "requestId"),
                packet_type=type_code,
            )
        # After broadcasts: Role.RESPONSE is an enum lookup, slow on Python 3.11.
        requester = info.room if info.role is Role.RESPONSE else None
        if type_ in (SOCKETS_JOIN, SOCKETS_LEAVE):
            rooms = as_rooms(data.get("rooms"), "data.rooms")
            cls = SocketsJoin if type_ == SOCKETS_JOIN else SocketsLeave
            return cls(nsp, uid, read_target(data.get("opts")), rooms)
        if type_ == DISCONNECT_SOCKETS:
            return DisconnectSockets(
                nsp, uid, read_target(data.get("opts")), bool(data.get("close"))
            )
        if type_ == FETCH_SOCKETS:
            return FetchSockets(nsp, uid, req_str(data, "requestId"), read_target(data.get("opts")))
        if type_ == SERVER_SIDE_EMIT:
            packet_data = as_event_data(data.get("packet"), "data.packet")
            return ServerSideEmit(nsp, uid, packet_data, opt_str(data, "requestId"))
        request_id = req_str(data, "requestId")
        if type_ == FETCH_SOCKETS_RESPONSE:
            sockets = as_socket_details(data.get("sockets"), "data.sockets")
            return FetchSocketsResponse(nsp, uid, request_id, sockets, requester)
        if type_ == SERVER_SIDE_EMIT_RESPONSE:
            return ServerSideEmitResponse(nsp, uid, request_id, data.get("packet"), requester)
        if type_ == BROADCAST_CLIENT_COUNT:
            return BroadcastClientCount(
                nsp, uid, request_id, req_count(data, "clientCount"), requester
            )
        if type_ == BROADCAST_ACK:
            args = data.get("args")
            return BroadcastAck(
                nsp,
                uid,
                request_id,
                data=data.get("packet"),
                args=None if args is None else as_list(args, "data.args"),
                has_data="packet" in data,
                requester=requester,
            )
        raise DecodeError(f"unknown ClusterAdapter message type {type_}")
