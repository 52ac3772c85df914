"""The pieces ``sioadapter demo`` is made of: an embedded Redis-protocol server, node
processes, and recording clients.

* :class:`EmbeddedRedis`: ``fakeredis.TcpFakeServer`` on a free loopback port, in a thread
  of this process, so that the demo needs no Redis install.
* :class:`NodeProcess`: one :mod:`sioadapter.cli.demo_node` process. :meth:`NodeProcess.start`
  returns once the node said it is ready (or raises :class:`CliError` with its reason);
  :meth:`NodeProcess.stop` sends SIGTERM, then SIGKILL after a bound, and always returns.
* :class:`DemoClient`: a real ``socketio.AsyncClient`` that counts what it receives and the
  latency of each event (receive time minus the ``sent`` timestamp in the payload).
* :class:`Deliveries`: an event set once every client has what it should have.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

from ._common import CliError, CliFailure, describe

STOP_TIMEOUT = 5.0
"""Seconds a node gets to exit after SIGTERM before it is killed."""


class EmbeddedRedis:
    """A Redis-protocol server (fakeredis) on 127.0.0.1, served by a background thread."""

    def __init__(self) -> None:
        import fakeredis

        # Port 0: the kernel picks a free port, no race with other programs.
        self.server = fakeredis.TcpFakeServer(("127.0.0.1", 0))
        self.port = int(self.server.server_address[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="embedded-redis", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()  # stops serve_forever and every connection handler's loop
        self.server.server_close()


@dataclass
class NodeProcess:
    """One demo node process (see :mod:`sioadapter.cli.demo_node` for its contract)."""

    index: int
    url: str
    key: str
    log: Path
    process: asyncio.subprocess.Process | None = None
    port: int = 0
    uid: str = ""
    control: Any = None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float) -> None:
        """Start the process and wait for its ready line (CliError if it never comes)."""
        command = [sys.executable, "-m", "sioadapter.cli.demo_node", "--port", "0"]
        command += ["--url", self.url, "--index", str(self.index), "--key", self.key]
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, "--exit-on-stdin-eof",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            raise CliError(f"node {self.index} did not start within {timeout:g} s") from None
        try:
            ready = json.loads(line)
        except ValueError:
            ready = {"ready": False, "error": self.last_log_line() or "it exited"}
        if not ready.get("ready"):
            raise CliError(f"node {self.index} could not start: {ready.get('error')}")
        self.port, self.uid = int(ready["port"]), str(ready["uid"])

    def last_log_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.log.read_text(errors="replace").strip().splitlines()
            return lines[-1] if lines else ""
        return ""

    async def connect_control(self) -> None:
        self.control = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        await self.control.connect(
            self.address, namespaces=["/control"], transports=["websocket"], wait_timeout=10
        )

    async def call(self, request: str, data: Any = None, timeout: float = 15) -> Any:
        """Ask the node to do ``request`` and return its answer (CliError if none comes)."""
        try:
            return await self.control.call(request, data, namespace="/control", timeout=timeout)
        except socketio.exceptions.SocketIOError as error:
            detail = describe(error) if str(error) else f"no answer within {timeout:g} s"
            raise CliFailure(f"node {self.index}: {request}: {detail}") from error

    async def stop(self) -> None:
        """Disconnect the control client, then SIGTERM; SIGKILL after STOP_TIMEOUT."""
        if self.control is not None:
            with contextlib.suppress(Exception):  # the node may already be gone
                await self.control.disconnect()
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class Deliveries:
    """Counts expected and received events over all clients; ``done`` is set when every
    expected event has arrived."""

    def __init__(self) -> None:
        self.expected = 0
        self.received = 0
        self.done = asyncio.Event()

    def expect(self, count: int) -> None:
        self.expected += count
        self._check()

    def record(self) -> None:
        self.received += 1
        self._check()

    def _check(self) -> None:
        if self.received >= self.expected:
            self.done.set()
        else:
            self.done.clear()


@dataclass
class DemoClient:
    """A Socket.IO client of the demo, connected to one node and in one room."""

    name: str
    node: int
    room: str
    deliveries: Deliveries
    counted: tuple[str, ...]
    expected: int = 0
    received: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    sio: Any = None

    async def connect(self, address: str) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        for event in (*self.counted, "ack-me"):
            self.sio.on(event, self._handler(event))
        try:
            await self.sio.connect(
                address, auth={"room": self.room}, transports=["websocket"], wait_timeout=10
            )
        except socketio.exceptions.SocketIOError as error:
            raise CliFailure(f"client {self.name}: {describe(error)}") from error

    def _handler(self, event: str) -> Any:
        async def handle(payload: dict[str, Any]) -> str:
            now = time.time()
            self.received[event] += 1
            if event in self.counted:
                self.latencies.append((now - float(payload["sent"])) * 1000)
                self.deliveries.record()
            return self.name  # the acknowledgement, when the server asked for one

        return handle

    @property
    def delivered(self) -> int:
        return sum(self.received[event] for event in self.counted)

    async def close(self) -> None:
        if self.sio is not None:
            with contextlib.suppress(Exception):  # a node that died took the socket with it
                await self.sio.disconnect()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]
