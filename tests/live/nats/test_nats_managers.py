"""Managers over NATS beyond the integration suite: sync ``ClusterManager`` nodes, and a
ready nats-py client given as ``client=``."""

from __future__ import annotations

import asyncio
import time

import socketio

import sioadapter

from .natsservers import NatsServer, require_nats_py_module

require_nats_py_module()

import nats  # noqa: E402

from sioadapter.backends.nats import NatsBackend  # noqa: E402

TIMEOUT = 10.0


def test_sync_cluster_managers_form_a_cluster(nats_server: NatsServer, cluster_name: str) -> None:
    managers = [sioadapter.ClusterManager(nats_server.url, key=cluster_name) for _ in range(2)]
    try:
        for mgr in managers:
            socketio.Server(client_manager=mgr, async_mode="threading")
            mgr.start()
        managers[1].on("ping", lambda: "pong")
        # Nodes are counted by heartbeat: each announces itself when it starts serving.
        deadline = time.monotonic() + TIMEOUT
        while managers[0].server_count() < 2:
            assert time.monotonic() < deadline, "the second node was never counted"
            time.sleep(0.05)
        assert managers[0].server_side_call("ping") == ["pong"]
    finally:
        for mgr in managers:
            mgr.close()


async def test_a_ready_client_makes_a_nats_manager(
    nats_server: NatsServer, cluster_name: str
) -> None:
    client = await nats.connect(nats_server.url)
    mine = sioadapter.AsyncClusterManager(client=client, key=cluster_name)
    other = sioadapter.AsyncClusterManager(nats_server.url, key=cluster_name)
    try:
        assert isinstance(mine.backend, NatsBackend)
        assert mine.backend.pub_client is client
        for mgr in (mine, other):
            socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
            await mgr.start()
        other.on("ping", lambda: "pong")

        async def counted() -> None:
            # server_count() answers from heartbeats: ask until the other node is counted.
            while await mine.server_count() < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        await asyncio.wait_for(counted(), TIMEOUT)
        assert await mine.server_side_call("ping") == ["pong"]
    finally:
        await mine.close()
        await other.close()
    assert client.is_connected  # the caller's, left open
    await client.close()
