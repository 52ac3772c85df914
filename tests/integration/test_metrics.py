"""Prometheus metrics scraped after real traffic between real servers and real clients.

Runs over every memory configuration here and, re-exported by
tests/live/test_suite_over_redis.py, over every Redis deployment. Skips without
prometheus_client (the lowest-versions run has no extras); tests/live/test_metrics_live.py
fails instead under CI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from sioadapter.core.messages import Broadcast

from .harness import Cluster

Samples = dict[tuple[str, str], float]


def registry() -> Any:
    prometheus_client = pytest.importorskip(
        "prometheus_client", reason="needs pip install 'sioadapter[prometheus]'"
    )
    return prometheus_client.CollectorRegistry()


def scrape(registry: Any, node: Any) -> Samples:
    """{(sample name, the label other than node/key or ""): value} of one manager, parsed from
    the text exposition format as Prometheus reads it."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    found: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            labels = dict(sample.labels)
            if labels.pop("node", None) != node.mgr.uid:
                continue
            assert labels.pop("key") == node.mgr.key
            extra = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            if not sample.name.endswith("_bucket"):
                found[(sample.name, extra)] = sample.value
    return found


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Return once ``condition()`` holds (checked every 10 ms), AssertionError after timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.01)


async def test_metrics_count_the_traffic_of_a_two_node_cluster(
    make_cluster: Callable[..., Cluster],
) -> None:
    metrics = registry()
    async with make_cluster(nodes=2, metrics=metrics) as cluster:
        sender = cluster.nodes[0]
        clients = await cluster.connect_each()
        await cluster.quiet(origin=0)
        before = {node.index: scrape(metrics, node) for node in cluster.nodes}

        for n in range(3):
            await sender.sio.emit("news", n)
        await clients[1].wait_for("news", 3)
        sockets = await sender.mgr.fetch_sockets()
        assert {s.id for s in sockets} == {c.sids["/"] for c in clients}
        for node in cluster.nodes:  # both have counted each other by now
            assert await node.mgr.server_count() == 2
        await sender.mgr.flush()

        after = {node.index: scrape(metrics, node) for node in cluster.nodes}
        # The scrape reads mgr.stats: the same numbers, nothing lagging behind.
        assert after[0][("sioadapter_messages_published_total", "")] == sender.mgr.stats.published

        def delta(index: int, name: str, label: str = "") -> float:
            return after[index][(name, label)] - before[index].get((name, label), 0.0)

        # 3 broadcasts and the fetch_sockets request went out of node 0 ...
        assert delta(0, "sioadapter_messages_published_total") >= 4
        # ... and node 1 received them and delivered exactly the 3 broadcasts to its client.
        assert delta(1, "sioadapter_messages_received_total") >= 4
        assert delta(1, "sioadapter_broadcasts_delivered_total") == 3
        assert delta(1, "sioadapter_messages_publish_failed_total") == 0
        fetches = ("sioadapter_request_duration_seconds_count", "operation=fetch_sockets")
        assert delta(0, *fetches) == 1
        took = after[0][("sioadapter_request_duration_seconds_sum", "operation=fetch_sockets")]
        assert 0 < took < sender.mgr.requests_timeout
        for index in (0, 1):
            assert after[index][("sioadapter_cluster_nodes", "namespace=/")] == 2
            assert after[index][("sioadapter_backend_connected", "")] == 1
            assert after[index][("sioadapter_subscriber_connected", "")] == 1
            assert after[index][("sioadapter_healthy", "")] == 1
            assert after[index][("sioadapter_requests_pending", "")] == 0
            assert after[index][("sioadapter_messages_dropped_total", "reason=malformed")] == 0


async def test_metrics_count_a_dropped_message_under_its_reason(
    make_cluster: Callable[..., Cluster],
) -> None:
    metrics = registry()
    async with make_cluster(nodes=2, metrics=metrics, max_message_size=1000) as cluster:
        sender, receiver = cluster.nodes
        await cluster.connect_each()
        # Too large for max_message_size: dropped undecoded by whoever receives it.
        oversized_message = sender.mgr.family.encode(Broadcast("/", "x", ["ev", "y" * 2000]))
        await sender.mgr.backend.publish([oversized_message])
        oversized = ("sioadapter_messages_dropped_total", "reason=oversized")
        await wait_until(lambda: scrape(metrics, receiver).get(oversized) == 1, "oversized drop")
        await cluster.quiet(origin=0)  # and the node still delivers


async def test_metrics_of_a_closed_manager_are_gone(
    make_cluster: Callable[..., Cluster],
) -> None:
    metrics = registry()
    async with make_cluster(nodes=2, metrics=metrics) as cluster:
        await cluster.stop_node(0)
        assert scrape(metrics, cluster.nodes[0]) == {}
        assert scrape(metrics, cluster.nodes[1])[("sioadapter_healthy", "")] == 1
    assert scrape(metrics, cluster.nodes[1]) == {}
