"""The cluster message model, shared by every protocol family.

A cluster message is what one node tells the others: a broadcast, a room change, a request, or a
response to a request. Both Node.js protocol families (the classic ``@socket.io/redis-adapter``
protocol and socket.io-adapter's ``ClusterAdapter`` protocol) map onto these classes; the wire
layer (``sioadapter.wire``) turns them into channel names and bytes and back.

Conventions that hold for every class here:

* ``nsp`` is the namespace the message belongs to, with its leading slash.
* ``uid`` is the sending node's id, ``"emitter"`` for an emitter, or ``None`` when the sender
  did not say (socket.io-redis 6.x requests, emitter join/leave/disconnect requests, and the
  classic family's responses, which carry no uid on the wire).
* ``request_id`` correlates a request with its responses; requests that expect no answer have
  ``None``.
* ``requester`` on a response is the uid of the node that asked. The wire layer uses it to pick
  the response channel where the protocol has one per node; it is ``None`` when a response was
  read from a shared channel.
* Lists keep their wire order; nothing here deduplicates or sorts, so a message decoded from
  bytes encodes back to the same bytes.

The classes carry data only; decisions about them live in :mod:`sioadapter.core.routing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Room = str | int
"""A room name. Node.js allows numbers as room names and keeps them numbers on the wire."""

EMITTER_UID = "emitter"
"""The uid that ``@socket.io/redis-emitter`` (and ``sioadapter.emitter``) puts in its messages."""


@dataclass(slots=True)
class Target:
    """Which sockets an operation applies to: Node's ``BroadcastOptions`` (``opts`` on the wire).

    ``rooms`` empty means every socket of the namespace. A socket in any of ``except_rooms`` is
    left out. ``flags`` are passed through untouched; receivers must tolerate unknown keys
    (``volatile``, ``compress``, ``timeout`` and ``expectSingleResponse`` are the usual ones).
    """

    rooms: list[Room] = field(default_factory=list)
    except_rooms: list[Room] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Broadcast:
    """An event for the sockets that ``target`` selects.

    ``data`` is the Socket.IO packet's data: the event name followed by its arguments. With a
    ``request_id`` the sender wants acknowledgements: every receiving node answers with one
    :class:`BroadcastClientCount` (even a count of 0) and then one :class:`BroadcastAck` per
    client acknowledgement. ``packet_type`` is 2 (EVENT), or 5 (BINARY_EVENT) from old emitters.
    """

    nsp: str
    uid: str | None
    data: list[Any]
    target: Target = field(default_factory=Target)
    request_id: str | None = None
    packet_type: int = 2
    offset: str | None = None
    """Where the broadcast is in a replayable log (a Redis stream entry id), for connection
    state recovery; None on the pub/sub protocols."""


@dataclass(slots=True)
class SocketsJoin:
    """Make the sockets that ``target`` selects join ``rooms``. Fire and forget."""

    nsp: str
    uid: str | None
    target: Target
    rooms: list[Room]


@dataclass(slots=True)
class SocketsLeave:
    """Make the sockets that ``target`` selects leave ``rooms``. Fire and forget."""

    nsp: str
    uid: str | None
    target: Target
    rooms: list[Room]


@dataclass(slots=True)
class DisconnectSockets:
    """Disconnect the sockets that ``target`` selects; ``close`` also closes the connection."""

    nsp: str
    uid: str | None
    target: Target
    close: bool = False


@dataclass(slots=True)
class FetchSockets:
    """Ask every node for the details of its sockets that ``target`` selects."""

    nsp: str
    uid: str | None
    request_id: str
    target: Target


@dataclass(slots=True)
class FetchSocketsResponse:
    """One node's answer to :class:`FetchSockets`.

    Each socket is a mapping with Node's keys: ``id``, ``handshake``, ``rooms`` and ``data``.
    """

    nsp: str
    uid: str | None
    request_id: str
    sockets: list[dict[str, Any]]
    requester: str | None = None


@dataclass(slots=True)
class ServerSideEmit:
    """An event for the other servers' ``mgr.on(...)`` handlers (``data`` = name + arguments).

    With a ``request_id`` the sender wants one :class:`ServerSideEmitResponse` per server.
    """

    nsp: str
    uid: str | None
    data: list[Any]
    request_id: str | None = None


@dataclass(slots=True)
class ServerSideEmitResponse:
    """One server's answer to a :class:`ServerSideEmit` (the handler's first return value)."""

    nsp: str
    uid: str | None
    request_id: str
    data: Any
    requester: str | None = None


@dataclass(slots=True)
class BroadcastClientCount:
    """How many of its clients a node sent an acknowledged :class:`Broadcast` to."""

    nsp: str
    uid: str | None
    request_id: str
    client_count: int
    requester: str | None = None


@dataclass(slots=True)
class BroadcastAck:
    """One client's acknowledgement of an acknowledged :class:`Broadcast`.

    Node carries only the first acknowledgement argument (``data``). When a client answers with
    several arguments, sioadapter also sends all of them in ``args``; Node peers ignore that key.
    ``has_data`` is False when the client answered with no argument at all.
    """

    nsp: str
    uid: str | None
    request_id: str
    data: Any = None
    args: list[Any] | None = None
    has_data: bool = True
    requester: str | None = None

    def arguments(self) -> list[Any]:
        """The acknowledgement's arguments, as the client sent them."""
        if self.args is not None:
            return list(self.args)
        return [self.data] if self.has_data else []


