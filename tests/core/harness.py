"""Sans-IO cluster nodes wired together in memory, in the way h11 tests a pair of connections.

Nothing here does I/O, starts a task or reads a clock:

* :class:`Link` is a list-backed pub/sub server with Redis's semantics: a message is fanned out
  when it is published, to the connections subscribed at that moment (a channel, or a glob
  pattern as Redis matches it; a connection subscribed both ways gets it twice, as from Redis);
  ``numsub`` counts exact-channel subscribers, as ``PUBSUB NUMSUB`` does. Deliveries wait in one
  queue until :meth:`Link.run`; a paused peer's deliveries wait until it is resumed.
* :class:`Cluster` holds the manual clock: :meth:`Cluster.advance` moves ``now`` forward from
  one node deadline to the next, ticking every node that is due, and runs the link in between.
* :class:`Peer` is one server: a :class:`~sioadapter.core.node.ClusterNode`, python-socketio's
  room table (``rooms[nsp][room] = {sid: eio_sid}``, room None = every socket, each sid in its
  own room) and a fake local side that carries the node's effects out as the asyncio shell
  does, records what its clients received, and offers the manager's operations.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sioadapter.core import effects as fx
from sioadapter.core.membership import Membership
from sioadapter.core.messages import (
    AllRooms,
    Broadcast,
    DisconnectSockets,
    FetchSockets,
    RemoteDisconnect,
    RemoteJoin,
    RemoteLeave,
    ServerSideEmit,
    SocketIds,
    SocketsJoin,
    SocketsLeave,
    Target,
)
from sioadapter.core.node import ClusterNode
from sioadapter.core.requests import PendingRequest, RequestKind
from sioadapter.core.selection import rooms_of, select
from sioadapter.wire.classic import ClassicFamily
from sioadapter.wire.cluster import ClusterFamily
from sioadapter.wire.signing import Signer

KEY = "socket.io"
REQUESTS_TIMEOUT = 5.0
HEARTBEAT = {"interval": 5.0, "timeout": 10.0, "discovery": 1.0}


def redis_glob(pattern: str) -> re.Pattern[str]:
    """A regex matching what Redis's ``stringmatchlen`` matches: ``*``, ``?``, ``[a-z]``,
    ``[^x]`` and ``\\x`` escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


