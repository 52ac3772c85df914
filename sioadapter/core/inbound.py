"""What a node does with each message it receives: checks first, then the effects.

Order of the checks, cheapest first:

1. the size: over ``max_message_size`` -> dropped undecoded;
2. the channel name: not ours, a namespace this node does not serve, or a broadcast for a room
   with no local member (no local socket at all, for namespace broadcasts) -> dropped
   **before decoding**, only counted (the hot path of a node with no member in the room);
3. the signature (nodes with ``signing_keys``): unsigned or forged -> dropped;
4. decoding: malformed -> dropped;
5. :func:`~sioadapter.core.routing.route` decides, and the handlers below turn the decision
   into effects: what to deliver, whom to answer and with what, which request progressed.

Every refusal is counted in :class:`~sioadapter.stats.Stats`; those an operator must hear of
come out as :class:`~sioadapter.core.effects.Dropped` (the shell logs once per kind).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from ..stats import Stats
from ..wire.base import Family, Role
from ..wire.signing import ForgedMessageError, SignatureError
from . import routing
from .acks import describe_number, peer_timeout
from .codec import Codec
from .effects import (
    CallHandler,
    ChangeRooms,
    Deliver,
    DeliverWithAcks,
    DescribeSockets,
    DisconnectLocal,
    Dropped,
    Effect,
    NodeJoined,
    NodeLeft,
    RequestDone,
    RequestItems,
)
from .membership import Membership
from .messages import (
    AdapterClose,
    AllRooms,
    Broadcast,
    DisconnectSockets,
    FetchSockets,
    Heartbeat,
    RemoteDisconnect,
    RemoteJoin,
    RemoteLeave,
    Response,
    ServerSideEmit,
    SocketIds,
    SocketsJoin,
    SocketsLeave,
    Target,
)
from .requests import RequestKind, RequestTracker, Update
from .routing import Action
from .selection import NamespaceRooms, all_rooms, has_room, select

__all__ = ["Receiver", "request_effects"]

_BROADCAST_ROLES = (Role.BROADCAST, Role.ROOM)
_NO_ROOMS: NamespaceRooms = {}

Handler = Callable[[Any, int, list[Effect]], None]


def request_effects(update: Update, out: list[Effect]) -> None:
    """The effects of one answer to one of this node's requests."""
    request = update.request
    if update.items and request.kind is RequestKind.BROADCAST_ACK:
        out.append(RequestItems(request, update.items))
    if update.done:
        out.append(RequestDone(request, "completed"))