@dataclass(slots=True)
class AllRooms:
    """Ask every node for the names of all its rooms (classic family only)."""

    nsp: str
    uid: str | None
    request_id: str


@dataclass(slots=True)
class SocketIds:
    """Ask every node for the ids of its sockets in ``rooms`` (classic type 0, ``sockets()``)."""

    nsp: str
    uid: str | None
    request_id: str
    rooms: list[Room]


@dataclass(slots=True)
class RemoteJoin:
    """Make the one socket ``sid`` join ``room`` (classic legacy form); its owner answers."""

    nsp: str
    uid: str | None
    request_id: str
    sid: str
    room: Room


@dataclass(slots=True)
class RemoteLeave:
    """Make the one socket ``sid`` leave ``room`` (classic legacy form); its owner answers."""

    nsp: str
    uid: str | None
    request_id: str
    sid: str
    room: Room


@dataclass(slots=True)
class RemoteDisconnect:
    """Disconnect the one socket ``sid`` (classic legacy form); its owner answers."""

    nsp: str
    uid: str | None
    request_id: str
    sid: str
    close: bool = False


@dataclass(slots=True)
class RequestReply:
    """A classic-family response that carries no type on the wire.

    The classic protocol answers ALL_ROOMS, SOCKETS, REMOTE_FETCH and the legacy single-socket
    operations with ``{requestId, ...}`` alone; only the pending request tells what it answers.
    ``rooms`` and ``sockets`` are the fields as they arrived (absent on the wire means ``None``):
    socket ids for SOCKETS, socket details for REMOTE_FETCH.
    """

    nsp: str
    request_id: str
    rooms: list[Room] | None = None
    sockets: list[Any] | None = None
    uid: str | None = None
    requester: str | None = None


@dataclass(slots=True)
class Heartbeat:
    """A node is alive (heartbeat variant of the ClusterAdapter family).

    ``initial`` is set on the first one a node sends; the others answer it at once with a
    regular heartbeat so that the newcomer learns about them without waiting an interval.
    """

    nsp: str
    uid: str | None
    initial: bool = False


@dataclass(slots=True)
class AdapterClose:
    """A node is leaving the cluster (heartbeat variant of the ClusterAdapter family)."""

    nsp: str
    uid: str | None


Request = FetchSockets | AllRooms | SocketIds | RemoteJoin | RemoteLeave | RemoteDisconnect
"""Requests that every node (or the owner of one socket) answers."""

Response = (
    FetchSocketsResponse
    | ServerSideEmitResponse
    | BroadcastClientCount
    | BroadcastAck
    | RequestReply
)
"""Messages that answer a request and are routed by ``request_id``."""

ClusterMessage = (
    Broadcast
    | SocketsJoin
    | SocketsLeave
    | DisconnectSockets
    | ServerSideEmit
    | Heartbeat
    | AdapterClose
    | Request
    | Response
)
"""Everything a node can publish or receive."""

RESPONSE_TYPES: tuple[type, ...] = (
    FetchSocketsResponse,
    ServerSideEmitResponse,
    BroadcastClientCount,
    BroadcastAck,
    RequestReply,
)
