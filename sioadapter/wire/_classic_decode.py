"""Decoding the classic protocol's payloads (see :mod:`.classic` for the layouts).

Module-level functions, one per channel role; each raises
:class:`~sioadapter.wire.notepack.DecodeError` for anything malformed and never returns a
half-valid message. ``preserve`` keeps the wire's own value representation (for re-encoding
byte for byte); without it values come out ready for Python code and clients.
"""

from __future__ import annotations

from typing import Any

from ..core.messages import (
    AllRooms,
    Broadcast,
    BroadcastAck,
    BroadcastClientCount,
    ClusterMessage,
    DisconnectSockets,
    FetchSockets,
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
from ._fields import (
    as_event_data,
    as_list,
    as_map,
    as_rooms,
    as_socket_details,
    iso_dates,
    opt_str,
    packet_type,
    plain_event,
    read_target,
    req_count,
    req_int,
    req_str,
)
from .base import (
    ChannelInfo,
)

# Classic RequestType numbers (socket.io-redis-adapter lib/index.ts).
SOCKETS, ALL_ROOMS, REMOTE_JOIN, REMOTE_LEAVE, REMOTE_DISCONNECT = 0, 1, 2, 3, 4
REMOTE_FETCH, SERVER_SIDE_EMIT, BROADCAST, BROADCAST_CLIENT_COUNT, BROADCAST_ACK = 5, 6, 7, 8, 9


def read_map(payload: bytes, preserve: bool) -> dict[Any, Any]:
    """Sniff and decode a request or response payload (``{`` means JSON, as in Node)."""
    if notepack.looks_like_json(payload):
        value = notepack.loads_json(payload, buffers=not preserve)
    else:
        value = notepack.unpackb(payload, preserve=preserve)
    return as_map(value, "request/response")


def decode_packet(value: Any) -> tuple[str, int, list[Any]]:
    packet = as_map(value, "packet")
    nsp = packet.get("nsp", "/")  # emitters before 4.x sent no nsp
    if not isinstance(nsp, str):
        raise DecodeError("packet.nsp must be a string")
    return nsp, packet_type(packet), as_event_data(packet.get("data"), "packet.data")


def decode_broadcast(payload: bytes, preserve: bool) -> Broadcast:
    if preserve:
        value = notepack.unpackb(payload, preserve=True)
    else:
        value = notepack.unpackb(payload, dates="iso")
    if type(value) is list and len(value) == 3:  # the plain shape, read without the calls
        uid, packet, opts = value
        nsp = packet.get("nsp", "/") if type(packet) is dict else None
        if type(uid) is str and type(nsp) is str:
            plain = plain_event(packet, opts, nsp, uid)
            if plain is not None:
                return plain
    return read_broadcast(value)


def read_broadcast(value: Any) -> Broadcast:
    """A decoded classic broadcast ``[uid, packet, opts?]`` to a Broadcast, every field checked
    by the generic readers (DecodeError names what is wrong)."""
    items = as_list(value, "broadcast")
    if len(items) < 2:
        raise DecodeError("a broadcast is [uid, packet, opts]")
    uid = items[0]
    if not isinstance(uid, str):
        raise DecodeError("broadcast uid must be a string")
    nsp, type_code, data = decode_packet(items[1])
    target = read_target(items[2] if len(items) > 2 else None)
    return Broadcast(nsp, uid, data, target, packet_type=type_code)


def decode_request(info: ChannelInfo, fields: dict[Any, Any], preserve: bool) -> ClusterMessage:
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
        return FetchSockets(nsp, uid, req_str(fields, "requestId"), read_target(fields.get("opts")))
    if type_ == SERVER_SIDE_EMIT:
        data = as_event_data(fields.get("data"), "data")
        return ServerSideEmit(nsp, uid, data, opt_str(fields, "requestId"))
    if type_ == BROADCAST:
        packet_nsp, type_code, data = decode_packet(fields.get("packet"))
        return Broadcast(
            packet_nsp,
            uid,
            data if preserve else iso_dates(data),
            read_target(fields.get("opts")),
            request_id=req_str(fields, "requestId"),
            packet_type=type_code,
        )
    if type_ == ALL_ROOMS:
        return AllRooms(nsp, uid, req_str(fields, "requestId"))
    if type_ == SOCKETS:
        rooms = as_rooms(fields.get("rooms"), "rooms")
        return SocketIds(nsp, uid, req_str(fields, "requestId"), rooms)
    raise DecodeError(f"unknown classic request type {type_}")


def decode_response(info: ChannelInfo, fields: dict[Any, Any]) -> ClusterMessage:
    nsp, request_id = info.nsp, req_str(fields, "requestId")
    requester = info.room  # set on a per-node response channel
    if "type" not in fields:
        rooms = fields.get("rooms")
        sockets = fields.get("sockets")
        return RequestReply(
            nsp,
            request_id,
            rooms=None if rooms is None else as_rooms(rooms, "rooms"),
            sockets=None if sockets is None else as_socket_details(sockets, "sockets", ids=True),
            requester=requester,
        )
    type_ = req_int(fields, "type")
    if type_ == SERVER_SIDE_EMIT:
        return ServerSideEmitResponse(nsp, None, request_id, fields.get("data"), requester)
    if type_ == BROADCAST_CLIENT_COUNT:
        count = req_count(fields, "clientCount")
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
