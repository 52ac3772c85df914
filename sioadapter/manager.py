"""ClusterManager: the cluster for python-socketio's sync ``Server``.

Pass it to ``socketio.Server(client_manager=...)`` (Flask-SocketIO: ``SocketIO(app,
client_manager=...)``), in any of its async modes: threading, or gevent and eventlet in a
monkey-patched process. It is an `AsyncClusterManager` running on an asyncio loop in a thread of
its own, so a sync server and async servers, Python or Node, share one cluster and one wire
protocol.

The room table and every pending request live on that loop. python-socketio's calls from the
server's threads go through one ordered queue to it (`sioadapter._runtime.loop_thread`): a
broadcast returns once queued, everything else waits for its answer (the threading rules are in
`sioadapter._runtime.sync_bridge`). The Node-parity methods are the AsyncClusterManager's,
blocking: ``mgr.fetch_sockets()`` instead of ``await mgr.fetch_sockets()``.

The loop thread starts at the manager's first use, not when it is built: in a forked worker
(``gunicorn --preload``, whose gevent and eventlet workers monkey-patch after the fork) it
starts there, after the patching, as a greenlet (`sioadapter._runtime.green`: the server's
greenlets never see its event loop as theirs). A gevent or eventlet server in a process that
was not patched gets a RuntimeError saying so at that first use.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import socketio

from ._runtime import forks
from ._runtime.assembly import renamed_unknown_option
from ._runtime.green import GREEN_MODES, patched, unpatched_server_error
from ._runtime.loop_thread import LoopThread
from ._runtime.operations import as_args
from ._runtime.socketio_private import (
    bound_call_timeout,
    intercept_connect,
    intercept_recovery_sync,
    new_ack_id,
)
from ._runtime.sync_bridge import ServerBridge, as_coroutine_function, in_worker
from .async_manager import AsyncClusterManager
from .backends.base import Backend
from .plugins import PluginHost
from .remote_socket import RemoteSocket
from .stats import Stats
from .wire import notepack

__all__ = [
    "BlockingRemoteSocket",
    "ClusterManager",
]

_threads = itertools.count(1)
# The timeout of the sio.call() the current server thread is in (see emit).
_CALL_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sioadapter_sync_call_timeout", default=None
)
T = TypeVar("T")


class BlockingRemoteSocket:
    """A socket of the cluster from `ClusterManager.fetch_sockets`, with blocking methods.

    Same attributes as `RemoteSocket`: ``id``, ``namespace``, ``handshake``,
    ``rooms``, ``data``, ``node``.
    """

    def __init__(self, socket: RemoteSocket, loop: LoopThread) -> None:
        self._socket = socket
        self._loop = loop
        self.id = socket.id
        self.namespace = socket.namespace
        self.handshake = socket.handshake
        self.rooms = socket.rooms
        self.data = socket.data
        self.node = socket.node

    def __repr__(self) -> str:
        return f"BlockingRemoteSocket(id={self.id!r}, namespace={self.namespace!r})"

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to this socket, wherever it is connected."""
        self._loop.run(self._socket.emit(event, *args))

    def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send ``event`` and return the acknowledgement (RequestTimeoutError if none)."""
        return self._loop.run(self._socket.emit_with_ack(event, *args, timeout=timeout))

    def join(self, room: Any) -> None:
        """Make the socket join ``room`` (a name or a list of names)."""
        self._loop.run(self._socket.join(room))

    def leave(self, room: Any) -> None:
        """Make the socket leave ``room`` (a name or a list of names)."""
        self._loop.run(self._socket.leave(room))

    def disconnect(self, close: bool = False) -> None:
        """Disconnect the socket from its namespace; ``close`` also closes its connection."""
        self._loop.run(self._socket.disconnect(close))


class ClusterManager(socketio.Manager):  # type: ignore[misc]
    """A python-socketio client manager that makes sync Servers part of a cluster.

    Takes exactly the arguments of `AsyncClusterManager` (a URL, or
    ``backend=``, ``key=``, ``requests_timeout=`` ..., and python-socketio's ``channel=``,
    ``write_only=``, ``logger=``, ``json=``, ``redis_options=``). Call `close` when the server
    stops. An unknown option raises TypeError naming ``ClusterManager`` and the option.

    Raises:
        RuntimeError: at its first use, for a server whose async_mode is gevent or eventlet
            in a process that gevent or eventlet has not monkey-patched.
    """

    name = "sioadapter"

    def __init__(
        self, url: str | None = None, *, backend: Backend | None = None, **options: Any
    ) -> None:
        super().__init__()
        # Built here, run on the loop thread: asyncio's primitives bind to a loop at their
        # first use, and the engine uses none before it starts.
        try:
            self._engine = AsyncClusterManager(url, backend=backend, **options)
        except TypeError as error:
            # An unknown option is unknown to this class, which the user called.
            renamed = renamed_unknown_option(error, type(self).__name__)
            if renamed is None:
                raise
            raise renamed from None
        self._loop_thread: LoopThread | None = None  # started at the first use (`_loop`)
        self._server_mode: str | None = None
        self.host_id = self._engine.host_id
        # python-socketio's own manager code here logs through self.logger: the same one.
        self.logger = self._engine.logger
        if options.get("json") is not None:
            self.json = options["json"]
        self._pid = os.getpid()
        forks.track(self)

    def _after_fork(self) -> None:
        """In a forked child (see `sioadapter._runtime.forks`): the loop thread did not
        survive the fork; the child's first use starts one, which runs the engine as a new
        node (or, if it was started in the parent, refuses every use with
        ManagerClosedError). Not now: gunicorn's green workers monkey-patch after the fork."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._loop_thread = None
        self.__dict__.pop("_loop_lock", None)  # may have been held by a thread of the parent
        self._engine._after_fork()
        self.host_id = self._engine.host_id

    @property
    def _loop(self) -> LoopThread:
        """The loop thread, started at the first call (a greenlet in a patched process)."""
        loop = self._loop_thread
        return self._start_loop() if loop is None else loop

    def _start_loop(self) -> LoopThread:
        # The lock is made at the first use too: in a process patched after this manager was
        # built (a gunicorn green worker), it must be a green lock.
        with self.__dict__.setdefault("_loop_lock", threading.Lock()):
            if self._loop_thread is None:
                green = patched()
                if self._server_mode in GREEN_MODES and not green:
                    raise unpatched_server_error(self._server_mode)
                name = f"sioadapter-loop-{next(_threads)}"
                self._loop_thread = LoopThread(name, green=green)
            return self._loop_thread

    def _register(self, function: Callable[..., T], *args: Any) -> T:
        """Run a function that only records something (a server, a handler): on the loop once
        it runs, here before (at import time, say, in a process that forks later)."""
        if self._loop_thread is None:
            return function(*args)
        return self._loop.call(function, *args)

    # -- what the async manager knows ------------------------------------------------------

    @property
    def engine(self) -> AsyncClusterManager:
        """The AsyncClusterManager doing the work, on its own loop (``engine_loop``)."""
        return self._engine

    @property
    def engine_loop(self) -> Any:
        """The asyncio loop the cluster runs on, in its own thread (started if not yet)."""
        return self._loop.loop

    @property
    def uid(self) -> str:
        return self._engine.uid

    @property
    def key(self) -> str:
        return self._engine.key

    @property
    def write_only(self) -> bool:
        return self._engine.write_only

    @property
    def requests_timeout(self) -> float:
        return self._engine.requests_timeout

    @property
    def protocol(self) -> str:
        return self._engine.protocol

    @property
    def backend(self) -> Backend:
        return self._engine.backend

    @property
    def stats(self) -> Stats:
        return self._engine.stats

    @property
    def plugins(self) -> PluginHost:
        return self._engine.plugins

    @property
    def healthy(self) -> bool:
        """`AsyncClusterManager.healthy`, and the loop thread alive (safe to read from any
        thread)."""
        loop = self._loop_thread
        return loop is not None and loop.alive and self._engine.healthy

    # -- python-socketio's manager contract ------------------------------------------------

    def set_server(self, server: Any) -> None:
        """Called by python-socketio, before it sets ``server.async_mode`` (its engine.io
        server has it already). Starts nothing: a gevent or eventlet server's process may be
        patched only later, in a forked worker (see the module doc)."""
        eio = getattr(server, "eio", None)
        self._server_mode = getattr(eio, "async_mode", None) or getattr(server, "async_mode", None)
        if self._loop_thread is not None and self._server_mode in GREEN_MODES and not patched():
            raise unpatched_server_error(self._server_mode)
        super().set_server(server)
        self._register(self._engine.set_server, ServerBridge(server))
        local = self._engine._local

        def connected(eio_sid: str, namespace: str, auth: Any) -> None:
            # Node's handshake carries the auth the client sent; python-socketio keeps none.
            # self._loop, not the loop of now: a forked child has a loop thread of its own.
            self._loop.call(local.connected, eio_sid, namespace, auth)

        intercept_connect(server, connected)
        recovery = self._engine._recovery
        if recovery is not None:
            intercept_recovery_sync(
                server, recovery, lambda step: self._loop.wait(step), self._loop_call
            )
        # The cluster-side wait of a sio.call() ends with its own timeout (see emit).
        bound_call_timeout(server, _CALL_TIMEOUT)

    def _loop_call(self, function: Callable[..., T], *args: Any) -> T:
        return self._loop.call(function, *args)

    def recovered(self, sid: str, namespace: str = "/") -> bool:
        """`AsyncClusterManager.recovered`: True when ``sid``'s connection was restored by
        connection state recovery; call it in the connect handler."""
        return bool(self._loop.call(self._engine.recovered, sid, namespace))

    def initialize(self) -> None:
        self._loop.call(self._engine.initialize)

    def get_namespaces(self) -> list[str]:
        return self._loop.call(lambda: list(self._engine.get_namespaces()))

    def get_participants(self, namespace: str, room: Any) -> Any:
        return iter(self._loop.call(lambda: list(self._engine.get_participants(namespace, room))))

    def is_connected(self, sid: str, namespace: str) -> bool:
        return bool(self._loop.call(self._engine.is_connected, sid, namespace))

    def is_pre_connected(self, sid: str, namespace: str) -> bool:
        return bool(self._loop.call(self._engine.is_pre_connected, sid, namespace))

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> Any:
        return self._loop.call(self._engine.sid_from_eio_sid, eio_sid, namespace)

    def eio_sid_from_sid(self, sid: str, namespace: str) -> Any:
        return self._loop.call(self._engine.eio_sid_from_sid, sid, namespace)

    def pre_disconnect(self, sid: str, namespace: str) -> Any:
        return self._loop.call(self._engine.pre_disconnect, sid, namespace)

    def get_rooms(self, sid: str, namespace: str) -> Any:
        return self._loop.call(self._engine.get_rooms, sid, namespace)

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        return self._loop.call(self._engine.basic_enter_room, sid, namespace, room, eio_sid)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        return self._loop.call(self._engine.basic_leave_room, sid, namespace, room)

    def basic_close_room(self, room: Any, namespace: str) -> Any:
        return self._loop.call(self._engine.basic_close_room, room, namespace)

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> Any:
        return self._loop.call(self._engine.basic_disconnect, sid, namespace, **kwargs)

    def _generate_ack_id(self, sid: str, callback: Callable[..., Any]) -> Any:
        # python-socketio's own ack-id hook, called by the sync server's code paths.
        return self._loop.call(new_ack_id, self._engine, sid, in_worker(callback))

    def pre_connect(self, eio_sid: str, namespace: str) -> Any:
        return self._loop.run(self._engine.pre_connect(eio_sid, namespace))

    def connect(self, sid: str, namespace: str) -> Any:
        return self._loop.run(self._engine.connect(sid, namespace))

    def can_disconnect(self, sid: str, namespace: str) -> bool:
        return bool(self._loop.run(self._engine.can_disconnect(sid, namespace)))

    def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> Any:
        return self._loop.run(self._engine.disconnect(sid, namespace, **kwargs))

    def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> Any:
        return self._loop.run(self._engine.enter_room(sid, namespace, room, eio_sid=eio_sid))

    def leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        return self._loop.run(self._engine.leave_room(sid, namespace, room))

    def close_room(self, room: Any, namespace: str | None = None) -> None:
        self._loop.run(self._engine.close_room(room, namespace))

    def trigger_callback(self, sid: str, id: int, data: Any) -> None:
        self._loop.run(self._engine.trigger_callback(sid, id, data))

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Callable[..., Any] | None = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit to the selected clients of the whole cluster (see AsyncClusterManager.emit).

        Without ``callback`` it returns once the broadcast is queued, after checking that its
        data can be sent (TypeError if not): this thread's broadcasts leave in order, and
        before anything it asks the cluster afterwards. ``callback`` runs in a worker thread
        with each recipient's acknowledgement.
        """
        loop = self._loop  # first: a loop that cannot start leaves no coroutine behind
        if callback is not None:
            call_timeout = _CALL_TIMEOUT.get()
            if call_timeout is not None:
                _CALL_TIMEOUT.set(None)  # this emit's, not the ones its callback makes
                kwargs.setdefault("call_timeout", call_timeout)
        emitting = self._engine.emit(
            event,
            data,
            namespace,
            room=room,
            skip_sid=skip_sid,
            callback=None if callback is None else in_worker(callback),
            to=to,
            **kwargs,
        )
        if callback is not None:
            loop.run(emitting)
            return
        try:
            # Encoded once more on the loop (about 1 µs for a small event): the loop's encoding
            # cannot be done here, since room state and publish hooks decide it there, and a
            # queued broadcast has nobody to raise to.
            notepack.packb([event, *as_args(data)])
        except (TypeError, ValueError, OverflowError) as error:
            emitting.close()
            raise TypeError(f"cannot emit {event!r}: {error}") from error
        loop.post(emitting)

    # -- Node-parity operations, blocking ---------------------------------------------------
    # Each takes the arguments of the AsyncClusterManager method of the same name.

    def emit_with_ack(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Blocking `AsyncClusterManager.emit_with_ack`."""
        return self._wait(self._engine.emit_with_ack(*args, **kwargs))

    def fetch_sockets(self, *args: Any, **kwargs: Any) -> list[BlockingRemoteSocket]:
        """Blocking `AsyncClusterManager.fetch_sockets`."""
        found = self._wait(self._engine.fetch_sockets(*args, **kwargs))
        return [BlockingRemoteSocket(socket, self._loop) for socket in found]

    def sockets_join(self, *args: Any, **kwargs: Any) -> None:
        """Blocking `AsyncClusterManager.sockets_join`."""
        self._wait(self._engine.sockets_join(*args, **kwargs))

    def sockets_leave(self, *args: Any, **kwargs: Any) -> None:
        """Blocking `AsyncClusterManager.sockets_leave`."""
        self._wait(self._engine.sockets_leave(*args, **kwargs))

    def disconnect_sockets(self, *args: Any, **kwargs: Any) -> None:
        """Blocking `AsyncClusterManager.disconnect_sockets`."""
        self._wait(self._engine.disconnect_sockets(*args, **kwargs))

    def server_side_emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Blocking `AsyncClusterManager.server_side_emit`."""
        self._wait(self._engine.server_side_emit(event, *args, namespace=namespace))

    def server_side_call(self, event: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Blocking `AsyncClusterManager.server_side_call`."""
        return self._wait(self._engine.server_side_call(event, *args, **kwargs))

    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str = "/"
    ) -> Any:
        """Register a server-side event handler (also a decorator); a sync handler runs in a
        worker thread, and its return value answers ``server_side_call``."""

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self._register(self._engine.on, event, as_coroutine_function(function), namespace)
            return function

        return register if handler is None else register(handler)

    def all_rooms(self, *args: Any, **kwargs: Any) -> set[Any]:
        """Blocking `AsyncClusterManager.all_rooms`."""
        return self._wait(self._engine.all_rooms(*args, **kwargs))

    def sockets(self, *args: Any, **kwargs: Any) -> set[str]:
        """Blocking `AsyncClusterManager.sockets`."""
        return self._wait(self._engine.sockets(*args, **kwargs))

    def server_count(self, namespace: str = "/") -> int:
        """Blocking `AsyncClusterManager.server_count`."""
        return self._wait(self._engine.server_count(namespace))

    def remote_join(self, sid: str, room: Any, namespace: str = "/") -> None:
        """Blocking `AsyncClusterManager.remote_join`."""
        self._wait(self._engine.remote_join(sid, room, namespace))

    def remote_leave(self, sid: str, room: Any, namespace: str = "/") -> None:
        """Blocking `AsyncClusterManager.remote_leave`."""
        self._wait(self._engine.remote_leave(sid, room, namespace))

    def remote_disconnect(self, sid: str, close: bool = False, namespace: str = "/") -> None:
        """Blocking `AsyncClusterManager.remote_disconnect`."""
        self._wait(self._engine.remote_disconnect(sid, close, namespace))

    def start(self) -> None:
        """Connect to the backend and subscribe now (otherwise the first connection or emit
        does it). Idempotent."""
        self._wait(self._engine.start())

    def flush(self) -> None:
        """Return once everything queued so far has been handed to the backend."""
        self._wait(self._engine.flush())

    def close(self) -> None:
        """Leave the cluster and stop the loop thread. Idempotent."""
        if self._loop_thread is None and self._server_mode in GREEN_MODES and not patched():
            return  # nothing ever ran: the first use refused to start (see _start_loop)
        if self._loop.alive:
            self._loop.run(self._engine.close())
            self._loop.stop()

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one of the engine's operations for a caller that waits for its result."""
        return self._loop.wait(coroutine)
