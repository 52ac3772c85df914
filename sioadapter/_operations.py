"""The Node-parity operations of AsyncClusterManager (DESIGN.md's table).

Each operation applies to this node's sockets directly and to the other nodes' through the
backend: requests (``fetch_sockets``, ``all_rooms``, ``server_side_call`` ...) wait for one
answer per other node, counted from the backend's subscriber count or from the heartbeat node
table, and end in :class:`~sioadapter.errors.RequestTimeoutError` (with the partial answers)
when some never come.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .core.messages import (
    AllRooms,
    ClusterMessage,
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
from .core.requests import RequestKind
from .core.selection import all_rooms as local_room_names
from .errors import RequestTimeoutError, SocketNotFoundError
from .hooks import BROADCAST_DELIVER, BROADCAST_PUBLISH, BROADCAST_PUBLISHED
from .remote_socket import RemoteSocket

if TYPE_CHECKING:
    import logging

    from ._runtime.bus import AsyncBus
    from ._runtime.local import LocalSide
    from .backends.base import Backend
    from .core.nodes import NodeTable
    from .plugins import PluginHost
    from .stats import Stats
    from .wire.base import Family

PUBLISH_HOOK = BROADCAST_PUBLISH
PUBLISHED_HOOK = BROADCAST_PUBLISHED
DELIVER_HOOK = BROADCAST_DELIVER
_BROADCAST_HOOKS = frozenset({PUBLISH_HOOK, PUBLISHED_HOOK, DELIVER_HOOK})

# Node refuses these names for server-side events (socket.io's RESERVED_EVENTS).
RESERVED_SERVER_EVENTS = frozenset({"connect", "connection", "new_namespace"})

ServerHandler = Callable[..., Any]


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


def ack_value(args: list[Any]) -> Any:
    """One acknowledgement as python-socketio's ``call()`` returns it."""
    if len(args) == 1:
        return args[0]
    return tuple(args) if args else None


def new_request_id() -> str:
    """A request id: 16 hex characters, like socket.io-adapter's ``randomBytes(8)``."""
    return secrets.token_hex(8)


