"""What a node does with each message it receives (the listener's handler).

Order of the checks, cheapest first:

1. the channel name: not ours, a namespace this node does not serve, or a single-room
   broadcast for a room with no local member -> dropped **before decoding**;
2. the signature (managers with ``signing_keys``): unsigned or forged messages are dropped,
   counted, and logged once per kind; without keys a signature is stripped unverified;
3. decoding: malformed payloads are dropped, counted, and logged once per kind;
4. :func:`~sioadapter.core.routing.route` decides; the handlers below carry it out.

A failure in one message never stops the listener (the bus counts and logs it).
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._contract import origin_of, view_of
from ._operations import DELIVER_HOOK
from .core import routing
from .core.messages import (
    AdapterClose,
    AllRooms,
    Broadcast,
    DisconnectSockets,
    FetchSockets,
    Heartbeat,
    RemoteDisconnect,
    RemoteJoin,
    RemoteLeave,
    ServerSideEmit,
    SocketIds,
    SocketsJoin,
    SocketsLeave,
)
from .core.routing import Action
from .core.selection import all_rooms, has_room
from .hooks import MESSAGE_DROPPED, NODE_JOINED, NODE_LEFT
from .wire import notepack
from .wire.base import Role
from .wire.signing import ForgedMessageError, SignatureError, Signer, strip

if TYPE_CHECKING:
    import logging

    from ._runtime.bus import AsyncBus
    from ._runtime.local import LocalSide
    from .core.nodes import NodeTable
    from .plugins import PluginHost
    from .stats import Stats
    from .wire.base import Family

_BROADCAST_ROLES = (Role.BROADCAST, Role.ROOM)
_SANE_TIMEOUT = 86_400.0  # seconds: a peer's acknowledgement timeout above a day is garbage


def _describe_number(value: Any) -> str:
    """A short, safe description of a wire value (a huge int has no affordable repr)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return repr(value)
    return f"a {type(value).__name__}"


MESSAGE_DROPPED_HOOK = MESSAGE_DROPPED


