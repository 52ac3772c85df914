"""Sans-IO cluster nodes wired together in memory, in the way h11 tests a pair of connections.

Nothing here does I/O, starts a task or reads a clock:

* :class:`~.link.Link` is the pub/sub server (Redis's fan-out, glob patterns and NUMSUB);
* :class:`Cluster` holds the manual clock: :meth:`Cluster.advance` moves ``now`` forward from
  one node deadline to the next, ticking every node that is due, and runs the link in between;
* :class:`Peer` is one server: a :class:`~sioadapter.core.node.ClusterNode`, its fake local
  side (:class:`~.local.LocalSide`: python-socketio's room table and clients, the effects
  carried out as the asyncio shell does), and the shell's part of each manager operation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from sioadapter.core import effects as fx
from sioadapter.core.membership import Membership
from sioadapter.core.messages import (
    AllRooms,
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
from sioadapter.core.requests import RequestKind
from sioadapter.core.selection import select
from sioadapter.wire.classic import ClassicFamily
from sioadapter.wire.cluster import ClusterFamily
from sioadapter.wire.signing import Signer

from .link import Link
from .local import AckGroup, Call, LocalSide, as_rooms

__all__ = ["HEARTBEAT", "KEY", "REQUESTS_TIMEOUT", "AckGroup", "Call", "Cluster", "Link", "Peer"]

KEY = "socket.io"
REQUESTS_TIMEOUT = 5.0
HEARTBEAT = {"interval": 5.0, "timeout": 10.0, "discovery": 1.0}


class Peer(LocalSide):
    """One server: a node, its local side, and the shell's part of each operation."""

    def __init__(self, cluster: Cluster, uid: str, **options: Any) -> None:
        super().__init__(uid, cluster.link, lambda: cluster.now)
        self.cluster = cluster
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
        self.node = ClusterNode(
            family, self.rooms, membership=membership,
            signer=Signer(keys) if keys else None,
            new_id=lambda: f"{uid}-{next(counter)}", **options,
        )  # fmt: skip
        self.stats = self.node.stats

    # -- the manager's operations (the shell's part of each) --------------------------------

    def serve(self, nsp: str = "/") -> None:
        channels, patterns = self.node.subscriptions(nsp)
        self.link.subscribe(self, channels, patterns)
        self.apply(self.node.serve(nsp, self.clock()))

    def others(self, nsp: str) -> int | frozenset[str]:
        node = self.node
        if node.counts_by_heartbeat:
            assert node.discovery_wait(nsp, self.clock()) == 0, "advance past discovery"
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
            kind, request_id, message, others, timeout, self.clock(), single=single
        )
        self.apply(effects)
        return call

    def emit(self, event: str, *args: Any, to: Any = None, except_rooms: Any = None,
             nsp: str = "/", flags: dict[str, Any] | None = None) -> fx.Publish | None:  # fmt: skip
        """python-socketio delivers to this node's clients, the node publishes for the rest."""
        rooms, excluded = as_rooms(to), as_rooms(except_rooms)
        self._deliver(select(self.rooms.get(nsp, {}), rooms, excluded), [event, *args])
        publish = self.node.broadcast(nsp, [event, *args], rooms, excluded, flags or {},
                                      self.clock())  # fmt: skip
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
            RequestKind.BROADCAST_ACK, request_id, publish, others, timeout, self.clock(),
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
            publish = self.node.room_change(message, self.clock())
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
