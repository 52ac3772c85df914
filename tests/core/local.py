"""The fake local side of one server: python-socketio's room table, its clients, and the
carrying out of a node's effects, as the asyncio shell does it.

The room table is python-socketio's: ``rooms[nsp][room] = {sid: eio_sid}``, the room None
holding every socket of the namespace and each socket in a room named after its sid; empty
rooms and empty namespaces are deleted, as python-socketio deletes them. While a room has a
local member the side listens on the room's channel, where the family has room channels.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sioadapter.core import effects as fx
from sioadapter.core.messages import Broadcast, ServerSideEmit
from sioadapter.core.node import ClusterNode
from sioadapter.core.requests import PendingRequest, RequestKind
from sioadapter.core.selection import rooms_of, select

from .link import Link


@dataclass(eq=False)
class Call:
    """One operation of a peer that waits for the cluster, as its caller sees it."""

    kind: RequestKind
    request_id: str
    local: list[Any] = field(default_factory=list)
    combine: Callable[[Call], Any] | None = None
    items: list[Any] = field(default_factory=list)
    outcome: str | None = None
    request: PendingRequest | None = None
    then: Callable[[Call], None] | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not None

    @property
    def results(self) -> list[Any]:
        """What the other nodes answered (so far, or at the end)."""
        return list(self.request.results) if self.request is not None else []

    @property
    def value(self) -> Any:
        """What the manager's coroutine would return (it raises on a timeout: see outcome)."""
        return self.combine(self) if self.combine else self.local + self.results


@dataclass(eq=False)
class AckGroup:
    """The context of one DeliverWithAcks: the callbacks registered for its clients."""

    message: Broadcast
    sids: list[str]
    key: int | None = None


def as_rooms(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, (str, int)) else list(value)


