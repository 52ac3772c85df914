"""A sync ``socketio.Server`` made to look like an AsyncServer to the AsyncClusterManager that
ClusterManager runs on its loop thread (:mod:`sioadapter._loop_thread`).

Threading rules that keep it free of deadlocks:

- All cluster state (the room table, pending requests, callbacks) lives on the loop thread and
  is only touched there: server threads reach it through the loop thread's ordered queue.
- Nothing on the loop thread ever waits for a server thread: user code (event handlers run by
  a server-initiated disconnect, acknowledgement callbacks, server-side event handlers) runs
  in a worker thread; packets are handed to engine.io, whose ``send`` only queues them.
- A blocking call made on the loop thread itself (a python-socketio method reached from there)
  does not wait: its coroutine is scheduled instead, so it cannot deadlock the loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from .loop_thread import log_failure
from .socketio_private import SyncServerFacade


def offload(function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run user code in a worker thread (from the loop); its failure is logged, not lost."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, functools.partial(function, *args))
    future.add_done_callback(log_failure)
    return future


class ServerBridge(SyncServerFacade):
    """A sync ``socketio.Server`` seen through the AsyncServer methods the cluster calls.

    The internals it fakes (``_send_eio_packet``, ``_send_packet``, ``_handle_connect``,
    ``environ``, ``eio`` ...) are in
    :class:`~sioadapter._runtime.socketio_private.SyncServerFacade`; here are the public ones.
    """

    def __init__(self, server: Any) -> None:
        super().__init__(server, offload)

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        # Runs the application's disconnect handler: a worker thread, not the loop.
        await offload(self._server.disconnect, sid, namespace, ignore_queue)

    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        return self._server.get_session(sid, namespace=namespace)

    async def save_session(self, sid: str, session: Any, namespace: str | None = None) -> None:
        # An in-memory store: it does not block the loop.
        self._server.save_session(sid, session, namespace=namespace)


def in_worker(function: Callable[..., Any]) -> Callable[..., None]:
    """Wrap a user callback so that calling it (on the loop) runs it in a worker thread."""

    def call(*args: Any) -> None:
        offload(function, *args)

    return call


def as_coroutine_function(function: Callable[..., Any]) -> Callable[..., Any]:
    """A server-side event handler for the loop: sync handlers run in a worker thread."""
    if asyncio.iscoroutinefunction(function):
        return function

    async def handler(*args: Any) -> Any:
        return await offload(function, *args)

    return handler
