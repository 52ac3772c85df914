"""Helpers for your own tests: a cluster of servers in one process, no Redis server needed.

Two levels:

* `fakeredis_managers`: N managers on one shared ``fakeredis.FakeServer``, for tests
  that drive managers directly;
* `LocalCluster`: N python-socketio ``AsyncServer`` nodes served by uvicorn on loopback
  ports, each with its manager, and real ``socketio.AsyncClient`` clients connected to any node.

The pytest plugin shipped with sioadapter (``sioadapter.pytest_plugin``, loaded automatically)
turns them into fixtures. They need the ``[testing]`` extra (fakeredis, uvicorn, aiohttp):
``pip install 'sioadapter[testing]'``. This module imports them only when used: without one,
`fakeredis_managers` and `LocalCluster` raise ``ImportError`` naming the extra.

For a backend of your own, `sioadapter.testing.contract` is the backend contract kit:
sioadapter's cluster suite as test classes that your package's suite subclasses with its URL.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from ..async_manager import AsyncClusterManager

__all__ = [
    "BACKENDS",
    "LocalCluster",
    "LocalNode",
    "fakeredis_managers",
]

BACKENDS = ("fakeredis", "memory")
"""The backends a `LocalCluster` can run on: one shared fakeredis server, or a memory hub."""

_EXTRA = "pip install 'sioadapter[testing]'"


def _require(what: str, *modules: str) -> None:
    """Raise ImportError naming the ``[testing]`` extra if one of ``modules`` is missing."""
    absent = [name for name in modules if find_spec(name) is None]
    if absent:
        raise ImportError(f"{what} needs {', '.join(absent)}: {_EXTRA}")


def fakeredis_managers(
    count: int = 3, *, server: Any = None, **options: Any
) -> list[AsyncClusterManager]:
    """``count`` managers sharing one fakeredis server (a new one unless ``server`` is given).

    ``options`` go to every `AsyncClusterManager` (``mode="sharded"``,
    ``requests_timeout=1.0``, ``key=...``).
    """
    _require("fakeredis_managers", "fakeredis")
    import fakeredis

    if count < 1:
        raise ValueError("count must be at least 1")
    shared = server if server is not None else fakeredis.FakeServer()
    return [
        AsyncClusterManager(client=fakeredis.FakeAsyncRedis(server=shared), **options)
        for _ in range(count)
    ]


def _server_class() -> Any:
    import uvicorn

    class ReadyServer(uvicorn.Server):
        """uvicorn's server with an event set once it listens (it only has a flag)."""

        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.ready = asyncio.Event()

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            self.ready.set()

    return ReadyServer


def _Server(config: Any) -> Any:
    return _server_class()(config)


@dataclass
class LocalNode:
    """One node of a `LocalCluster`: its server, manager, port and URL."""

    index: int
    sio: Any
    mgr: AsyncClusterManager
    port: int
    server: Any = None
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, for clients."""
        return f"http://127.0.0.1:{self.port}"


class LocalCluster:
    """N AsyncServer nodes in this process, one cluster, served on loopback ports.

    Use ``async with LocalCluster(3) as cluster:``. Register handlers on ``cluster.nodes[i].sio``
    (or pass ``setup(sio, index)``, run before the node starts), connect clients with
    ``await cluster.client(i)``. Leaving the block disconnects the clients, stops the servers
    and closes the managers.

    Raises ImportError naming ``pip install 'sioadapter[testing]'`` if what it runs on is
    missing: uvicorn (servers), aiohttp (clients), fakeredis (for that backend).

    Args:
        nodes: how many nodes.
        backend: ``"fakeredis"`` (one shared fake Redis server) or ``"memory"``.
        setup: called with (sio, index) for each node before it starts.
        server_options: keyword arguments for each ``socketio.AsyncServer``.
        **manager_options: keyword arguments for each manager.
    """

    def __init__(
        self,
        nodes: int = 3,
        backend: str = "fakeredis",
        *,
        setup: Callable[[Any, int], Any] | None = None,
        server_options: dict[str, Any] | None = None,
        **manager_options: Any,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        _require("LocalCluster", *(["fakeredis"] if backend == "fakeredis" else []),
                 "uvicorn", "aiohttp")  # fmt: skip
        self.size = nodes
        self.backend = backend
        self.setup = setup
        self.server_options = {"async_mode": "asgi", **(server_options or {})}
        self.manager_options = manager_options
        self.nodes: list[LocalNode] = []
        self.clients: list[Any] = []

    def _managers(self) -> list[AsyncClusterManager]:
        if self.backend == "fakeredis":
            return fakeredis_managers(self.size, **self.manager_options)
        url = f"memory://local-cluster-{uuid.uuid4().hex}"
        return [AsyncClusterManager(url, **self.manager_options) for _ in range(self.size)]

    async def __aenter__(self) -> LocalCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def start(self) -> None:
        """Create, start and serve every node."""
        import socketio
        import uvicorn

        for index, mgr in enumerate(self._managers()):
            sio = socketio.AsyncServer(client_manager=mgr, **self.server_options)
            if self.setup is not None:
                self.setup(sio, index)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            config = uvicorn.Config(
                socketio.ASGIApp(sio), host="127.0.0.1", port=port,
                log_level="warning", lifespan="off",
            )  # fmt: skip
            server = _server_class()(config)
            node = LocalNode(index, sio, mgr, port, server)
            self.nodes.append(node)
            await mgr.start()
            node.task = asyncio.create_task(server.serve())
            started = asyncio.ensure_future(server.ready.wait())
            await asyncio.wait([started, node.task], return_when=asyncio.FIRST_COMPLETED)
            if not server.ready.is_set():
                started.cancel()
                node.task.result()  # raises why it could not start
                raise RuntimeError(f"node {index} stopped before serving")

    async def client(
        self, node: int = 0, namespace: str | list[str] = "/", auth: Any = None
    ) -> Any:
        """A real ``socketio.AsyncClient`` connected to node ``node`` (websocket transport)."""
        import socketio

        client = socketio.AsyncClient(reconnection=False)
        namespaces = [namespace] if isinstance(namespace, str) else namespace
        self.clients.append(client)
        await client.connect(
            self.nodes[node].url, namespaces=namespaces, auth=auth, transports=["websocket"]
        )
        return client

    async def close(self) -> None:
        """Disconnect clients, stop servers, close managers."""
        for client in self.clients:
            await client.disconnect()
        for node in self.nodes:
            await node.sio.shutdown()
            node.server.should_exit = True
            if node.task is not None:
                await node.task
            await node.mgr.close()
        self.clients.clear()
