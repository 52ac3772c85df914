"""Sync python-socketio servers (``socketio.Server``, threading mode) for the cluster tests.

A :class:`SyncNode` is what a Flask-SocketIO deployment runs: a ``socketio.Server`` with a
:class:`sioadapter.ClusterManager`, served by werkzeug's threaded server (the one Flask's
development server uses, websocket included) on a loopback port, in a thread. Its handlers run
in werkzeug's threads; what they see is recorded in an :class:`~integration.harness.EventLog`
owned by the test's event loop, handed over with ``call_soon_threadsafe``.

It has the ``url`` that :class:`~integration.harness.Client` connects to, so the harness's
async clients connect to sync and async nodes alike.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import socketio
from integration.harness import EventLog
from werkzeug.serving import make_server

import sioadapter


class ThreadedServer:
    """werkzeug's threaded WSGI server (websockets included) for ``app`` on a loopback port,
    in a thread; ``url`` is where clients connect."""

    def __init__(self, app: Any, name: str) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"werkzeug {name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


class SyncNode:
    """A sync server in the cluster; ``on_connect(node, sid)`` runs in its connect handler."""

    def __init__(self, name: str, mgr: sioadapter.ClusterManager, loop: Any) -> None:
        self.name = name
        self.mgr = mgr
        self.sio = socketio.Server(client_manager=mgr, async_mode="threading", logger=False)
        self.log = EventLog(name)
        self.on_connect: Callable[[SyncNode, str], None] | None = None
        self._loop = loop
        self._install()
        self._http = ThreadedServer(socketio.WSGIApp(self.sio), name)
        self.url = self._http.url

    def __repr__(self) -> str:
        return f"<SyncNode {self.name} {self.url}>"

    def record(self, event: str, *args: Any) -> None:
        """Record from any thread into :attr:`log` (which lives on the test's loop)."""
        self._loop.call_soon_threadsafe(self.log.record, "/", event, args)

    def _install(self) -> None:
        sio = self.sio

        @sio.event
        def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            self.record("connect", sid)
            if self.on_connect is not None:
                self.on_connect(self, sid)

        @sio.event
        def disconnect(sid: str, reason: Any = None) -> None:
            self.record("disconnect", sid)
            # A handler that uses the cluster while the cluster is disconnecting its socket:
            # the case that deadlocks if handlers ran on the cluster's own thread.
            sio.emit("gone", sid, skip_sid=sid)

        @sio.on("*")
        def any_event(event: str, sid: str, *args: Any) -> Any:
            self.record(event, sid, *args)
            return None

    def stop(self) -> None:
        """Stop serving, then leave the cluster."""
        self._http.stop()
        self.mgr.close()


async def blocking(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a blocking (sync server or ClusterManager) function off the test's event loop,
    which must keep serving the async node and the clients meanwhile."""
    return await asyncio.wait_for(asyncio.to_thread(function, *args, **kwargs), 10)
