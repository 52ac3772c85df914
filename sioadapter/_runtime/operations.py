"""The Node-parity operations (DESIGN.md's table), on the asyncio runtime.

Each operation applies to this node's sockets directly and to the other nodes' through the
node's effects: requests (``fetch_sockets``, ``all_rooms``, ``server_side_call`` ...) wait for
the answers the node expects, counted from the backend's subscriber count (shared by concurrent
requests) or from heartbeat membership, and end in
:class:`~sioadapter.errors.RequestTimeoutError` (with the partial answers) when some never
come. Where the wire family cannot carry a request the node says so (``supports``) and the
operation falls back on one it can.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from ..core.messages import (
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
from ..core.node import ClusterNode
from ..core.requests import PendingRequest, RequestKind
from ..core.selection import all_rooms as local_room_names
from ..errors import RequestTimeoutError, SocketNotFoundError, WriteOnlyError
from ..remote_socket import RemoteSocket
from .runner import EffectRunner
from .waits import Waiter

__all__ = ["RESERVED_SERVER_EVENTS", "ClusterOperations", "as_args", "as_rooms"]

# Node refuses these names for server-side events (socket.io's RESERVED_EVENTS).
RESERVED_SERVER_EVENTS = frozenset({"connect", "connection", "new_namespace"})

Serve = Callable[[str], Awaitable[None]]
SocketFactory = Callable[[str, dict[str, Any], str], RemoteSocket]
RoomsReady = Callable[[str, Any], Awaitable[None]]


def as_args(data: Any) -> list[Any]:
    """python-socketio's convention: a tuple is several arguments, None is none."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