class Link:
    """The pub/sub server. ``batch=True``: each run hands a peer everything queued for it in
    one ``receive_batch`` call, as the shell does when the backend yields several at once."""

    def __init__(self, batch: bool = False) -> None:
        self.batch = batch
        self.channels: dict[Peer, set[str]] = {}
        self.patterns: dict[Peer, dict[str, re.Pattern[str]]] = {}
        self.queue: deque[tuple[Peer, str, bytes]] = deque()
        self.held: dict[Peer, list[tuple[Peer, str, bytes]]] = {}
        self.published: list[tuple[str | None, fx.Publish]] = []
        self.deliveries: dict[Peer, int] = {}

    def subscribe(self, peer: Peer, channels: Iterable[str] = (), patterns: Iterable[str] = ()):
        self.channels.setdefault(peer, set()).update(channels)
        table = self.patterns.setdefault(peer, {})
        for pattern in patterns:
            table[pattern] = redis_glob(pattern)

    def unsubscribe(self, peer: Peer, channels: Iterable[str] = (), patterns: Iterable[str] = ()):
        self.channels.get(peer, set()).difference_update(channels)
        for pattern in patterns:
            self.patterns.get(peer, {}).pop(pattern, None)

    def drop(self, peer: Peer) -> None:
        """The peer's connection is gone: no subscription, nothing queued for it."""
        self.channels.pop(peer, None)
        self.patterns.pop(peer, None)
        self.held.pop(peer, None)
        self.queue = deque(item for item in self.queue if item[0] is not peer)

    def numsub(self, channel: str) -> int:
        """``PUBSUB NUMSUB channel``: connections subscribed to exactly this channel."""
        return sum(channel in subscribed for subscribed in self.channels.values())

    def publish(self, sender: Peer | None, message: fx.Publish) -> int:
        """Fan out now; returns the number of receivers, as ``PUBLISH`` does."""
        self.published.append((sender.uid if sender else None, message))
        receivers = 0
        for peer in list(self.channels):
            copies = int(message.channel in self.channels[peer])
            copies += sum(
                bool(p.fullmatch(message.channel)) for p in self.patterns.get(peer, {}).values()
            )
            for _ in range(copies):
                self.queue.append((peer, message.channel, message.payload))
            receivers += copies
        return receivers

    def inject(self, channel: str, payload: bytes) -> int:
        """Publish raw bytes from outside the cluster (an emitter, a Node server, an attacker)."""
        return self.publish(None, fx.Publish(channel, payload))

    def on(self, channel: str) -> list[fx.Publish]:
        """What was published on ``channel``, in order."""
        return [message for _, message in self.published if message.channel == channel]

    def by(self, peer: Peer) -> list[fx.Publish]:
        """What ``peer`` published, in order."""
        return [message for uid, message in self.published if uid == peer.uid]

    def pause(self, peer: Peer) -> None:
        """Hold the peer's deliveries (a slow node)."""
        self.held.setdefault(peer, [])

    def resume(self, peer: Peer) -> None:
        self.queue.extend(self.held.pop(peer, []))

    def run(self, limit: int = 100_000) -> int:
        """Deliver until nothing is queued; returns how many messages were delivered."""
        delivered = 0
        while self.queue:
            if self.batch:
                pending, self.queue = list(self.queue), deque()
                batches: dict[Peer, list[tuple[str, bytes]]] = {}
                for item in pending:
                    if item[0] in self.held:
                        self.held[item[0]].append(item)
                    else:
                        batches.setdefault(item[0], []).append(item[1:])
                for peer, batch in batches.items():
                    self.deliveries[peer] = self.deliveries.get(peer, 0) + len(batch)
                    peer.apply(peer.node.receive_batch(batch, peer.cluster.now))
                    delivered += len(batch)
            else:
                peer, channel, payload = self.queue.popleft()
                if peer in self.held:
                    self.held[peer].append((peer, channel, payload))
                    continue
                self.deliveries[peer] = self.deliveries.get(peer, 0) + 1
                peer.apply(peer.node.receive(channel, payload, peer.cluster.now))
                delivered += 1
            assert delivered < limit, "the nodes keep talking: a message loop?"
        return delivered


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


