"""A mixed cluster: two python-socketio nodes and one Node.js socket.io server, one client each.

:class:`MixedCluster` is two ``AsyncServer`` nodes on :class:`sioadapter.AsyncClusterManager`
(the integration harness's :class:`~integration.harness.Cluster`) plus one
:class:`~.harness_node.NodeServer`, all on one Redis with one key, and a real
``socketio.AsyncClient`` (the harness's :class:`~integration.harness.Client`) connected to each
server: clients are language-neutral, so the Node server's client is a Python one too.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from integration.harness import WAIT_TIMEOUT, Client, Cluster, EventLog, Node

import sioadapter

from .harness_node import NODE_SERVER_JS, NodeServer

NAMESPACES = ("/", "/custom")
QUIET_EVENT = "__interop_quiet__"
"""The marker :meth:`MixedCluster.quiet` broadcasts; tests never use this name."""

# The rooms each client joins on connection (in both namespaces): room1 and room2 have members
# on both sides of the language boundary; room3 only on a Python node.
DEFAULT_ROOMS: dict[str, list[str]] = {
    "py0": ["room1", "room3"],
    "py1": ["room2"],
    "node": ["room1", "room2"],
}
CLIENTS = ("py0", "py1", "node")

TOPOLOGIES = ("classic", "classic-specific", "sharded", "sharded-private", "sharded-standalone")
"""Every configuration a mixed cluster can run in (the conftest's ``topology`` parameters)."""


def topologies(*names: str) -> pytest.MarkDecorator:
    """Run a test in the named topologies (default: all of :data:`TOPOLOGIES`)."""
    return pytest.mark.parametrize("topology", list(names or TOPOLOGIES), indirect=True)


BOTH_MODES = topologies("classic", "sharded")
"""Classic on the standalone Redis, sharded on the Redis Cluster."""
REQUEST_PATHS = topologies("classic", "classic-specific", "sharded", "sharded-standalone")
"""The topologies whose requests and responses travel differently."""
ROOM_ROUTING = topologies("classic", "sharded", "sharded-private")
"""The topologies whose broadcasts to rooms and socket ids travel differently."""


@dataclass(frozen=True)
class Topology:
    """Where a mixed cluster meets: the Python managers' URL and options, the Node config."""

    mode: str  # "classic" or "sharded": the Node adapter (createAdapter, createShardedAdapter)
    python_url: str
    node_config: dict[str, Any]  # {"redis": url} or {"cluster": [url, ...]}, + adapter options
    python_options: dict[str, Any] = field(default_factory=dict)
    redis_url: str | None = None  # standalone Redis, for emitters and raw publishes
    node_script: Path = NODE_SERVER_JS  # the Node peer: node_server.js (Redis) or another


class MixedCluster:
    """Two Python nodes (``py0``, ``py1``) and one Node server (``node``) on one key.

    Contract:

    * :meth:`start` starts the Node server and the Python nodes (a harness ``Cluster`` of
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
    * ``async with`` starts it, and closes it with the checks unless the block raised;
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
            **topology.node_config,
        }
        self.node = NodeServer(node, config, script=topology.node_script)
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
        # The Node process starts while the Python nodes do; its reader tasks exist before
        # the harness Cluster takes its snapshot of running tasks (its leak check).
        await self.node.spawn()
        await self.cluster.start()
        for py in self.cluster.nodes:
            name = f"py{py.index}"
            for nsp in NAMESPACES:
                py.listen("hello", namespace=nsp)
                py.listen("hello-ack", _answer_from(name), namespace=nsp)
        self.cluster.set_connect_hook(_python_connect_hook)
        await _all_or_nothing(
            [
                *(self._connect_python_client(py) for py in self.cluster.nodes),
                self._connect_node_client(),
            ]
        )
        self.clients = {name: self.clients[name] for name in CLIENTS}  # a stable order
        # Node's adapter subscribes to room channels (sharded) without waiting: let Redis
        # acknowledge them before a test publishes to those rooms.
        await self.node.command("settle")

    async def _connect_python_client(self, py: Node) -> None:
        name = f"py{py.index}"
        client = await self.cluster.client(py.index, list(NAMESPACES), self._auth(name))
        client.name = client.log.owner = name  # failure messages name clients like servers
        self.clients[name] = client

    async def _connect_node_client(self) -> None:
        await self.node.wait_ready()
        # The harness's Client only needs its server's ``url``.
        client = Client("node", cast(Node, self.node), list(NAMESPACES), self._auth("node"))
        self.cluster.clients.append(client)  # closed (and quiet-checked) with the others
        self.clients["node"] = client
        await client.connect()

    async def open(self) -> MixedCluster:
        """:meth:`start`; if that fails, tear down what was started and re-raise."""
        try:
            await self.start()
        except BaseException:
            await self.aclose(check=False)
            raise
        return self

    async def __aenter__(self) -> MixedCluster:
        return await self.open()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose(check=exc_type is None)

    def _auth(self, name: str) -> dict[str, Any]:
        return {"name": name, "rooms": self.rooms[name]}

    async def aclose(self, *, check: bool = True) -> None:
        # Node shuts down while the Python side does (the Python checks run before their
        # first await); stop() then waits for the process, or kills it.
        self.node.request_exit()
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
        to: Sequence[Any] = (),
        except_rooms: Sequence[Any] = (),
        namespace: str = "/",
    ) -> None:
        """Broadcast from server ``origin``: Python ``sio.emit`` (``mgr.emit`` when there are
        except rooms), Node ``io.of(nsp).to(...).except(...).emit``."""
        if origin == "node":
            await self.node.command(
                "emit",
                nsp=namespace,
                to=list(to),
                except_=list(except_rooms),
                event=event,
                args=list(args),
            )
            return
        if except_rooms:
            await self.mgr(origin).emit(
                event, tuple(args), namespace, to=list(to) or None, except_rooms=list(except_rooms)
            )
        else:  # what applications call: python-socketio's own API
            await self.py(origin).sio.emit(
                event, tuple(args), to=list(to) or None, namespace=namespace
            )

    async def fetch_sockets(
        self, origin: str, to: Sequence[Any] = (), except_rooms: Sequence[Any] = ()
    ) -> dict[str, dict[str, Any]]:
        """``fetchSockets`` from ``origin``: {socket id: {id, rooms (a set), data, handshake}}."""
        if origin == "node":
            found = await self.node.command("fetchSockets", to=list(to), except_=list(except_rooms))
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
        the marker was delivered when the marker was. (In sharded mode that order holds per
        channel: a room channel may live on another shard than the marker's namespace
        channel, so there the marker is a strong hint rather than a proof.)
        """
        token = self.new_marker(origin)
        namespaces = sorted({ns for c in self.clients.values() for ns in c.connected_namespaces()})
        for namespace in namespaces:
            if origin == "node":
                await self.node.command("emit", nsp=namespace, event=QUIET_EVENT, args=[token])
            else:
                await self.py(origin).sio.emit(QUIET_EVENT, token, namespace=namespace)
        await self.wait_marker(token, timeout)

    def new_marker(self, origin: str) -> str:
        """A fresh token for a :data:`QUIET_EVENT` marker sent by ``origin``."""
        return f"{origin}-{next(self._quiet_ids)}"

    async def wait_marker(self, token: str, timeout: float = WAIT_TIMEOUT) -> None:
        """Wait until every client received the marker ``token`` in each namespace it is
        still connected to."""

        async def marker_reached(client: Client, namespace: str) -> None:
            await client.log.wait_until(
                lambda: (token,) in client.received(QUIET_EVENT, namespace),
                what=f"quiet marker {token} in {namespace}",
                timeout=timeout,
            )

        await asyncio.gather(
            *(
                marker_reached(c, ns)
                for c in self.clients.values()
                for ns in c.connected_namespaces()
            )
        )

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

    async def applied(self, origin: str) -> None:
        """Return once every server applied the room operations and disconnects ``origin``
        sent before this call: on the streams protocol they are stream entries, so a marker
        broadcast after them on the stream (:meth:`quiet`); elsewhere :meth:`barrier`."""
        if self.topology.mode == "streams":
            await self.quiet(origin)
        else:
            await self.barrier(origin)

    async def wait_disconnected(self, names: Sequence[str], namespace: str = "/") -> None:
        """Wait until each named client saw its ``disconnect`` in ``namespace``."""
        await asyncio.gather(
            *(self.clients[n].wait_for("disconnect", namespace=namespace) for n in names)
        )


async def _all_or_nothing(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``coroutines`` concurrently; when one fails, cancel and await the others before
    raising its error (a client still connecting must not outlive a failed start: uvicorn's
    shutdown would wait for its connection)."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception()]
    if failed:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise cast(BaseException, failed[0].exception())


async def server_counts(mixed: MixedCluster) -> dict[tuple[str, str], int]:
    """Every server's ``serverCount`` in each namespace."""
    counts: dict[tuple[str, str], int] = {}
    for nsp in NAMESPACES:
        counts["node", nsp] = await mixed.node.command("serverCount", nsp=nsp)
        for name in ("py0", "py1"):
            counts[name, nsp] = await mixed.mgr(name).server_count(nsp)
    return counts


async def wait_formed(mixed: MixedCluster, timeout: float, servers: int = 3) -> float:
    """Wait until each server counts ``servers`` servers in every namespace; return how long
    it took (seconds). A count changes on no event a test can wait on: bounded poll."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        counts = await server_counts(mixed)
        if all(count == servers for count in counts.values()):
            return time.monotonic() - start
        if time.monotonic() > deadline:
            raise AssertionError(f"the cluster did not form in {timeout} s: {counts}")
        await asyncio.sleep(0.05)


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
