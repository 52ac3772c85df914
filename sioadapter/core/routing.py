"""Routing decisions for received cluster messages, and the replies they call for.

``route`` says what a node does with a message; the shells (async and sync managers) carry it
out. The rules, from Node's adapters:

* a node ignores what it sent itself (its own uid). This also covers the classic family's
  room operations, which Node applies when its own request comes back from Redis: sioadapter
  applies them locally at once, like socket.io-adapter's ``ClusterAdapter``, so it must skip
  the echo;
* a message for a namespace this node does not serve is dropped (counted);
* responses are routed by request id whoever sent them (classic responses carry no uid);
* requests are answered by every node, except the legacy single-socket operations, which only
  the socket's owner answers.

The ``*_reply`` helpers build the answers so that both shells answer alike.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Sequence
from typing import Any

from .messages import (
    AdapterClose,
    AllRooms,
    Broadcast,
    BroadcastAck,
    BroadcastClientCount,
    ClusterMessage,
    DisconnectSockets,
    FetchSockets,
    FetchSocketsResponse,
    Heartbeat,
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


def carries_offset(message: Broadcast) -> bool:
    """Whether a broadcast gets its stream entry id appended to its data, for connection
    state recovery (Node's ``addOffsetIfNecessary``): an event (packet type 2) without
    acknowledgement whose flags have no ``volatile`` key at all (``volatile: false`` counts
    as volatile there too)."""
    return (
        message.packet_type == 2
        and message.request_id is None
        and "volatile" not in message.target.flags
    )


class Action(enum.Enum):
    """What to do with a received message."""

    IGNORE_OWN = "ignore-own"
    FOREIGN_NAMESPACE = "foreign-namespace"
    DELIVER = "deliver"
    DELIVER_WITH_ACKS = "deliver-with-acks"
    JOIN = "join"
    LEAVE = "leave"
    DISCONNECT = "disconnect"
    ANSWER_FETCH = "answer-fetch"
    ANSWER_ALL_ROOMS = "answer-all-rooms"
    ANSWER_SOCKET_IDS = "answer-socket-ids"
    REMOTE_JOIN = "remote-join"
    REMOTE_LEAVE = "remote-leave"
    REMOTE_DISCONNECT = "remote-disconnect"
    SERVER_EVENT = "server-event"
    RESPONSE = "response"
    HEARTBEAT = "heartbeat"
    NODE_CLOSED = "node-closed"


DELIVER = Action.DELIVER
"""``Action.DELIVER`` as a module constant: reading an enum member is slow on Python 3.11, and
the receiving path compares against it for every message."""

_ACTIONS: dict[type, Action] = {
    SocketsJoin: Action.JOIN,
    SocketsLeave: Action.LEAVE,
    DisconnectSockets: Action.DISCONNECT,
    FetchSockets: Action.ANSWER_FETCH,
    AllRooms: Action.ANSWER_ALL_ROOMS,
    SocketIds: Action.ANSWER_SOCKET_IDS,
    RemoteJoin: Action.REMOTE_JOIN,
    RemoteLeave: Action.REMOTE_LEAVE,
    RemoteDisconnect: Action.REMOTE_DISCONNECT,
    ServerSideEmit: Action.SERVER_EVENT,
    Heartbeat: Action.HEARTBEAT,
    AdapterClose: Action.NODE_CLOSED,
    FetchSocketsResponse: Action.RESPONSE,
    ServerSideEmitResponse: Action.RESPONSE,
    BroadcastClientCount: Action.RESPONSE,
    BroadcastAck: Action.RESPONSE,
    RequestReply: Action.RESPONSE,
}


def route(message: ClusterMessage, own_uid: str, namespaces: Container[str]) -> Action:
    """Decide what this node does with ``message``.

    Args:
        message: a decoded cluster message.
        own_uid: this node's uid.
        namespaces: the namespaces this node serves.
    """
    if (
        type(message) is Broadcast
        and message.request_id is None
        and message.uid != own_uid
        and message.nsp in namespaces
    ):
        return DELIVER  # a peer's plain broadcast, nearly all traffic: decided first
    if message.nsp not in namespaces:
        return Action.FOREIGN_NAMESPACE
    action = _ACTIONS.get(type(message))
    if action is Action.RESPONSE:
        # Routed by request id: the tracker drops answers to requests this node did not make.
        return action
    if message.uid == own_uid:
        return Action.IGNORE_OWN
    if isinstance(message, Broadcast):
        return Action.DELIVER if message.request_id is None else Action.DELIVER_WITH_ACKS
    if action is None:  # pragma: no cover - every message class is in the table
        raise TypeError(f"not a cluster message: {type(message).__name__}")
    return action


def client_count_reply(request: Broadcast, own_uid: str, count: int) -> BroadcastClientCount:
    """The answer every node sends to an acknowledged broadcast, even when ``count`` is 0."""
    assert request.request_id is not None
    return BroadcastClientCount(request.nsp, own_uid, request.request_id, count, request.uid)


def ack_reply(request: Broadcast, own_uid: str, args: Sequence[Any]) -> BroadcastAck:
    """One client's acknowledgement of ``request``, carrying all of its arguments.

    Node reads only the first argument; the full list rides along only when there are several.
    """
    assert request.request_id is not None
    return BroadcastAck(
        request.nsp,
        own_uid,
        request.request_id,
        data=args[0] if args else None,
        args=list(args) if len(args) > 1 else None,
        has_data=bool(args),
        requester=request.uid,
    )


def fetch_reply(
    request: FetchSockets, own_uid: str, sockets: list[dict[str, Any]]
) -> FetchSocketsResponse:
    """This node's sockets matching a FETCH_SOCKETS request."""
    return FetchSocketsResponse(request.nsp, own_uid, request.request_id, sockets, request.uid)


def rooms_reply(request: AllRooms, own_uid: str, rooms: list[Any]) -> RequestReply:
    """This node's room names for an ALL_ROOMS request."""
    return RequestReply(
        request.nsp, request.request_id, rooms=rooms, uid=own_uid, requester=request.uid
    )


def socket_ids_reply(request: SocketIds, own_uid: str, sids: list[str]) -> RequestReply:
    """This node's socket ids for a SOCKETS request."""
    return RequestReply(
        request.nsp, request.request_id, sockets=sids, uid=own_uid, requester=request.uid
    )


def remote_op_reply(
    request: RemoteJoin | RemoteLeave | RemoteDisconnect, own_uid: str
) -> RequestReply:
    """The owner's confirmation of a legacy single-socket operation."""
    return RequestReply(request.nsp, request.request_id, uid=own_uid, requester=request.uid)


def server_side_reply(request: ServerSideEmit, own_uid: str, answer: Any) -> ServerSideEmitResponse:
    """This node's answer to an acknowledged server-side emit (its handler's first value)."""
    assert request.request_id is not None
    return ServerSideEmitResponse(request.nsp, own_uid, request.request_id, answer, request.uid)