class Peer:
    """One server: a node, its room table, its clients and the shell's part of each operation."""

    def __init__(self, cluster: Cluster, uid: str, **options: Any) -> None:
        self.cluster, self.uid, self.link = cluster, uid, cluster.link
        family_name = options.pop("family", cluster.family)
        mode = options.pop("mode", cluster.mode)
        keys = options.pop("signing_keys", None)
        heartbeat = options.pop("heartbeat", cluster.heartbeat)
        specific = options.pop("specific_responses", False)
        if family_name == "classic":
            family: Any = ClassicFamily(
                KEY, uid, subscription_mode=mode or "pattern",
                publish_on_specific_response_channel=specific,
            )  # fmt: skip
        else:
            family = ClusterFamily(KEY, uid, subscription_mode=mode or "dynamic")
        membership = Membership(uid, **heartbeat) if heartbeat else None
        counter = itertools.count(1)
        self.rooms: dict[str, dict[Any, dict[str, str]]] = {}
        self.node = ClusterNode(
            family, self.rooms, membership=membership,
            signer=Signer(keys) if keys else None,
            new_id=lambda: f"{uid}-{next(counter)}", **options,
        )  # fmt: skip
        self.stats = self.node.stats
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
        return f"<Peer {self.uid}>"

    # -- python-socketio's local side -------------------------------------------------------

    def serve(self, nsp: str = "/") -> None:
        channels, patterns = self.node.subscriptions(nsp)
        self.link.subscribe(self, channels, patterns)
        self.apply(self.node.serve(nsp, self.cluster.now))

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
        now = self.cluster.now
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
                sids = effect.sids
                if sids is None:
                    local = self.rooms.get(effect.nsp, {})
                    sids = list(select(local, effect.target.rooms, effect.target.except_rooms))
                for sid in sids:
                    for room in effect.rooms:
                        change = self.enter_room if effect.join else self.leave_room
                        change(sid, room, effect.nsp)
            elif isinstance(effect, fx.DisconnectLocal):
                sids = effect.sids
                if sids is None:
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

    # -- the manager's operations (the shell's part of each) --------------------------------

    def others(self, nsp: str) -> int | frozenset[str]:
        node = self.node
        if node.counts_by_heartbeat:
            assert node.discovery_wait(nsp, self.cluster.now) == 0, "advance past discovery"
            return node.members(nsp)
        return self.link.numsub(node.count_channel(nsp)) - 1

    def server_count(self, nsp: str = "/") -> int:
        others = self.others(nsp)
        return 1 + (others if isinstance(others, int) else len(others))

    def _open(self, kind: RequestKind, message: Any, timeout: float | None, *,
              others: int | frozenset[str] | None = None, single: bool = False,
              call: Call | None = None) -> Call:  # fmt: skip
        request_id = message.request_id
        call = call or Call(kind, request_id)
        self.calls[request_id] = call
        if others is None:
            others = self.others(message.nsp)
        timeout = REQUESTS_TIMEOUT if timeout is None else timeout
        call.request, effects = self.node.open_request(
            kind, request_id, message, others, timeout, self.cluster.now, single=single
        )
        self.apply(effects)
        return call

    def emit(self, event: str, *args: Any, to: Any = None, except_rooms: Any = None,
             nsp: str = "/", flags: dict[str, Any] | None = None) -> fx.Publish | None:  # fmt: skip
        """python-socketio delivers to this node's clients, the node publishes for the rest."""
        rooms, excluded = as_rooms(to), as_rooms(except_rooms)
        self._deliver(select(self.rooms.get(nsp, {}), rooms, excluded), [event, *args])
        publish = self.node.broadcast(nsp, [event, *args], rooms, excluded, flags or {},
                                      self.cluster.now)  # fmt: skip
        if publish is not None:
            self.link.publish(self, publish)
        return publish

    def emit_with_ack(self, event: str, *args: Any, to: Any = None, except_rooms: Any = None,
                      timeout: float = REQUESTS_TIMEOUT, single: bool = False,
                      nsp: str = "/") -> Call:  # fmt: skip
        rooms, excluded = as_rooms(to), as_rooms(except_rooms)
        request_id, publish = self.node.acked_broadcast(
            nsp, [event, *args], rooms, excluded, {}, timeout, single
        )
        call = Call(RequestKind.BROADCAST_ACK, request_id)
        self.calls[request_id] = call
        others = 0 if publish is None else self.others(nsp)  # a local socket: no one else
        call.request, effects = self.node.open_request(
            RequestKind.BROADCAST_ACK, request_id, publish, others, timeout, self.cluster.now,
            single=single,
        )  # fmt: skip
        self.apply(effects)
        sids = self._deliver(select(self.rooms.get(nsp, {}), rooms, excluded), [event, *args])
        for sid in sids:
            self.acks.setdefault(sid, []).append((request_id, None))
        self.apply(self.node.own_client_count(request_id, nsp, len(sids)))
        return call

    def ack(self, sid: str, *args: Any, nsp: str = "/") -> None:
        """The client ``sid`` acknowledges the oldest event it has not acknowledged yet."""
        request_id, group = self.acks[sid].pop(0)
        if group is None:
            self.apply(self.node.own_ack(request_id, nsp, list(args)))
        else:
            self.apply(self.node.client_acked(group.message, group.key, list(args)))

    def fetch_sockets(self, rooms: Any = None, except_rooms: Any = None, nsp: str = "/",
                      timeout: float | None = None) -> Call:  # fmt: skip
        target = Target(as_rooms(rooms), as_rooms(except_rooms))
        call = Call(RequestKind.FETCH_SOCKETS, self.node.new_id())
        local = self.rooms.get(nsp, {})
        call.local = self.describe(nsp, select(local, target.rooms, target.except_rooms))
        call.combine = lambda c: c.local + [details for _, details in c.results]
        return self._open(call.kind, FetchSockets(nsp, self.uid, call.request_id, target),
                          timeout, call=call)  # fmt: skip

    def all_rooms(self, nsp: str = "/", timeout: float | None = None) -> Call:
        own = set(self.rooms.get(nsp, {})) - {None}
        if not self.node.supports(AllRooms):  # the ClusterAdapter protocol: ask for sockets
            call = self.fetch_sockets(nsp=nsp, timeout=timeout)
            call.combine = lambda c: own | {r for s in c.results for r in s[1]["rooms"]}
            return call
        call = Call(
            RequestKind.ALL_ROOMS, self.node.new_id(), combine=lambda c: own | set(c.results)
        )
        return self._open(call.kind, AllRooms(nsp, self.uid, call.request_id), timeout, call=call)

    def sockets(self, rooms: Any = None, nsp: str = "/", timeout: float | None = None) -> Call:
        names = as_rooms(rooms)
        own = set(select(self.rooms.get(nsp, {}), names, ()))
        if not self.node.supports(SocketIds):
            call = self.fetch_sockets(names, nsp=nsp, timeout=timeout)
            call.combine = lambda c: own | {s["id"] for _, s in c.results}
            return call
        call = Call(
            RequestKind.SOCKET_IDS, self.node.new_id(), combine=lambda c: own | set(c.results)
        )
        message = SocketIds(nsp, self.uid, call.request_id, names)
        return self._open(call.kind, message, timeout, call=call)

    def _room_op(self, message: SocketsJoin | SocketsLeave | DisconnectSockets,
                 single: bool = False) -> fx.Publish | None:  # fmt: skip
        target, nsp = message.target, message.nsp
        publish = None
        if not (single and self.node.is_local_single(target, nsp)):
            publish = self.node.room_change(message, self.cluster.now)
            self.link.publish(self, publish)
        local = list(select(self.rooms.get(nsp, {}), target.rooms, target.except_rooms))
        for sid in local:
            if isinstance(message, DisconnectSockets):
                self.drop_socket(sid, nsp, message.close)
            else:
                for room in message.rooms:
                    change = (
                        self.enter_room if isinstance(message, SocketsJoin) else self.leave_room
                    )
                    change(sid, room, nsp)
        return publish

    def sockets_join(self, rooms: Any, to: Any = None, except_rooms: Any = None,
                     nsp: str = "/", single: bool = False) -> fx.Publish | None:  # fmt: skip
        target = Target(as_rooms(to), as_rooms(except_rooms))
        return self._room_op(SocketsJoin(nsp, self.uid, target, as_rooms(rooms)), single)

    def sockets_leave(self, rooms: Any, to: Any = None, except_rooms: Any = None,
                      nsp: str = "/", single: bool = False) -> fx.Publish | None:  # fmt: skip
        target = Target(as_rooms(to), as_rooms(except_rooms))
        return self._room_op(SocketsLeave(nsp, self.uid, target, as_rooms(rooms)), single)

    def disconnect_sockets(self, close: bool = False, to: Any = None, except_rooms: Any = None,
                           nsp: str = "/", single: bool = False) -> fx.Publish | None:  # fmt: skip
        target = Target(as_rooms(to), as_rooms(except_rooms))
        return self._room_op(DisconnectSockets(nsp, self.uid, target, close), single)

    def _remote_op(self, message: RemoteJoin | RemoteLeave | RemoteDisconnect) -> Call:
        """Classic: a request only the owner answers. Otherwise (or for a local sid): find the
        owner with FETCH_SOCKETS, then a room operation aimed at that one socket."""
        nsp, sid = message.nsp, message.sid

        def apply_targeted(_: Call | None = None) -> None:
            if isinstance(message, RemoteJoin):
                self.sockets_join(message.room, to=sid, nsp=nsp, single=True)
            elif isinstance(message, RemoteLeave):
                self.sockets_leave(message.room, to=sid, nsp=nsp, single=True)
            else:
                self.disconnect_sockets(message.close, to=sid, nsp=nsp, single=True)

        if self.node.owns(sid, nsp):
            apply_targeted()
            call = Call(RequestKind.REMOTE_OP, "local", outcome="completed")
            return call
        if not self.node.supports(type(message)):
            call = self.fetch_sockets([sid], nsp=nsp)

            def found(c: Call) -> None:
                if c.outcome == "completed" and c.results:
                    apply_targeted()
                else:
                    c.outcome = "not-found"

            call.then = found
            if call.done:
                found(call)
            return call
        message.request_id = self.node.new_id()
        return self._open(RequestKind.REMOTE_OP, message, None)

    def remote_join(self, sid: str, room: Any, nsp: str = "/") -> Call:
        return self._remote_op(RemoteJoin(nsp, self.uid, "", sid, room))

    def remote_leave(self, sid: str, room: Any, nsp: str = "/") -> Call:
        return self._remote_op(RemoteLeave(nsp, self.uid, "", sid, room))

    def remote_disconnect(self, sid: str, close: bool = False, nsp: str = "/") -> Call:
        return self._remote_op(RemoteDisconnect(nsp, self.uid, "", sid, close))

    def on(self, event: str, handler: Callable[..., Any], nsp: str = "/") -> None:
        self.handlers[(nsp, event)] = handler

    def server_side_emit(self, event: str, *args: Any, nsp: str = "/") -> fx.Publish:
        publish = self.node.encode(ServerSideEmit(nsp, self.uid, [event, *args]))
        self.link.publish(self, publish)
        return publish

    def server_side_call(self, event: str, *args: Any, nsp: str = "/",
                         timeout: float | None = None) -> Call:  # fmt: skip
        message = ServerSideEmit(nsp, self.uid, [event, *args], self.node.new_id())
        return self._open(RequestKind.SERVER_SIDE_EMIT, message, timeout)

    def withdraw(self, call: Call) -> None:
        self.apply(self.node.withdraw(call.request_id))

    def close(self) -> None:
        """The manager closes: the node's goodbyes go out, then the connection is dropped."""
        self.apply(self.node.close())
        self.cluster.remove(self)


