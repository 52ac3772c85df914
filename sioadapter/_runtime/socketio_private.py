"""Every use sioadapter makes of python-socketio's and python-engineio's internals (private).

python-socketio documents its servers' methods and the manager methods a server calls; a
cluster needs a few things beyond that. Each is reached here and nowhere else, so that a
python-socketio release that changes one breaks this module only, and
``tests/unit/test_socketio_private.py`` (run on the lowest versions pyproject.toml allows and
on the newest) names the use that broke.

The uses, and why each is needed:

On the server (``socketio.AsyncServer``; ``socketio.Server`` behind the sync bridge):

- ``_send_eio_packet(eio_sid, pkt)``: writes one engine.io packet, already encoded, to one
  client. A broadcast is encoded once and the same packets go to every recipient
  (``LocalSide.deliver``); the public ``emit`` would encode again for each call. Looked up at
  each use, never kept: applications and the benchmarks replace ``sio._send_eio_packet`` after
  the manager is set, and that replacement must be the one called.
- ``_send_packet(eio_sid, pkt)``: sends one Socket.IO packet; an acknowledged delivery gives
  each recipient a packet of its own, carrying the ack id its answer is matched on.
- ``_handle_connect(eio_sid, namespace, auth)``, wrapped (:func:`intercept_connect`): the one
  place that sees the ``auth`` a client sends together with its eio_sid, before the
  application's connect handler runs. Node's handshake (``fetch_sockets``) carries that auth
  and the connection time; python-socketio keeps neither.
- ``call``, replaced on the instance (:func:`bound_call_timeout`): a public method, but the
  use relies on an internal fact: ``call`` runs ``emit``, and so the manager's ``emit``, in
  the caller's own task (thread for the sync server). A context variable set around it tells
  the manager the caller's ``timeout``, so the cluster-side wait ends when the caller gives up.
- ``environ`` (eio_sid -> the WSGI/ASGI environ): a connection's address and headers by
  eio_sid, for Node's handshake (the public ``get_environ`` wants a sid and a namespace).
- ``eio.disconnect(eio_sid)``: closes a whole engine.io connection, every namespace at once
  (Node's ``disconnect(true)``); python-socketio's ``disconnect`` leaves one namespace.
- ``packet_class`` (and its ``json``): the Socket.IO packet class the server's ``serializer``
  and ``json`` options chose, so that broadcasts are encoded as the server would encode them.
- ``handlers``, ``namespace_handlers``, ``namespaces``: which namespaces the server serves,
  to subscribe to their channels when the manager starts.
- Connection state recovery (:func:`intercept_recovery`, :func:`forced_id`; only with
  ``connection_state_recovery``): ``_handle_connect`` wrapped, to take the client's session
  first and, with ``skip_middlewares``, to accept a restored connection without its connect
  handler (:func:`_accept`, python-socketio's own acceptance without the handler);
  ``_send_packet`` wrapped, to add the private ``pid`` to the CONNECT reply and send the
  missed broadcasts right after it; ``_handle_disconnect`` wrapped, for the disconnect reason
  (recoverable or not), which the manager is not told; ``save_session`` wrapped, to persist
  the session as it changes; ``eio.generate_id`` replaced on the instance while the manager
  registers a restored socket, which so gets its old sid. On a sync ``Server``
  (:func:`intercept_recovery_sync`) the same four are wrapped, each step run on the
  cluster's loop thread while the server's thread waits.

On the manager (state of ``socketio.AsyncManager``, which the cluster managers subclass):

- ``_generate_ack_id(sid, callback)``: registers an acknowledgement callback in
  python-socketio's own table, where ``trigger_callback`` finds it when the client answers.
  python-socketio calls it too, which is why ``ClusterManager`` overrides it (forwarding to
  its engine on the loop thread).
- ``callbacks`` (sid -> {0: the id counter, ack id: callback}): to withdraw the callbacks no
  answer will come for, and to count the pending ones.
- Which connect contract the server follows (:data:`SPLIT_CONNECT`): python-socketio 5.18
  calls ``pre_connect(eio_sid, namespace)`` and then ``connect(sid, namespace)``; before it,
  ``connect(eio_sid, namespace)`` alone, returning the sid. The namespace's channels must be
  subscribed in whichever comes first.

Not listed as private: the manager's room table ``rooms`` (namespace -> room -> {sid:
eio_sid}) and ``basic_*``/``*_eio_sid*`` methods, the contract every python-socketio manager
subclass is written against; ``engineio.packet`` and ``socketio.packet``, public modules.

The sync bridge (``sioadapter._sync_bridge.ServerBridge``) shows a sync ``socketio.Server`` to
the AsyncClusterManager as an AsyncServer: :class:`SyncServerFacade` is its half that fakes the
internals above, so they too are written here.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from typing import Any, Final

import socketio
from socketio import packet as sio_packet

SendPacket = Callable[[str, Any], Awaitable[None]]
OnConnect = Callable[[str, str, Any], None]
"""``on_connect(eio_sid, namespace, auth)``, namespace ``"/"`` when the client named none."""

SPLIT_CONNECT: Final[bool] = hasattr(socketio.AsyncManager, "pre_connect")
"""True when the server calls the manager's ``pre_connect`` before ``connect`` (5.18+)."""


