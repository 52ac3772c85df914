"""Node.js peers for the interop suite, and a mixed Python/Node cluster built on them.

* :func:`prepare_node` checks for Node.js 20+ and npm and runs ``npm ci`` in this directory when
  ``node_modules`` is missing or older than ``package-lock.json``.
* :class:`NodeServer` runs ``node_server.js`` (one socket.io 4.8 server on
  ``@socket.io/redis-adapter`` 8.3) as a subprocess and drives it over JSON lines.
* :func:`run_node_emitter` runs ``node_emitter.js`` (``@socket.io/redis-emitter`` 5.1) once.
* :class:`MixedCluster` is two python-socketio nodes on :class:`sioadapter.AsyncClusterManager`
  (the integration harness's :class:`~integration.harness.Cluster`) plus one Node server, all on
  one Redis with one key, and a real ``socketio.AsyncClient`` connected to each of them.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from integration.harness import WAIT_TIMEOUT, Client, Cluster, EventLog, Node

import sioadapter

HERE = Path(__file__).parent
NODE_SERVER_JS = HERE / "node_server.js"
NODE_EMITTER_JS = HERE / "node_emitter.js"
LOCKFILE = HERE / "package-lock.json"
INSTALLED_LOCK = HERE / "node_modules" / ".package-lock.json"

MISSING_NODE = "install Node.js 20+ and npm to run the interop suite"
MIN_NODE_MAJOR = 20
NPM_CI_TIMEOUT = 600.0
START_TIMEOUT = 15.0
"""Bound on a Node server's start (process start, Redis connections, subscriptions)."""
COMMAND_TIMEOUT = 10.0
"""Default bound on one command's reply; commands that wait on the cluster take less."""
STOP_TIMEOUT = 3.0
"""How long each stop step ("exit", then SIGTERM) may take before the next, harsher one."""

NAMESPACES = ("/", "/custom")
QUIET_EVENT = "__interop_quiet__"
"""The marker :meth:`MixedCluster.quiet` broadcasts; tests never use this name."""

# Which rooms each client joins on connection (in both namespaces): every room has members on
# both sides of the language boundary, and each client has a room of its own mix.
DEFAULT_ROOMS: dict[str, list[str]] = {
    "py0": ["room1", "room3"],
    "py1": ["room2"],
    "node": ["room1", "room2"],
}
CLIENTS = ("py0", "py1", "node")


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
    """One ``node_server.js`` process: a socket.io server in the cluster, driven by commands.

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
      ``(id,)``, ``disconnect`` with ``(id, reason)``);
    * :meth:`stop` always ends the process: ``exit`` command, then SIGTERM, then SIGKILL, by
      PID; it is idempotent and never raises.
    """

    def __init__(self, node: str, config: Mapping[str, Any], name: str = "node") -> None:
        self.node = node
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
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self.process = await asyncio.create_subprocess_exec(
            self.node,
            str(NODE_SERVER_JS),
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
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
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
        elif "id" in message:
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
            self.sockets.record(message["nsp"], "connection", (message["id"],))
        elif message.get("event") == "disconnect":
            self.sockets.record(message["nsp"], "disconnect", (message["id"], message["reason"]))

    async def command(self, op: str, *, timeout: float = COMMAND_TIMEOUT, **fields: Any) -> Any:
        """Run one command (``op`` and its fields) and return its result."""
        process = self.process
        assert process is not None and process.stdin is not None, f"{self.name} not started"
        if process.returncode is not None:
            raise RuntimeError(f"{self.name} exited ({process.returncode}); {self.stderr}")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = (op, future)
        line = json.dumps({"id": ident, "op": op, **to_wire(fields)}) + "\n"
        process.stdin.write(line.encode())
        await process.stdin.drain()
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{self.name}: no reply to {op} within {timeout} s; stderr: {self.stderr}"
            ) from None
        finally:
            self._pending.pop(ident, None)

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(Exception):
                await self.command("exit", timeout=STOP_TIMEOUT)
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


# -- the mixed cluster -------------------------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """Where a mixed cluster meets: the Python managers' URL and options, the Node config."""

    mode: str  # "classic" or "sharded"
    python_url: str
    node_redis: dict[str, Any]  # {"redis": url} or {"cluster": [url, ...]}
    python_options: dict[str, Any] = field(default_factory=dict)
    redis_url: str | None = None  # standalone Redis, for emitters and raw publishes


