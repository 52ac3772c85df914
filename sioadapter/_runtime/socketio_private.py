"""Every use of python-socketio's private API, in one place, with the reason for each.

python-socketio's public API has no way to do these; each is checked against the lowest and
the newest python-socketio the project supports (tests/unit/test_socketio_private.py):

* ``server._send_eio_packet(eio_sid, packet)``: write one engine.io packet to a client. A
  broadcast is encoded once and the same packets written to every recipient; the public
  ``emit`` would encode per client. Looked up at each delivery, never cached (apps and the
  benchmarks wrap it after the manager is set).
* ``server._send_packet(eio_sid, packet)``: write one Socket.IO packet (acknowledged
  deliveries carry a per-client ack id, so they cannot share an encoding).
* ``manager._generate_ack_id(sid, callback)``: register an acknowledgement callback in the
  manager's own table, so that the client's ACK reaches it through python-socketio's usual path.
* ``server._handle_connect`` wrapped: Node's handshake (``fetch_sockets``) carries the client's
  ``auth`` and connection time, which python-socketio does not keep.
* ``server.call`` wrapped: its ``timeout`` is set into a context variable, so that the cluster
  side of ``sio.call()`` stops waiting when the caller does.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "bound_call_timeout",
    "intercept_connect",
    "intercept_connect_sync",
    "new_ack_id",
    "send_eio_packet",
    "send_packet",
]

OnConnect = Callable[[str, str, Any], None]


def send_eio_packet(server: Any) -> Callable[[str, Any], Awaitable[None]]:
    """The server's engine.io packet writer, as it is now."""
    writer: Callable[[str, Any], Awaitable[None]] = server._send_eio_packet
    return writer


def send_packet(server: Any) -> Callable[[str, Any], Awaitable[None]]:
    """The server's Socket.IO packet writer, as it is now."""
    writer: Callable[[str, Any], Awaitable[None]] = server._send_packet
    return writer


def new_ack_id(manager: Any, sid: str, callback: Callable[..., Any]) -> int:
    """Register ``callback`` for ``sid``'s next acknowledgement; returns the packet id."""
    ack_id: int = manager._generate_ack_id(sid, callback)
    return ack_id


def intercept_connect(server: Any, on_connect: OnConnect) -> None:
    """Call ``on_connect(eio_sid, namespace, auth)`` before the server handles each CONNECT."""
    original = server._handle_connect

    async def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
        on_connect(eio_sid, namespace or "/", data)
        return await original(eio_sid, namespace, data)

    server._handle_connect = handle_connect


def intercept_connect_sync(server: Any, on_connect: OnConnect) -> None:
    """:func:`intercept_connect` for a sync ``socketio.Server``."""
    original = server._handle_connect

    def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
        on_connect(eio_sid, namespace or "/", data)
        return original(eio_sid, namespace, data)

    server._handle_connect = handle_connect


def bound_call_timeout(server: Any, var: contextvars.ContextVar[float | None]) -> None:
    """Make ``server.call(..., timeout=t)`` run with ``var`` set to ``t`` (servers without an
    awaitable ``call``, such as the sync bridge, are left alone)."""
    original_call = getattr(server, "call", None)
    if original_call is None:
        return

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
            return await original_call(
                event, data, to=to, sid=sid, namespace=namespace, timeout=timeout, **kwargs
            )
        finally:
            var.reset(token)

    server.call = call
