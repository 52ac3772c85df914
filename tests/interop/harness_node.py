"""Node.js peers for the interop suite: the toolchain, the Node server, the emitters.

* :func:`prepare_node` checks for Node.js 20+ and npm and runs ``npm ci`` in this directory when
  ``node_modules`` is missing or older than ``package-lock.json``.
* :class:`NodeServer` runs ``node_server.js`` (one socket.io 4.8 server on
  ``@socket.io/redis-adapter`` 8.3) as a subprocess and drives it over JSON lines.
* :func:`run_node_emitter` runs ``node_emitter.js`` (``@socket.io/redis-emitter`` 5.1) once;
  :func:`run_python_emitter` publishes the same operations with sioadapter's emitters.

The mixed Python/Node cluster built on these is in :mod:`.mixed`.

Binary values cross the JSON lines as ``{"$bin": "<hex>"}`` (:func:`to_wire`, :func:`from_wire`).
Every wait is on an event (a reply line, a process exit, a client receipt) and is bounded; no
sleep stands in for delivery.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from integration.harness import EventLog

from sioadapter.emitter import AsyncEmitter, Emitter

HERE = Path(__file__).parent
NODE_SERVER_JS = HERE / "node_server.js"
"""The Redis peer; ``node_pg_server.js`` is the PostgreSQL one (both on ``node_peer.js``)."""
NODE_EMITTER_JS = HERE / "node_emitter.js"
LOCKFILE = HERE / "package-lock.json"
INSTALLED_LOCK = HERE / "node_modules" / ".package-lock.json"

MISSING_NODE = "install Node.js 20+ and npm to run the interop suite"
MIN_NODE_MAJOR = 20
NPM_CI_TIMEOUT = 600.0
START_TIMEOUT = 20.0
"""Bound on a Node server's start (process start, Redis connections, subscriptions)."""
COMMAND_TIMEOUT = 10.0
"""Default bound on one command's reply; commands that wait on the cluster take less."""
STOP_TIMEOUT = 3.0
"""How long each stop step ("exit", then SIGTERM) may take before the next, harsher one."""


# -- toolchain ---------------------------------------------------------------------------------


def _unavailable(reason: str) -> None:
    """Skip the test; under ``CI`` fail it instead, so CI never passes without Node."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the interop suite must run)", pytrace=False)
    pytest.skip(reason)


def node_modules_stale() -> bool:
    """True when ``npm ci`` must run: no ``node_modules``, or older than the lockfile."""
    if not INSTALLED_LOCK.exists():
        return True
    return INSTALLED_LOCK.stat().st_mtime < LOCKFILE.stat().st_mtime


def prepare_node() -> str:
    """Return the ``node`` executable, with this directory's ``node_modules`` installed.

    Skips (fails under ``CI``) without Node.js 20+ or npm; fails if ``npm ci`` fails.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable(MISSING_NODE)
    assert node is not None and npm is not None
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        _unavailable(f"{MISSING_NODE} (found node {version or 'unknown'})")
    if node_modules_stale():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed in {HERE}:\n{result.stdout}\n{result.stderr}")
    return node


def node_env() -> dict[str, str]:
    """The environment of Node processes: ours, in UTC (handshake ``time`` strings compare)."""
    env = dict(os.environ)
    env["TZ"] = "UTC"
    env.pop("DEBUG", None)  # the `debug` module would write to stderr
    return env


# -- values on the JSON lines ------------------------------------------------------------------


