"""Redis failures with a live 2-node cluster broadcasting to real clients.

Each test runs a pump: node 0 emits a numbered "tick" to every client every 20 ms (node 1's
client only gets it through Redis), and node 1 answers server-side calls. Then it breaks Redis:
a restart, the subscriber connections killed, a Sentinel failover, a Cluster primary restarted.
It checks, within a stated bound, that broadcasts and requests work again; that no background
task died; that ticks arrive in order and never twice; and it reports how many ticks were lost
during the outage (pub/sub is at-most-once: what is published while a subscriber reconnects is
gone). Fault actions run in a thread, so the event loop keeps running through the outage, as in
a real server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from integration.harness import Client, Cluster

import sioadapter

TICK_INTERVAL = 0.02


class Pump:
    """Numbered broadcasts from node 0, and what node 1's client received of them."""

    def __init__(self, cluster: Cluster, receiver: Client) -> None:
        self.cluster = cluster
        self.receiver = receiver
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        sio = self.cluster.nodes[0].sio
        while True:
            self.sent += 1
            await sio.emit("tick", self.sent)
            await asyncio.sleep(TICK_INTERVAL)  # a steady offered rate, not a wait for results

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def received(self) -> list[int]:
        return [args[0] for args in self.receiver.received("tick")]

    async def wait_for_tick_after(self, number: int, timeout: float) -> float:
        """Seconds until the receiver gets a tick numbered above ``number``."""
        started = time.monotonic()
        await self.receiver.log.wait_until(
            lambda: any(n > number for n in self.received()),
            what=f"a tick numbered above {number}",
            timeout=timeout,
        )
        return time.monotonic() - started


async def run_fault(
    cluster: Cluster,
    fault: Callable[[], Any],
    *,
    recovery_bound: float,
    record_property: Callable[[str, object], None],
) -> None:
    """Pump, break Redis with ``fault`` (run in a thread), and check the recovery."""
    await cluster.connect_each()
    receiver = cluster.clients[1]
    for node in cluster.nodes:
        node.listen("whoami", node.index)
    pump = Pump(cluster, receiver)
    pump.start()
    try:
        await pump.wait_for_tick_after(5, timeout=5)
        started = time.monotonic()
        await asyncio.to_thread(fault)
        fault_seconds = time.monotonic() - started
        after_fault = pump.sent
        recovered_in = await pump.wait_for_tick_after(after_fault, timeout=recovery_bound)
        answers = await call_until_answered(cluster.nodes[0].mgr, recovery_bound, [1])
        assert answers == [1], "node 1 answers server-side calls again"
    finally:
        await pump.stop()
    await cluster.nodes[0].mgr.flush()
    await cluster.quiet(origin=0)
    received = pump.received()
    assert received == sorted(set(received)), "ticks arrive in order and never twice"
    lost = pump.sent - len(received)
    for node in cluster.nodes:
        assert node.mgr.healthy, f"node {node.index} has a dead background task"
    record_property("fault_seconds", round(fault_seconds, 2))
    record_property("recovered_seconds_after_fault", round(recovered_in, 2))
    record_property("ticks_sent", pump.sent)
    record_property("ticks_lost", lost)
    print(
        f"\nfault took {fault_seconds:.2f} s; broadcasts back {recovered_in:.2f} s after it; "
        f"{lost} of {pump.sent} ticks lost; backend errors reported: "
        f"{[n.mgr.stats.backend_errors for n in cluster.nodes]}"
    )


async def call_until_answered(mgr: Any, bound: float, expected: list[Any]) -> list[Any]:
    """The first server-side call that gets ``expected``, within ``bound`` seconds.

    Right after a fault a call may fail (BackendError), time out, or find fewer servers than
    there are (a node whose subscriber is still reconnecting is not counted yet); a client
    retries, and so does this helper, each attempt waiting on a real reply.
    """
    deadline = time.monotonic() + bound
    answers: list[Any] = []
    while time.monotonic() <= deadline:
        try:
            answers = list(await mgr.server_side_call("whoami", timeout=1.0))
        except (sioadapter.RequestTimeoutError, sioadapter.BackendError):
            answers = []
        if answers == expected:
            return answers
        await asyncio.sleep(0.05)  # retry pacing, as a client would; each attempt is real
    return answers


def factory_for(url: str, key: str, **options: Any) -> Callable[..., Any]:
    def factory(index: int, /, **manager_options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            url, key=key, requests_timeout=2.0, **options, **manager_options
        )

    return factory


def kill_subscribers(server: Any) -> None:
    with server.client() as admin:
        killed = admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    assert int(killed) >= 2, "both nodes' subscriber connections were killed"


OUTAGE = 1.5
"""Seconds Redis stays down in the restart test: longer than redis-py's own retries hide."""


async def test_redis_restart(fresh_redis_standalone: Any, cluster_name: str, record_property):
    server = fresh_redis_standalone

    def restart_after_an_outage() -> None:
        server.kill()
        time.sleep(OUTAGE)  # the outage itself (this runs in a thread, not in the loop)
        server.start()

    async with Cluster(factory_for(server.url, cluster_name), nodes=2) as cluster:
        await run_fault(
            cluster, restart_after_an_outage, recovery_bound=5.0, record_property=record_property
        )


async def test_subscriber_killed(fresh_redis_standalone: Any, cluster_name: str, record_property):
    server = fresh_redis_standalone
    async with Cluster(factory_for(server.url, cluster_name), nodes=2) as cluster:
        await run_fault(
            cluster,
            lambda: kill_subscribers(server),
            recovery_bound=5.0,
            record_property=record_property,
        )


async def test_sentinel_failover(fresh_redis_sentinel: Any, cluster_name: str, record_property):
    sentinels = fresh_redis_sentinel

    def fail_over() -> None:
        sentinels.wait_failover(sentinels.kill_master(), timeout=15)

    async with Cluster(factory_for(sentinels.url, cluster_name), nodes=2) as cluster:
        await run_fault(cluster, fail_over, recovery_bound=10.0, record_property=record_property)


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_cluster_primary_restart(
    fresh_redis_cluster: Any, cluster_name: str, mode: str, record_property
):
    topology = fresh_redis_cluster
    async with Cluster(factory_for(topology.url, cluster_name, mode=mode), nodes=2) as cluster:
        mgr = cluster.nodes[0].mgr
        # Restart the primary that owns the channel every node counts and listens on.
        port = topology.owner_of(mgr.family.count_channel("/"))
        index = topology.ports.index(port)
        await run_fault(
            cluster,
            lambda: topology.restart_node(index),
            recovery_bound=10.0,
            record_property=record_property,
        )
