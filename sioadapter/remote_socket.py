"""Sockets of the whole cluster as ``fetch_sockets`` returns them, and Node's handshake shape.

A `RemoteSocket` is a snapshot of one socket, on this node or another: its id, namespace,
handshake, rooms and session data at the time of the request. Its methods act through the
cluster, wherever the socket lives.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "RemoteSocket",
    "build_handshake",
]

# Node's Date#toString(), in UTC: "Thu Nov 26 2026 08:09:47 GMT+0000 (Coordinated Universal Time)"
_JS_DATE_FORMAT = "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)"


def build_handshake(environ: Mapping[str, Any], auth: Any, issued: float) -> dict[str, Any]:
    """Node's ``socket.handshake`` for a python-socketio connection.

    Args:
        environ: the WSGI/ASGI environ python-engineio recorded for the connection.
        auth: what the client sent as ``auth`` when it connected to the namespace.
        issued: connection time, seconds since the epoch.
    """
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in environ.items()
        if name.startswith("HTTP_") and isinstance(value, str)
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    query_string = environ.get("QUERY_STRING") or ""
    url = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
    if query_string and "?" not in url:
        url = f"{url}?{query_string}"
    scope = environ.get("asgi.scope")
    client = scope.get("client") if isinstance(scope, Mapping) else None
    # python-engineio's ASGI environ hard-codes REMOTE_ADDR; the ASGI scope has the real peer.
    address = client[0] if client else environ.get("REMOTE_ADDR", "")
    scheme = (scope.get("scheme") if isinstance(scope, Mapping) else None) or environ.get(
        "wsgi.url_scheme", "http"
    )
    return {
        "headers": headers,
        "time": time.strftime(_JS_DATE_FORMAT, time.gmtime(issued)),
        "address": address,
        "xdomain": "origin" in headers,
        "secure": scheme in ("https", "wss"),
        "issued": int(issued * 1000),
        "url": url,
        "query": dict(parse_qsl(query_string, keep_blank_values=True)),
        "auth": auth if auth is not None else {},
    }


class RemoteSocket:
    """One socket of the cluster, as seen by ``fetch_sockets``.

    Attributes:
        id: the socket id (python-socketio's ``sid``).
        namespace: the namespace it is connected to.
        handshake: Node's handshake shape: headers, time, address, xdomain, secure, issued,
            url, query, auth.
        rooms: the rooms it is in, its own sid room included.
        data: its session (python-socketio's ``get_session``) or a Node socket's ``data``.
        node: the uid of the node it is connected to, when known (classic-protocol answers
            carry no uid: those sockets get ``node-1``, ``node-2``... one per answering node).
    """

    __slots__ = ("_manager", "data", "handshake", "id", "namespace", "node", "rooms")

    def __init__(
        self,
        manager: Any,
        namespace: str,
        details: Mapping[str, Any],
        node: str | None = None,
    ) -> None:
        sid = details.get("id")
        if not isinstance(sid, str):
            raise ValueError("socket details without a string 'id'")
        self._manager = manager
        self.id = sid
        self.namespace = namespace
        handshake = details.get("handshake")
        self.handshake: dict[str, Any] = dict(handshake) if isinstance(handshake, Mapping) else {}
        rooms = details.get("rooms")
        self.rooms: set[Any] = set(rooms) if isinstance(rooms, (list, tuple, set)) else set()
        self.data: Any = details.get("data")
        self.node = node

    def __repr__(self) -> str:
        return f"RemoteSocket(id={self.id!r}, namespace={self.namespace!r}, rooms={self.rooms!r})"

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to this socket, wherever it is connected."""
        await self._manager.emit(
            event, args, self.namespace, to=self.id, flags={"expectSingleResponse": True}
        )

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send ``event`` and return the socket's acknowledgement (RequestTimeoutError if none)."""
        answers = await self._manager.emit_with_ack(
            event, args, self.namespace, to=self.id, timeout=timeout, single=True
        )
        return answers[0] if answers else None

    async def join(self, room: Any) -> None:
        """Make the socket join ``room`` (a name or a list of names)."""
        await self._manager.sockets_join(room, to=self.id, namespace=self.namespace, single=True)

    async def leave(self, room: Any) -> None:
        """Make the socket leave ``room`` (a name or a list of names)."""
        await self._manager.sockets_leave(room, to=self.id, namespace=self.namespace, single=True)

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect the socket from its namespace; ``close`` also closes its connection."""
        await self._manager.disconnect_sockets(
            close, to=self.id, namespace=self.namespace, single=True
        )
