"""AsyncClusterManager: python-socketio's AsyncManager contract, served by a cluster.

Pass it to ``socketio.AsyncServer(client_manager=...)``. Everything python-socketio's server
does (emit to rooms and sids, callbacks, ``call``, room changes, disconnects) then works for
sockets on any node, and the Node-parity operations (``fetch_sockets``, ``emit_with_ack``,
``server_side_call`` ...) are its coroutine methods.

The manager holds its parts as objects (docs/architecture.md): a sans-IO
``sioadapter.core.node.ClusterNode`` that decides, an ``sioadapter._runtime.bus.AsyncBus`` for
the backend's I/O, the request waits, a ``sioadapter._runtime.local.LocalSide`` for this node's
clients, and the ``sioadapter._runtime.runner.EffectRunner``, the one place that turns the
node's effects into I/O and hook calls. Its methods ask the node and hand the answer to the runner.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import socketio

from ._runtime import forks
from ._runtime.acks import AckedEmits
from ._runtime.assembly import (
    check_limits,
    make_backend,
    make_family,
    make_streams_parts,
    resolve_key,
    resolve_logger,
    take_streams_options,
)
from ._runtime.bus import AsyncBus, stopped
from ._runtime.local import LocalSide
from ._runtime.operations import ClusterOperations, as_args, as_rooms, check_server_event
from ._runtime.recovery import Recovery
from ._runtime.recovery_options import recovery_options
from ._runtime.rooms import RoomChannels
from ._runtime.runner import EffectRunner, ServerHandlers
from ._runtime.socketio_private import (
    SPLIT_CONNECT,
    AsyncServerPort,
    bound_call_timeout,
    forced_id,
    intercept_connect,
    intercept_recovery,
    pending_acks,
)
from ._runtime.waits import CALL_TIMEOUT, RequestWaits
from .backends.base import Backend
from .backends.redis_streams import StreamsBackend
from .core.effects import Publish
from .core.membership import Membership
from .core.messages import (
    EMITTER_UID,
    RemoteDisconnect,
    RemoteJoin,
    RemoteLeave,
    SocketsJoin,
    SocketsLeave,
    Target,
)
from .core.node import ClusterNode
from .errors import ManagerClosedError
from .hooks import BroadcastEvent
from .metrics import ManagerMetrics, attach, probes_of, resolve_registry
from .plugins import PluginHost
from .remote_socket import RemoteSocket
from .stats import Stats
from .wire.base import Family
from .wire.signing import Signer
from .wire.streams import StreamsFamily

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "AsyncClusterManager"]

logger = logging.getLogger("sioadapter")

DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
"""1 MiB: the size of Socket.IO's own ``maxHttpBufferSize``, and far below what trips Redis's
default ``client-output-buffer-limit pubsub 32mb 8mb 60`` (see docs/operations.md)."""


async def _no_handler(batch: list[tuple[str, bytes]]) -> None:
    """The bus's handler until the runner exists (nothing is received before start)."""