class AsyncServerPort:
    """The internals of one AsyncServer (or :class:`SyncServerFacade`) the cluster uses.

    Holds the server only: every attribute is read from it at each access.
    """

    __slots__ = ("server",)

    def __init__(self, server: Any) -> None:
        self.server = server

    @property
    def send_eio_packet(self) -> SendPacket:
        """``await send(eio_sid, engineio_packet)``: the server's method as it is now."""
        send: SendPacket = self.server._send_eio_packet
        return send

    @property
    def send_eio_packet_now(self) -> Callable[[str, Any], None] | None:
        """``send(eio_sid, engineio_packet)`` without awaiting, where the server's own send is
        sync (a :class:`SyncServerFacade`'s server: engine.io only queues the packet); None on
        an AsyncServer. A delivery to many clients then costs no coroutine per client."""
        sync_server = getattr(self.server, "sync_server", None)
        if sync_server is None:
            return None
        send: Callable[[str, Any], None] = sync_server._send_eio_packet
        return send

    @property
    def send_packet(self) -> SendPacket:
        """``await send(eio_sid, socketio_packet)``: the server's method as it is now."""
        send: SendPacket = self.server._send_packet
        return send

    @property
    def packet_class(self) -> Any:
        """The server's Socket.IO packet class (its serializer)."""
        return self.server.packet_class

    def environ(self, eio_sid: str) -> Mapping[str, Any]:
        """The WSGI/ASGI environ of a connection (empty once it is gone)."""
        environ: Mapping[str, Any] = self.server.environ.get(eio_sid) or {}
        return environ

    async def close_connection(self, eio_sid: str) -> None:
        """Close a client's engine.io connection: every namespace it is in."""
        await self.server.eio.disconnect(eio_sid)

    def namespaces(self) -> list[str]:
        """The namespaces the server declares (handlers, class-based ones, ``namespaces=``),
        without the catch-all ``"*"``."""
        server = self.server
        names = [n for n in server.handlers if n != "*"]
        names += [n for n in server.namespace_handlers if n != "*"]
        if isinstance(server.namespaces, (list, tuple)):
            names += list(server.namespaces)
        return names


def new_ack_id(manager: Any, sid: str, callback: Callable[..., Any]) -> int:
    """Register ``callback`` for ``sid``'s next acknowledgement; returns the packet id."""
    ack_id: int = manager._generate_ack_id(sid, callback)
    return ack_id


def forget_acks(manager: Any, registered: Iterable[tuple[str, int]]) -> None:
    """Withdraw (sid, ack id) callbacks that were not called (no answer will come)."""
    callbacks = manager.callbacks
    for sid, ack_id in registered:
        table = callbacks.get(sid)
        if table is not None:
            table.pop(ack_id, None)


def pending_acks(manager: Any) -> int:
    """How many acknowledgement callbacks wait for a client's answer."""
    # Key 0 of each sid's table holds the id counter, not a callback.
    return sum(1 for table in manager.callbacks.values() for ack_id in table if ack_id)


def intercept_connect(server: Any, on_connect: OnConnect) -> None:
    """Call ``on_connect(eio_sid, namespace, auth)`` for each namespace connection request,
    before the server handles it (sync or async server alike)."""
    original = server._handle_connect
    if inspect.iscoroutinefunction(original):

        async def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
            on_connect(eio_sid, namespace or "/", data)
            return await original(eio_sid, namespace, data)

        server._handle_connect = handle_connect
        return

    def handle_connect_sync(eio_sid: str, namespace: str | None, data: Any) -> Any:
        on_connect(eio_sid, namespace or "/", data)
        return original(eio_sid, namespace, data)

    server._handle_connect = handle_connect_sync


