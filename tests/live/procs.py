"""Cluster nodes as separate processes (:mod:`procnode`) and real clients, for fault tests.

Contract: :meth:`NodeProcess.start` returns once the node serves Socket.IO on its port and its
manager started; :meth:`NodeProcess.call` sends one command and waits (bounded) for its answer;
:meth:`NodeProcess.signal` sends SIGSTOP/SIGCONT/SIGKILL; every process a :class:`Nodes` started
is stopped by PID when it closes (SIGKILL after a grace period), whatever the test did.
:class:`TestClient` is a ``socketio.AsyncClient`` over websocket that records every event and
answers ``ack-me`` (unless told to stay silent).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import socketio

SCRIPT = Path(__file__).with_name("procnode.py")
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class NodeProcessError(RuntimeError):
    """A node process failed, exited, or did not answer in time (its log is quoted)."""


class NodeProcess:
    """One running :mod:`procnode`."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self.uid = ""
        self._final_log: str | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls,
        url: str,
        key: str,
        name: str,
        *,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
        **options: Any,
    ) -> NodeProcess:
        """Start a node; ``python`` runs it (another environment's, say) with ``env`` (default:
        this process's); ``options`` go to its manager."""
        port = free_port()
        config = {"url": url, "key": key, "name": name, "port": port, "options": options}
        handle, log_name = tempfile.mkstemp(prefix=f"procnode-{name}-", suffix=".log")
        log_path = Path(log_name)
        try:
            proc = await asyncio.create_subprocess_exec(
                python,
                str(SCRIPT),
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=handle,
                env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
            )
        finally:
            os.close(handle)  # the child has its own copy
        node = cls(proc, port, log_path)
        try:
            ready = await asyncio.wait_for(asyncio.shield(node._ready), START_TIMEOUT)
        except (asyncio.TimeoutError, NodeProcessError):
            node.kill()
            raise NodeProcessError(f"node {name} did not start:\n{node.log()}") from None
        node.uid = ready["uid"]
        return node

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """What the node logged (kept after the node stopped)."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(errors="replace")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            if "ready" in message and not self._ready.done():
                self._ready.set_result(message)
            waiter = self._waiting.pop(message.get("id", -1), None)
            if waiter is not None and not waiter.done():
                if "error" in message:
                    waiter.set_exception(NodeProcessError(message["error"]))
                else:
                    waiter.set_result(message.get("result"))
        gone = NodeProcessError(f"node process exited:\n{self.log()[-3000:]}")
        if not self._ready.done():
            self._ready.set_exception(gone)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(gone)

    async def call(self, op: str, timeout: float = 60.0, **args: Any) -> Any:
        """Run one command on the node and return its result."""
        ident = next(self._ids)
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = waiter
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"id": ident, "op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        try:
            return await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            raise NodeProcessError(
                f"{op}: no answer within {timeout} s\n{self.log()[-3000:]}"
            ) from None
        finally:
            self._waiting.pop(ident, None)

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("stats")
        return result

    def signal(self, signum: int) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    async def stop(self) -> None:
        """Close the node gracefully (bounded), else kill it; wait for the exit."""
        if self.proc.returncode is None:
            self.signal(signal.SIGCONT)
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op": "close"}\n')
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.kill()
                await self.proc.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        if self._final_log is None:
            self._final_log = self.log()
            with contextlib.suppress(OSError):
                self.log_path.unlink()


class Nodes:
    """Starts node processes for one test and stops them all at the end."""

    def __init__(
        self, url: str, key: str, python: str = sys.executable, env: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.key = key
        self.python = python
        self.env = env
        self.started: list[NodeProcess] = []

    async def start(self, name: str, url: str | None = None, **options: Any) -> NodeProcess:
        node = await NodeProcess.start(
            url or self.url, self.key, name, python=self.python, env=self.env, **options
        )
        self.started.append(node)
        return node

    async def close(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.started), return_exceptions=True)


class TestClient:
    """A real Socket.IO client of one node that records what it receives."""

    __test__ = False  # not a pytest test class

    def __init__(self, silent: bool = False) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Condition()
        self.silent = silent

        @self.sio.on("*")
        async def any_event(event: str, *args: Any) -> None:
            await self._record(event, args)

        @self.sio.on("ack-me")
        async def ack_me(*args: Any) -> Any:
            await self._record("ack-me", args)
            if self.silent:
                await asyncio.Event().wait()  # never answers
            return "acked"

    async def _record(self, event: str, args: tuple[Any, ...]) -> None:
        self.events.append((event, args))
        async with self._changed:
            self._changed.notify_all()

    async def connect(self, node: NodeProcess, rooms: tuple[str, ...] = ()) -> TestClient:
        await self.sio.connect(node.url, transports=["websocket"], wait_timeout=10)
        for room in rooms:
            await self.sio.call("join", room, timeout=10)
        return self

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid()
        assert sid is not None
        return sid

    def received(self, event: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.events if name == event]

    async def wait_until(
        self, condition: Callable[[], bool], what: str, timeout: float = 10.0
    ) -> None:
        """Return once ``condition()`` holds (re-checked at each event); AssertionError after
        ``timeout`` seconds."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        try:
            await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s") from None

    async def close(self) -> None:
        await self.sio.disconnect()