class ClusterOperations:
    """Mixin of AsyncClusterManager: the cluster-wide operations."""

    if TYPE_CHECKING:
        uid: str
        backend: Backend
        requests_timeout: float
        heartbeats: bool
        stats: Stats
        _bus: AsyncBus
        _local: LocalSide
        _family: Family
        _nodes: dict[str, NodeTable]
        _discovered_at: dict[str, float]
        _log: logging.Logger
        _extra_namespaces: list[str]
        _started: bool
        plugins: PluginHost

        async def _serve(self, nsp: str) -> None: ...
        async def _publish_room_change(self, message: SocketsJoin | SocketsLeave) -> None: ...
        async def _rooms_ready(self, nsp: str, rooms: Any) -> None: ...
        def _spawn(self, coroutine: Any) -> Any: ...

    def _init_operations(self) -> None:
        self._server_handlers: dict[tuple[str, str], ServerHandler] = {}

    # -- plumbing ---------------------------------------------------------------------------

    async def _publish(self, message: ClusterMessage) -> None:
        await self._serve(message.nsp)
        self._bus.publish(message)
        await self._bus.wait_writable()

    async def _others(self, nsp: str) -> int | frozenset[str]:
        """The other nodes serving ``nsp``: a count, or their uids in heartbeat mode."""
        if self.heartbeats:
            # Right after this node announced itself in ``nsp`` the others' answers to its
            # INITIAL_HEARTBEAT are on their way: give them the discovery window to arrive.
            ready_at = self._discovered_at.get(nsp, 0.0)
            delay = ready_at - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)
            table = self._nodes.get(nsp)
            return table.uids if table is not None else frozenset()
        # Concurrent requests share one count in flight (a fixed number of connections).
        return await self._bus.count_others(self._family.count_channel(nsp))

    async def _request(
        self,
        kind: RequestKind,
        message: FetchSockets
        | AllRooms
        | SocketIds
        | ServerSideEmit
        | RemoteJoin
        | RemoteLeave
        | RemoteDisconnect,
        timeout: float | None = None,
    ) -> list[Any]:
        await self._serve(message.nsp)
        assert message.request_id is not None
        expected = 1 if kind is RequestKind.REMOTE_OP else await self._others(message.nsp)
        request, future = self._bus.open_request(
            message.request_id, kind, expected, timeout or self.requests_timeout
        )
        if not request.done:
            self._bus.publish(message)
        try:
            return await future
        finally:
            if not future.done():  # the caller was cancelled
                self._bus.withdraw(message.request_id)

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
        """The sockets of the whole cluster that the rooms select (Node's ``fetchSockets``).

        This node's sockets come first. ``local=True`` asks no other node.
        """
        await self._serve(namespace)
        target = Target(as_rooms(rooms), as_rooms(except_rooms))
        found = [
            RemoteSocket(
                self, namespace, await self._local.details(namespace, sid, eio_sid), self.uid
            )
            for sid, eio_sid in self._local.select(
                namespace, target.rooms, target.except_rooms
            ).items()
        ]
        if local:
            return found
        request = FetchSockets(namespace, self.uid, new_request_id(), target)
        try:
            answers = await self._request(RequestKind.FETCH_SOCKETS, request, timeout)
        except RequestTimeoutError as error:
            error.responses = [details for _, details in error.responses]
            raise
        for node, details in answers:
            try:
                found.append(RemoteSocket(self, namespace, details, node))
            except (TypeError, ValueError, AttributeError):
                self.stats.dropped_malformed += 1
        return found

    async def sockets_join(
        self,
        rooms: Any,
        to: Any = None,
        except_rooms: Any = None,
        namespace: str = "/",
        *,
        single: bool = False,
    ) -> None:
        """Make the selected sockets of the cluster join ``rooms`` (Node's ``socketsJoin``)."""
        target, names = self._room_op_target(to, except_rooms, single), as_rooms(rooms)
        if not self._is_local_single(target, namespace, single):
            await self._publish_room_change(SocketsJoin(namespace, self.uid, target, names))
        local = self._local.select(namespace, target.rooms, target.except_rooms)
        self._local.join(namespace, local, names)
        if local:
            await self._rooms_ready(namespace, names)

    async def sockets_leave(
        self,
        rooms: Any,
        to: Any = None,
        except_rooms: Any = None,
        namespace: str = "/",
        *,
        single: bool = False,
    ) -> None:
        """Make the selected sockets of the cluster leave ``rooms`` (Node's ``socketsLeave``)."""
        target, names = self._room_op_target(to, except_rooms, single), as_rooms(rooms)
        if not self._is_local_single(target, namespace, single):
            await self._publish_room_change(SocketsLeave(namespace, self.uid, target, names))
        self._local.leave(
            namespace, self._local.select(namespace, target.rooms, target.except_rooms), names
        )

    async def disconnect_sockets(
        self,
        close: bool = False,
        to: Any = None,
        except_rooms: Any = None,
        namespace: str = "/",
        *,
        single: bool = False,
    ) -> None:
        """Disconnect the selected sockets of the cluster (Node's ``disconnectSockets``).

        ``close=True`` closes their whole connection, not only this namespace.
        """
        target = self._room_op_target(to, except_rooms, single)
        if not self._is_local_single(target, namespace, single):
            await self._publish(DisconnectSockets(namespace, self.uid, target, close))
        local = self._local.select(namespace, target.rooms, target.except_rooms)
        await self._local.disconnect(namespace, local, close)

    @staticmethod
    def _room_op_target(to: Any, except_rooms: Any, single: bool) -> Target:
        flags = {"expectSingleResponse": True} if single else {}
        return Target(as_rooms(to), as_rooms(except_rooms), flags)

    def _is_local_single(self, target: Target, nsp: str, single: bool) -> bool:
        return single and len(target.rooms) == 1 and self._local.owns(str(target.rooms[0]), nsp)

    async def server_side_emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Send an event to the other servers' ``on()`` handlers (not to this one)."""
        self._check_server_event(event)
        await self._publish(ServerSideEmit(namespace, self.uid, [event, *args]))

    async def server_side_call(
        self, event: str, *args: Any, timeout: float | None = None, namespace: str = "/"
    ) -> list[Any]:
        """Send an event to the other servers and return each one's handler answer."""
        self._check_server_event(event)
        message = ServerSideEmit(namespace, self.uid, [event, *args], new_request_id())
        return await self._request(RequestKind.SERVER_SIDE_EMIT, message, timeout)

    @staticmethod
    def _check_server_event(event: str) -> None:
        if not isinstance(event, str):
            raise TypeError("a server-side event name must be a string")
        if event in RESERVED_SERVER_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")

    def on(self, event: str, handler: ServerHandler | None = None, namespace: str = "/") -> Any:
        """Register the handler of a server-side event (also usable as a decorator).

        The handler gets the event's arguments; it may be a coroutine function. Its return
        value answers ``server_side_call``. A node does not receive its own server-side emits.
        """
        self._check_server_event(event)

        def register(function: ServerHandler) -> ServerHandler:
            self._server_handlers[(namespace, event)] = function
            if namespace not in self._extra_namespaces:
                self._extra_namespaces.append(namespace)
                if self._started:
                    self._spawn(self._serve(namespace))
            return function

        return register if handler is None else register(handler)

    async def all_rooms(self, namespace: str = "/", *, timeout: float | None = None) -> set[Any]:
        """Every room of the cluster, socket-id rooms included (Node's ``allRooms``)."""
        await self._serve(namespace)
        rooms = set(local_room_names(self._local.namespace_rooms(namespace)))
        if AllRooms in self._family.supported:
            request = AllRooms(namespace, self.uid, new_request_id())
            rooms.update(await self._request(RequestKind.ALL_ROOMS, request, timeout))
        else:  # the ClusterAdapter protocol has no ALL_ROOMS: ask for the sockets instead
            for socket in await self.fetch_sockets(namespace=namespace, timeout=timeout):
                rooms.update(socket.rooms)
        return rooms

    async def sockets(
        self, rooms: Any = None, namespace: str = "/", *, timeout: float | None = None
    ) -> set[str]:
        """The ids of the cluster's sockets in ``rooms`` (all when None)."""
        await self._serve(namespace)
        names = as_rooms(rooms)
        sids = set(self._local.select(namespace, names, ()))
        if SocketIds in self._family.supported:
            request = SocketIds(namespace, self.uid, new_request_id(), names)
            sids.update(await self._request(RequestKind.SOCKET_IDS, request, timeout))
        else:
            sockets = await self.fetch_sockets(names, namespace=namespace, timeout=timeout)
            sids.update(socket.id for socket in sockets)
        return sids

    async def server_count(self, namespace: str = "/") -> int:
        """How many servers serve ``namespace``, this one included."""
        await self._serve(namespace)
        others = await self._others(namespace)
        return 1 + (others if isinstance(others, int) else len(others))

    async def remote_join(self, sid: str, room: Any, namespace: str = "/") -> None:
        """Make the socket ``sid`` join ``room``, wherever it is. SocketNotFoundError if no
        node has it."""
        await self._remote_op(sid, namespace, RemoteJoin(namespace, self.uid, "", sid, room))

    async def remote_leave(self, sid: str, room: Any, namespace: str = "/") -> None:
        """Make the socket ``sid`` leave ``room``, wherever it is."""
        await self._remote_op(sid, namespace, RemoteLeave(namespace, self.uid, "", sid, room))

    async def remote_disconnect(self, sid: str, close: bool = False, namespace: str = "/") -> None:
        """Disconnect the socket ``sid``, wherever it is."""
        await self._remote_op(sid, namespace, RemoteDisconnect(namespace, self.uid, "", sid, close))

    async def _remote_op(
        self, sid: str, nsp: str, message: RemoteJoin | RemoteLeave | RemoteDisconnect
    ) -> None:
        await self._serve(nsp)
        if self._local.owns(sid, nsp) or type(message) not in self._family.supported:
            # Local, or a protocol without the legacy single-socket requests: find the owner
            # with a FETCH_SOCKETS, then apply the operation as a targeted room operation.
            if not self._local.owns(sid, nsp) and not await self.fetch_sockets(
                [sid], namespace=nsp
            ):
                raise SocketNotFoundError(sid, nsp)
            if isinstance(message, RemoteJoin):
                await self.sockets_join(message.room, to=sid, namespace=nsp, single=True)
            elif isinstance(message, RemoteLeave):
                await self.sockets_leave(message.room, to=sid, namespace=nsp, single=True)
            else:
                await self.disconnect_sockets(message.close, to=sid, namespace=nsp, single=True)
            return
        message.request_id = new_request_id()
        try:
            await self._request(RequestKind.REMOTE_OP, message)
        except RequestTimeoutError:
            raise SocketNotFoundError(
                sid, nsp, f"no node answered within {self.requests_timeout:g} s"
            ) from None