class Cluster:
    """Peers on one link with one manual clock.

    Args:
        family: ``"classic"`` (counted by NUMSUB) or ``"cluster"`` (the ClusterAdapter
            protocol; counted by heartbeat unless ``heartbeat=None``).
        size: peers made at once (more with :meth:`add`).
        options: defaults for every peer (``mode``, ``signing_keys``, ``max_message_size``,
            ``ack_timeout``, ``room_grace``, ``heartbeat``...).
    """

    def __init__(self, family: str = "classic", size: int = 3, *, batch: bool = False,
                 namespaces: Iterable[str] = ("/",), **options: Any) -> None:  # fmt: skip
        self.family = family
        self.mode = options.pop("mode", None)
        default_heartbeat = HEARTBEAT if family == "cluster" else None
        self.heartbeat = options.pop("heartbeat", default_heartbeat)
        self.options = options
        self.namespaces = tuple(namespaces)
        self.now = 0.0
        self.link = Link(batch)
        self.peers: list[Peer] = []
        for _ in range(size):
            self.add()
        self.settle()

    def add(self, **options: Any) -> Peer:
        uid = f"{'abcdefghij'[len(self.peers)]}{len(self.peers) + 1}f3e9"
        peer = Peer(self, uid, **{**self.options, **options})
        self.peers.append(peer)
        for nsp in self.namespaces:
            peer.serve(nsp)
        self.run()
        return peer

    def settle(self) -> None:
        """Let the initial heartbeats be answered and the discovery window pass."""
        self.run()
        if self.heartbeat:
            self.advance(self.heartbeat["discovery"])

    def remove(self, peer: Peer) -> None:
        """The peer's process is gone (crashed, or closed): it neither hears nor ticks."""
        self.run()
        self.link.drop(peer)
        if peer in self.peers:
            self.peers.remove(peer)

    def run(self) -> int:
        return self.link.run()

    def advance(self, seconds: float) -> None:
        """Move the clock forward, firing each node's deadlines in time order."""
        end = self.now + seconds
        while True:
            self.run()
            due = [(d, i) for i, p in enumerate(self.peers)
                   if (d := p.node.next_deadline()) is not None and d <= end]  # fmt: skip
            if not due:
                break
            self.now = max(self.now, min(due)[0])
            for peer in list(self.peers):
                deadline = peer.node.next_deadline()
                if deadline is not None and deadline <= self.now:
                    peer.apply(peer.node.tick(self.now))
        self.now = end
        self.run()
