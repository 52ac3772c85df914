"""What a :class:`~sioadapter.core.node.ClusterNode` asks its shell to do: the effects.

The node decides; a shell (the asyncio runtime, or a test's in-memory link) carries each effect
out and reports back what only I/O can know, through the node's methods named in each effect's
docstring. Effects are plain data: a list of them is the whole answer to one event.

The kinds, by what they ask for:

==========================  =================================================================
:class:`Publish`            send these bytes on this channel (encoded and signed already)
:class:`Deliver`            give a remote broadcast to the local clients it selects
:class:`DeliverWithAcks`    the same, each client acknowledging; then report the count back
:class:`ChangeRooms`        make the selected local sockets join or leave rooms
:class:`DisconnectLocal`    disconnect the selected local sockets
:class:`DescribeSockets`    describe local sockets (sessions need I/O) for a FETCH_SOCKETS
:class:`CallHandler`        run the application's handler of a server-side event
:class:`RequestItems`       answers arrived for one of this node's requests (acks, as they come)
:class:`RequestDone`        one of this node's requests ended: completed, timed out or withdrawn
:class:`ForgetCallbacks`    acknowledgement callbacks whose time is up: withdraw them
:class:`NodeJoined`         a node appeared (heartbeat membership)
:class:`NodeLeft`           a node left or went silent (heartbeat membership)
:class:`Dropped`            a received message was refused, and why (to log once and report)
==========================  =================================================================

Drops that need no report (a room with no local member, an echo of this node's own message, a
namespace it does not serve) are only counted in the node's :class:`~sioadapter.stats.Stats`:
they are the hot path of a node with no member in the room, and produce no effect at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .messages import (
    Broadcast,
    DisconnectSockets,
    FetchSockets,
    Room,
    ServerSideEmit,
    Target,
)
from .requests import PendingRequest

__all__ = [
    "CallHandler",
    "ChangeRooms",
    "Deliver",
    "DeliverWithAcks",
    "DescribeSockets",
    "DisconnectLocal",
    "Dropped",
    "Effect",
    "ForgetCallbacks",
    "NodeJoined",
    "NodeLeft",
    "Publish",
    "RequestDone",
    "RequestItems",
]


@dataclass(slots=True)
class Publish:
    """Send ``payload`` on ``channel``, after everything published before it."""

    channel: str
    payload: bytes


@dataclass(slots=True)
class Deliver:
    """Give ``message`` (a remote broadcast) to the local clients its target selects.

    ``size`` is the received payload's size in bytes (for hooks that observe it).
    """

    message: Broadcast
    size: int


@dataclass(slots=True)
class DeliverWithAcks:
    """Give ``message`` to its local clients, each acknowledging it.

    Then call ``node.acks_registered(message, count, context, now)`` with the number of
    clients that got it (0 included: the requester waits for every node's count) and an
    opaque ``context`` naming the registered callbacks; each client's acknowledgement goes to
    ``node.client_acked(message, context, args)``. ``timeout`` is how long, in seconds, the
    callbacks may wait (the sender's ``flags.timeout``, capped by this node's ack_timeout).
    """

    message: Broadcast
    size: int
    timeout: float


@dataclass(slots=True)
class ChangeRooms:
    """Make the local sockets that ``target`` selects join (or leave) ``rooms``."""

    nsp: str
    target: Target
    rooms: list[Room]
    join: bool


@dataclass(slots=True)
class DisconnectLocal:
    """Disconnect the local sockets that ``target`` selects; ``close``: their whole connection."""

    nsp: str
    target: Target
    close: bool

    @classmethod
    def of(cls, message: DisconnectSockets) -> DisconnectLocal:
        """The local part of a received DISCONNECT_SOCKETS."""
        return cls(message.nsp, message.target, message.close)


@dataclass(slots=True)
class DescribeSockets:
    """Describe the local sockets ``sids`` ({sid: eio_sid}) for ``request``, then call
    ``node.fetch_answer(request, sockets)`` with the descriptions (Node's shape)."""

    request: FetchSockets
    sids: dict[str, Any]


@dataclass(slots=True)
class CallHandler:
    """Run the application's handler of the server-side event in ``message`` (``data[0]``,
    with ``data[1:]`` as arguments). When ``message.request_id`` is set, hand its answer to
    ``node.handler_answered(message, answer)``; an event nobody handles is not answered."""

    message: ServerSideEmit


@dataclass(slots=True)
class RequestItems:
    """``items`` arrived for ``request`` (acknowledgements, handed on as they come)."""

    request: PendingRequest
    items: list[Any]


@dataclass(slots=True)
class RequestDone:
    """``request`` ended. ``outcome``: ``"completed"``, ``"timeout"``, ``"withdrawn"`` (its
    caller stopped waiting) or ``"closed"`` (the node closed)."""

    request: PendingRequest
    outcome: str

    @property
    def timed_out(self) -> bool:
        """True when the request ended at its deadline with answers missing."""
        return self.outcome == "timeout"


@dataclass(slots=True)
class ForgetCallbacks:
    """The acknowledgement callbacks registered under ``context`` wait no longer."""

    context: Any


@dataclass(slots=True)
class NodeJoined:
    """A node appeared in ``nsp`` (the first message heard from it)."""

    nsp: str
    uid: str


@dataclass(slots=True)
class NodeLeft:
    """A node left ``nsp``: it said ADAPTER_CLOSE, or was silent past the heartbeat timeout."""

    nsp: str
    uid: str


@dataclass(slots=True)
class Dropped:
    """A received message was refused.

    ``kind`` names the reason (``"malformed"``, ``"oversized"``, ``"unsigned"``, ``"forged"``,
    ``"bad-number"``) and ``detail`` a sub-kind, so that a shell logs once per (kind, detail);
    ``reason`` says what was wrong, ``payload`` is what was received (None when too large to
    keep). The matching counter of :class:`~sioadapter.stats.Stats` is already counted.
    """

    kind: str
    detail: str
    channel: str
    reason: str
    payload: bytes | None = None


Effect = (
    Publish
    | Deliver
    | DeliverWithAcks
    | ChangeRooms
    | DisconnectLocal
    | DescribeSockets
    | CallHandler
    | RequestItems
    | RequestDone
    | ForgetCallbacks
    | NodeJoined
    | NodeLeft
    | Dropped
)
"""Any effect."""