def to_wire(value: Any) -> Any:
    """``value`` with every ``bytes`` replaced by ``{"$bin": hex}`` (tuples become lists)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bin": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """The inverse of :func:`to_wire`: ``{"$bin": hex}`` becomes ``bytes``."""
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if value.keys() == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


# -- the Node server ---------------------------------------------------------------------------


class NodeCommandError(Exception):
    """A command the Node server answered with an error (``responses``: partial answers)."""

    def __init__(self, op: str, message: str, responses: Any = None) -> None:
        super().__init__(f"{op}: {message}")
        self.message = message
        self.responses = responses


class NodeServer:
    """One ``node_server.js`` process (or ``script``, another peer on ``node_peer.js``): a
    socket.io server in the cluster, driven by commands.

    Contract:

    * :meth:`start` spawns the process on a free loopback port (the server picks it and
      reports it) and returns once the server listens and Redis acknowledged its
      subscriptions; it raises with the process's stderr if that does not happen within
      ``START_TIMEOUT`` seconds;
    * :meth:`command` sends ``{"id", "op", **fields}`` and returns the reply's ``result``
      (binary as ``bytes``), raises :class:`NodeCommandError` on an ``error`` reply, and
      ``AssertionError`` when no reply comes within its timeout;
    * server-side events the server receives are recorded in :attr:`server_events`
      (namespace, event name, args), like the harness's ``Node.server_events``; socket
      connections and disconnections are recorded in :attr:`sockets` (``connection`` with
      ``(id, recovered)``, ``disconnect`` with ``(id, reason)``);
    * :meth:`stop` always ends the process: ``exit`` command, then SIGTERM, then SIGKILL, by
      PID; it is idempotent and never raises.
    """

    def __init__(
        self,
        node: str,
        config: Mapping[str, Any],
        name: str = "node",
        script: Path = NODE_SERVER_JS,
    ) -> None:
        self.node = node
        self.script = script
        self.config = dict(config)
        self.name = name
        self.server_events = EventLog(f"{name} server-side")
        self.sockets = EventLog(f"{name} sockets")
        self.port: int | None = None
        self.uid: str | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=100)
        self._readers: list[asyncio.Task[None]] = []
        self._exit_requested = False

    def __repr__(self) -> str:
        return f"<NodeServer {self.name} port={self.port}>"

    @property
    def url(self) -> str:
        assert self.port is not None, "the Node server is not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        """The last lines the process wrote to stderr."""
        return "".join(self._stderr)

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Spawn the process and wait until it is ready (:meth:`spawn` + :meth:`wait_ready`)."""
        await self.spawn()
        await self.wait_ready(timeout)

    async def spawn(self) -> None:
        """Start the process and its output readers; do not wait for it to be ready."""
        self._ready = asyncio.get_running_loop().create_future()
        self.process = await asyncio.create_subprocess_exec(
            self.node,
            str(self.script),
            json.dumps(self.config),
            cwd=HERE,
            env=node_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 22,  # one reply line may hold many handshakes
        )
        self._readers = [
            asyncio.create_task(self._read_stdout(), name=f"{self.name} stdout"),
            asyncio.create_task(self._read_stderr(), name=f"{self.name} stderr"),
        ]

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait for the ready line: listening, and every subscription acknowledged by Redis."""
        assert self._ready is not None, "spawn() first"
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
            self._ready.cancel()  # nobody waits for it any more
            raise AssertionError(
                f"{self.name}: not ready within {timeout} s; stderr: {self.stderr}"
            ) from None
        self.port = int(ready["ready"])
        self.uid = ready.get("uid")

    async def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                self._stderr.append(f"[stdout, not JSON] {raw!r}\n")
                continue
            self._dispatch(message)
        # EOF: the process is gone; nothing pending will be answered.
        await self._drain_stderr()
        gone = RuntimeError(f"{self.name} exited; stderr: {self.stderr}")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(gone)
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(gone)
        self._pending.clear()

    async def _drain_stderr(self) -> None:
        if len(self._readers) > 1:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._readers[1]), 1.0)

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for raw in self.process.stderr:
            self._stderr.append(raw.decode(errors="replace"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "ready" in message:
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(message)
        elif "id" in message and "event" not in message:
            # A reply; a socket report also has an "id" (the socket's), and an "event".
            op, future = self._pending.pop(message["id"], ("?", None))
            if future is None or future.done():
                return
            if "error" in message:
                error = NodeCommandError(op, message["error"], from_wire(message.get("responses")))
                future.set_exception(error)
            else:
                future.set_result(from_wire(message.get("result")))
        elif message.get("event") == "serverSide":
            self.server_events.record(
                message["nsp"], message["name"], from_wire(message.get("args", []))
            )
        elif message.get("event") == "connection":
            recovered = bool(message.get("recovered", False))
            self.sockets.record(message["nsp"], "connection", (message["id"], recovered))
        elif message.get("event") == "disconnect":
            self.sockets.record(message["nsp"], "disconnect", (message["id"], message["reason"]))

    async def command(
        self, op: str, *, reply_timeout: float = COMMAND_TIMEOUT, **fields: Any
    ) -> Any:
        """Run one command (``op`` and its fields) and return its result.

        ``reply_timeout`` (seconds) bounds the wait for the reply; a ``timeout`` field is the
        command's own (milliseconds, for Node). ``except_`` is sent as ``except``.
        """
        process = self.process
        assert process is not None and process.stdin is not None, f"{self.name} not started"
        if process.returncode is not None:
            raise RuntimeError(f"{self.name} exited ({process.returncode}); {self.stderr}")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = (op, future)
        fields = {("except" if k == "except_" else k): v for k, v in fields.items()}
        line = json.dumps({"id": ident, "op": op, **to_wire(fields)}) + "\n"
        process.stdin.write(line.encode())
        await process.stdin.drain()
        try:
            return await asyncio.wait_for(future, reply_timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{self.name}: no reply to {op} within {reply_timeout} s; stderr: {self.stderr}"
            ) from None
        finally:
            self._pending.pop(ident, None)

    def request_exit(self) -> None:
        """Ask the process to exit, without waiting (:meth:`stop` waits, and insists)."""
        process = self.process
        if process is None or process.returncode is not None or process.stdin is None:
            return
        with contextlib.suppress(Exception):
            process.stdin.write(b'{"id": 0, "op": "exit"}\n')
        self._exit_requested = True

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            if not self._exit_requested:
                with contextlib.suppress(Exception):
                    await self.command("exit", reply_timeout=STOP_TIMEOUT)
            await _end_process(process, STOP_TIMEOUT)
        if process.stdin is not None:
            process.stdin.close()
        for reader in self._readers:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(reader, STOP_TIMEOUT)
        self._readers = []


async def _end_process(process: asyncio.subprocess.Process, grace: float) -> None:
    """Wait ``grace`` seconds for ``process`` to exit, then SIGTERM it, then SIGKILL it."""
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), grace)
            return
        except asyncio.TimeoutError:
            continue


async def run_node_emitter(
    node: str, redis_url: str, key: str, ops: Sequence[Mapping[str, Any]], timeout: float = 15.0
) -> None:
    """Publish ``ops`` with ``@socket.io/redis-emitter`` (``node_emitter.js``), in order.

    Returns once the process exited 0, which it does after Redis acknowledged every publish;
    raises ``AssertionError`` (with its stderr) otherwise. The process is killed by PID if it
    runs longer than ``timeout``.
    """
    spec = {"redis": redis_url, "key": key, "ops": to_wire(list(ops))}
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_EMITTER_JS),
        json.dumps(spec),
        cwd=HERE,
        env=node_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        await _end_process(process, 0.5)
        raise AssertionError(f"node_emitter.js did not finish within {timeout} s") from None
    assert process.returncode == 0, f"node_emitter.js failed: {stderr.decode(errors='replace')}"


def _python_emitter_steps(emitter: Any, ops: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Each op of :func:`run_node_emitter`'s format as (bound method, args) of sioadapter's
    emitter API, selected the way the Node emitter selects (``of``, ``to``, ``except_``)."""
    steps = []
    for op in ops:
        selected = emitter.of(op["nsp"]) if op.get("nsp", "/") != "/" else emitter
        if op.get("to"):
            selected = selected.to(op["to"])
        if op.get("except"):
            selected = selected.except_(op["except"])
        args = list(op.get("args", []))
        kind = op["op"]
        if kind == "emit":
            steps.append((selected.emit, [op["event"], *args]))
        elif kind == "socketsJoin":
            steps.append((selected.sockets_join, [op["rooms"]]))
        elif kind == "socketsLeave":
            steps.append((selected.sockets_leave, [op["rooms"]]))
        elif kind == "disconnectSockets":
            steps.append((selected.disconnect_sockets, [bool(op.get("close"))]))
        elif kind == "serverSideEmit":
            steps.append((selected.server_side_emit, [op["event"], *args]))
        else:
            raise ValueError(f"unknown emitter op {kind!r}")
    return steps


async def run_python_emitter(
    redis_url: str, key: str, ops: Sequence[Mapping[str, Any]], *, use_async: bool = False
) -> None:
    """Publish ``ops`` (:func:`run_node_emitter`'s format) with sioadapter's emitter, in order.

    ``use_async`` picks ``AsyncEmitter``; otherwise the synchronous ``Emitter`` runs in a
    worker thread, as an application outside the event loop would use it.
    """
    if use_async:
        emitter = AsyncEmitter(redis_url, key=key)
        try:
            for method, args in _python_emitter_steps(emitter, ops):
                await method(*args)
        finally:
            await emitter.aclose()
        return

    def publish_all() -> None:
        sync_emitter = Emitter(redis_url, key=key)
        try:
            for method, args in _python_emitter_steps(sync_emitter, ops):
                method(*args)
        finally:
            sync_emitter.close()

    await asyncio.to_thread(publish_all)
