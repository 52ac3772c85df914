"""The machinery behind ClusterManager: an event loop in its own thread, and a sync server
made to look like an AsyncServer to the AsyncClusterManager that runs on that loop.

Threading rules that keep it free of deadlocks:

- All cluster state (the room table, pending requests, callbacks) lives on the loop thread and
  is only touched there: server threads reach it through :meth:`LoopThread.call` (a plain
  function) or :meth:`LoopThread.run` (a coroutine), both of which wait for the answer.
- Nothing on the loop thread ever waits for a server thread: user code (event handlers run by
  a server-initiated disconnect, acknowledgement callbacks, server-side event handlers) runs
  in a worker thread; packets are handed to engine.io, whose ``send`` only queues them.
- A blocking call made on the loop thread itself (a python-socketio method reached from there)
  does not wait: its coroutine is scheduled instead, so it cannot deadlock the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .errors import ManagerClosedError

T = TypeVar("T")

logger = logging.getLogger("sioadapter")


class LoopThread:
    """An asyncio event loop running in a daemon OS thread until :meth:`stop`.

    Work handed over before :meth:`stop` is finished (or cancelled) before the loop stops, so
    no caller is left waiting for a loop that is gone; work handed over after it raises
    ManagerClosedError.
    """

    DRAIN_TIMEOUT = 5.0
    """Seconds :meth:`stop` lets work already handed over finish before cancelling it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._open = True
        self._lock = threading.Lock()  # orders hand-overs against stop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def alive(self) -> bool:
        """True until :meth:`stop` is called."""
        return self._open

    def on_loop(self) -> bool:
        """True when the caller runs on the loop's own thread."""
        return threading.get_ident() == self._thread.ident

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a plain function on the loop thread and return its result (or raise its error)."""
        if self.on_loop():
            return function(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def job() -> None:
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as error:  # handed to the waiting thread
                future.set_exception(error)

        with self._lock:
            self._check_open()
            self.loop.call_soon_threadsafe(job)
        return future.result()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T | None:
        """Run a coroutine on the loop and return its result.

        Called on the loop thread itself, the coroutine is scheduled and None returned at once:
        waiting there would stop the loop that has to run it.
        """
        if self.on_loop():
            task = self.loop.create_task(coroutine)
            task.add_done_callback(_log_failure)
            return None
        return self.wait(coroutine)

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop and return its result; never on the loop thread."""
        with self._lock:
            if self.on_loop() or not self._open:
                coroutine.close()
                self._check_open()
                raise RuntimeError("a blocking cluster operation cannot run on the cluster's loop")
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result()

    def _check_open(self) -> None:
        if not self._open:
            raise ManagerClosedError("the manager was closed")

    def stop(self) -> None:
        """Refuse new work, let work handed over finish, stop the loop and its thread.

        Idempotent; not from the loop thread.
        """
        if self.on_loop():
            raise RuntimeError("the cluster's loop cannot stop itself")
        with self._lock:
            if not self._open:
                return
            self._open = False
        asyncio.run_coroutine_threadsafe(self._drain(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    async def _drain(self) -> None:
        me = asyncio.current_task()
        deadline = self.loop.time() + self.DRAIN_TIMEOUT
        while pending := [task for task in asyncio.all_tasks() if task is not me]:
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return
            await asyncio.wait(pending, timeout=remaining)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("scheduled cluster operation failed", exc_info=task.exception())


def offload(function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run user code in a worker thread (from the loop); its failure is logged, not lost."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, functools.partial(function, *args))
    future.add_done_callback(_log_failure)
    return future


class _EngineIOBridge:
    """The part of engine.io's server the cluster uses, awaitable."""

    def __init__(self, eio: Any) -> None:
        self._eio = eio

    def generate_id(self) -> str:
        sid: str = self._eio.generate_id()
        return sid

    async def disconnect(self, eio_sid: str) -> None:
        # Closing the connection runs the application's disconnect handlers.
        await offload(self._eio.disconnect, eio_sid)


class ServerBridge:
    """A sync ``socketio.Server`` seen through the AsyncServer methods the cluster calls."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.packet_class = server.packet_class
        self.eio = _EngineIOBridge(server.eio)

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
        # engine.io's sync send only queues the packet for the connection's writer.
        self._server._send_eio_packet(eio_sid, pkt)

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        self._server._send_packet(eio_sid, pkt)

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        # Runs the application's disconnect handler: a worker thread, not the loop.
        await offload(self._server.disconnect, sid, namespace, ignore_queue)

    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        return self._server.get_session(sid, namespace=namespace)


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