def bound_call_timeout(server: Any, var: contextvars.ContextVar[float | None]) -> bool:
    """Make ``server.call(..., timeout=t)`` set ``var`` to ``t`` while it runs, so the
    manager's ``emit`` (run by ``call`` in the same task or thread) sees it.

    Returns False, leaving the server as it is, when it has no ``call`` (the sync bridge:
    ClusterManager binds the sync server's own ``call``).
    """
    original = getattr(server, "call", None)
    if original is None:
        return False
    if inspect.iscoroutinefunction(original):

        async def call(
            event: str,
            data: Any = None,
            to: Any = None,
            sid: Any = None,
            namespace: str | None = None,
            timeout: float = 60,
            **kwargs: Any,
        ) -> Any:
            token = var.set(timeout)
            try:
                return await original(
                    event, data, to=to, sid=sid, namespace=namespace, timeout=timeout, **kwargs
                )
            finally:
                var.reset(token)

        server.call = call
        return True

    def call_sync(
        event: str,
        data: Any = None,
        to: Any = None,
        sid: Any = None,
        namespace: str | None = None,
        timeout: float = 60,
        **kwargs: Any,
    ) -> Any:
        token = var.set(timeout)
        try:
            return original(
                event, data, to=to, sid=sid, namespace=namespace, timeout=timeout, **kwargs
            )
        finally:
            var.reset(token)

    server.call = call_sync
    return True


class _EngineIOFacade:
    """The sync engine.io server as python-socketio's AsyncManager and the cluster use it."""

    def __init__(self, eio: Any, offload: Callable[..., asyncio.Future[Any]]) -> None:
        self._eio = eio
        self._offload = offload

    def generate_id(self) -> str:
        # python-socketio's manager makes each socket's sid with it.
        sid: str = self._eio.generate_id()
        return sid

    async def disconnect(self, eio_sid: str) -> None:
        # Closing the connection runs the application's disconnect handlers: not on the loop.
        await self._offload(self._eio.disconnect, eio_sid)


class SyncServerFacade:
    """A sync ``socketio.Server``'s internals, shown as an AsyncServer's (see the module doc).

    Args:
        server: the sync server.
        offload: ``offload(function, *args)`` runs blocking user-facing code off the loop
            (``sioadapter._sync_bridge.offload``) and returns its future.
    """

    def __init__(self, server: Any, offload: Callable[..., asyncio.Future[Any]]) -> None:
        self._server = server
        self.sync_server = server  # what AsyncServerPort.send_eio_packet_now sends through
        self.eio = _EngineIOFacade(server.eio, offload)

    @property
    def packet_class(self) -> Any:
        return self._server.packet_class

    @property
    def handlers(self) -> Any:
        return self._server.handlers

    @property
    def namespace_handlers(self) -> Any:
        return self._server.namespace_handlers

    @property
    def namespaces(self) -> Any:
        return self._server.namespaces

    @property
    def environ(self) -> Any:
        return self._server.environ

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        """Never called: connections reach the sync server, which ClusterManager wraps."""
        raise RuntimeError("connections are handled by the sync server")

    async def _send_eio_packet(self, eio_sid: str, pkt: Any) -> None:
        # engine.io's sync send only queues the packet for the connection's writer: it does
        # not block the loop. Looked up at each call, as on an AsyncServer.
        self._server._send_eio_packet(eio_sid, pkt)

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        self._server._send_packet(eio_sid, pkt)


def forced_id(server: Any, sid: str | None) -> contextlib.AbstractContextManager[None]:
    """While the context runs, the server's engine.io ``generate_id`` returns ``sid`` (the
    one python-socketio's manager gives a new socket): a restored connection gets its old sid
    back. Nothing when ``sid`` is None."""
    if sid is None:
        return contextlib.nullcontext()
    return _forced_id(server.eio, sid)


@contextlib.contextmanager
def _forced_id(eio: Any, sid: str) -> Iterator[None]:
    eio.generate_id = lambda: sid
    try:
        yield
    finally:
        del eio.generate_id  # the class's own again


def intercept_recovery(server: Any, recovery: Any) -> None:
    """Connection state recovery's touches of an AsyncServer (`sioadapter._runtime.recovery`):

    * ``_handle_connect``: ``await recovery.plan(eio_sid, nsp, auth)`` first; a restored
      connection that skips the connect handler (``recovery.skips_handler``) is accepted
      here as python-socketio accepts one, without running it;
    * ``_send_packet``: the CONNECT reply gets ``pid`` (``recovery.pid_for``), and once it is
      sent, ``await recovery.replay(eio_sid, nsp)`` sends what a restored client missed;
    * ``_handle_disconnect``: ``recovery.leaving(eio_sid, nsp, reason)`` first,
      ``recovery.left(eio_sid, nsp)`` after;
    * ``save_session``: ``recovery.session_saved(sid, nsp, data)`` after it.

    Nothing for a :class:`SyncServerFacade`: ClusterManager wraps the sync server itself
    (:func:`intercept_recovery_sync`).
    """
    if isinstance(server, SyncServerFacade):
        return
    handle_connect = server._handle_connect
    send_packet = server._send_packet
    handle_disconnect = server._handle_disconnect
    save = server.save_session

    async def connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
        nsp = namespace or "/"
        await recovery.plan(eio_sid, nsp, data)
        try:
            if recovery.skips_handler(eio_sid, nsp):
                return await _accept(server, eio_sid, nsp)
            return await handle_connect(eio_sid, namespace, data)
        finally:
            recovery.done(eio_sid, nsp)

    async def send(eio_sid: str, pkt: Any) -> None:
        reply = pkt.packet_type == sio_packet.CONNECT and isinstance(pkt.data, dict)
        nsp = pkt.namespace or "/"
        if reply:
            pid = recovery.pid_for(eio_sid, nsp)
            if pid is not None:
                pkt.data = {**pkt.data, "pid": pid}
        await send_packet(eio_sid, pkt)
        if reply:
            await recovery.replay(eio_sid, nsp)

    async def disconnect(eio_sid: str, namespace: str | None, *args: Any, **kwargs: Any) -> Any:
        reason = args[0] if args else kwargs.get("reason")
        recovery.leaving(eio_sid, namespace or "/", reason)
        try:
            return await handle_disconnect(eio_sid, namespace, *args, **kwargs)
        finally:
            recovery.left(eio_sid, namespace or "/")

    async def save_session(sid: str, session: Any, namespace: str | None = None) -> None:
        await save(sid, session, namespace=namespace)
        recovery.session_saved(sid, namespace or "/", session)

    server._handle_connect = connect
    server._send_packet = send
    server._handle_disconnect = disconnect
    server.save_session = save_session