class MixedCluster:
    """Two Python nodes (``py0``, ``py1``) and one Node server (``node``) on one key.

    Contract:

    * :meth:`start` starts the Node server, then the Python nodes (harness ``Cluster`` of
      ``AsyncClusterManager``, ``requests_timeout`` as given), then connects one client per
      server, named like its server, to both :data:`NAMESPACES` with
      ``auth={"name": name, "rooms": rooms[name]}``. On every server a socket joins its
      ``auth`` rooms while connecting, and its data is ``{"name": name, "server": "python"
      | "node"}`` (the python-socketio session on Python nodes, ``socket.data`` on Node).
    * Server-side handlers, on every server and in both namespaces: ``hello`` records its
      arguments (Python: ``py.server_events``; Node: ``node.server_events``); ``hello-ack``
      records them and answers ``{"server": name, "got": first argument}``.
    * :meth:`quiet` and :meth:`assert_received_exactly` establish "nothing more will
      arrive" with a marker from the origin, as the harness's ``Cluster.quiet`` does.
    * :meth:`aclose` tears everything down; the Python cluster's checks (no pending
      requests, no malformed messages dropped, no leftover task) run when ``check``; the
      Node process is stopped in every case.
    """

    def __init__(
        self,
        node: str,
        topology: Topology,
        key: str,
        *,
        requests_timeout: float = 5.0,
        rooms: Mapping[str, list[str]] = DEFAULT_ROOMS,
    ) -> None:
        self.topology = topology
        self.key = key
        self.rooms = {name: list(r) for name, r in rooms.items()}
        config: dict[str, Any] = {
            "mode": topology.mode,
            "key": key,
            "requestsTimeout": int(requests_timeout * 1000),
            **topology.node_redis,
        }
        self.node = NodeServer(node, config)
        self.node_executable = node

        def factory(index: int, /, **options: Any) -> Any:
            return sioadapter.AsyncClusterManager(
                topology.python_url,
                key=key,
                requests_timeout=requests_timeout,
                **topology.python_options,
                **options,
            )

        self.cluster = Cluster(factory, nodes=2)
        self.clients: dict[str, Client] = {}
        self._quiet_ids = itertools.count()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.node.start()
        await self.cluster.start()
        for py in self.cluster.nodes:
            name = f"py{py.index}"
            for nsp in NAMESPACES:
                py.listen("hello", namespace=nsp)
                py.listen("hello-ack", _answer_from(name), namespace=nsp)
        self.cluster.set_connect_hook(_python_connect_hook)
        for py in self.cluster.nodes:
            name = f"py{py.index}"
            self.clients[name] = await self.cluster.client(
                py.index, list(NAMESPACES), {"name": name, "rooms": self.rooms[name]}
            )
        # A client of the Node server: the harness's Client only needs the server's ``url``.
        client = Client("node", cast(Node, self.node), list(NAMESPACES), self._auth("node"))
        self.cluster.clients.append(client)  # closed (and quiet-checked) with the others
        await client.connect()
        self.clients["node"] = client
        # Node's adapter subscribes to room channels (sharded) without waiting: let Redis
        # acknowledge them before a test publishes to those rooms.
        await self.node.command("settle")

    def _auth(self, name: str) -> dict[str, Any]:
        return {"name": name, "rooms": self.rooms[name]}

    async def aclose(self, *, check: bool = True) -> None:
        try:
            await self.cluster.aclose(check=check)
        finally:
            await self.node.stop()

    # -- accessors ---------------------------------------------------------------------------

    def py(self, name: str) -> Node:
        """The Python node ``py0`` or ``py1``."""
        return self.cluster.nodes[int(name.removeprefix("py"))]

    def mgr(self, name: str) -> sioadapter.AsyncClusterManager:
        """The AsyncClusterManager of Python node ``py0`` or ``py1``."""
        return cast(sioadapter.AsyncClusterManager, self.py(name).mgr)

    def sid(self, name: str, namespace: str = "/") -> str:
        """The socket id of client ``name`` in ``namespace``."""
        return self.clients[name].sids[namespace]

    def server_events(self, name: str) -> EventLog:
        """The server-side events server ``name`` received."""
        return self.node.server_events if name == "node" else self.py(name).server_events

    # -- delivery ----------------------------------------------------------------------------

    async def emit(
        self,
        origin: str,
        event: str,
        *args: Any,
        to: Sequence[str] = (),
        except_rooms: Sequence[str] = (),
        namespace: str = "/",
    ) -> None:
        """Broadcast from server ``origin`` (Python: ``mgr.emit``; Node: ``io.to().except()``)."""
        if origin == "node":
            await self.node.command(
                "emit",
                nsp=namespace,
                to=list(to),
                **{"except": list(except_rooms)},
                event=event,
                args=list(args),
            )
            return
        await self.mgr(origin).emit(
            event,
            tuple(args),
            namespace,
            to=list(to) or None,
            except_rooms=list(except_rooms) or None,
        )

    async def fetch_sockets(
        self, origin: str, to: Sequence[str] = (), except_rooms: Sequence[str] = ()
    ) -> dict[str, dict[str, Any]]:
        """``fetchSockets`` from ``origin``: {socket id: {id, rooms (a set), data, handshake}}."""
        if origin == "node":
            found = await self.node.command(
                "fetchSockets", to=list(to), **{"except": list(except_rooms)}
            )
            return {s["id"]: {**s, "rooms": set(s["rooms"])} for s in found}
        sockets = await self.mgr(origin).fetch_sockets(list(to) or None, list(except_rooms) or None)
        return {
            s.id: {"id": s.id, "rooms": set(s.rooms), "data": s.data, "handshake": s.handshake}
            for s in sockets
        }

    async def quiet(self, origin: str, timeout: float = WAIT_TIMEOUT) -> None:
        """Return once every connected client received all that ``origin`` sent so far.

        ``origin`` broadcasts a marker in every namespace a client is connected to; a
        server's messages arrive in the order it sent them, so everything it sent before
        the marker was delivered when the marker was.
        """
        token = f"{origin}-{next(self._quiet_ids)}"
        targets = [(c, ns) for c in self.clients.values() for ns in c.connected_namespaces()]
        for namespace in sorted({ns for _, ns in targets}):
            if origin == "node":
                await self.node.command("emit", nsp=namespace, event=QUIET_EVENT, args=[token])
            else:
                await self.py(origin).sio.emit(QUIET_EVENT, token, namespace=namespace)

        async def marker_reached(client: Client, namespace: str) -> None:
            await client.log.wait_until(
                lambda: (token,) in client.received(QUIET_EVENT, namespace),
                what=f"quiet marker {token} in {namespace}",
                timeout=timeout,
            )

        await asyncio.gather(*(marker_reached(c, ns) for c, ns in targets))

    async def assert_received_exactly(
        self, event: str, expected: Mapping[str, int], *, origin: str, namespace: str = "/"
    ) -> None:
        """Wait for the expected receipts, then for :meth:`quiet`; then compare the counts.

        ``expected`` maps a client name to its count; clients not named must get none.
        """
        wanted = {name: expected.get(name, 0) for name in self.clients}
        await asyncio.gather(
            *(
                self.clients[name].wait_for(event, count, namespace=namespace)
                for name, count in wanted.items()
                if count
            )
        )
        await self.quiet(origin)
        actual = {name: c.count(event, namespace) for name, c in self.clients.items()}
        assert actual == wanted, f"{event!r} in {namespace}: received {actual}, expected {wanted}"

    async def barrier(self, origin: str) -> None:
        """Return once every server applied what ``origin`` published before this call.

        A ``fetchSockets`` round trip from ``origin``: each other server answers it after
        handling ``origin``'s earlier messages (one connection, in order), and ``origin``
        itself (Node's classic adapter applies its own room changes when Redis echoes them)
        receives its own earlier messages before those answers.
        """
        await self.fetch_sockets(origin)

    async def wait_disconnected(self, names: Sequence[str], namespace: str = "/") -> None:
        """Wait until each named client saw its ``disconnect`` in ``namespace``."""
        await asyncio.gather(
            *(self.clients[n].wait_for("disconnect", namespace=namespace) for n in names)
        )


def _answer_from(name: str) -> Any:
    def answer(*args: Any) -> dict[str, Any]:
        return {"server": name, "got": args[0] if args else None}

    return answer


async def _python_connect_hook(
    node: Node, sid: str, namespace: str, environ: dict[str, Any], auth: Any
) -> None:
    """What node_server.js does on connection, on a Python node: data and rooms from auth."""
    auth = auth if isinstance(auth, dict) else {}
    session = {"name": auth.get("name"), "server": "python"}
    await node.sio.save_session(sid, session, namespace=namespace)
    for room in auth.get("rooms", []):
        await node.sio.enter_room(sid, room, namespace=namespace)