def as_rooms(value: Any) -> list[Any]:
    """A room, a sid, or a collection of them, as a list (None: empty)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def check_server_event(event: str) -> None:
    """TypeError/ValueError for a name Node would refuse for a server-side event."""
    if not isinstance(event, str):
        raise TypeError("a server-side event name must be a string")
    if event in RESERVED_SERVER_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name")


class ClusterOperations:
    """The cluster-wide operations of one manager.

    Args:
        node: the manager's node.
        runner: carries out the node's effects.
        serve: makes sure the node serves a namespace (subscribing first).
        requests_timeout: default seconds to wait for answers.
        make_socket: builds a RemoteSocket from (namespace, details, node uid).
        rooms_ready: waits until the room channels of rooms just joined locally are active.
    """

    def __init__(
        self,
        node: ClusterNode,
        runner: EffectRunner,
        serve: Serve,
        requests_timeout: float,
        make_socket: SocketFactory,
        rooms_ready: RoomsReady,
        *,
        write_only: bool = False,
    ) -> None:
        self.write_only = write_only
        self.node = node
        self.runner = runner
        self.serve = serve
        self.requests_timeout = requests_timeout
        self.make_socket = make_socket
        self.rooms_ready = rooms_ready
        self.local = runner.local
        self.bus = runner.bus

    # -- plumbing ---------------------------------------------------------------------------

    async def publish(
        self, message: ServerSideEmit | SocketsJoin | SocketsLeave | DisconnectSockets
    ) -> None:
        """Publish a message that expects no answer (room changes start their grace)."""
        await self.serve(message.nsp)
        now = asyncio.get_running_loop().time()
        if isinstance(message, ServerSideEmit):
            self.bus.publish(self.node.encode(message))
        else:
            self.bus.publish(self.node.room_change(message, now))
        await self.bus.wait_writable()

    def check_answerable(self) -> None:
        """WriteOnlyError on a write-only manager: it never subscribes, so it can neither
        count the cluster (it is not part of what it would count) nor hear answers."""
        if self.write_only:
            raise WriteOnlyError(
                "this manager is write_only=True: it never subscribes, so it cannot make "
                "requests that wait for answers (emit, enter_room, leave_room, close_room and "
                "disconnect work)"
            )

    async def others(self, nsp: str) -> int | frozenset[str]:
        """The other nodes serving ``nsp``: a count, or their uids (heartbeat membership)."""
        self.check_answerable()
        node = self.node
        if node.counts_by_heartbeat:
            # Right after this node announced itself the others' answers to its initial
            # heartbeat are on their way: give them the discovery window to arrive.
            delay = node.discovery_wait(nsp, asyncio.get_running_loop().time())
            if delay > 0:
                await asyncio.sleep(delay)
            return node.members(nsp)
        return await self.bus.count_others(node.count_channel(nsp))

    async def open(
        self,
        kind: RequestKind,
        request_id: str,
        outgoing: Any,
        nsp: str,
        timeout: float | None = None,
        *,
        others: int | Collection[str] | None = None,
        single: bool = False,
        on_item: Callable[[Any], None] | None = None,
    ) -> tuple[PendingRequest, Waiter]:
        """Open a request and publish it (after opening it, so no answer can come first)."""
        self.check_answerable()
        await self.serve(nsp)
        if others is None:
            others = 1 if kind is RequestKind.REMOTE_OP else await self.others(nsp)
        waiter = self.runner.waits.waiter(on_item)
        now = asyncio.get_running_loop().time()
        seconds = timeout or self.requests_timeout
        request, effects = self.node.open_request(
            kind, request_id, outgoing, others, seconds, now, single=single, context=waiter
        )
        self.runner.run(effects)
        return request, waiter

    async def wait(self, request: PendingRequest, waiter: Waiter) -> list[Any]:
        """The answers of an open request; a cancelled caller withdraws it."""
        try:
            return await waiter.future
        finally:
            if not waiter.future.done():  # the caller was cancelled
                self.runner.run(self.node.withdraw(request.request_id))

    async def request(
        self,
        kind: RequestKind,
        request_id: str,
        outgoing: Any,
        nsp: str,
        timeout: float | None = None,
    ) -> list[Any]:
        """Open a request, publish it, and return its answers."""
        request, waiter = await self.open(kind, request_id, outgoing, nsp, timeout)
        return await self.wait(request, waiter)

    # -- Node-parity API --------------------------------------------------------------------

    async def fetch_sockets(
        self,
        rooms: Any = None,
        except_rooms: Any = None,
        namespace: str = "/",
        *,
        timeout: float | None = None,
        local: bool = False,
    ) -> list[RemoteSocket]:
        """See AsyncClusterManager.fetch_sockets."""
        await self.serve(namespace)
        target = Target(as_rooms(rooms), as_rooms(except_rooms))
        selected = self.local.select(namespace, target.rooms, target.except_rooms)
        found = [
            self.make_socket(namespace, details, self.node.uid)
            for details in await self.local.describe(namespace, selected)
        ]
        if local:
            return found
        request_id = self.node.new_id()
        request = FetchSockets(namespace, self.node.uid, request_id, target)
        try:
            answers = await self.request(
                RequestKind.FETCH_SOCKETS, request_id, request, namespace, timeout
            )
        except RequestTimeoutError as error:
            error.responses = [details for _, details in error.responses]
            raise
        for node, details in answers:
            try:
                found.append(self.make_socket(namespace, details, node))
            except (TypeError, ValueError, AttributeError):
                self.node.stats.dropped_malformed += 1
        return found

    async def room_operation(
        self,
        message: SocketsJoin | SocketsLeave | DisconnectSockets,
        single: bool,
    ) -> dict[str, Any]:
        """Publish a room operation unless it targets one local socket; returns the local
        sockets it selects."""
        target, nsp = message.target, message.nsp
        if not (single and self.node.is_local_single(target, nsp)):
            await self.publish(message)
        return self.local.select(nsp, target.rooms, target.except_rooms)

    async def sockets_join(
        self, rooms: Any, to: Any, except_rooms: Any, namespace: str, single: bool
    ) -> None:
        """See AsyncClusterManager.sockets_join."""
        target, names = room_op_target(to, except_rooms, single), as_rooms(rooms)
        message = SocketsJoin(namespace, self.node.uid, target, names)
        local = await self.room_operation(message, single)
        self.local.join(namespace, local, names)
        if local:
            await self.rooms_ready(namespace, names)

    async def sockets_leave(
        self, rooms: Any, to: Any, except_rooms: Any, namespace: str, single: bool
    ) -> None:
        """See AsyncClusterManager.sockets_leave."""
        target, names = room_op_target(to, except_rooms, single), as_rooms(rooms)
        message = SocketsLeave(namespace, self.node.uid, target, names)
        self.local.leave(namespace, await self.room_operation(message, single), names)

    async def disconnect_sockets(
        self, close: bool, to: Any, except_rooms: Any, namespace: str, single: bool
    ) -> None:
        """See AsyncClusterManager.disconnect_sockets."""
        target = room_op_target(to, except_rooms, single)
        message = DisconnectSockets(namespace, self.node.uid, target, close)
        await self.local.disconnect(namespace, await self.room_operation(message, single), close)

    async def server_side_emit(self, event: str, args: tuple[Any, ...], namespace: str) -> None:
        """See AsyncClusterManager.server_side_emit."""
        check_server_event(event)
        await self.publish(ServerSideEmit(namespace, self.node.uid, [event, *args]))

    async def server_side_call(
        self, event: str, args: tuple[Any, ...], timeout: float | None, namespace: str
    ) -> list[Any]:
        """See AsyncClusterManager.server_side_call."""
        check_server_event(event)
        request_id = self.node.new_id()
        message = ServerSideEmit(namespace, self.node.uid, [event, *args], request_id)
        return await self.request(
            RequestKind.SERVER_SIDE_EMIT, request_id, message, namespace, timeout
        )

    async def all_rooms(self, namespace: str, timeout: float | None) -> set[Any]:
        """See AsyncClusterManager.all_rooms."""
        await self.serve(namespace)
        rooms = set(local_room_names(self.local.namespace_rooms(namespace)))
        if self.node.supports(AllRooms):
            request_id = self.node.new_id()
            request = AllRooms(namespace, self.node.uid, request_id)
            rooms.update(
                await self.request(RequestKind.ALL_ROOMS, request_id, request, namespace, timeout)
            )
        else:  # the ClusterAdapter protocol has no ALL_ROOMS: ask for the sockets instead
            for socket in await self.fetch_sockets(namespace=namespace, timeout=timeout):
                rooms.update(socket.rooms)
        return rooms

    async def sockets(self, rooms: Any, namespace: str, timeout: float | None) -> set[str]:
        """See AsyncClusterManager.sockets."""
        await self.serve(namespace)
        names = as_rooms(rooms)
        sids = set(self.local.select(namespace, names, ()))
        if self.node.supports(SocketIds):
            request_id = self.node.new_id()
            request = SocketIds(namespace, self.node.uid, request_id, names)
            sids.update(
                await self.request(RequestKind.SOCKET_IDS, request_id, request, namespace, timeout)
            )
        else:
            sockets = await self.fetch_sockets(names, namespace=namespace, timeout=timeout)
            sids.update(socket.id for socket in sockets)
        return sids

    async def server_count(self, namespace: str) -> int:
        """See AsyncClusterManager.server_count."""
        await self.serve(namespace)
        others = await self.others(namespace)
        return 1 + (others if isinstance(others, int) else len(others))

    async def remote_op(
        self, sid: str, nsp: str, message: RemoteJoin | RemoteLeave | RemoteDisconnect
    ) -> None:
        """See AsyncClusterManager.remote_join / remote_leave / remote_disconnect."""
        await self.serve(nsp)
        owned = self.node.owns(sid, nsp)
        if owned or not self.node.supports(type(message)):
            # Local, or a protocol without the legacy single-socket requests: find the owner
            # with a FETCH_SOCKETS, then apply the operation as a targeted room operation.
            if not owned and not await self.fetch_sockets([sid], namespace=nsp):
                raise SocketNotFoundError(sid, nsp)
            if isinstance(message, RemoteJoin):
                await self.sockets_join(message.room, sid, None, nsp, True)
            elif isinstance(message, RemoteLeave):
                await self.sockets_leave(message.room, sid, None, nsp, True)
            else:
                await self.disconnect_sockets(message.close, sid, None, nsp, True)
            return
        message.request_id = self.node.new_id()
        try:
            await self.request(RequestKind.REMOTE_OP, message.request_id, message, nsp)
        except RequestTimeoutError:
            raise SocketNotFoundError(
                sid, nsp, f"no node answered within {self.requests_timeout:g} s"
            ) from None


def room_op_target(to: Any, except_rooms: Any, single: bool) -> Target:
    """The target of a room operation (``single``: one socket, Node's expectSingleResponse)."""
    flags = {"expectSingleResponse": True} if single else {}
    return Target(as_rooms(to), as_rooms(except_rooms), flags)
