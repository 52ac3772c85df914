"""The servers of a test cluster: real python-socketio servers under uvicorn, and event logs.

Every node is a ``socketio.AsyncServer`` wrapped in ``socketio.ASGIApp`` and served by
``uvicorn.Server`` on a loopback port, as a task of the running event loop. Waiting is always on
events (futures resolved when a message is recorded, uvicorn's startup signal), never on
sleeps. Used by the backend contract kit (`sioadapter.testing.contract`) and by sioadapter's
own integration suite; not public API (names may change).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import socketio
import uvicorn

__all__ = ["WAIT_TIMEOUT", "ConnectHook", "EventLog", "Node", "Receipt"]

WAIT_TIMEOUT = 5.0
"""Default bound, in seconds, on every wait of the harness."""


ConnectHook = Callable[["Node", str, str, dict[str, Any], Any], Any]
"""``hook(node, sid, namespace, environ, auth)``, sync or async, run by a node's connect
handler; a test uses it to save a session or join rooms at connection time."""


@dataclass(frozen=True)
class Receipt:
    """One recorded event: its namespace, its name and its arguments, as received."""

    namespace: str
    event: str
    args: tuple[Any, ...]


class EventLog:
    """An ordered record of events with awaitable conditions on it.

    Contract: :meth:`record` appends and then wakes every waiter whose condition became true,
    synchronously, so a waiter sees the log exactly as it was when its condition held. Waits
    are bounded; a wait that times out raises ``AssertionError`` quoting what was received, so
    a failing test says what happened instead of only that something did not.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.receipts: list[Receipt] = []
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def record(self, namespace: str, event: str, args: Iterable[Any]) -> None:
        self.receipts.append(Receipt(namespace, event, tuple(args)))
        for condition, future in list(self._waiters):
            if not future.done() and condition():
                future.set_result(None)

    def received(self, event: str, namespace: str = "/") -> list[tuple[Any, ...]]:
        """The arguments of every ``event`` received in ``namespace``, in arrival order."""
        return [r.args for r in self.receipts if r.event == event and r.namespace == namespace]

    def count(self, event: str, namespace: str = "/") -> int:
        return len(self.received(event, namespace))

    async def wait_until(
        self, condition: Callable[[], bool], *, what: str, timeout: float = WAIT_TIMEOUT
    ) -> None:
        """Return as soon as ``condition()`` is true; it is re-checked after each record."""
        if condition():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (condition, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{self.owner}: no {what} within {timeout} s; received: {self.summary()}"
            ) from None
        finally:
            self._waiters.remove(entry)

    async def wait_for(
        self, event: str, count: int = 1, *, namespace: str = "/", timeout: float = WAIT_TIMEOUT
    ) -> list[tuple[Any, ...]]:
        """Wait until ``event`` was received at least ``count`` times; return all its receipts."""
        await self.wait_until(
            lambda: self.count(event, namespace) >= count,
            what=f"{count} x {event!r} in {namespace}",
            timeout=timeout,
        )
        return self.received(event, namespace)

    def summary(self, limit: int = 20) -> str:
        shown = [f"{r.namespace} {r.event}{r.args!r}" for r in self.receipts[-limit:]]
        more = len(self.receipts) - len(shown)
        return ("..., " if more > 0 else "") + (", ".join(shown) or "nothing")


class _UvicornServer(uvicorn.Server):
    """uvicorn.Server that signals startup with an event and leaves signal handlers alone."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.started_event = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.started_event.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Several servers in one process would replace and restore the process-wide SIGINT
        # handler out of order, and Ctrl-C must still reach pytest.
        yield


class Node:
    """One server of the cluster: ``sio`` (AsyncServer), ``mgr`` (its client manager), ``url``.

    Contract:

    * the server accepts every namespace (``namespaces="*"``);
    * :attr:`log` records what clients send: ``connect`` (args ``(sid, auth)``), ``disconnect``
      (``(sid, reason)``) and every client event (``(sid, *args)``), per namespace;
    * :meth:`listen` registers a cluster server-side handler (``mgr.on``) that records into
      :attr:`server_events` and answers with a fixed value or a callable's result;
    * :attr:`connect_hook` (see :data:`ConnectHook`) runs inside the connect handler. Tests
      must not register their own ``sio`` handlers for a namespace: that would bypass the
      recording catch-all of that namespace.
    """

    def __init__(self, index: int, mgr: Any) -> None:
        self.index = index
        self.mgr = mgr
        self.sio = socketio.AsyncServer(
            client_manager=mgr, async_mode="asgi", namespaces="*", logger=False
        )
        self.app = socketio.ASGIApp(self.sio)
        self.log = EventLog(f"node{index}")
        self.server_events = EventLog(f"node{index} server-side")
        self.connect_hook: ConnectHook | None = None
        # Bind the port ourselves: no race for a free port, and the URL is known up front.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
        self.server = _UvicornServer(config)
        self.task: asyncio.Task[None] | None = None
        self.stopped = False
        self._install()

    def __repr__(self) -> str:
        return f"<Node {self.index} {self.url}>"

    def _install(self) -> None:
        async def on_connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
            self.log.record(namespace, "connect", (sid, auth))
            if self.connect_hook is not None:
                result = self.connect_hook(self, sid, namespace, environ, auth)
                if inspect.isawaitable(result):
                    await result

        async def on_disconnect(namespace: str, sid: str, reason: Any = None) -> None:
            self.log.record(namespace, "disconnect", (sid, reason))

        async def on_any(event: str, namespace: str, sid: str, *args: Any) -> None:
            self.log.record(namespace, event, (sid, *args))

        self.sio.on("connect", on_connect, namespace="*")
        self.sio.on("disconnect", on_disconnect, namespace="*")
        self.sio.on("*", on_any, namespace="*")

    def listen(self, event: str, answer: Any = None, namespace: str = "/") -> None:
        """Handle the server-side ``event`` with ``mgr.on``: record its args, then answer.

        ``answer`` is returned as is, or called with the event's arguments (and awaited if
        that returns an awaitable) when it is callable.
        """

        async def handler(*args: Any) -> Any:
            self.server_events.record(namespace, event, args)
            result = answer(*args) if callable(answer) else answer
            if inspect.isawaitable(result):
                result = await result
            return result

        self.mgr.on(event, handler, namespace=namespace)

    async def start(self, cluster_api: bool) -> None:
        if cluster_api:
            await self.mgr.start()
        self.task = asyncio.create_task(
            self.server.serve(sockets=[self._socket]), name=f"uvicorn node{self.index}"
        )
        started = asyncio.create_task(self.server.started_event.wait())
        done, _ = await asyncio.wait(
            {started, self.task}, timeout=WAIT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if started not in done:
            started.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await started
            if self.task in done:
                self.task.result()  # re-raise why uvicorn stopped
            raise RuntimeError(f"node{self.index}: uvicorn did not start in {WAIT_TIMEOUT} s")

    async def stop_server(self) -> None:
        """Stop Socket.IO background work, then uvicorn (which waits for its connections)."""
        if self.stopped:
            return
        self.stopped = True
        await self.sio.shutdown()
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        self._socket.close()
