"""What the connection state recovery tests put around the nodes: a TCP proxy standing for the
load balancer, and a real socket.io-client 4.8 (``tests/interop/csr_client.js``) driven over
JSON lines.

Contract: `Proxy.cut` closes every connection through the proxy and, with ``hold=True``, refuses
new ones until `Proxy.release` (the client stays away meanwhile); `Proxy.target` is the node
port new connections go to. `JsClient` records every line the client prints; its waits are on
those lines, bounded, and fail with what it printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CLIENT_JS = Path(__file__).parents[1] / "interop" / "csr_client.js"
NODE_MODULES = CLIENT_JS.parent / "node_modules" / "socket.io-client"
WAIT = 10.0


def node_or_skip() -> str:
    """The node executable with socket.io-client installed (skip, or fail under CI)."""
    node = shutil.which("node")
    if node is None or not NODE_MODULES.exists():
        reason = "install Node.js 20+ and run `npm ci` in tests/interop for the recovery tests"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set)", pytrace=False)
        pytest.skip(reason)
    return node


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of the nodes (a load balancer)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._held = False
        #: (client side, node side) of each connection through the proxy.
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        #: Node sides left open by `cut` (closed with the proxy).
        self._kept: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._held:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._pairs.append((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            if not any(writer is kept for kept in self._kept):
                writer.close()

    def cut(self, hold: bool = False, client_side_only: bool = False) -> None:
        """Close every connection: both sides see the TCP connection end, or with
        ``client_side_only`` the client does and the node does not (its connection stays open
        until its ping timeout, as when a network path dies)."""
        self._held = hold
        pairs, self._pairs = self._pairs, []
        for client_side, node_side in pairs:
            if client_side_only:
                self._kept.append(node_side)
            else:
                node_side.transport.abort()
            client_side.transport.abort()

    def release(self, target: int | None = None) -> None:
        """Accept connections again, to ``target`` when given."""
        if target is not None:
            self.target = target
        self._held = False

    async def close(self) -> None:
        self.cut()
        for writer in self._kept:
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class JsClient:
    """One socket.io-client process (see ``csr_client.js``)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._reading = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, url: str, transport: str = "websocket") -> JsClient:
        """A client of ``url`` on one ``transport`` (``websocket`` or ``polling``)."""
        proc = await asyncio.create_subprocess_exec(
            node_or_skip(), str(CLIENT_JS), url, transport,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            cwd=str(CLIENT_JS.parent),
        )  # fmt: skip
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(json.loads(line))
            self._changed.set()

    async def wait_for(self, test: Any, what: str, timeout: float = WAIT) -> dict[str, Any]:
        """The first line (from the start) that ``test(line)`` accepts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if test(line):
                    return line
            seen = len(self.lines)
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"client: no {what} within {timeout} s; got {self.lines}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def connects(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "connect" in line]

    async def connected(self, count: int) -> dict[str, Any]:
        """The ``count``-th connection's line, once it came."""
        await self.wait_for(lambda _: len(self.connects()) >= count, f"connection #{count}")
        return self.connects()[count - 1]

    async def disconnected(self, count: int = 1) -> None:
        def enough(_: Any) -> bool:
            return sum("disconnect" in line for line in self.lines) >= count

        await self.wait_for(enough, f"disconnection #{count}")

    def events(self, name: str) -> list[list[Any]]:
        return [line["args"] for line in self.lines if line.get("event") == name]

    async def wait_events(self, name: str, count: int) -> list[list[Any]]:
        await self.wait_for(lambda _: len(self.events(name)) >= count, f"{count} x {name!r}")
        return self.events(name)

    async def emit(self, event: str, *args: Any) -> Any:
        n = next(self._ids)
        assert self.proc.stdin is not None
        self.proc.stdin.write(
            json.dumps({"n": n, "cmd": "emit", "event": event, "args": args}).encode() + b"\n"
        )
        line = await self.wait_for(lambda line: line.get("reply") == n, f"the ack of {event!r}")
        assert "error" not in line, line
        return line["result"]

    async def close(self) -> None:
        self._reading.cancel()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
