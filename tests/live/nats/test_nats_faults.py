"""NATS failures under load, as tests/live/test_faults.py does them for Redis: node 0 emits a
numbered tick every 20 ms to every client, node 1's client gets them through NATS, and node 1
answers server-side calls. Then a private nats-server is killed and restarted after an outage,
or the cluster member node 0 is connected to dies. Each test checks that broadcasts and
requests work again within a bound, in order and never twice, and reports the ticks lost and
the recovery time (``-s`` prints them; the JUnit report has them as properties)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from integration.harness import Cluster

import sioadapter
from live.test_faults import OUTAGE, run_fault

from .natsservers import NatsCluster, NatsServer

# The backend's defaults (nats-py waits reconnect_time_wait, 2 s, between attempts on one
# server), but the cluster members are tried in the URL's order, so node 0 starts on server 0.
NATS_OPTIONS = {"dont_randomize": True}


@pytest.fixture
def fresh_nats(nats_available: str) -> Iterator[NatsServer]:
    server = NatsServer("fault")
    try:
        yield server.start()
    finally:
        server.stop()


def factory_for(urls: Callable[[int], str], key: str) -> Callable[..., Any]:
    def factory(index: int, /, **manager_options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            urls(index), key=key, requests_timeout=2.0, nats_options=NATS_OPTIONS,
            **manager_options,
        )  # fmt: skip

    return factory


async def test_nats_server_restart(
    fresh_nats: NatsServer, cluster_name: str, record_property: Any
) -> None:
    server = fresh_nats

    def restart_after_an_outage() -> None:
        server.kill()
        time.sleep(OUTAGE)  # the outage itself (this runs in a thread, not in the loop)
        server.start()

    async with Cluster(factory_for(lambda i: server.url, cluster_name), nodes=2) as cluster:
        await run_fault(
            cluster, restart_after_an_outage, recovery_bound=10.0, record_property=record_property
        )


async def test_nats_cluster_member_dies(
    nats_available: str, cluster_name: str, record_property: Any
) -> None:
    topology = NatsCluster("member-dies").start()
    try:
        # Node 0 on server 0 (the one that dies), node 1 on server 2.
        urls = factory_for(lambda i: topology.url(2 * i), cluster_name)
        async with Cluster(urls, nodes=2) as cluster:
            await run_fault(
                cluster,
                topology.servers[0].kill,
                recovery_bound=10.0,
                record_property=record_property,
            )
    finally:
        topology.stop()
