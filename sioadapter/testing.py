"""Helpers for your own tests: a cluster of managers in one process, no Redis server needed.

Every manager gets its own ``fakeredis.FakeAsyncRedis`` client on one shared
``fakeredis.FakeServer``, so they see each other exactly as separate processes on one Redis
would (same protocol, same channels, subscriber counts included)::

    import socketio
    from sioadapter.testing import fakeredis_managers

    async def test_broadcast_reaches_every_node():
        managers = fakeredis_managers(3)
        servers = [socketio.AsyncServer(client_manager=m, async_mode="asgi") for m in managers]
        for mgr in managers:
            await mgr.start()
        assert await managers[0].server_count() == 3
        ...
        for mgr in managers:
            await mgr.close()

Needs the ``fakeredis`` package (``pip install sioadapter[test]``).
"""

from __future__ import annotations

from typing import Any

from .async_manager import AsyncClusterManager


def fakeredis_managers(
    count: int = 3, *, server: Any = None, **options: Any
) -> list[AsyncClusterManager]:
    """``count`` managers sharing one fakeredis server (a new one unless ``server`` is given).

    ``options`` go to every :class:`~sioadapter.AsyncClusterManager` (``mode="sharded"``,
    ``requests_timeout=1.0``, ``key=...``).
    """
    try:
        import fakeredis
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("fakeredis_managers needs fakeredis: pip install fakeredis") from error
    if count < 1:
        raise ValueError("count must be at least 1")
    shared = server if server is not None else fakeredis.FakeServer()
    return [
        AsyncClusterManager(client=fakeredis.FakeAsyncRedis(server=shared), **options)
        for _ in range(count)
    ]