class LocalSide:
    """A server's clients and room table, and what it does with each effect of its node.

    The owner sets ``node`` before the first effect; ``clock`` gives the current time.
    """

    node: ClusterNode

    def __init__(self, uid: str, link: Link, clock: Callable[[], float]) -> None:
        self.uid, self.link, self.clock = uid, link, clock
        self.rooms: dict[str, dict[Any, dict[str, str]]] = {}
        self.room_channels: dict[tuple[str, Any], str] = {}
        self.received: dict[str, list[tuple[Any, ...]]] = {}
        self.sessions: dict[str, Any] = {}
        self.disconnected: list[tuple[str, bool]] = []
        self.handlers: dict[tuple[str, str], Callable[..., Any]] = {}
        self.handled: list[list[Any]] = []
        self.unhandled: list[ServerSideEmit] = []
        self.calls: dict[str, Call] = {}
        self.joined: list[tuple[str, str]] = []
        self.left: list[tuple[str, str]] = []
        self.dropped: list[fx.Dropped] = []
        self.forgotten: list[AckGroup] = []
        self.acks: dict[str, list[tuple[str, AckGroup | None]]] = {}
        self._sids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uid}>"

    def receive(self, channel: str, payload: bytes) -> None:
        """The link delivers one message."""
        self.apply(self.node.receive(channel, payload, self.clock()))

    def receive_batch(self, batch: list[tuple[str, bytes]]) -> None:
        """The link delivers several messages at once."""
        self.apply(self.node.receive_batch(batch, self.clock()))

    # -- python-socketio's local side -------------------------------------------------------

    def connect(self, *rooms: Any, nsp: str = "/", data: Any = None) -> str:
        """A client connects (python-engineio's sids are 20 characters long) and joins rooms."""
        sid = f"{self.uid}-{next(self._sids)}".ljust(20, "_")
        self.rooms.setdefault(nsp, {}).setdefault(None, {})[sid] = "eio-" + sid
        for room in (sid, *rooms):
            self.enter_room(sid, room, nsp)
        self.sessions[sid] = data
        return sid

    def enter_room(self, sid: str, room: Any, nsp: str = "/") -> None:
        members = self.rooms.setdefault(nsp, {}).setdefault(room, {})
        if not members:  # the room's first local member: listen on its channel, if any
            channel = self.node.room_channel(nsp, room)
            if channel is not None:
                self.room_channels[(nsp, room)] = channel
                self.link.subscribe(self, [channel])
        members[sid] = "eio-" + sid

    def leave_room(self, sid: str, room: Any, nsp: str = "/") -> None:
        namespace = self.rooms.get(nsp, {})
        members = namespace.get(room)
        if members is None or sid not in members:
            return
        del members[sid]
        if not members:  # python-socketio deletes empty rooms, then empty namespaces
            del namespace[room]
            channel = self.room_channels.pop((nsp, room), None)
            if channel is not None:
                self.link.unsubscribe(self, [channel])
            if not namespace:
                del self.rooms[nsp]

    def drop_socket(self, sid: str, nsp: str = "/", close: bool = False) -> None:
        self.disconnected.append((sid, close))
        for room in [*rooms_of(self.rooms.get(nsp, {}), sid), None]:
            self.leave_room(sid, room, nsp)

    def rooms_of(self, sid: str, nsp: str = "/") -> set[Any]:
        return set(rooms_of(self.rooms.get(nsp, {}), sid))

    def sids(self, nsp: str = "/") -> set[str]:
        return set(self.rooms.get(nsp, {}).get(None, {}))

    def events(self, sid: str) -> list[tuple[Any, ...]]:
        """What the client ``sid`` received, in order: (event, *args) tuples."""
        return self.received.get(sid, [])

    def _deliver(self, sids: Iterable[str], data: list[Any]) -> list[str]:
        sids = list(sids)
        for sid in sids:
            self.received.setdefault(sid, []).append(tuple(data))
        return sids

    # -- effects ----------------------------------------------------------------------------

    def apply(self, effects: list[fx.Effect]) -> None:
        """Carry the node's effects out, in order, as the asyncio shell does."""
        now = self.clock()
        for effect in effects:
            if isinstance(effect, fx.Publish):
                self.link.publish(self, effect)
            elif isinstance(effect, fx.Deliver):
                target = effect.message.target
                local = self.rooms.get(effect.message.nsp, {})
                self._deliver(select(local, target.rooms, target.except_rooms), effect.message.data)
            elif isinstance(effect, fx.DeliverWithAcks):
                message = effect.message
                local = self.rooms.get(message.nsp, {})
                group = AckGroup(message, list(select(local, message.target.rooms,
                                                      message.target.except_rooms)))  # fmt: skip
                self._deliver(group.sids, message.data)
                group.key, more = self.node.acks_registered(effect, len(group.sids), group, now)
                for sid in group.sids:
                    self.acks.setdefault(sid, []).append((message.request_id or "", group))
                self.apply(more)
            elif isinstance(effect, fx.ForgetCallbacks):
                self.forgotten.append(effect.context)
                for sid in effect.context.sids:
                    self.acks[sid] = [
                        a for a in self.acks.get(sid, []) if a[1] is not effect.context
                    ]
            elif isinstance(effect, fx.ChangeRooms):
                local = self.rooms.get(effect.nsp, {})
                sids = list(select(local, effect.target.rooms, effect.target.except_rooms))
                for sid in sids:
                    for room in effect.rooms:
                        change = self.enter_room if effect.join else self.leave_room
                        change(sid, room, effect.nsp)
            elif isinstance(effect, fx.DisconnectLocal):
                local = self.rooms.get(effect.nsp, {})
                sids = list(select(local, effect.target.rooms, effect.target.except_rooms))
                for sid in sids:
                    self.drop_socket(sid, effect.nsp, effect.close)
            elif isinstance(effect, fx.DescribeSockets):
                nsp = effect.request.nsp
                self.apply(self.node.fetch_answer(effect.request, self.describe(nsp, effect.sids)))
            elif isinstance(effect, fx.CallHandler):
                message = effect.message
                handler = self.handlers.get((message.nsp, message.data[0]))
                if handler is None:
                    self.unhandled.append(message)
                    continue
                self.handled.append(message.data)
                answer = handler(*message.data[1:])
                self.apply(self.node.handler_answered(message, answer))
            elif isinstance(effect, fx.RequestItems):
                self.calls[effect.request.request_id].items.extend(effect.items)
            elif isinstance(effect, fx.RequestDone):
                call = self.calls[effect.request.request_id]
                call.outcome, call.request = effect.outcome, effect.request
                if call.then is not None:
                    call.then(call)
            elif isinstance(effect, fx.NodeJoined):
                self.joined.append((effect.nsp, effect.uid))
            elif isinstance(effect, fx.NodeLeft):
                self.left.append((effect.nsp, effect.uid))
            elif isinstance(effect, fx.Dropped):
                self.dropped.append(effect)
            else:  # pragma: no cover - a new effect type the harness does not know
                raise AssertionError(f"unknown effect {effect!r}")

    def describe(self, nsp: str, sids: Iterable[str]) -> list[dict[str, Any]]:
        """Node's socket details, as the shell builds them."""
        local = self.rooms.get(nsp, {})
        return [
            {"id": sid, "handshake": {"headers": {}, "query": {}, "auth": {}},
             "rooms": rooms_of(local, sid), "data": self.sessions.get(sid)}
            for sid in sids
        ]  # fmt: skip
