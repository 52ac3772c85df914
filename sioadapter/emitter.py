"""Emit into a Socket.IO cluster from a process that is not a Socket.IO server.

On Redis it is byte-compatible with Node's ``@socket.io/redis-emitter`` 5.x: the servers of
the cluster (Python with sioadapter, or Node with ``@socket.io/redis-adapter``) cannot tell the
two apart. Like the Node emitter it speaks the classic protocol there, unless ``protocol=`` or
a backend option (``mode="sharded"``) says otherwise. Any other installed backend's URL
(``nats://``, ``postgresql://``, ``amqp://``, a third party's) or a ready `Backend` works too:
the emitter then speaks the protocol the servers' managers pick on that backend, with uid
``"emitter"``, which servers never count as a node::

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
import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from ._runtime.assembly import take_streams_options
from ._runtime.emitter_sinks import (
    AsyncBackendSink,
    BackendSink,
    EntrySink,
    backend_for,
    family_for,
    redis_url_scheme,
    streams_family,
)
from .backends.base import Backend as BackendType
from .backends.redis import clients_from_spec
from .backends.redis_url import parse_redis_url
from .core.grace import RecentRoomChanges
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
from .errors import MessageTooLargeError
from .wire.base import Family
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


# Seconds a room stays on the namespace channel after this emitter moved sockets in or out of it
# (the managers' default room_grace).
_ROOM_GRACE = 2.0


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
        self,
        client: Any,
        sink: Any,
        family: Family,
        key: str,
        namespace: str,
        signing_keys: Sequence[bytes | str] | None,
        max_message_size: int | None,
    ) -> None:
        if max_message_size is not None and (
            isinstance(max_message_size, bool)
            or not isinstance(max_message_size, int)
            or max_message_size <= 0
        ):
            raise ValueError(
                f"max_message_size must be a positive number of bytes or None, "
                f"not {max_message_size!r}"
            )
        self.client = client
        self.key = key
        self.max_message_size = max_message_size
        self._sink = sink  # publish(channel, payload); shared with the operators' emitters
        self._family = family
        if signing_keys is not None and family.name == "streams":
            take_streams_options("streams", {}, signed=True)  # raises its ValueError
        self._signer = None if signing_keys is None else Signer(signing_keys)
        # Shared with the operators' emitters, as the sink is: see _emit_message.
        self._recent_rooms = RecentRoomChanges(_ROOM_GRACE) if family.has_room_channels else None
        self._selection = _Selection(nsp="/")
        if namespace != "/":
            self._selection = self.of(namespace)._selection

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
        # Right after this emitter moved sockets into or out of a room, a broadcast to it goes
        # on the namespace's channel, which nodes read in order with the move (a room channel
        # may not be subscribed yet), as a node's own broadcasts do (sioadapter.core.grace).
        recent, now = self._recent_rooms, time.monotonic()
        use_room_channel = recent is None or not any(
            recent.is_recent(selection.nsp, room, now) for room in selection.rooms
        )
        return self._encode(
            Broadcast(selection.nsp, EMITTER_UID, [event, *args], selection.target()),
            use_room_channel,
        )

    def _encode(self, message: ClusterMessage, use_room_channel: bool = True) -> tuple[str, bytes]:
        channel, payload = self._family.encode(message, use_room_channel=use_room_channel)
        if self._signer is not None:
            payload = self._signer.sign(channel, payload)
        if self.max_message_size is not None and len(payload) > self.max_message_size:
            raise MessageTooLargeError(len(payload), self.max_message_size)
        return channel, payload

    @property
    def _room_op_uid(self) -> str | None:
        # Node's Redis emitter sends room operations without a uid; on the ClusterAdapter
        # protocols every message names its sender, and "emitter" is never counted as a node.
        return None if self._family.name == "classic" else EMITTER_UID

    def _room_change(self, rooms: list[Room]) -> None:
        if self._recent_rooms is not None:
            self._recent_rooms.changed(self._selection.nsp, rooms, time.monotonic())

    def _join_message(self, rooms: Room | Iterable[Room]) -> tuple[str, bytes]:
        selection = self._selection
        self._room_change(_room_list(rooms))
        return self._encode(
            SocketsJoin(
                selection.nsp, self._room_op_uid, selection.target(False), _room_list(rooms)
            )
        )

    def _leave_message(self, rooms: Room | Iterable[Room]) -> tuple[str, bytes]:
        selection = self._selection
        self._room_change(_room_list(rooms))
        return self._encode(
            SocketsLeave(
                selection.nsp, self._room_op_uid, selection.target(False), _room_list(rooms)
            )
        )

    def _disconnect_message(self, close: bool) -> tuple[str, bytes]:
        selection = self._selection
        return self._encode(
            DisconnectSockets(selection.nsp, self._room_op_uid, selection.target(False), close)
        )

    def _server_side_message(self, event: str, args: tuple[Any, ...]) -> tuple[str, bytes]:
        if args and callable(args[-1]):
            raise ValueError("acknowledgements are not supported by an emitter")
        return self._encode(ServerSideEmit(self._selection.nsp, EMITTER_UID, [event, *args]))


def _parts(
    client: Any,
    protocol: str | None,
    subscription_mode: str | None,
    options: dict[str, Any],
    key: str,
) -> tuple[bool, Any, Family, dict[str, Any] | None]:
    """(direct, target, family, streams): ``direct`` when redis-py publishes for the emitter,
    with ``target`` the client or URL; otherwise ``target`` is the backend. ``streams``: the
    streams protocol's options (None for the others): redis-py then XADDs each message."""
    streams = take_streams_options(protocol, options)
    if streams is not None:
        if isinstance(client, BackendType) or (
            isinstance(client, str) and not redis_url_scheme(client)
        ):
            raise ValueError("protocol='streams' needs a Redis URL or a redis-py client")
        extra = [*options, *(["subscription_mode"] if subscription_mode is not None else [])]
        if extra:
            names = ", ".join(sorted(extra))
            raise ValueError(f"a streams emitter takes the streams options only, not {names}")
        return True, client, streams_family(key, streams), streams
    direct = (not isinstance(client, str) and not isinstance(client, BackendType)) or (
        isinstance(client, str)
        and redis_url_scheme(client)
        and protocol in (None, "classic")
        and not options
        and subscription_mode is None
    )
    if direct:
        return True, client, family_for(None, key, protocol, subscription_mode), None
    backend = backend_for(client, options)
    return False, backend, family_for(backend, key, protocol, subscription_mode), None


