"""Emit into a Socket.IO cluster from a process that is not a Socket.IO server.

Byte-compatible with Node's ``@socket.io/redis-emitter`` 5.x: the servers of the cluster
(Python with sioadapter, or Node with ``@socket.io/redis-adapter``) cannot tell the two apart.
Like the Node emitter it speaks the classic protocol only (sharded servers do not hear it)::

    from sioadapter.emitter import Emitter

    emitter = Emitter("redis://localhost:6379/0")
    emitter.emit("news", {"title": "hello"})                  # every client of the cluster
    emitter.to("room-42").except_("muted").emit("chat", "hi")
    emitter.of("/admin").to("staff").sockets_join("audit")     # room operations too
    emitter.server_side_emit("reload-config", 2)              # the servers' mgr.on handlers

Operators return new emitters and never change the one they are called on, so a configured
emitter (``room = emitter.to("room-42")``) can be kept and reused. ``AsyncEmitter`` has the
same API with coroutine methods, on ``redis.asyncio`` clients.

``signing_keys=[key, ...]`` signs every message with the first key, as the cluster's servers
do (their ``signing_keys``; see docs/security.md); servers that require signatures drop what an
emitter without keys sends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from .backends.redis import clients_from_spec
from .backends.redis_url import parse_redis_url
from .core.messages import (
    EMITTER_UID,
    Broadcast,
    ClusterMessage,
    DisconnectSockets,
    Room,
    ServerSideEmit,
    SocketsJoin,
    SocketsLeave,
    Target,
)
from .wire.classic import ClassicFamily
from .wire.signing import Signer

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names Socket.IO reserves on the client side: an emitter refuses them with
``ValueError``, as Node's emitter does."""


def _room_list(rooms: Room | Iterable[Room]) -> list[Room]:
    if isinstance(rooms, (str, int)):
        return [rooms]
    return list(rooms)


@dataclasses.dataclass(frozen=True)
class _Selection:
    """What an emitter targets: namespace, rooms, except rooms and flags (immutable)."""

    nsp: str = "/"
    rooms: tuple[Room, ...] = ()
    except_rooms: tuple[Room, ...] = ()
    flags: tuple[tuple[str, Any], ...] = ()

    def target(self, with_flags: bool = True) -> Target:
        flags = dict(self.flags) if with_flags else {}
        return Target(list(dict.fromkeys(self.rooms)), list(dict.fromkeys(self.except_rooms)),
                      flags)  # fmt: skip


class _EmitterBase:
    """The operators and message building shared by Emitter and AsyncEmitter."""

    def __init__(
        self, client: Any, key: str, selection: _Selection, signer: Signer | None = None
    ) -> None:
        self.client = client
        self.key = key
        self._selection = selection
        self._family = ClassicFamily(key, EMITTER_UID)
        self._signer = signer

    def _with(self, **changes: Any) -> Any:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._selection = dataclasses.replace(self._selection, **changes)
        return clone

    @property
    def namespace(self) -> str:
        """The namespace this emitter targets."""
        return self._selection.nsp

    def of(self, namespace: str) -> Any:
        """An emitter for ``namespace`` (a missing leading ``/`` is added, as in Node)."""
        if not namespace.startswith("/"):
            namespace = f"/{namespace}"
        return self._with(nsp=namespace, rooms=(), except_rooms=(), flags=())

    def to(self, rooms: Room | Iterable[Room]) -> Any:
        """Target ``rooms`` (a room, a socket id, or several); adds to earlier ``to`` calls."""
        return self._with(rooms=self._selection.rooms + tuple(_room_list(rooms)))

    in_ = to

    def except_(self, rooms: Room | Iterable[Room]) -> Any:
        """Leave out the sockets in ``rooms``."""
        return self._with(except_rooms=self._selection.except_rooms + tuple(_room_list(rooms)))

    @property
    def volatile(self) -> Any:
        """The event may be dropped for clients that are not ready to receive it."""
        return self._flag("volatile", True)

    def compress(self, compress: bool) -> Any:
        """Whether the event may be compressed."""
        return self._flag("compress", bool(compress))

    def _flag(self, name: str, value: Any) -> Any:
        flags = dict(self._selection.flags)
        flags[name] = value
        return self._with(flags=tuple(flags.items()))

    def _emit_message(self, event: str, args: tuple[Any, ...]) -> tuple[str, bytes]:
        if not isinstance(event, str):
            raise TypeError("the event name must be a string")
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if args and callable(args[-1]):
            raise ValueError("acknowledgements are not supported by an emitter")
        selection = self._selection
        return self._encode(
            Broadcast(selection.nsp, EMITTER_UID, [event, *args], selection.target())
        )

    def _encode(self, message: ClusterMessage) -> tuple[str, bytes]:
        channel, payload = self._family.encode(message)
        if self._signer is not None:
            payload = self._signer.sign(channel, payload)
        return channel, payload

    def _join_message(self, rooms: Room | Iterable[Room]) -> tuple[str, bytes]:
        # The Node emitter sends these without a uid.
        selection = self._selection
        return self._encode(
            SocketsJoin(selection.nsp, None, selection.target(False), _room_list(rooms))
        )

    def _leave_message(self, rooms: Room | Iterable[Room]) -> tuple[str, bytes]:
        selection = self._selection
        return self._encode(
            SocketsLeave(selection.nsp, None, selection.target(False), _room_list(rooms))
        )

    def _disconnect_message(self, close: bool) -> tuple[str, bytes]:
        selection = self._selection
        return self._encode(DisconnectSockets(selection.nsp, None, selection.target(False), close))

    def _server_side_message(self, event: str, args: tuple[Any, ...]) -> tuple[str, bytes]:
        if args and callable(args[-1]):
            raise ValueError("acknowledgements are not supported by an emitter")
        return self._encode(ServerSideEmit(self._selection.nsp, EMITTER_UID, [event, *args]))