def intercept_recovery_sync(
    server: Any,
    recovery: Any,
    wait: Callable[[Coroutine[Any, Any, Any]], Any],
    call: Callable[..., Any],
) -> None:
    """:func:`intercept_recovery` for a sync ``socketio.Server`` (ClusterManager): the same
    touches, with the recovery, which lives on the cluster's loop, reached through
    ``wait(coroutine)`` (run it there, block until done) and ``call(function, *args)``."""
    handle_connect = server._handle_connect
    send_packet = server._send_packet
    handle_disconnect = server._handle_disconnect
    save = server.save_session

    def connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
        nsp = namespace or "/"
        wait(recovery.plan(eio_sid, nsp, data))
        try:
            if call(recovery.skips_handler, eio_sid, nsp):
                return _accept_sync(server, eio_sid, nsp)
            return handle_connect(eio_sid, namespace, data)
        finally:
            call(recovery.done, eio_sid, nsp)

    def send(eio_sid: str, pkt: Any) -> None:
        reply = pkt.packet_type == sio_packet.CONNECT and isinstance(pkt.data, dict)
        nsp = pkt.namespace or "/"
        if reply:
            pid = call(recovery.pid_for, eio_sid, nsp)
            if pid is not None:
                pkt.data = {**pkt.data, "pid": pid}
        send_packet(eio_sid, pkt)
        if reply:
            wait(recovery.replay(eio_sid, nsp))

    def disconnect(eio_sid: str, namespace: str | None, *args: Any, **kwargs: Any) -> Any:
        reason = args[0] if args else kwargs.get("reason")
        call(recovery.leaving, eio_sid, namespace or "/", reason)
        try:
            return handle_disconnect(eio_sid, namespace, *args, **kwargs)
        finally:
            call(recovery.left, eio_sid, namespace or "/")

    def save_session(sid: str, session: Any, namespace: str | None = None) -> None:
        save(sid, session, namespace=namespace)
        call(recovery.session_saved, sid, namespace or "/", session)

    server._handle_connect = connect
    server._send_packet = send
    server._handle_disconnect = disconnect
    server.save_session = save_session


def _accept_sync(server: Any, eio_sid: str, nsp: str) -> None:
    """:func:`_accept` on a sync server."""
    manager = server.manager
    sid = manager.pre_connect(eio_sid, nsp) if SPLIT_CONNECT else manager.connect(eio_sid, nsp)
    if sid is None:
        pkt = server.packet_class(sio_packet.CONNECT_ERROR, data="Unable to connect", namespace=nsp)
        server._send_packet(eio_sid, pkt)
        return
    reply = server.packet_class(sio_packet.CONNECT, {"sid": sid}, namespace=nsp)
    server._send_packet(eio_sid, reply)
    if SPLIT_CONNECT:
        manager.connect(sid, nsp)


async def _accept(server: Any, eio_sid: str, nsp: str) -> None:
    """Accept a connection as python-socketio does when the connect handler says yes, without
    running the handler."""
    manager = server.manager
    if SPLIT_CONNECT:
        sid = await manager.pre_connect(eio_sid, nsp)
    else:
        sid = await manager.connect(eio_sid, nsp)
    if sid is None:
        pkt = server.packet_class(sio_packet.CONNECT_ERROR, data="Unable to connect", namespace=nsp)
        await server._send_packet(eio_sid, pkt)
        return
    await server._send_packet(
        eio_sid, server.packet_class(sio_packet.CONNECT, {"sid": sid}, namespace=nsp)
    )
    if SPLIT_CONNECT:
        await manager.connect(sid, nsp)
