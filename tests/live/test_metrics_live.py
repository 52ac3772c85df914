"""Metrics and health on a real redis-server: sync servers (ClusterManager, as Flask-SocketIO
runs them) with real clients, scraped from the test's thread; ``mgr.healthy`` through a Redis
that dies and comes back.

The async managers' metrics over every Redis deployment are tests/integration/test_metrics.py,
re-exported by test_suite_over_redis.py. Without prometheus_client this module skips, or fails
under CI (where the dev extra must have installed it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest
import socketio
from integration.harness import Client

import sioadapter

from .sync_nodes import SyncNode, blocking

try:
    import prometheus_client
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("needs pip install 'sioadapter[prometheus]'", allow_module_level=True)


def scrape(registry: Any, uid: str) -> dict[tuple[str, str], float]:
    """{(sample name, extra labels): value} of the manager ``uid`` (buckets left out)."""
    text = prometheus_client.generate_latest(registry).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            if labels.pop("node", None) != uid or sample.name.endswith("_bucket"):
                continue
            labels.pop("key")
            found[(sample.name, ",".join(f"{k}={v}" for k, v in sorted(labels.items())))] = (
                sample.value
            )
    return found


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Return once ``condition()`` holds (checked every 20 ms); AssertionError after timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.02)


async def test_sync_servers_export_their_traffic(redis_standalone: Any, cluster_name: str) -> None:
    registry = prometheus_client.CollectorRegistry()
    loop = asyncio.get_running_loop()
    nodes = [
        SyncNode(
            f"sync{i}",
            sioadapter.ClusterManager(redis_standalone.url, key=cluster_name, metrics=registry),
            loop,
        )
        for i in range(2)
    ]
    clients = [Client(f"c{i}", node, ["/"], None) for i, node in enumerate(nodes)]
    try:
        for client in clients:
            await client.connect()
        sender, receiver = (node.mgr for node in nodes)
        before = scrape(registry, receiver.uid)
        for n in range(3):
            await blocking(nodes[0].sio.emit, "news", n)
        await clients[1].wait_for("news", 3)
        sockets = await blocking(sender.fetch_sockets)
        assert {s.id for s in sockets} == {c.sid for c in clients}
        for mgr in (sender, receiver):
            assert await blocking(mgr.server_count) == 2
        await blocking(sender.flush)

        sent, got = scrape(registry, sender.uid), scrape(registry, receiver.uid)
        assert sent[("sioadapter_messages_published_total", "")] >= 4  # 3 news, 1 request
        received = got[("sioadapter_messages_received_total", "")]
        assert received - before[("sioadapter_messages_received_total", "")] >= 4
        delivered = got[("sioadapter_broadcasts_delivered_total", "")]
        assert delivered - before[("sioadapter_broadcasts_delivered_total", "")] == 3
        fetches = ("sioadapter_request_duration_seconds_count", "operation=fetch_sockets")
        assert sent[fetches] == 1
        for samples in (sent, got):
            assert samples[("sioadapter_cluster_nodes", "namespace=/")] == 2
            assert samples[("sioadapter_backend_connected", "")] == 1
            assert samples[("sioadapter_healthy", "")] == 1
            assert samples[("sioadapter_requests_pending", "")] == 0
    finally:
        for client in clients:
            await client.close()
        for node in nodes:
            await blocking(node.stop)
    assert scrape(registry, sender.uid) == {}, "close() took the samples out"


async def test_healthy_only_while_redis_and_the_subscriber_are_up(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    registry = prometheus_client.CollectorRegistry()
    mgr = sioadapter.AsyncClusterManager(
        f"{server.url}?socket_connect_timeout=0.2", key=cluster_name, metrics=registry
    )
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    assert not mgr.healthy, "not started yet"
    await mgr.start()
    try:
        await mgr.wait_connected(5)
        await wait_until(lambda: mgr.healthy, "healthy once connected")
        assert scrape(registry, mgr.uid)[("sioadapter_subscriber_connected", "")] == 1

        server.kill()  # the subscriber's connection drops and cannot come back
        await wait_until(lambda: not mgr.healthy, "unhealthy with Redis down")
        await wait_until(
            lambda: scrape(registry, mgr.uid)[("sioadapter_subscriber_connected", "")] == 0,
            "subscriber_connected 0",
        )
        await mgr.emit("during", 1, "/")  # an outage begins: the backend is unreachable
        await wait_until(
            lambda: scrape(registry, mgr.uid)[("sioadapter_backend_connected", "")] == 0,
            "backend_connected 0",
        )
        assert scrape(registry, mgr.uid)[("sioadapter_healthy", "")] == 0

        await asyncio.to_thread(server.start)
        await wait_until(lambda: mgr.healthy, "healthy again once Redis is back")
        await asyncio.wait_for(mgr.flush(), 10)
    finally:
        await mgr.close()
    assert not mgr.healthy, "closed"