class Emitter(_EmitterBase):
    """Synchronous emitter.

    Args:
        client: where to emit. A Redis URL (any form `sioadapter.backends.redis_url`
            accepts) or a ready redis-py client: the messages go out through redis-py, in the
            classic protocol, as Node's emitter sends them. Any other backend URL, or a ready
            `sioadapter.backends.Backend` (the caller's to close): the messages go out through
            that backend, in the protocol the servers pick on it.
        key: the channel prefix of the cluster (Node's ``key``, ``channelPrefix``).
        namespace: the namespace to start with.
        signing_keys: sign every message with the first of these keys (the servers'
            ``signing_keys``: bytes or str, 16 bytes at least); None sends unsigned messages.
        max_message_size: bytes; an emit whose encoded message is larger raises
            `sioadapter.errors.MessageTooLargeError` and publishes nothing. None: no limit.
        protocol: the servers' ``protocol=`` when it is not their backend's default
            (``"cluster"`` for sharded Redis servers, say).
        subscription_mode: the servers' ``subscription_mode=`` on the ClusterAdapter
            protocol (single-room emits go to the room's own channel unless it is
            ``"static"``).
        backend_options: options for the backend built from the URL (``mode="sharded"``,
            ``credentials=``, ...), as a manager takes them.

    On a backend other than a redis-py client, the backend runs on an event loop in a thread
    of the emitter's own, and each call returns once the backend has published the message.
    A ready `Backend` given to it must not be connected yet; `close` closes it.
    """

    def __init__(self, client: Any = "redis://localhost:6379/0", key: str = "socket.io",
                 namespace: str = "/", *,
                 signing_keys: Sequence[bytes | str] | None = None,
                 max_message_size: int | None = 1 << 20, protocol: str | None = None,
                 subscription_mode: str | None = None, **backend_options: Any) -> None:  # fmt: skip
        direct, target, family, streams = _parts(
            client, protocol, subscription_mode, backend_options, key
        )
        self._owns_client = isinstance(client, str)
        if direct:
            redis_client = _sync_client(target) if isinstance(target, str) else target
            sink: Any = redis_client
            if streams is not None:
                sink = EntrySink(redis_client, streams["max_len"])
        else:
            sink = BackendSink(target)
            redis_client = target
        super().__init__(redis_client, sink, family, key, namespace, signing_keys, max_message_size)

    def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with ``args`` to the selected clients of the cluster."""
        self._sink.publish(*self._emit_message(event, args))

    def sockets_join(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets join ``rooms``."""
        self._sink.publish(*self._join_message(rooms))

    def sockets_leave(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets leave ``rooms``."""
        self._sink.publish(*self._leave_message(rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets; ``close`` also closes their connections."""
        self._sink.publish(*self._disconnect_message(close))

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the servers' ``mgr.on`` handlers (no acknowledgement)."""
        self._sink.publish(*self._server_side_message(event, args))

    def close(self) -> None:
        """Close the client or backend if this emitter made it from a URL (the caller's
        otherwise), and stop its loop thread if it has one."""
        if isinstance(self._sink, BackendSink):
            self._sink.close()
        elif self._owns_client:
            self.client.close()


class AsyncEmitter(_EmitterBase):
    """Asynchronous emitter: the same arguments and API as `Emitter`, with coroutine methods,
    on ``redis.asyncio`` clients or any backend (connected on the first message)."""

    def __init__(self, client: Any = "redis://localhost:6379/0", key: str = "socket.io",
                 namespace: str = "/", *,
                 signing_keys: Sequence[bytes | str] | None = None,
                 max_message_size: int | None = 1 << 20, protocol: str | None = None,
                 subscription_mode: str | None = None, **backend_options: Any) -> None:  # fmt: skip
        direct, target, family, streams = _parts(
            client, protocol, subscription_mode, backend_options, key
        )
        self._owns_client = isinstance(client, str)
        if direct:
            if isinstance(target, str):
                target, _ = clients_from_spec(parse_redis_url(target))
            sink: Any = target
            if streams is not None:
                sink = EntrySink(target, streams["max_len"])
        else:
            sink = AsyncBackendSink(target, owned=self._owns_client)
        super().__init__(target, sink, family, key, namespace, signing_keys, max_message_size)

    async def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with ``args`` to the selected clients of the cluster."""
        await self._sink.publish(*self._emit_message(event, args))

    async def sockets_join(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets join ``rooms``."""
        await self._sink.publish(*self._join_message(rooms))

    async def sockets_leave(self, rooms: Room | Iterable[Room]) -> None:
        """Make the selected sockets leave ``rooms``."""
        await self._sink.publish(*self._leave_message(rooms))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets; ``close`` also closes their connections."""
        await self._sink.publish(*self._disconnect_message(close))

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the servers' ``mgr.on`` handlers (no acknowledgement)."""
        await self._sink.publish(*self._server_side_message(event, args))

    async def aclose(self) -> None:
        """Close the client or backend if this emitter made it from a URL (the caller's
        otherwise)."""
        if isinstance(self._sink, AsyncBackendSink):
            await self._sink.aclose()
        elif self._owns_client:
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