class InboundHandling:
    """Mixin of AsyncClusterManager: handling of received messages."""

    if TYPE_CHECKING:
        uid: str
        stats: Stats
        ack_timeout: float
        heartbeats: bool
        _bus: AsyncBus
        _local: LocalSide
        _family: Family
        _signer: Signer | None
        require_signatures: bool
        _served: set[str]
        _nodes: dict[str, NodeTable]
        _log: logging.Logger
        _logged_kinds: set[str]
        _server_handlers: dict[tuple[str, str], Callable[..., Any]]
        _dispatch: dict[Action, Callable[[Any], Awaitable[None]]]
        _inbound_size: int
        plugins: PluginHost

        async def deliver_view(self, view: Any, packets: Any = None) -> int: ...

        def _spawn(self, coroutine: Any) -> Any: ...
        def _later(self, delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle: ...
        def _cancel_later(self, handle: asyncio.TimerHandle) -> None: ...

    async def _on_message(self, channel: str, payload: bytes) -> None:
        # Handlers run one at a time on the listener task: they read the size from here.
        self._inbound_size = len(payload)
        info = self._family.parse_channel(channel)
        if info is None:
            self.stats.dropped_unknown_channel += 1
            return
        if info.nsp not in self._served:
            self.stats.dropped_foreign_namespace += 1
            return
        if info.role in _BROADCAST_ROLES:
            rooms = self._local.namespace_rooms(info.nsp)
            # Nobody here to deliver to: do not even decode (the point of room channels).
            if not rooms or (info.room is not None and not has_room(rooms, info.room)):
                self.stats.skipped_rooms += 1
                return
        if self._signer is None:
            payload = strip(payload)  # signed by nodes that have keys: decodable all the same
        else:
            try:
                payload = self._signer.verify(channel, payload, require=self.require_signatures)
            except SignatureError as error:
                self._unauthenticated(channel, payload, error)
                return
        try:
            message = self._family.decode(info, payload)
        except Exception as error:  # DecodeError, or anything a hostile payload provokes
            self._malformed(f"{info.role.value}:{type(error).__name__}", channel, error)
            if MESSAGE_DROPPED_HOOK in self.plugins.active:
                self.plugins.call(
                    MESSAGE_DROPPED_HOOK, channel=channel, payload=payload, reason=str(error)
                )
            return
        if message.nsp != info.nsp:
            self.stats.dropped_foreign_namespace += 1
            return
        if self.heartbeats:
            table = self._nodes.get(info.nsp)
            if table is not None and table.seen(message.uid, asyncio.get_running_loop().time()):
                self.plugins.call(NODE_JOINED, namespace=info.nsp, uid=message.uid)
        action = routing.route(message, self.uid, self._served)
        if action is Action.IGNORE_OWN:
            self.stats.ignored_own += 1
            return
        if action is Action.FOREIGN_NAMESPACE:
            self.stats.dropped_foreign_namespace += 1
            return
        await self._dispatch[action](message)

    def _malformed(self, kind: str, channel: str, error: BaseException) -> None:
        self.stats.dropped_malformed += 1
        if kind not in self._logged_kinds:
            self._logged_kinds.add(kind)
            self._log.warning(
                "dropped a malformed message on %r (%s); further ones of this kind are only "
                "counted in stats.dropped_malformed",
                channel,
                error,
            )

    def _unauthenticated(self, channel: str, payload: bytes, error: SignatureError) -> None:
        if isinstance(error, ForgedMessageError):
            self.stats.dropped_forged += 1
        else:
            self.stats.dropped_unsigned += 1
        kind = f"signature:{error.kind}"
        if kind not in self._logged_kinds:
            self._logged_kinds.add(kind)
            self._log.warning(
                "dropped a message on %r: %s (%s); further ones of this kind are only counted "
                "in stats.dropped_%s",
                channel,
                error.kind,
                error,
                error.kind,
            )
        if MESSAGE_DROPPED_HOOK in self.plugins.active:
            self.plugins.call(
                MESSAGE_DROPPED_HOOK,
                channel=channel,
                payload=payload,
                reason=f"{error.kind}: {error}",
            )

    def _inbound_handlers(self) -> dict[Action, Callable[[Any], Awaitable[None]]]:
        return {
            Action.DELIVER: self._handle_broadcast,
            Action.DELIVER_WITH_ACKS: self._handle_acked_broadcast,
            Action.JOIN: self._handle_join,
            Action.LEAVE: self._handle_leave,
            Action.DISCONNECT: self._handle_disconnect,
            Action.ANSWER_FETCH: self._handle_fetch,
            Action.ANSWER_ALL_ROOMS: self._handle_all_rooms,
            Action.ANSWER_SOCKET_IDS: self._handle_socket_ids,
            Action.REMOTE_JOIN: self._handle_remote_op,
            Action.REMOTE_LEAVE: self._handle_remote_op,
            Action.REMOTE_DISCONNECT: self._handle_remote_op,
            Action.SERVER_EVENT: self._handle_server_event,
            Action.RESPONSE: self._handle_response,
            Action.HEARTBEAT: self._handle_heartbeat,
            Action.NODE_CLOSED: self._handle_node_closed,
        }

    # -- broadcasts -------------------------------------------------------------------------

    async def _handle_broadcast(self, message: Broadcast) -> None:
        if DELIVER_HOOK in self.plugins.active:
            await self.deliver_view(view_of(message, origin_of(message), self._inbound_size))
        else:
            target = message.target
            await self._local.deliver(message.nsp, message.data, target.rooms, target.except_rooms)
        self.stats.delivered += 1

    async def _handle_acked_broadcast(self, message: Broadcast) -> None:
        # The callbacks are forgotten when the requester stops listening (flags.timeout), or
        # as soon as every client answered: the timer then goes too, so a steady stream of
        # answered requests holds nothing for the length of the timeout.
        unanswered = 0
        expiry: asyncio.TimerHandle | None = None

        def make_callback(sid: str) -> Callable[..., None]:
            def acknowledged(*args: Any) -> None:
                nonlocal unanswered
                self._bus.publish(routing.ack_reply(message, self.uid, args))
                unanswered -= 1
                if unanswered == 0 and expiry is not None:
                    self._cancel_later(expiry)

            return acknowledged

        target = message.target
        data, rooms, except_rooms = message.data, target.rooms, target.except_rooms
        registered: list[tuple[str, int]] = []
        if DELIVER_HOOK in self.plugins.active:
            view = view_of(message, origin_of(message), self._inbound_size)
            if self.plugins.vetoed(DELIVER_HOOK, broadcast=view):
                data = []  # vetoed here: report 0 clients, deliver nothing
            else:
                data, rooms, except_rooms = [view.event, *view.args], view.rooms, view.except_rooms
        if data:
            registered = await self._local.deliver_with_ack(
                message.nsp, data, rooms, except_rooms, make_callback
            )
        # Every counted node answers, even with 0, or the requester waits for it forever.
        self._bus.publish(routing.client_count_reply(message, self.uid, len(registered)))
        self.stats.delivered += 1
        unanswered += len(registered)
        if unanswered > 0:
            delay = self._peer_timeout(target.flags.get("timeout"))
            expiry = self._later(delay, self._local.forget_callbacks, registered)

    def _peer_timeout(self, value: Any) -> float:
        """A peer's ``flags.timeout`` (milliseconds) in seconds, capped by this node's own
        ``ack_timeout``. A value that is absent stands for ours; one that is not a positive
        number of at most a day (NaN, inf, 1e300, a 400-digit integer, a string) is counted in
        ``stats.bad_numbers``, logged once, and replaced by ours: a timer that never fires
        would hold the callbacks forever."""
        if value is None:
            return self.ack_timeout
        seconds = math.nan
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                seconds = float(value) / 1000
            except OverflowError:  # an integer beyond any float
                seconds = math.inf
        if 0 < seconds <= _SANE_TIMEOUT:  # NaN compares false
            return max(min(seconds, self.ack_timeout), 0.001)
        self.stats.bad_numbers += 1
        if "flags.timeout" not in self._logged_kinds:
            self._logged_kinds.add("flags.timeout")
            self._log.warning(
                "a peer sent an acknowledgement timeout that is not a positive number of at most "
                "a day "
                "(%s): using this node's ack_timeout (%g s); further ones are only counted "
                "in stats.bad_numbers",
                _describe_number(value),
                self.ack_timeout,
            )
        return self.ack_timeout

    # -- room operations --------------------------------------------------------------------

    async def _handle_join(self, message: SocketsJoin) -> None:
        target = message.target
        sids = self._local.select(message.nsp, target.rooms, target.except_rooms)
        self._local.join(message.nsp, sids, message.rooms)

    async def _handle_leave(self, message: SocketsLeave) -> None:
        target = message.target
        sids = self._local.select(message.nsp, target.rooms, target.except_rooms)
        self._local.leave(message.nsp, sids, message.rooms)

    async def _handle_disconnect(self, message: DisconnectSockets) -> None:
        target = message.target
        sids = self._local.select(message.nsp, target.rooms, target.except_rooms)
        if sids:
            # Disconnecting runs the app's disconnect handlers, which may well make cluster
            # requests: their answers arrive through the reading this handler holds up.
            self._spawn(self._local.disconnect(message.nsp, sids, message.close))

    async def _handle_remote_op(self, message: RemoteJoin | RemoteLeave | RemoteDisconnect) -> None:
        nsp, sid = message.nsp, message.sid
        if not self._local.owns(sid, nsp):
            return  # only the owner answers
        if isinstance(message, RemoteJoin):
            self._local.join(nsp, [sid], [message.room])
        elif isinstance(message, RemoteLeave):
            self._local.leave(nsp, [sid], [message.room])
        else:
            target = {sid: self._local.namespace_rooms(nsp)[None][sid]}
            self._spawn(self._local.disconnect(nsp, target, message.close))
        self._bus.publish(routing.remote_op_reply(message, self.uid))

    # -- requests ---------------------------------------------------------------------------

    async def _handle_fetch(self, message: FetchSockets) -> None:
        target = message.target
        selected = self._local.select(message.nsp, target.rooms, target.except_rooms)
        sockets = [
            await self._local.details(message.nsp, sid, eio_sid)
            for sid, eio_sid in selected.items()
        ]
        try:
            self._bus.publish(routing.fetch_reply(message, self.uid, sockets))
        except (TypeError, ValueError, OverflowError) as error:
            # A session holding something the wire cannot carry: answer without that data
            # rather than not at all (the requester would time out).
            self._log.error("socket data cannot be sent to the cluster (%s); sent as null", error)
            for socket in sockets:
                try:
                    notepack.packb(socket["data"])
                except (TypeError, ValueError, OverflowError):
                    socket["data"] = None
            self._bus.publish(routing.fetch_reply(message, self.uid, sockets))

    async def _handle_all_rooms(self, message: AllRooms) -> None:
        rooms = all_rooms(self._local.namespace_rooms(message.nsp))
        self._bus.publish(routing.rooms_reply(message, self.uid, rooms))

    async def _handle_socket_ids(self, message: SocketIds) -> None:
        sids = list(self._local.select(message.nsp, message.rooms, ()))
        self._bus.publish(routing.socket_ids_reply(message, self.uid, sids))

    async def _handle_server_event(self, message: ServerSideEmit) -> None:
        event, args = message.data[0], message.data[1:]
        handler = self._server_handlers.get((message.nsp, event))
        if handler is None:
            # As in Node: an event nobody listens to is not answered.
            self._log.debug("no handler for server-side event %r", event)
            return
        # User code may take its time: run it beside the listener, not inside it.
        self._spawn(self._run_server_handler(handler, message, args))

    async def _run_server_handler(
        self, handler: Callable[..., Any], message: ServerSideEmit, args: list[Any]
    ) -> None:
        try:
            answer = handler(*args)
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception:
            self.stats.handler_errors += 1
            self._log.exception("server-side handler for %r failed", message.data[0])
            return
        if message.request_id is not None:
            self._bus.publish(routing.server_side_reply(message, self.uid, answer))

    async def _handle_response(self, message: Any) -> None:
        self._bus.feed(message)

    # -- membership (heartbeat variant) -----------------------------------------------------

    async def _handle_heartbeat(self, message: Heartbeat) -> None:
        if message.initial:  # let the newcomer count us now rather than after an interval
            self._bus.publish(Heartbeat(message.nsp, self.uid))

    async def _handle_node_closed(self, message: AdapterClose) -> None:
        table = self._nodes.get(message.nsp)
        if table is not None and message.uid is not None and table.remove(message.uid):
            self._bus.node_left(message.uid)
            self.plugins.call(NODE_LEFT, namespace=message.nsp, uid=message.uid)
