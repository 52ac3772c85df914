"""EffectRunner: the one place where the node's effects become I/O and hook calls.

The node (:class:`~sioadapter.core.node.ClusterNode`) decides; the runner carries out each
effect on the event loop: publishing through the bus, delivering through the local side,
resolving request futures, running server-side handlers beside the listener, logging drops once
per kind, and calling the plugins' hooks (:mod:`sioadapter.hooks`) where broadcasts are sent,
received and delivered. It also owns the node's clock: one timer, set to the node's next
deadline, ticks it.

Received batches come here from the bus (``receive``), one message at a time: the effects of a
message are carried out before the next message is looked at, so that a room change is applied
before a broadcast that follows it on the same channel.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ..core.effects import (
    CallHandler,
    ChangeRooms,
    Deliver,
    DeliverWithAcks,
    DescribeSockets,
    DisconnectLocal,
    Dropped,
    Effect,
    ForgetCallbacks,
    NodeJoined,
    NodeLeft,
    Publish,
    RequestDone,
    RequestItems,
)
from ..core.messages import EMITTER_UID, Broadcast
from ..core.node import ClusterNode
from ..errors import OutputBufferLimitError, ReceivedMessageLostError
from ..hooks import (
    BACKEND_ERROR,
    BROADCAST_DELIVER,
    BROADCAST_PUBLISH,
    BROADCAST_PUBLISHED,
    MESSAGE_DROPPED,
    NODE_JOINED,
    NODE_LEFT,
    REQUEST_DONE,
    BroadcastEvent,
    Origin,
)
from ..plugins import PluginHost
from .bus import AsyncBus
from .local import LocalSide
from .waits import RequestWaits

__all__ = ["EffectRunner", "ServerHandlers", "view_of"]

ServerHandlers = dict[tuple[str, str], Callable[..., Any]]
"""Server-side event handlers by (namespace, event) (``mgr.on``)."""
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]
RoomsReady = Callable[[str, Any], Awaitable[None]]

_LOG_TEXT = {
    "malformed": "dropped a malformed message on %r (%s); further ones of this kind are only "
    "counted in stats.dropped_malformed",
    "unsigned": "dropped a message on %r: %s; further ones of this kind are only counted in "
    "stats.dropped_unsigned",
    "forged": "dropped a message on %r: %s; further ones of this kind are only counted in "
    "stats.dropped_forged",
    "oversized": "dropped a message on %r, undecoded: %s; further ones are only counted in "
    "stats.dropped_oversized",
}


def view_of(message: Broadcast, size: int | None = None) -> BroadcastEvent:
    """A received broadcast as hooks see it."""
    target = message.target
    origin: Origin = "emitter" if message.uid == EMITTER_UID else "remote"
    return BroadcastEvent(
        message.nsp,
        message.data[0],
        list(message.data[1:]),
        list(target.rooms),
        list(target.except_rooms),
        dict(target.flags),
        origin,
        message.uid,
        acknowledged=message.request_id is not None,
        payload_size=size,
    )


class EffectRunner:
    """Carries out one node's effects.

    Args:
        node: the node whose effects these are.
        bus: publishing.
        waits: the futures of the node's requests.
        local: this node's clients and rooms.
        plugins: the hooks.
        logger: where drops, handler failures and problems are logged.
        spawn: runs a coroutine as a task the manager tracks (and cancels at close).
        handlers: server-side event handlers (shared with ``mgr.on``).
        rooms_ready: with per-room channels, waits until the channels of rooms just joined
            locally are subscribed.
    """

    def __init__(
        self,
        node: ClusterNode,
        bus: AsyncBus,
        waits: RequestWaits,
        local: LocalSide,
        plugins: PluginHost,
        logger: logging.Logger,
        spawn: Spawn,
        handlers: ServerHandlers,
        rooms_ready: RoomsReady | None = None,
    ) -> None:
        self.node = node
        self._rooms_ready = rooms_ready
        self.bus = bus
        self.waits = waits
        self.local = local
        self.plugins = plugins
        self.handlers = handlers
        self._log = logger
        self._spawn = spawn
        self._logged: set[tuple[str, str]] = set()
        self._clocked = node.membership is not None  # received messages refresh last-seen
        self._receive_one = node.receiver.receive
        self._deliver_plain = local.deliver
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._version = -1
        self._sync: dict[type, Callable[[Any], None]] = {
            Publish: bus.publish,
            ChangeRooms: self._change_rooms,
            DisconnectLocal: self._disconnect,
            CallHandler: self._call_handler,
            RequestItems: waits.items,
            RequestDone: self._request_done,
            ForgetCallbacks: self._forget,
            NodeJoined: self._node_joined,
            NodeLeft: self._node_left,
            Dropped: self._dropped,
        }

    # -- running effects --------------------------------------------------------------------

    def run(self, effects: list[Effect]) -> None:
        """Carry out effects that need no waiting (those that do are spawned)."""
        sync = self._sync
        for effect in effects:
            handler = sync.get(type(effect))
            if handler is not None:
                handler(effect)
            else:
                self._spawn(self.run_async([effect]))
        if self.node.deadline_version != self._version:
            self._reschedule()

    async def run_async(self, effects: list[Effect]) -> None:
        """Carry out effects in order, waiting for local deliveries. What follows a join
        (the answer to a remote join) waits, in a task of its own, for the joined rooms'
        channels: an answered join is one every node's next broadcast to the room reaches."""
        sync = self._sync
        for i, effect in enumerate(effects):
            kind = type(effect)
            if isinstance(effect, ChangeRooms) and effect.join and self._rooms_ready is not None:
                self._change_rooms(effect)
                if i + 1 < len(effects):
                    # Not awaited here: the subscription is confirmed through the reading
                    # that is calling this.
                    self._spawn(self._after_rooms(effect, effects[i + 1 :]))
                    return
            elif kind is Deliver:
                await self._deliver(effect)  # type: ignore[arg-type]
            elif kind is DeliverWithAcks:
                await self._deliver_acked(effect)  # type: ignore[arg-type]
            elif kind is DescribeSockets:
                await self._describe(effect)  # type: ignore[arg-type]
            else:
                sync[kind](effect)
        if self.node.deadline_version != self._version:
            self._reschedule()

    async def receive(self, batch: list[tuple[str, bytes]]) -> None:
        """Handle received messages in order (the bus calls this, one batch at a time). A
        failure in one message is counted and logged; the others go on."""
        # Per batch, not per message, and the clock only where membership needs it: at a fixed
        # rate every message comes in a batch of its own.
        now = asyncio.get_running_loop().time() if self._clocked else 0.0
        receive = self._receive_one
        deliver = self._deliver_plain
        # The common case, one plain delivery and no deliver hook, skips the dispatch.
        plain = BROADCAST_DELIVER not in self.plugins.active
        out: list[Effect] = []
        for channel, payload in batch:
            try:
                receive(channel, payload, now, out)
                if not out:
                    continue
                if plain and len(out) == 1 and type(out[0]) is Deliver:
                    message = out[0].message
                    target = message.target
                    await deliver(
                        message.nsp, message.data, target.rooms, target.except_rooms, None,
                        message.offset,
                    )  # fmt: skip
                else:
                    await self.run_async(out)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.node.stats.handler_errors += 1
                self._log.exception("error while handling a message on %r", channel)
            out.clear()

    # -- the clock ----------------------------------------------------------------------------

    def _reschedule(self) -> None:
        self._version = self.node.deadline_version
        when = self.node.next_deadline()
        if when is None:
            return  # a timer already set fires early and finds nothing: harmless
        if self._timer is not None:
            if self._timer_at <= when:
                return
            self._timer.cancel()
        self._timer_at = when
        self._timer = asyncio.get_running_loop().call_at(when, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.run(self.node.tick(asyncio.get_running_loop().time()))
        self._reschedule()

    def stop(self) -> None:
        """Cancel the timer (closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- hooks ----------------------------------------------------------------------------------

    def vetoed(self, hook: str, view: BroadcastEvent) -> bool:
        """True when a plugin vetoes the broadcast at ``hook`` (one set lookup without
        plugins)."""
        return hook in self.plugins.active and self.plugins.vetoed(hook, broadcast=view)

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Run a hook whose results do not matter."""
        if hook in self.plugins.active:
            self.plugins.notify(hook, **kwargs)

    def backend_error(self, error: BaseException, context: str) -> None:
        """The backend reported an error: count it, log it, run the backend-error hook."""
        stats = self.node.stats
        stats.backend_errors += 1
        if isinstance(error, OutputBufferLimitError):
            stats.buffer_limit_disconnects += 1
        elif isinstance(error, ReceivedMessageLostError):
            stats.dropped_unreadable += error.count
        self._log.error("backend error while %s: %s", context, error)
        self.notify(BACKEND_ERROR, error=error, context=context)

    # -- broadcasts ---------------------------------------------------------------------------

    async def broadcast(self, view: BroadcastEvent) -> None:
        """Send a local broadcast to the cluster and to this node's clients, through the
        publish, published and deliver hooks."""
        hooks = self.plugins.active  # checked inline: this runs for every emit
        if hooks and self.vetoed(BROADCAST_PUBLISH, view):
            return
        nsp = view.namespace
        data = [view.event, *view.args]
        packets = None
        if self.local.namespace_rooms(nsp):
            # Encoded for this node's clients first, so bad data fails before publishing.
            packets = self.local.encode_event(nsp, data)
        node = self.node
        # The clock matters only for the room grace (families with room channels).
        now = 0.0 if node.grace is None else asyncio.get_running_loop().time()
        publish = node.broadcast(nsp, data, view.rooms, view.except_rooms, view.flags, now)
        if publish is not None:
            self.bus.publish(publish)
            view.payload_size = len(publish.payload)
            await self.bus.wait_writable()
        if BROADCAST_PUBLISHED in hooks:
            self.plugins.notify(BROADCAST_PUBLISHED, broadcast=view)
        if publish is not None and node.delivers_on_read_back(view.flags):
            return  # delivered here with its offset, once read back from the stream
        if BROADCAST_DELIVER not in hooks and not self.local.namespace_rooms(nsp):
            return  # no client of this node in the namespace (looked up again: time passed)
        await self.deliver_view(view, packets)

    async def deliver_view(self, view: BroadcastEvent, packets: list[Any] | None = None) -> int:
        """Deliver a broadcast to this node's clients through the deliver hook; returns how
        many clients got it (0 when a plugin vetoed it)."""
        if BROADCAST_DELIVER in self.plugins.active:
            before = (view.event, list(view.args))
            if self.plugins.vetoed(BROADCAST_DELIVER, broadcast=view):
                return 0
            if (view.event, view.args) != before:
                packets = None  # rewritten: encode what the plugins left
        data = [view.event, *view.args]
        return await self.local.deliver(
            view.namespace, data, view.rooms, view.except_rooms, packets
        )

    async def _deliver(self, effect: Deliver) -> None:
        message = effect.message
        if BROADCAST_DELIVER in self.plugins.active:
            await self.deliver_view(view_of(message, effect.size))
        else:
            target = message.target
            await self.local.deliver(
                message.nsp, message.data, target.rooms, target.except_rooms, None, message.offset
            )

    async def _deliver_acked(self, effect: DeliverWithAcks) -> None:
        message, node = effect.message, self.node
        target = message.target
        data, rooms, except_rooms = message.data, target.rooms, target.except_rooms
        if BROADCAST_DELIVER in self.plugins.active:
            view = view_of(message, effect.size)
            if self.plugins.vetoed(BROADCAST_DELIVER, broadcast=view):
                data = []  # vetoed here: report 0 clients, deliver nothing
            else:
                data, rooms, except_rooms = [view.event, *view.args], view.rooms, view.except_rooms
        key: int | None = None
        early = 0  # acknowledgements that came while the others were still being sent

        def make_callback(sid: str) -> Callable[..., None]:
            def acknowledged(*args: Any) -> None:
                nonlocal early
                if key is None:
                    early += 1
                self.run(node.client_acked(message, key, list(args)))

            return acknowledged

        registered: list[tuple[str, int]] = []
        if data:
            registered = await self.local.deliver_with_ack(
                message.nsp, data, rooms, except_rooms, make_callback
            )
        now = asyncio.get_running_loop().time()
        key, effects = node.acks_registered(effect, len(registered), registered, now)
        for _ in range(early):
            node.callbacks.answered(key)
        self.run(effects)

    async def _describe(self, effect: DescribeSockets) -> None:
        sockets = await self.local.describe(effect.request.nsp, effect.sids)
        self.run(self.node.fetch_answer(effect.request, sockets))

    async def _after_rooms(self, join: ChangeRooms, effects: list[Effect]) -> None:
        assert self._rooms_ready is not None
        await self._rooms_ready(join.nsp, join.rooms)
        await self.run_async(effects)

    # -- the other effects --------------------------------------------------------------------

    def _change_rooms(self, effect: ChangeRooms) -> None:
        local, target = self.local, effect.target
        sids = list(local.select(effect.nsp, target.rooms, target.except_rooms))
        if effect.join:
            local.join(effect.nsp, sids, effect.rooms)
        else:
            local.leave(effect.nsp, sids, effect.rooms)

    def _disconnect(self, effect: DisconnectLocal) -> None:
        target, nsp = effect.target, effect.nsp
        selected = self.local.select(nsp, target.rooms, target.except_rooms)
        if selected:
            # Disconnecting runs the app's disconnect handlers, which may well make cluster
            # requests: their answers arrive through the reading this would hold up.
            self._spawn(self.local.disconnect(nsp, selected, effect.close))

    def _call_handler(self, effect: CallHandler) -> None:
        message = effect.message
        handler = self.handlers.get((message.nsp, message.data[0]))
        if handler is None:
            # As in Node: an event nobody listens to is not answered.
            self._log.debug("no handler for server-side event %r", message.data[0])
            return
        # User code may take its time: run it beside the listener, not inside it.
        self._spawn(self._run_handler(handler, effect))

    async def _run_handler(self, handler: Callable[..., Any], effect: CallHandler) -> None:
        message = effect.message
        try:
            answer = handler(*message.data[1:])
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception:
            self.node.stats.handler_errors += 1
            self._log.exception("server-side handler for %r failed", message.data[0])
            return
        self.run(self.node.handler_answered(message, answer))

    def _request_done(self, effect: RequestDone) -> None:
        self.waits.done(effect)
        if REQUEST_DONE in self.plugins.active:
            request = effect.request
            received, expected = request.progress()
            self.notify(
                REQUEST_DONE,
                operation=request.kind.value,
                request_id=request.request_id,
                responses=list(request.results),
                received=received,
                expected=expected,
                timed_out=effect.timed_out,
                duration=asyncio.get_running_loop().time() - request.opened,
            )

    def _forget(self, effect: ForgetCallbacks) -> None:
        self.local.forget_callbacks(effect.context)

    def _node_joined(self, effect: NodeJoined) -> None:
        self.notify(NODE_JOINED, namespace=effect.nsp, uid=effect.uid)

    def _node_left(self, effect: NodeLeft) -> None:
        self.notify(NODE_LEFT, namespace=effect.nsp, uid=effect.uid)

    def _dropped(self, effect: Dropped) -> None:
        kind = (effect.kind, effect.detail)
        if kind not in self._logged:
            self._logged.add(kind)
            text = _LOG_TEXT.get(effect.kind)
            if text is not None:
                self._log.warning(text, effect.channel, effect.reason)
            elif effect.kind == "bad-number":
                self._log.warning("%s; further ones are only counted in stats.bad_numbers",
                                  effect.reason)  # fmt: skip
            else:
                self._log.error("%s", effect.reason)
        if effect.payload is not None:
            self.notify(
                MESSAGE_DROPPED, channel=effect.channel, payload=effect.payload,
                reason=effect.reason,
            )  # fmt: skip