class Receiver:
    """The receiving half of a :class:`~sioadapter.core.node.ClusterNode`.

    Args:
        codec: the node's codec (size, signatures, decoding, and encoding of answers).
        stats: where refusals and deliveries are counted.
        rooms: python-socketio's room table (``rooms[nsp][room] = {sid: eio_sid}``), read only.
        served: the namespaces the node serves (the node's own set, shared).
        tracker: the node's pending requests.
        membership: heartbeat membership, or None when the backend counts subscribers.
        ack_timeout: seconds this node keeps acknowledgement callbacks at most.
        offsets: connection state recovery: a broadcast read with its offset (a stream entry
            id) that `carries_offset` is delivered with the offset appended to its data, this
            node's own included (the sender delivers its own broadcasts when it reads them
            back: only then is their offset known).
    """

    def __init__(
        self,
        codec: Codec,
        stats: Stats,
        rooms: Mapping[str, NamespaceRooms],
        served: set[str],
        tracker: RequestTracker,
        membership: Membership | None,
        ack_timeout: float,
        offsets: bool = False,
    ) -> None:
        self.codec = codec
        self.offsets = offsets
        self.stats = stats
        self.rooms = rooms
        self.served = served
        self.tracker = tracker
        self.membership = membership
        self.ack_timeout = ack_timeout
        self.uid = codec.family.uid
        # Bound once: this runs for every message a node receives.
        self._parse = codec.family.parse_channel
        # None for a family whose messages are never signed: nothing to strip.
        self._unseal = codec.unseal if codec.family.signed else None
        self._decode = codec.family.decode
        family = codec.family
        # None for the families that cannot tell their own messages undecoded (a call saved).
        self._is_own = family.is_own if type(family).is_own is not Family.is_own else None
        if offsets:  # its own broadcasts are delivered when read back: they must be decoded
            self._is_own = None
        self._handlers: dict[Action, Handler] = {
            Action.DELIVER: self._broadcast,
            Action.DELIVER_WITH_ACKS: self._acked_broadcast,
            Action.JOIN: self._join,
            Action.LEAVE: self._leave,
            Action.DISCONNECT: self._disconnect,
            Action.ANSWER_FETCH: self._fetch,
            Action.ANSWER_ALL_ROOMS: self._all_rooms,
            Action.ANSWER_SOCKET_IDS: self._socket_ids,
            Action.REMOTE_JOIN: self._remote_op,
            Action.REMOTE_LEAVE: self._remote_op,
            Action.REMOTE_DISCONNECT: self._remote_op,
            Action.SERVER_EVENT: self._server_event,
            Action.RESPONSE: self._response,
            Action.HEARTBEAT: self._heartbeat,
            Action.NODE_CLOSED: self._node_closed,
        }

    def receive(self, channel: str, payload: bytes, now: float, out: list[Effect]) -> None:
        """Append the effects of one received message to ``out``."""
        stats = self.stats
        size = len(payload)
        limit = self.codec.max_message_size
        if limit is not None and size > limit:
            stats.dropped_oversized += 1
            out.append(
                Dropped("oversized", "", channel, f"{size} bytes, over max_message_size ({limit})")
            )
            return
        info = self._parse(channel)
        if info is None:
            stats.dropped_unknown_channel += 1
            return
        nsp = info.nsp
        if nsp not in self.served:
            stats.dropped_foreign_namespace += 1
            return
        if info.role in _BROADCAST_ROLES:
            rooms = self.rooms.get(nsp, _NO_ROOMS)
            # Nobody here to deliver to: do not even decode (the point of room channels).
            if not rooms or (info.room is not None and not has_room(rooms, info.room)):
                stats.skipped_rooms += 1
                return
        try:
            if self._unseal is not None:
                payload = self._unseal(channel, payload)
        except SignatureError as error:
            if isinstance(error, ForgedMessageError):
                stats.dropped_forged += 1
            else:
                stats.dropped_unsigned += 1
            out.append(Dropped(error.kind, "", channel, f"{error.kind}: {error}", payload))
            return
        is_own = self._is_own
        if is_own is not None and is_own(info, payload):  # ignored below anyway: not decoded
            stats.ignored_own += 1
            return
        try:
            message = self._decode(info, payload)
        except Exception as error:  # DecodeError, or anything a hostile payload provokes
            stats.dropped_malformed += 1
            detail = f"{info.role.value}:{type(error).__name__}"
            out.append(Dropped("malformed", detail, channel, str(error), payload))
            return
        if message.nsp != nsp:
            stats.dropped_foreign_namespace += 1
            return
        membership = self.membership
        if membership is not None and membership.seen(nsp, message.uid, now):
            out.append(NodeJoined(nsp, message.uid))  # type: ignore[arg-type]
        action = routing.route(message, self.uid, self.served)
        if action is routing.DELIVER:  # route() checked that it is a Broadcast
            self._broadcast(cast(Broadcast, message), size, out)
            return
        if action is Action.IGNORE_OWN and self.offsets and type(message) is Broadcast:
            action = Action.DELIVER if routing.carries_offset(message) else action
        if action is Action.IGNORE_OWN:
            stats.ignored_own += 1
            return
        if action is Action.FOREIGN_NAMESPACE:
            stats.dropped_foreign_namespace += 1
            return
        self._handlers[action](message, size, out)

    # -- broadcasts -------------------------------------------------------------------------

    def _broadcast(self, message: Broadcast, size: int, out: list[Effect]) -> None:
        if self.offsets and message.offset is not None and routing.carries_offset(message):
            message.data.append(message.offset)
        self.stats.delivered += 1
        out.append(Deliver(message, size))

    def _acked_broadcast(self, message: Broadcast, size: int, out: list[Effect]) -> None:
        value = message.target.flags.get("timeout")
        timeout = peer_timeout(value, self.ack_timeout)
        if timeout is None:
            self.stats.bad_numbers += 1
            out.append(
                Dropped(
                    "bad-number",
                    "flags.timeout",
                    "",
                    "a peer sent an acknowledgement timeout that is not a positive number of "
                    f"at most a day ({describe_number(value)}): using this node's ack_timeout "
                    f"({self.ack_timeout:g} s)",
                )
            )
            timeout = self.ack_timeout
        self.stats.delivered += 1
        out.append(DeliverWithAcks(message, size, timeout))

    # -- room operations --------------------------------------------------------------------

    def _join(self, message: SocketsJoin, size: int, out: list[Effect]) -> None:
        out.append(ChangeRooms(message.nsp, message.target, message.rooms, True))

    def _leave(self, message: SocketsLeave, size: int, out: list[Effect]) -> None:
        out.append(ChangeRooms(message.nsp, message.target, message.rooms, False))

    def _disconnect(self, message: DisconnectSockets, size: int, out: list[Effect]) -> None:
        out.append(DisconnectLocal.of(message))

    def _remote_op(
        self, message: RemoteJoin | RemoteLeave | RemoteDisconnect, size: int, out: list[Effect]
    ) -> None:
        nsp, sid = message.nsp, message.sid
        everyone = self.rooms.get(nsp, _NO_ROOMS).get(None)
        if not everyone or sid not in everyone:
            return  # only the owner answers
        target = Target([sid])  # the socket's own room: exactly that socket
        if isinstance(message, RemoteJoin):
            out.append(ChangeRooms(nsp, target, [message.room], True))
        elif isinstance(message, RemoteLeave):
            out.append(ChangeRooms(nsp, target, [message.room], False))
        else:
            out.append(DisconnectLocal(nsp, target, message.close))
        out.append(self.codec.encode(routing.remote_op_reply(message, self.uid)))

    # -- requests ---------------------------------------------------------------------------

    def _fetch(self, message: FetchSockets, size: int, out: list[Effect]) -> None:
        target = message.target
        rooms = self.rooms.get(message.nsp, _NO_ROOMS)
        out.append(DescribeSockets(message, select(rooms, target.rooms, target.except_rooms)))

    def _all_rooms(self, message: AllRooms, size: int, out: list[Effect]) -> None:
        rooms = all_rooms(self.rooms.get(message.nsp, _NO_ROOMS))
        out.append(self.codec.encode(routing.rooms_reply(message, self.uid, rooms)))

    def _socket_ids(self, message: SocketIds, size: int, out: list[Effect]) -> None:
        sids = list(select(self.rooms.get(message.nsp, _NO_ROOMS), message.rooms, ()))
        out.append(self.codec.encode(routing.socket_ids_reply(message, self.uid, sids)))

    def _server_event(self, message: ServerSideEmit, size: int, out: list[Effect]) -> None:
        out.append(CallHandler(message))

    def _response(self, message: Response, size: int, out: list[Effect]) -> None:
        self.feed(message, out)

    def feed(self, response: Response, out: list[Effect]) -> None:
        """Account for one answer (received, or produced by this node for its own request)."""
        update = self.tracker.feed(response)
        if update is None:
            # Answers to other nodes' requests reach every node on shared channels: not late.
            if self.tracker.finished_recently(response.request_id):
                self.stats.late_responses += 1
        else:
            request_effects(update, out)

    # -- membership (heartbeat variant) -----------------------------------------------------

    def _heartbeat(self, message: Heartbeat, size: int, out: list[Effect]) -> None:
        if message.initial:  # let the newcomer count us now rather than after an interval
            out.append(self.codec.encode(Heartbeat(message.nsp, self.uid)))

    def _node_closed(self, message: AdapterClose, size: int, out: list[Effect]) -> None:
        membership, uid = self.membership, message.uid
        if membership is not None and uid is not None and membership.closed(message.nsp, uid):
            self.node_left(message.nsp, uid, out)

    def node_left(self, nsp: str, uid: str, out: list[Effect]) -> None:
        """A node left ``nsp``: say so, and stop waiting for its answers."""
        out.append(NodeLeft(nsp, uid))
        for update in self.tracker.node_left(uid):
            request_effects(update, out)
