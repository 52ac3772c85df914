"""A cluster of real python-socketio servers and real clients, in one event loop.

Every client is a ``socketio.AsyncClient`` over the websocket transport, connected to a node of
:mod:`._nodes`. Nothing is mocked: what the tests observe is what a user's browser would
observe. The manager under test comes from a :class:`ManagerFactory`, so the same scenarios run
over any backend.

"Nothing more will arrive" is established with a marker (see :meth:`Cluster.quiet`), never by
sleeping. Used by the backend contract kit (`sioadapter.testing.contract`) and by sioadapter's
own integration suite; not public API (names may change).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import socketio

from ._nodes import WAIT_TIMEOUT, ConnectHook, EventLog, Node

__all__ = [
    "HOUSEKEEPING_COROUTINES",
    "LEAK_GRACE",
    "QUIET_EVENT",
    "Client",
    "Cluster",
    "ManagerFactory",
    "unique_cluster_name",
]

QUIET_EVENT = "__harness_quiet__"
"""The marker event :meth:`Cluster.quiet` sends; tests never use this name."""

LEAK_GRACE = 2.0
"""How long teardown lets leftover tasks finish on their own before calling them leaks."""

# Tasks that libraries start per connection and leave sleeping after the connection is gone;
# they are not ours to fix, so teardown cancels them instead of reporting them. Engine.IO's
# server starts ``_send_ping`` after every pong and it sleeps ``ping_interval`` (25 s).
HOUSEKEEPING_COROUTINES = frozenset({"AsyncSocket._send_ping"})


class ManagerFactory(Protocol):
    """Makes the client manager of node ``index`` of one cluster.

    Every call made for one cluster must return managers that see each other (same backend
    URL, same key); calls for different clusters must not. ``options`` are manager keyword
    arguments a test needs (``requests_timeout=1.0``); a factory passes them through.
    """

    def __call__(self, index: int, /, **options: Any) -> Any: ...


class Client:
    """A ``socketio.AsyncClient`` connected to one node, recording everything it receives.

    Contract:

    * every event received in each of :attr:`namespaces` is recorded in :attr:`log` in arrival
      order (``connect`` and ``disconnect`` too; ``disconnect`` carries the reason);
    * an event with a handler registered by :meth:`on` is answered with the handler's return
      value (a tuple answers with several arguments); an event without one is answered with no
      arguments if the server asked for an answer;
    * :meth:`never_answer` makes the client record an event and never acknowledge it; the
      pending handler is cancelled at teardown, after the client has disconnected;
    * reconnection is disabled: a disconnected client stays disconnected;
    * :attr:`sids` keeps the sid of each namespace after a disconnect, for assertions.
    """

    def __init__(self, name: str, node: Node, namespaces: Sequence[str], auth: Any) -> None:
        self.name = name
        self.node = node
        self.namespaces = tuple(namespaces)
        self.auth = auth
        self.log = EventLog(name)
        self.sids: dict[str, str] = {}
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self._answers: dict[tuple[str, str], Callable[..., Any]] = {}
        self._answering: set[asyncio.Task[Any]] = set()
        for namespace in self.namespaces:
            self._install(namespace)

    def __repr__(self) -> str:
        return f"<Client {self.name}>"

    def _install(self, namespace: str) -> None:
        # Explicit handlers per namespace: python-socketio routes reserved events (connect,
        # disconnect) only to explicit handlers, everything else to the '*' catch-all.
        async def on_connect() -> None:
            self.log.record(namespace, "connect", ())

        async def on_disconnect(reason: str | None = None) -> None:
            self.log.record(namespace, "disconnect", (reason,))

        async def on_any(event: str, *args: Any) -> Any:
            # Record before anything can suspend: python-socketio runs each incoming message
            # in its own task, started in arrival order, so recording first keeps the order.
            self.log.record(namespace, event, args)
            answer = self._answers.get((namespace, event))
            if answer is None:
                return None
            task = asyncio.current_task()
            assert task is not None
            self._answering.add(task)
            try:
                result = answer(*args)
                if inspect.isawaitable(result):
                    result = await result
                return result
            finally:
                self._answering.discard(task)

        self.sio.on("connect", on_connect, namespace=namespace)
        self.sio.on("disconnect", on_disconnect, namespace=namespace)
        self.sio.on("*", on_any, namespace=namespace)

    def on(self, event: str, handler: Callable[..., Any], namespace: str = "/") -> None:
        """Answer ``event`` with ``handler(*args)`` (sync or async; a tuple = several args)."""
        self._answers[(namespace, event)] = handler

    def never_answer(self, event: str, namespace: str = "/") -> None:
        """Record ``event`` but leave every acknowledgement it asks for unanswered."""

        async def hold(*_: Any) -> None:
            await asyncio.get_running_loop().create_future()  # never resolved; cancelled later

        self.on(event, hold, namespace)

    @property
    def sid(self) -> str:
        """The sid of the first namespace this client connected to."""
        return self.sids[self.namespaces[0]]

    def connected_namespaces(self) -> list[str]:
        return [ns for ns in self.namespaces if ns in self.sio.namespaces]

    def is_connected(self, namespace: str = "/") -> bool:
        return namespace in self.sio.namespaces

    def received(self, event: str, namespace: str = "/") -> list[tuple[Any, ...]]:
        """The arguments of each ``event`` received in ``namespace``, in order."""
        return self.log.received(event, namespace)

    def count(self, event: str, namespace: str = "/") -> int:
        return self.log.count(event, namespace)

    async def wait_for(
        self, event: str, count: int = 1, *, namespace: str = "/", timeout: float = WAIT_TIMEOUT
    ) -> list[tuple[Any, ...]]:
        """Wait until ``event`` arrived ``count`` times in ``namespace``; return its receipts."""
        return await self.log.wait_for(event, count, namespace=namespace, timeout=timeout)

    async def connect(self) -> None:
        await self.sio.connect(
            self.node.url,
            auth=self.auth,
            transports=["websocket"],
            namespaces=list(self.namespaces),
            wait_timeout=WAIT_TIMEOUT,
        )
        for namespace in self.namespaces:
            sid = self.sio.get_sid(namespace)
            assert sid is not None, f"{self.name} got no sid in {namespace}"
            self.sids[namespace] = sid

    async def close(self) -> None:
        """Disconnect (if still connected), then cancel acknowledgements left pending."""
        if self.sio.connected:
            await self.sio.disconnect()
        else:
            # Disconnected by the server: make sure the Engine.IO side is torn down too
            # (idempotent; closes the aiohttp session).
            await self.sio.eio.disconnect()
        # Cancelled only now that the client is gone, so no late answer reaches a server.
        for task in list(self._answering):
            task.cancel()


class Cluster:
    """N nodes sharing one cluster, plus the clients a test connects to them.

    Use as ``async with Cluster(factory, nodes=3) as cluster:``. On enter, every node's manager
    is made by ``factory(index, **manager_options)``, its server is created, ``mgr.start()`` is
    awaited (when ``cluster_api``), and uvicorn is started and reported started.

    On exit, in this order: every manager is checked (``mgr.pending_requests == 0`` and
    ``mgr.stats.dropped_malformed == 0``), clients disconnect, servers shut down, managers
    close (``mgr.close()``), and the tasks created since enter must all have finished. A
    failed check raises ``AssertionError`` once cleanup is complete; the checks are skipped
    (cleanup is not) when the block exits with an exception, so the original failure is the
    one reported.

    ``leak_grace`` bounds how long teardown waits for leftover tasks to end by themselves.
    ``cluster_api=False`` accepts python-socketio's own managers (no ``start``, ``close`` or
    ``pending_requests``); it exists for the harness's self-test.
    """

    def __init__(
        self,
        factory: ManagerFactory,
        nodes: int = 3,
        *,
        cluster_api: bool = True,
        leak_grace: float = LEAK_GRACE,
        **manager_options: Any,
    ) -> None:
        self.factory = factory
        self.leak_grace = leak_grace
        self.size = nodes
        self.cluster_api = cluster_api
        self.manager_options = manager_options
        self.nodes: list[Node] = []
        self.clients: list[Client] = []
        # Malformed messages a test injected on purpose, by node index (checked at teardown).
        self.expected_malformed: dict[int, int] = {}
        self._client_ids = itertools.count()
        self._quiet_ids = itertools.count()
        self._tasks_before: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Cluster:
        await self.start()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose(check=exc_type is None)

    async def start(self) -> None:
        """Create and start every node (what ``async with`` does on enter)."""
        self._tasks_before = asyncio.all_tasks()
        try:
            for index in range(self.size):
                mgr = self.factory(index, **self.manager_options)
                self.nodes.append(Node(index, mgr))
            await asyncio.gather(*(node.start(self.cluster_api) for node in self.nodes))
        except BaseException:
            await self.aclose(check=False)
            raise

    # -- clients ---------------------------------------------------------------------------

    async def client(
        self, node_index: int, namespace: str | Sequence[str] = "/", auth: Any = None
    ) -> Client:
        """Connect a new client to node ``node_index`` in ``namespace`` (or several)."""
        namespaces = [namespace] if isinstance(namespace, str) else list(namespace)
        client = Client(
            f"c{next(self._client_ids)}@node{node_index}",
            self.nodes[node_index],
            namespaces,
            auth,
        )
        # Registered before connecting, so a failed connect is still torn down.
        self.clients.append(client)
        await client.connect()
        return client

    async def connect_each(
        self, per_node: int = 1, namespace: str | Sequence[str] = "/"
    ) -> list[Client]:
        """Connect ``per_node`` clients to every node; returned node by node."""
        return [
            await self.client(node.index, namespace) for node in self.nodes for _ in range(per_node)
        ]

    async def join_locally(self, client: Client, *rooms: str, namespace: str = "/") -> None:
        """Put ``client`` in ``rooms`` through its own node: a local join, not a cluster request."""
        for room in rooms:
            await client.node.sio.enter_room(client.sids[namespace], room, namespace=namespace)

    def set_connect_hook(self, hook: ConnectHook | None) -> None:
        """Run ``hook`` in every node's connect handler (set it before connecting clients)."""
        for node in self.nodes:
            node.connect_hook = hook

    # -- delivery ----------------------------------------------------------------------------

    async def quiet(self, origin: int, timeout: float = WAIT_TIMEOUT) -> None:
        """Return once every connected client has received all that node ``origin`` sent.

        The node emits a marker to everyone in every namespace a client is connected to, and
        each client must receive it. A node's messages are delivered in the order it sent them,
        so everything ``origin`` emitted (or asked other nodes to do) before the marker has been
        delivered by then. A client the operation under test disconnects must have seen its
        ``disconnect`` before this is called, otherwise it waits for a marker that cannot come.
        """
        node = self.nodes[origin]
        token = f"{origin}-{next(self._quiet_ids)}"
        targets = [(c, ns) for c in self.clients for ns in c.connected_namespaces()]
        for namespace in sorted({ns for _, ns in targets}):
            await node.sio.emit(QUIET_EVENT, token, namespace=namespace)

        async def marker_reached(client: Client, namespace: str) -> None:
            await client.log.wait_until(
                lambda: (token,) in client.received(QUIET_EVENT, namespace),
                what=f"quiet marker {token} from node{origin} in {namespace}",
                timeout=timeout,
            )

        await asyncio.gather(*(marker_reached(c, ns) for c, ns in targets))

    async def assert_received_exactly(
        self,
        event: str,
        expected: Mapping[Client, int],
        *,
        origin: int,
        namespace: str = "/",
    ) -> None:
        """Assert each client received ``event`` exactly ``expected[client]`` times, for good.

        Waits for :meth:`quiet` from ``origin`` (the node that performed the operation under
        test) first, so a duplicate still in flight is counted, not missed.
        """
        await self.quiet(origin)
        actual = {c.name: c.count(event, namespace) for c in expected}
        wanted = {c.name: n for c, n in expected.items()}
        assert actual == wanted, f"{event!r} in {namespace}: received {actual}, expected {wanted}"

    # -- lifecycle ---------------------------------------------------------------------------

    async def stop_node(self, index: int) -> None:
        """Take node ``index`` out of the cluster the way a server shuts down.

        Its clients disconnect, its server stops, its manager closes. Teardown later closes the
        manager once more, which ``close()`` must tolerate.
        """
        node = self.nodes[index]
        await asyncio.gather(*(c.close() for c in self.clients if c.node is node))
        await node.stop_server()
        if self.cluster_api:
            await node.mgr.close()

    async def aclose(self, *, check: bool = True) -> None:
        """Tear everything down (what ``async with`` does on exit); ``check`` = run the checks."""
        problems: list[str] = []
        if check and self.cluster_api:
            # Before anything closes: close() may legitimately drop pending requests, which
            # would hide a request the test left behind.
            for node in self.nodes:
                pending = node.mgr.pending_requests
                if pending != 0:
                    problems.append(f"node{node.index}: {pending} pending requests")
                # Nodes of one healthy cluster never send each other undecodable messages;
                # a drop here explains an event that "did not arrive".
                malformed = node.mgr.stats.dropped_malformed
                if malformed != self.expected_malformed.get(node.index, 0):
                    problems.append(f"node{node.index}: dropped {malformed} malformed messages")
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)
        results = await asyncio.gather(
            *(node.stop_server() for node in self.nodes), return_exceptions=True
        )
        problems += [f"server shutdown: {r!r}" for r in results if isinstance(r, BaseException)]
        if self.cluster_api:
            results = await asyncio.gather(
                *(node.mgr.close() for node in self.nodes), return_exceptions=True
            )
            problems += [f"mgr.close(): {r!r}" for r in results if isinstance(r, BaseException)]
        if self.cluster_api:
            for node in self.nodes:
                # python-socketio keeps {sid: {0: id counter, ack id: callback}}: after close,
                # no acknowledgement callback may be left waiting.
                held = sum(len(table) - 1 for table in node.mgr.callbacks.values())
                if held:
                    problems.append(f"node{node.index}: {held} ack callbacks left after close")
        leaked = await self._collect_leftover_tasks()
        if leaked:
            problems.append(f"tasks still pending after teardown: {leaked}")
        if check and problems:
            raise AssertionError("cluster teardown: " + "; ".join(problems))

    async def _collect_leftover_tasks(self) -> list[str]:
        """Let tasks created since enter finish; cancel and name those that do not."""
        current = asyncio.current_task()
        leftover = {
            t for t in asyncio.all_tasks() if t not in self._tasks_before and t is not current
        }
        for task in leftover:
            if _coroutine_name(task) in HOUSEKEEPING_COROUTINES:
                task.cancel()
        if not leftover:
            return []
        # Bounded wait on the tasks themselves: shutdown work (closing sockets, listeners
        # noticing close()) may need a few more loop iterations; that is not a leak.
        _, pending = await asyncio.wait(leftover, timeout=self.leak_grace)
        leaked = sorted(f"{t.get_name()}:{_coroutine_name(t)}" for t in pending)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=self.leak_grace)
        return leaked


def _coroutine_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", repr(coro))


def unique_cluster_name(test_id: str, suffix: str) -> str:
    """A backend-safe name for one test's cluster (letters, digits, ``._-`` only)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", test_id).strip("-")
    return f"{safe[-80:]}-{suffix}"
