"""Managers and emitters over RabbitMQ beyond the integration suite: sync ``ClusterManager``
nodes (threads; gevent and eventlet are test_amqp_green.py's), and ``Emitter`` /
``AsyncEmitter`` built from an ``amqp://`` URL emitting into a cluster of async nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import socketio
from integration.harness import Cluster

import sioadapter
from sioadapter.emitter import AsyncEmitter, Emitter

from .broker import require_aio_pika_module

require_aio_pika_module()

TIMEOUT = 10.0


def test_sync_cluster_managers_form_a_cluster(amqp_url: str, cluster_name: str) -> None:
    managers = [sioadapter.ClusterManager(amqp_url, key=cluster_name) for _ in range(2)]
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


async def test_emitters_built_from_an_amqp_url_reach_the_clients(
    make_cluster: Callable[..., Cluster], amqp_url: str
) -> None:
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        key = cluster.nodes[0].mgr.key
        await cluster.join_locally(clients[1], "news")

        emitter = AsyncEmitter(amqp_url, key=key)
        try:
            await emitter.emit("hello", 1, b"\x00\xff")
            await emitter.to("news").emit("scoop", "x" * 10_000)
        finally:
            await emitter.aclose()
        for client in clients:
            assert await client.wait_for("hello") == [(1, b"\x00\xff")]
        assert await clients[1].wait_for("scoop") == [("x" * 10_000,)]

        def emit_sync() -> None:
            sync = Emitter(amqp_url, key=key)
            try:
                sync.emit("from-sync", {"n": 2})
                sync.to("news").emit("sync-scoop", 3)
            finally:
                sync.close()

        await asyncio.to_thread(emit_sync)  # its own loop thread; not this test's loop
        for client in clients:
            assert await client.wait_for("from-sync") == [({"n": 2},)]
        assert await clients[1].wait_for("sync-scoop") == [(3,)]
        await cluster.assert_received_exactly("scoop", {clients[0]: 0, clients[1]: 1}, origin=0)
