"""AsyncClusterManager: python-socketio's AsyncManager contract, served by a cluster.

Pass it to ``socketio.AsyncServer(client_manager=...)``. Everything python-socketio's server
does (emit to rooms and sids, callbacks, ``call``, room changes, disconnects) then works for
sockets on any node. The Node-parity operations (``fetch_sockets``, ``emit_with_ack``,
``server_side_call`` ...) come from :class:`~sioadapter._operations.ClusterOperations`.

Structure: python-socketio calls the methods below; decisions come from ``sioadapter.core``,
bytes from the wire family, I/O from :class:`~sioadapter._bus.AsyncBus`, local effects from
:class:`~sioadapter._local.LocalSide`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ._acks import AckOperations
from ._bus import AsyncBus, stopped
from ._contract import SocketIOContract
from ._inbound import InboundHandling
from ._local import LocalSide
from ._operations import ClusterOperations
from ._request_waits import CALL_TIMEOUT
from ._room_channels import RoomChannels
from ._runtime.socketio_private import (
    AsyncServerPort,
    bound_call_timeout,
    intercept_connect,
    pending_acks,
)
from .backends import backend_from_url
from .backends.base import Backend
from .core.messages import (
    AdapterClose,
    Heartbeat,
)
from .core.nodes import NodeTable
from .core.requests import PendingRequest
from .errors import ManagerClosedError, OutputBufferLimitError, RequestTimeoutError
from .plugins import PluginHost
from .stats import Stats
from .wire.base import Family
from .wire.classic import ClassicFamily
from .wire.cluster import ClusterFamily
from .wire.signing import Signer

logger = logging.getLogger("sioadapter")

PROTOCOLS = ("classic", "cluster")
_CLIENT_OPTIONS = {"client", "pub_client", "sub_client"}

DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
"""1 MiB: the size of Socket.IO's own ``maxHttpBufferSize``, and far below what trips Redis's
default ``client-output-buffer-limit pubsub 32mb 8mb 60`` (see docs/operations.md)."""


class AsyncClusterManager(SocketIOContract, InboundHandling, AckOperations, ClusterOperations):
    """A python-socketio client manager that makes many AsyncServers one cluster.

    Args:
        url: the backend URL (``redis://...``, ``memory://NAME`` ...); the scheme picks the
            backend through the ``sioadapter.backends`` entry points. A bare ``host:port``
            means Redis. Default ``redis://localhost:6379/0``, unless redis-py clients are
            given as ``client=`` or ``pub_client=``/``sub_client=`` (Node's pubClient and
            subClient; ``fakeredis.FakeAsyncRedis`` works too).
        backend: a ready backend instance, instead of a URL.
        key: the channel prefix, Node's ``key`` / ``channelPrefix`` option.
        requests_timeout: seconds to wait for the answers of a cluster request.
        ack_timeout: seconds to keep a callback for a client on another node (``sio.emit(...,
            callback=)``) before giving up on it.
        protocol: ``"classic"`` or ``"cluster"``; by default classic when the backend has
            pattern subscriptions and no sharding, else the ClusterAdapter protocol.
        publish_on_specific_response_channel: classic protocol only, Node's option.
        subscription_mode: how a node subscribes to broadcast channels. ClusterAdapter
            protocol: ``dynamic`` (default), ``dynamic-private`` or ``static``, Node's option.
            Classic protocol: ``pattern`` (default, as Node) or ``dynamic-private`` (one
            subscription per local room: nodes are not woken by other rooms' broadcasts; see
            :class:`~sioadapter.wire.classic.ClassicFamily`).
        heartbeat_interval: seconds between heartbeats, for backends that cannot count
            subscribers (nodes are then counted by heartbeat).
        heartbeat_timeout: seconds of silence after which such a node counts as gone.
        heartbeat_discovery: seconds a request waits, right after this node joined a
            namespace, for the other nodes to answer its first heartbeat.
        room_grace: ClusterAdapter dynamic modes only: seconds during which broadcasts to a
            room this node just made other nodes' sockets join or leave go on the namespace
            channel, in order with the change, rather than on the room channel.
        namespaces: namespaces to serve from the start besides the server's own.
        max_queue: publish queue length (messages) above which emitters wait; during an
            outage a message that finds the queue full is dropped, counted in
            ``stats.publish_failed`` and logged.
        max_queue_bytes: the same bound in payload bytes (default 64 MiB).
        publish_timeout: seconds publishing waits, once the backend answers again after an
            outage, for the cluster's subscribers to come back before it sends what it held
            (outages themselves may last any length: what they hold is bounded by the queue).
        max_message_size: bytes (``None``: no limit). An emit whose encoded message is larger
            raises :class:`~sioadapter.errors.MessageTooLargeError` before anything is
            published; larger received messages are dropped undecoded
            (``stats.dropped_oversized``). Default 1 MiB.
        logger: a logger (default ``logging.getLogger("sioadapter")``).
        plugins: plugin objects, names of ``sioadapter.plugins`` entry points, or
            ``(name, options)`` pairs (see :mod:`sioadapter.hooks`).
        host: with ``port`` and no URL: ``redis://host:port/0``, as in Node's adapter.
        port: see ``host``.
        signing_keys: opt-in HMAC-SHA256 message signing (docs/security.md): the first key
            signs what this node publishes; a received message must be signed with one of
            them for its channel, or it is dropped undecoded (``stats.dropped_unsigned``,
            ``stats.dropped_forged``). bytes or str (UTF-8), 16 bytes at least. Without keys,
            nothing is signed and other nodes' signatures are ignored.
        require_signatures: False: with ``signing_keys``, accept unsigned messages too (signed
            ones must still verify): for rolling upgrades and clusters with Node servers, which
            cannot sign. That gives no protection against forgery.
        **backend_options: passed to the backend class's ``from_url``.
    """

    name = "sioadapter"

    def __init__(
        self,
        url: str | None = None,
        *,
        backend: Backend | None = None,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        ack_timeout: float = 60.0,
        protocol: str | None = None,
        publish_on_specific_response_channel: bool = False,
        subscription_mode: str | None = None,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
        heartbeat_discovery: float = 0.1,
        room_grace: float = 2.0,
        namespaces: Iterable[str] = (),
        max_queue: int = 10_000,
        max_queue_bytes: int = 64 << 20,
        publish_timeout: float = 5.0,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        logger: logging.Logger | None = None,
        host: str | None = None,
        port: int | None = None,
        plugins: Iterable[Any] = (),
        signing_keys: Sequence[bytes | str] | None = None,
        require_signatures: bool = True,
        **backend_options: Any,
    ) -> None:
        super().__init__()
        if requests_timeout <= 0 or ack_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if max_message_size is not None and (
            isinstance(max_message_size, bool)
            or not isinstance(max_message_size, int)
            or max_message_size <= 0
        ):
            raise ValueError(
                f"max_message_size must be a positive number of bytes or None, "
                f"not {max_message_size!r}"
            )
        self._signer = None if signing_keys is None else Signer(signing_keys)
        self.require_signatures = bool(require_signatures)
        if backend is None:
            if url is None and backend_options.keys() & _CLIENT_OPTIONS:
                # Ready redis-py clients (Node's pubClient/subClient), fakeredis included.
                from .backends.redis import RedisBackend

                backend = RedisBackend(**backend_options)
            else:
                if url is None:
                    url = f"redis://{host or 'localhost'}:{port or 6379}/0"
                backend = backend_from_url(url, **backend_options)
        elif url is not None or backend_options:
            raise ValueError("pass either a URL (with backend options) or a backend, not both")
        self.backend = backend
        self.key = key
        self.uid = secrets.token_hex(8)
        self.host_id = self.uid  # python-socketio's admin UI shows it as the server id
        self.requests_timeout = float(requests_timeout)
        self.ack_timeout = float(ack_timeout)
        self.logger = logger
        self.stats = Stats()
        self.plugins = PluginHost(self, plugins)
        self._log = logger or globals()["logger"]
        caps = backend.capabilities
        classic_fits = caps.patterns and not caps.sharded and caps.counts_subscribers
        if protocol is None:
            protocol = "classic" if classic_fits else "cluster"
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
        if protocol == "classic" and not classic_fits:
            raise ValueError(
                "the classic protocol needs pattern subscriptions and subscriber counts, "
                "which this backend does not offer"
            )
        self._family: Family = (
            ClassicFamily(
                key,
                self.uid,
                publish_on_specific_response_channel=publish_on_specific_response_channel,
                subscription_mode=subscription_mode or "pattern",
            )
            if protocol == "classic"
            else ClusterFamily(key, self.uid, subscription_mode=subscription_mode or "dynamic")
        )
        self.protocol = protocol
        self.heartbeats = not caps.counts_subscribers
        self.heartbeat_interval = heartbeat_interval
        self._nodes: dict[str, NodeTable] = {}
        self._discovered_at: dict[str, float] = {}
        self.heartbeat_discovery = heartbeat_discovery
        self._heartbeat_timeout = heartbeat_timeout
        self._bus = AsyncBus(
            backend,
            self._family,
            self._on_message,
            self.stats,
            self._log,
            max_queue,
            publish_timeout,
            on_done=self._request_done,
            max_queue_bytes=max_queue_bytes,
            max_message_size=max_message_size,
            census_channels=self._count_channels,
        )
        self.max_message_size = max_message_size
        self.stats.set_gauge_source(self._gauges)
        self._bus.signer = self._signer
        backend.set_error_handler(self._on_backend_error)
        self._local = LocalSide(self)
        self._served: set[str] = set()
        self._serving: dict[str, asyncio.Future[None]] = {}
        self._extra_namespaces = list(namespaces)
        self._room_channels: dict[str, int] = {}
        self._rooms: RoomChannels | None = None  # set when the protocol has room channels
        self._room_grace = room_grace
        self._tasks: set[asyncio.Future[Any]] = set()
        self._daemons: list[asyncio.Future[Any]] = []  # tasks that live as long as the manager
        self._timers: set[asyncio.TimerHandle] = set()
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._closed = False
        self._logged_kinds: set[str] = set()
        self._init_operations()
        self._dispatch = self._inbound_handlers()
        self._inbound_size = 0

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def family(self) -> Family:
        """The protocol family in use: channel names and payload layouts."""
        return self._family

    @property
    def healthy(self) -> bool:
        """True when started and every background task (writer, listener, subscriber
        connections, heartbeats) is running: none died of an error."""
        if not self._started or self._closed:
            return False
        return self._bus.tasks_alive() and all(not task.done() for task in self._daemons)

    @property
    def pending_requests(self) -> int:
        """How many of this node's cluster requests are waiting for answers."""
        return self._bus.pending_requests

    def _gauges(self) -> dict[str, int]:
        return {
            "pending_requests": len(self._bus.tracker),
            "pending_ack_callbacks": pending_acks(self),
            # One deadline timer per pending request, and the manager's own timers.
            "pending_timers": len(self._bus.tracker) + len(self._timers),
            "queued_messages": self._bus.queued_messages,
            "queued_bytes": self._bus.queued_bytes,
        }

    def _count_channels(self) -> list[str]:
        return [self._family.count_channel(nsp) for nsp in sorted(self._served)]

    def set_server(self, server: Any) -> None:
        """Called by python-socketio; also records what clients send as ``auth``, and makes
        ``sio.call(..., timeout=t)`` end its cluster-side wait after ``t``."""
        super().set_server(server)
        local = self._local
        intercept_connect(
            server, lambda eio_sid, nsp, auth: local.connected(eio_sid, nsp, auth, time.time())
        )
        # The sync shell's bridge has no call: ClusterManager binds Server.call itself.
        bound_call_timeout(server, CALL_TIMEOUT)

    def initialize(self) -> None:
        """Called by python-socketio on the first connection: start if not started yet."""
        super().initialize()
        if not self._started and not self._closed:
            self._spawn(self.start())

    async def start(self) -> None:
        """Connect to the backend and subscribe. Idempotent; emits and requests call it."""
        if self._started:
            return
        if self._closed:
            raise ManagerClosedError("the manager was closed")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self._bus.start()
            if self._family.has_room_channels:
                self._rooms = RoomChannels(
                    self._bus,
                    self._family,
                    self._local.owns,
                    self._on_backend_error,
                    self._room_grace,
                )
                self._daemons.append(self._spawn(self._rooms.run()))
            if self.heartbeats:
                self._daemons.append(self._spawn(self._heartbeat_loop()))
            self._started = True
        for nsp in self._initial_namespaces():
            await self._serve(nsp)

    def _initial_namespaces(self) -> list[str]:
        names = ["/", *self._extra_namespaces]
        server = self.server
        if server is not None:
            names += AsyncServerPort(server).namespaces()
        return list(dict.fromkeys(names))

    async def _serve(self, nsp: str) -> None:
        """Subscribe to ``nsp``'s channels once; concurrent callers wait for the same work."""
        if nsp in self._served:
            return
        await self.start()
        pending = self._serving.get(nsp)
        if pending is None:
            pending = self._serving[nsp] = asyncio.ensure_future(self._subscribe_namespace(nsp))
        await asyncio.shield(pending)

    async def _subscribe_namespace(self, nsp: str) -> None:
        channels, patterns = self._family.subscriptions(nsp)
        await self._bus.subscribe(channels, patterns)
        self._served.add(nsp)
        self._bus.census_soon()
        for room in list(self._local.namespace_rooms(nsp)):
            self._room_created(nsp, room)
        if self.heartbeats:
            self._nodes[nsp] = NodeTable(self.uid, self._heartbeat_timeout)
            loop_time = asyncio.get_running_loop().time()
            self._discovered_at[nsp] = loop_time + self.heartbeat_discovery
            self._bus.publish(Heartbeat(nsp, self.uid, initial=True))

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Start if needed and return once the backend is connected. BackendError, saying why,
        when it is not after ``timeout`` seconds (``None``: wait as long as it takes).

        A node whose backend is unreachable still starts and serves its own clients; it
        connects in the background and joins the cluster as soon as it can. Call this where
        that is not enough (a command-line tool, a readiness check).
        """
        await self.start()
        await self._bus.wait_connected(timeout)

    async def flush(self) -> None:
        """Return once everything queued so far has been handed to the backend."""
        await self._bus.flush()

    async def close(self) -> None:
        """Leave the cluster: stop tasks, fail pending requests, unsubscribe, close the backend.

        Idempotent. After it, emits and requests raise ManagerClosedError.
        """
        if self._closed:
            return
        self._closed = True
        if self._started and self.heartbeats:
            for nsp in self._served:
                self._bus.publish(AdapterClose(nsp, self.uid))
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await stopped(self._tasks, self._log)
        self._tasks.clear()
        if self._started:
            await self._unsubscribe_all()
            await self._bus.close()
        else:
            await self.backend.close()
        self._served.clear()

    async def _unsubscribe_all(self) -> None:
        """Drop every subscription before closing, so subscriber counts drop at once (and some
        fake Redis servers keep counting a closed connection's subscriptions)."""
        channels: list[str] = []
        patterns: list[str] = []
        for nsp in self._served:
            nsp_channels, nsp_patterns = self._family.subscriptions(nsp)
            channels += nsp_channels
            patterns += nsp_patterns
        try:
            await self._bus.unsubscribe(channels, patterns)
        except Exception as error:  # the backend may already be gone; closing goes on
            self._on_backend_error(error, "unsubscribing at close")

    def _spawn(self, coroutine: Any) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.handler_errors += 1
            self._log.error("background task failed", exc_info=task.exception())

    def _later(self, delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)
        return handle

    def _cancel_later(self, handle: asyncio.TimerHandle) -> None:
        handle.cancel()
        self._timers.discard(handle)

    def _request_done(self, request: PendingRequest, error: BaseException | None) -> None:
        if "sioadapter_request_done" in self.plugins.active:
            received, expected = request.progress()
            self.plugins.call(
                "sioadapter_request_done",
                operation=request.kind.value,
                request_id=request.request_id,
                responses=list(request.results),
                received=received,
                expected=expected,
                timed_out=isinstance(error, RequestTimeoutError),
            )

    def _on_backend_error(self, error: BaseException, context: str) -> None:
        self.stats.backend_errors += 1
        if isinstance(error, OutputBufferLimitError):
            self.stats.buffer_limit_disconnects += 1
        self._log.error("backend error while %s: %s", context, error)
        self.plugins.call("sioadapter_backend_error", error=error, context=context)

    # -- heartbeats (backends that cannot count subscribers) --------------------------------

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            now = loop.time()
            for nsp in list(self._served):
                self._bus.publish(Heartbeat(nsp, self.uid))
                table = self._nodes.get(nsp)
                for uid in table.expire(now) if table else ():
                    self._bus.node_left(uid)
                    self.plugins.call("sioadapter_node_left", namespace=nsp, uid=uid)