class Emitter(_EmitterBase):
    """Synchronous emitter on a redis-py client.

    Args:
        client: a Redis URL (any form `sioadapter.backends.redis_url` accepts) or a
            ready ``redis.Redis`` / ``redis.cluster.RedisCluster`` client.
        key: the channel prefix of the cluster (Node's ``key``).
        namespace: the namespace to start with.
        signing_keys: sign every message with the first of these keys (the servers'
            ``signing_keys``: bytes or str, 16 bytes at least); None sends unsigned messages.
    """

    def __init__(self, client: Any = "redis://localhost:6379/0", key: str = "socket.io",
                 namespace: str = "/", *,
                 signing_keys: Sequence[bytes | str] | None = None) -> None:  # fmt: skip
        signer = None if signing_keys is None else Signer(signing_keys)
        self._owns_client = isinstance(client, str)
        if isinstance(client, str):
            client = _sync_client(client)
        super().__init__(client, key, _Selection(nsp="/"), signer)
        if namespace != "/":
            self._selection = self.of(namespace)._selection

    def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with ``args`` to the selected clients of the cluster."""
        self.client.publish(*self._emit_message(event, args))

    def sockets_join(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets join ``rooms``."""
        self.client.publish(*self._join_message(rooms))

    def sockets_leave(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets leave ``rooms``."""
        self.client.publish(*self._leave_message(rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets; ``close`` also closes their connections."""
        self.client.publish(*self._disconnect_message(close))

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the servers' ``mgr.on`` handlers (no acknowledgement)."""
        self.client.publish(*self._server_side_message(event, args))

    def close(self) -> None:
        """Close the client if this emitter made it from a URL (the caller's otherwise)."""
        if self._owns_client:
            self.client.close()


class AsyncEmitter(_EmitterBase):
    """Asynchronous emitter on a ``redis.asyncio`` client (same API, coroutine methods)."""

    def __init__(self, client: Any = "redis://localhost:6379/0", key: str = "socket.io",
                 namespace: str = "/", *,
                 signing_keys: Sequence[bytes | str] | None = None) -> None:  # fmt: skip
        signer = None if signing_keys is None else Signer(signing_keys)
        self._owns_client = isinstance(client, str)
        if isinstance(client, str):
            client, _ = clients_from_spec(parse_redis_url(client))
        super().__init__(client, key, _Selection(nsp="/"), signer)
        if namespace != "/":
            self._selection = self.of(namespace)._selection

    async def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with ``args`` to the selected clients of the cluster."""
        await self.client.publish(*self._emit_message(event, args))

    async def sockets_join(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets join ``rooms``."""
        await self.client.publish(*self._join_message(rooms))

    async def sockets_leave(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets leave ``rooms``."""
        await self.client.publish(*self._leave_message(rooms))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets; ``close`` also closes their connections."""
        await self.client.publish(*self._disconnect_message(close))

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the servers' ``mgr.on`` handlers (no acknowledgement)."""
        await self.client.publish(*self._server_side_message(event, args))

    async def aclose(self) -> None:
        """Close the client if this emitter made it from a URL (the caller's otherwise)."""
        if self._owns_client:
            await self.client.aclose()


def _sync_client(url: str) -> Any:
    """A synchronous redis-py client for any accepted Redis URL."""
    spec = parse_redis_url(url)
    options = dict(spec.connection)
    if spec.tls:
        options["ssl"] = True
    if spec.topology == "cluster":
        from redis.cluster import ClusterNode, RedisCluster

        nodes = [ClusterNode(h, p) for h, p in spec.hosts]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes, **options)
    if spec.topology == "sentinel":
        from redis.sentinel import Sentinel

        assert spec.service_name is not None
        sentinel = Sentinel(spec.hosts, **options)  # type: ignore[no-untyped-call]
        return sentinel.master_for(spec.service_name, db=spec.db)  # type: ignore[no-untyped-call]
    if spec.unix_path is not None:
        options.pop("ssl", None)
        return redis.Redis(unix_socket_path=spec.unix_path, db=spec.db, **options)
    host, port = spec.hosts[0]
    return redis.Redis(host=host, port=port, db=spec.db, **options)


__all__ = ["RESERVED_EVENTS", "AsyncEmitter", "Emitter"]