class AsyncClusterManager(socketio.AsyncManager):  # type: ignore[misc]
    """A python-socketio client manager that makes many AsyncServers one cluster.

    Args:
        url: the backend URL (``redis://...``, ``memory://NAME`` ...); the scheme picks the
            backend through the ``sioadapter.backends`` entry points. A bare ``host:port``
            means Redis. Default ``redis://localhost:6379/0``, unless redis-py clients are
            given as ``client=`` or ``pub_client=``/``sub_client=`` (Node's pubClient and
            subClient; ``fakeredis.FakeAsyncRedis`` works too).
        backend: a ready backend instance, instead of a URL.
        key: the channel prefix, Node's ``key`` / ``channelPrefix`` option (default
            ``"socket.io"``).
        channel: python-socketio's name for the same prefix (pass ``key`` or ``channel``,
            not both: ValueError). Channels are ``<prefix>#<nsp>#...`` as in Node, so a
            cluster cannot mix these managers with python-socketio's own.
        requests_timeout: seconds to wait for the answers of a cluster request.
        ack_timeout: seconds to keep a callback for a client on another node (``sio.emit(...,
            callback=)``) before giving up on it.
        protocol: ``"classic"`` or ``"cluster"``; by default classic when the backend has
            pattern subscriptions and no sharding, else the ClusterAdapter protocol. A
            backend with a dialect of its own (PostgreSQL: ``"postgres"``) speaks only that.
            ``"streams"`` (Redis only): Node's ``@socket.io/redis-streams-adapter`` 0.3
            protocol, where broadcasts and room changes go through a Redis stream, and a node
            whose connection drops resumes reading where it stopped. Its options, Node's in
            snake_case: ``stream_name`` ("socket.io"), ``stream_count`` (1), ``max_len``
            (10,000), ``read_count`` (100), ``block_time_in_ms`` (5,000),
            ``session_key_prefix`` ("sio:session:"), ``only_plaintext`` (False) and
            ``use_sharded_pub_sub`` (False).
        publish_on_specific_response_channel: classic protocol only, Node's option.
        subscription_mode: how a node subscribes to broadcast channels. ClusterAdapter
            protocol: ``dynamic`` (default), ``dynamic-private`` or ``static``, Node's option.
            Classic protocol: ``pattern`` (default, as Node) or ``dynamic-private`` (one
            subscription per local room: nodes are not woken by other rooms' broadcasts; see
            `ClassicFamily`).
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
            raises `MessageTooLargeError` before anything is
            published; larger received messages are dropped undecoded
            (``stats.dropped_oversized``). Default 1 MiB.
        logger: a logger (default ``logging.getLogger("sioadapter")``); as in
            python-socketio, ``True`` logs to the ``"socketio"`` logger (which
            ``Server(logger=True)`` configures) and ``False`` logs errors only.
        write_only: python-socketio's option: only publish (emits, room changes,
            disconnects), never subscribe, so other nodes do not count this one as a server.
            Requests that wait for answers raise `WriteOnlyError`. For a process that is not
            a Socket.IO server (see also `sioadapter.emitter.Emitter`). Its messages carry
            the uid ``"emitter"``, as Node's emitters' do (hooks see ``origin="emitter"``).
        json: python-socketio's option, a module with ``dumps``/``loads`` like the standard
            one. sioadapter encodes JSON in two places: the packets sent to this node's
            clients use the server's own JSON module (as python-socketio's managers do once
            they have a server), and the cluster messages sent as JSON (requests and
            answers, e.g. ``server_side_emit`` arguments and ``fetch_sockets`` socket data;
            broadcasts are msgpack) give this module's ``dumps`` the values the wire's JSON
            encoder refuses, instead of failing with TypeError.
        redis_options: python-socketio's option: keyword arguments for the redis-py client
            built from a Redis URL (``Redis``, ``RedisCluster``, or ``Sentinel``), e.g.
            ``{"socket_timeout": 5}``; they override the URL's own options.
        plugins: plugin objects, names of ``sioadapter.plugins`` entry points, or
            ``(name, options)`` pairs (see `sioadapter.hooks`).
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
        metrics: ``True``: export Prometheus metrics (``sioadapter_*``) in prometheus_client's
            default registry; a ``prometheus_client.CollectorRegistry``: in that one
            (docs/operations.md, "Metrics"). Needs ``pip install 'sioadapter[prometheus]'``
            (ImportError otherwise). ``close()`` removes them.
        **backend_options: passed to the backend class's ``from_url``. An option that
            neither the manager nor its backend takes raises TypeError naming this class
            and the option.
    """

    name = "sioadapter"

    def __init__(
        self,
        url: str | None = None,
        *,
        backend: Backend | None = None,
        key: str | None = None,
        channel: str | None = None,
        write_only: bool = False,
        json: Any = None,
        redis_options: dict[str, Any] | None = None,
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
        logger: logging.Logger | bool | None = None,
        host: str | None = None,
        port: int | None = None,
        plugins: Iterable[Any] = (),
        signing_keys: Sequence[bytes | str] | None = None,
        require_signatures: bool = True,
        metrics: Any = None,
        connection_state_recovery: Mapping[str, Any] | bool | None = None,
        **backend_options: Any,
    ) -> None:
        super().__init__()
        check_limits(requests_timeout, ack_timeout, max_message_size)
        registry = resolve_registry(metrics)  # first: a missing extra fails before any I/O
        signer = None if signing_keys is None else Signer(signing_keys)
        self.require_signatures = bool(require_signatures)
        if redis_options is not None:
            backend_options["redis_options"] = redis_options
        streams = take_streams_options(protocol, backend_options, signer is not None)
        self.backend = backend = make_backend(
            url, backend, host, port, backend_options, type(self).__name__
        )
        self.key = key = resolve_key(key, channel)
        self.write_only = bool(write_only)
        if json is not None:  # python-socketio's attribute; set_server puts the server's there
            self.json = json
        # A write-only manager speaks as Node's emitters do, under their uid: nodes that count
        # the cluster by heartbeat (they count every sender) leave emitters out, as Node's.
        self.uid = EMITTER_UID if self.write_only else secrets.token_hex(8)
        self.host_id = self.uid  # python-socketio's admin UI shows it as the server id
        self.requests_timeout = float(requests_timeout)
        self.ack_timeout = float(ack_timeout)
        self.max_message_size = max_message_size
        self._log = resolve_logger(logger)
        # python-socketio's base manager logs through self.logger when set: never a bool.
        self.logger = None if logger is None else self._log
        self.stats = Stats()
        self.plugins = PluginHost(self, plugins)
        if streams is not None:
            if subscription_mode not in (None, "static"):
                raise ValueError("the streams protocol has static subscriptions only")
            self.backend, self._family = make_streams_parts(backend, key, self.uid, streams, json)
            backend = self.backend
            backend.gap_handler = self._stream_gap  # type: ignore[attr-defined]
            #: protocol="streams": where sessions are kept (Node's ``sessionKeyPrefix``).
            self.session_key_prefix: str = streams["session_key_prefix"]
        else:
            self._family = make_family(
                backend, key, self.uid, protocol, publish_on_specific_response_channel,
                subscription_mode, json,
            )  # fmt: skip
        self.protocol = self._family.name  # "classic", "cluster", "postgres" or "streams"
        recovery = recovery_options(connection_state_recovery, self.protocol)
        self.heartbeats = not backend.capabilities.counts_subscribers
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_discovery = heartbeat_discovery
        membership = None
        if self.heartbeats:
            membership = Membership(
                self.uid, heartbeat_interval, heartbeat_timeout, heartbeat_discovery
            )
        self._node = ClusterNode(
            self._family, self.rooms, stats=self.stats, signer=signer,
            require_signatures=self.require_signatures, max_message_size=max_message_size,
            ack_timeout=self.ack_timeout, membership=membership, room_grace=room_grace,
            offsets=recovery is not None,
        )  # fmt: skip
        self._bus = AsyncBus(
            backend, _no_handler, self.stats, self._log, max_queue, publish_timeout,
            max_queue_bytes=max_queue_bytes, census_channels=self._node.count_channels,
        )  # fmt: skip
        backend.set_error_handler(self._on_backend_error)
        self._local = LocalSide(self)
        self._recovery: Recovery | None = None
        if recovery is not None:
            assert isinstance(backend, StreamsBackend) and isinstance(self._family, StreamsFamily)
            self._recovery = Recovery(
                backend.inner.pub_client, self._family, self.session_key_prefix, recovery,
                self._local.holds, self._local.send_event, self._local.send_packets,
            )  # fmt: skip
            self._local.on_close = self._recovery.closing
        self._server_handlers: ServerHandlers = {}
        self._rooms: RoomChannels | None = None
        if self._family.has_room_channels:
            self._rooms = RoomChannels(self._bus, self._node.room_channel, self._on_backend_error)
        self._runner = EffectRunner(
            self._node, self._bus, RequestWaits(self._log), self._local, self.plugins,
            self._log, self._spawn, self._server_handlers,
            None if self._rooms is None else self._rooms_ready,
        )  # fmt: skip
        self._bus.handler = self._runner.receive  # straight from the bus: no frame between
        self._ops = ClusterOperations(
            self._node, self._runner, self._serve, self.requests_timeout, self._make_socket,
            self._rooms_ready, write_only=self.write_only,
        )  # fmt: skip
        self._acked = AckedEmits(self._ops, self._spawn)
        self.stats.set_gauge_source(self._gauges)
        self._serving: dict[str, asyncio.Future[None]] = {}
        self._extra_namespaces = list(namespaces)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._daemons: list[asyncio.Future[Any]] = []  # tasks that live as long as the manager
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._closed = False
        self._closed_reason = "the manager was closed"
        self._pid = os.getpid()
        self._metrics: ManagerMetrics | None = None
        if registry is not None:
            self._metrics = attach(probes_of(self, self._node, self._bus), registry)
            self.plugins.register(self._metrics, "sioadapter.metrics")
        forks.track(self)  # a new node in each forked child (see _runtime/forks.py)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def family(self) -> Family:
        """The protocol family in use: channel names and payload layouts."""
        return self._family

    @property
    def healthy(self) -> bool:
        """True when this node is part of the cluster right now: started and not closed, the
        backend connected and no outage holding its broadcasts, its subscriber connections up
        with their subscriptions confirmed, and every background task (writer, listener,
        census, room subscriptions) running. False during an outage, until publishing
        resumes. Cheap (no I/O), and safe to read from any thread: for readiness probes
        (docs/operations.md, "Health checks")."""
        if not self._started or self._closed:
            return False
        return self._bus.live and all(not task.done() for task in self._daemons)

    @property
    def pending_requests(self) -> int:
        """How many of this node's cluster requests are waiting for answers."""
        return len(self._node.tracker)

    def _stream_gap(self, gap: Any) -> None:
        self.stats.stream_gaps += 1
        self.stats.stream_entries_lost += gap.lost or 0

    def _gauges(self) -> dict[str, int]:
        return {
            "pending_requests": len(self._node.tracker),
            "pending_ack_callbacks": pending_acks(self),
            "pending_timers": self._node.pending_deadlines,
            "queued_messages": self._bus.queued_messages,
            "queued_bytes": self._bus.queued_bytes,
        }

    def set_server(self, server: Any) -> None:
        """Called by python-socketio; also records what clients send as ``auth``, and makes
        ``sio.call(..., timeout=t)`` end its cluster-side wait after ``t``."""
        super().set_server(server)
        self._local.bind(server)
        intercept_connect(server, self._local.connected)
        if self._recovery is not None:
            intercept_recovery(server, self._recovery)
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
        if self._pid != os.getpid():
            self._after_fork()
        if self._closed:
            raise ManagerClosedError(self._closed_reason)
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self._bus.start()
            if self._rooms is not None:
                self._daemons.append(self._spawn(self._rooms.run()))
            if self._recovery is not None:
                self._daemons.append(self._spawn(self._recovery.run()))
            self._started = True
        for nsp in self._initial_namespaces():
            await self._serve(nsp)

    def _after_fork(self) -> None:
        """In a forked child (docs/deployments.md, "Forks"): a manager never started becomes a
        new node (new uid, fresh backend connections); one started in the parent refuses every
        use, since its tasks, connections and local sockets are the parent's. Idempotent."""
        parent, self._pid = self._pid, os.getpid()
        if parent == self._pid or self._closed:
            return
        if self._start_lock is not None or self._tasks:
            self._closed = True
            self._started = False
            self._closed_reason = (
                f"this manager was started in process {parent}, which then forked: its "
                f"connections and tasks belong to that process. Build the manager before the "
                f"fork but use it first in the child (gunicorn --preload: at import time, "
                f"without starting it), or build it in the child"
            )
            self._bus.disown(self._closed_reason)
            self._log.warning("%s", self._closed_reason)
            return
        self.uid = self.host_id = secrets.token_hex(8)
        self._node.take_uid(self.uid)
        self.backend.after_fork()

    def _initial_namespaces(self) -> list[str]:
        names = ["/", *self._extra_namespaces]
        server = self.server
        if server is not None:
            names += AsyncServerPort(server).namespaces()
        return list(dict.fromkeys(names))

    async def _serve(self, nsp: str) -> None:
        """Subscribe to ``nsp``'s channels once; concurrent callers wait for the same work."""
        if nsp in self._node.served:
            return
        await self.start()
        pending = self._serving.get(nsp)
        if pending is None:
            pending = self._serving[nsp] = asyncio.ensure_future(self._subscribe_namespace(nsp))
        await asyncio.shield(pending)

    async def _subscribe_namespace(self, nsp: str) -> None:
        if self.write_only:
            # Never subscribed, never announced (no heartbeat): not a server of the cluster.
            return
        channels, patterns = self._node.subscriptions(nsp)
        await self._bus.subscribe(channels, patterns)
        self._runner.run(self._node.serve(nsp, asyncio.get_running_loop().time()))
        self._bus.census_soon()
        if self._rooms is not None:
            for room in list(self._local.namespace_rooms(nsp)):
                if room is not None:
                    self._rooms.created(nsp, room)

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
        if self._metrics is not None:
            self._metrics.close()
        if self._recovery is not None and self._started:
            await self._recovery.shutdown()
        served = list(self._node.served)
        effects = self._node.close()
        if not self._started:  # nothing to tell the cluster: it never heard of this node
            effects = [effect for effect in effects if not isinstance(effect, Publish)]
        self._runner.run(effects)
        self._runner.stop()
        for task in list(self._tasks):
            task.cancel()
        await stopped(self._tasks, self._log)
        self._tasks.clear()
        if self._started:
            await self._unsubscribe_all(served)
            await self._bus.close()
        else:
            await self.backend.close()

    async def _unsubscribe_all(self, served: list[str]) -> None:
        """Drop every subscription before closing, so subscriber counts drop at once (and some
        fake Redis servers keep counting a closed connection's subscriptions)."""
        channels: list[str] = []
        patterns: list[str] = []
        for nsp in served:
            nsp_channels, nsp_patterns = self._node.subscriptions(nsp)
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

    def _on_backend_error(self, error: BaseException, context: str) -> None:
        self._runner.backend_error(error, context)

    def _make_socket(self, nsp: str, details: dict[str, Any], node: str) -> RemoteSocket:
        return RemoteSocket(self, nsp, details, node)

    async def _rooms_ready(self, nsp: str, rooms: Iterable[Any]) -> None:
        """Wait until local rooms just created are heard from every node (room channels)."""
        if self._rooms is not None:
            await self._rooms.ready(nsp, rooms)

    # -- python-socketio's manager contract -------------------------------------------------

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        created = room not in self.rooms.get(namespace, {})
        result = super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if self._recovery is not None:
            self._recovery.room_changed(sid, namespace, room, True)
        rooms = self._rooms
        if created and room is not None and rooms is not None and namespace in self._node.served:
            rooms.created(namespace, room)
        return result

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        result = super().basic_leave_room(sid, namespace, room)
        if self._recovery is not None:
            self._recovery.room_changed(sid, namespace, room, False)
        rooms = self._rooms
        gone = room is not None and room not in self.rooms.get(namespace, {})
        if gone and rooms is not None and namespace in self._node.served:
            rooms.deleted(namespace, room)
        return result

    async def pre_connect(self, eio_sid: str, namespace: str) -> Any:
        await self._serve(namespace)
        if self._recovery is None:
            return await super().pre_connect(eio_sid, namespace)
        with forced_id(self.server, self._recovery.sid_for(eio_sid, namespace)):
            sid = await super().pre_connect(eio_sid, namespace)
        if sid is not None:
            await self._restore(sid, namespace, eio_sid)
        return sid

    async def _restore(self, sid: str, namespace: str, eio_sid: str) -> None:
        """A new socket (connection state recovery): keep its session; a restored one gets
        its rooms and session data back before the connect handler runs."""
        assert self._recovery is not None
        restored = self._recovery.pre_connected(sid, namespace, eio_sid)
        if restored is not None:
            rooms, data = restored
            self._local.join(namespace, [sid], rooms)
            await self._rooms_ready(namespace, rooms)
            if data is not None:
                await self.server.save_session(sid, data, namespace=namespace)

    def recovered(self, sid: str, namespace: str = "/") -> bool:
        """True when ``sid``'s connection was restored by connection state recovery (Node's
        ``socket.recovered``): call it in the connect handler to tell a client that came back,
        with its rooms and session, from a new one."""
        return self._recovery is not None and self._recovery.is_recovered(sid, namespace)

    async def connect(self, sid: str, namespace: str) -> Any:
        if not SPLIT_CONNECT:  # python-socketio < 5.18 calls connect(eio_sid, ...) only
            await self._serve(namespace)
            if self._recovery is not None:
                eio_sid = sid
                with forced_id(self.server, self._recovery.sid_for(eio_sid, namespace)):
                    sid = await super().connect(eio_sid, namespace)
                if sid is not None:
                    await self._restore(sid, namespace, eio_sid)
                return sid
        result = await super().connect(sid, namespace)
        # dynamic-private mode subscribes each socket's own room: be listening before the
        # client hears it is connected.
        await self._rooms_ready(namespace, [result])
        return result

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> Any:
        eio_sid = self.eio_sid_from_sid(sid, namespace)
        self._local.forget(eio_sid, namespace)
        if self._recovery is not None:
            keep = self._recovery.disconnected(sid, namespace, eio_sid)
            if keep is not None:
                self._spawn(keep)
        return super().basic_disconnect(sid, namespace, **kwargs)

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        *,
        except_rooms: Any = None,
        flags: dict[str, Any] | None = None,
        ignore_queue: bool = False,
        call_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Emit ``event`` to every client of the cluster that the target selects.

        ``to``/``room``: a room, a sid, or a list of them (none: everyone). ``skip_sid``: a sid
        or list of sids left out. ``except_rooms``: rooms left out (Node's ``except``).
        ``callback`` is called with each recipient's acknowledgement, wherever it is connected,
        for at most ``ack_timeout`` seconds, or ``call_timeout`` when shorter (``sio.call()``
        passes its own ``timeout`` this way, so nothing waits after the caller gave up).
        ``ignore_queue`` delivers to this node's clients only.
        """
        nsp = namespace or "/"
        args = as_args(data)
        rooms = as_rooms(to if to is not None else room)
        excluded = as_rooms(except_rooms) + as_rooms(skip_sid)
        if ignore_queue:
            view = BroadcastEvent(nsp, event, args, rooms, excluded, dict(flags or {}))
            await self._runner.deliver_view(view)
            return
        await self._serve(nsp)
        if callback is not None:
            if call_timeout is None:
                call_timeout = CALL_TIMEOUT.get()
                if call_timeout is not None:
                    CALL_TIMEOUT.set(None)  # for this emit only, not for what it spawns
            timeout = self.ack_timeout
            if isinstance(call_timeout, (int, float)) and 0 < call_timeout < timeout:
                timeout = float(call_timeout)
            await self._acked.emit(
                event, args, nsp, rooms, excluded, on_ack=callback, timeout=timeout,
                single=len(rooms) == 1, flags=flags, raise_timeout=False,
            )  # fmt: skip
            return
        view = BroadcastEvent(nsp, event, args, rooms, excluded, dict(flags or {}), "local",
                              self.uid)  # fmt: skip
        await self._runner.broadcast(view)

    async def can_disconnect(self, sid: str, namespace: str) -> bool:
        if self._node.owns(sid, namespace):
            return bool(self.is_connected(sid, namespace))
        await self.disconnect_sockets(False, to=sid, namespace=namespace, single=True)
        return False

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> Any:
        if kwargs.get("ignore_queue") or self._node.owns(sid, namespace):
            return self.basic_disconnect(sid, namespace)
        await self.disconnect_sockets(False, to=sid, namespace=namespace, single=True)
        return None

    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        if eio_sid is not None or self._node.owns(sid, namespace):
            result = self.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
            await self._rooms_ready(namespace, [room])
            return result
        await self._ops.publish(SocketsJoin(namespace, self.uid, Target([sid]), [room]))
        return None

    async def leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        if self._node.owns(sid, namespace):
            return self.basic_leave_room(sid, namespace, room)
        await self._ops.publish(SocketsLeave(namespace, self.uid, Target([sid]), [room]))
        return None

    async def close_room(self, room: Any, namespace: str | None = None) -> None:
        nsp = namespace or "/"
        self.basic_close_room(room, nsp)
        await self._ops.publish(SocketsLeave(nsp, self.uid, Target([room]), [room]))

    # -- Node-parity API (DESIGN.md's table) ------------------------------------------------

    async def emit_with_ack(
        self,
        event: str,
        data: Any = None,
        namespace: str = "/",
        to: Any = None,
        except_rooms: Any = None,
        timeout: float | None = None,
        *,
        single: bool = False,
    ) -> list[Any]:
        """Emit to the selected clients of the whole cluster and return their acknowledgements.

        Node's ``io.timeout(t).emitWithAck(...)``. Each answer is the client's acknowledgement
        (a tuple when it sent several values). A room with no member gives ``[]``. Raises
        RequestTimeoutError, with the answers received in ``.responses``, when some client or
        node did not answer within ``timeout`` (default: ``requests_timeout``).
        """
        return await self._acked.emit(
            event, as_args(data), namespace, as_rooms(to), as_rooms(except_rooms), on_ack=None,
            timeout=timeout or self.requests_timeout, single=single, flags=None,
            raise_timeout=True,
        )  # fmt: skip

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
        return await self._ops.fetch_sockets(
            rooms, except_rooms, namespace, timeout=timeout, local=local
        )

    async def sockets_join(
        self, rooms: Any, to: Any = None, except_rooms: Any = None, namespace: str = "/",
        *, single: bool = False,
    ) -> None:  # fmt: skip
        """Make the selected sockets of the cluster join ``rooms`` (Node's ``socketsJoin``)."""
        await self._ops.sockets_join(rooms, to, except_rooms, namespace, single)

    async def sockets_leave(
        self, rooms: Any, to: Any = None, except_rooms: Any = None, namespace: str = "/",
        *, single: bool = False,
    ) -> None:  # fmt: skip
        """Make the selected sockets of the cluster leave ``rooms`` (Node's ``socketsLeave``)."""
        await self._ops.sockets_leave(rooms, to, except_rooms, namespace, single)

    async def disconnect_sockets(
        self, close: bool = False, to: Any = None, except_rooms: Any = None,
        namespace: str = "/", *, single: bool = False,
    ) -> None:  # fmt: skip
        """Disconnect the selected sockets of the cluster (Node's ``disconnectSockets``).

        ``close=True`` closes their whole connection, not only this namespace.
        """
        await self._ops.disconnect_sockets(close, to, except_rooms, namespace, single)

    async def server_side_emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Send an event to the other servers' ``on()`` handlers (not to this one)."""
        await self._ops.server_side_emit(event, args, namespace)

    async def server_side_call(
        self, event: str, *args: Any, timeout: float | None = None, namespace: str = "/"
    ) -> list[Any]:
        """Send an event to the other servers and return each one's handler answer."""
        return await self._ops.server_side_call(event, args, timeout, namespace)

    def on(self, event: str, handler: Any = None, namespace: str = "/") -> Any:
        """Register the handler of a server-side event (also usable as a decorator).

        The handler gets the event's arguments; it may be a coroutine function. Its return
        value answers ``server_side_call``. A node does not receive its own server-side emits.
        """
        check_server_event(event)

        def register(function: Any) -> Any:
            self._server_handlers[(namespace, event)] = function
            if namespace not in self._extra_namespaces:
                self._extra_namespaces.append(namespace)
                if self._started:
                    self._spawn(self._serve(namespace))
            return function

        return register if handler is None else register(handler)

    async def all_rooms(self, namespace: str = "/", *, timeout: float | None = None) -> set[Any]:
        """Every room of the cluster, socket-id rooms included (Node's ``allRooms``)."""
        return await self._ops.all_rooms(namespace, timeout)

    async def sockets(
        self, rooms: Any = None, namespace: str = "/", *, timeout: float | None = None
    ) -> set[str]:
        """The ids of the cluster's sockets in ``rooms`` (all when None)."""
        return await self._ops.sockets(rooms, namespace, timeout)

    async def server_count(self, namespace: str = "/") -> int:
        """How many servers serve ``namespace``, this one included."""
        return await self._ops.server_count(namespace)

    async def remote_join(self, sid: str, room: Any, namespace: str = "/") -> None:
        """Make the socket ``sid`` join ``room``, wherever it is. SocketNotFoundError if no
        node has it."""
        await self._ops.remote_op(sid, namespace, RemoteJoin(namespace, self.uid, "", sid, room))

    async def remote_leave(self, sid: str, room: Any, namespace: str = "/") -> None:
        """Make the socket ``sid`` leave ``room``, wherever it is."""
        await self._ops.remote_op(sid, namespace, RemoteLeave(namespace, self.uid, "", sid, room))

    async def remote_disconnect(self, sid: str, close: bool = False, namespace: str = "/") -> None:
        """Disconnect the socket ``sid``, wherever it is."""
        message = RemoteDisconnect(namespace, self.uid, "", sid, close)
        await self._ops.remote_op(sid, namespace, message)
