"""RabbitMQ failing under load: every connection closed (``rabbitmqctl close_all_connections``,
as an operator or a maintenance does), and the broker crashing and starting again.

The close tests have a virtual host of their own (``broker.PrivateVhost``) and close the
connections of that vhost only: the machine's broker is shared with other tests and users. The
restart test runs a RabbitMQ node of its own (``broker.PrivateBroker``), SIGKILLs it and starts
it again after an outage. The cluster tests are tests/live/test_faults.py's: node 0 broadcasts a
numbered tick every 20 ms to every client, the fault happens, and the test checks that
broadcasts and server-side calls work again within a bound, that ticks arrive in order and
never twice, and records how many were lost, how many publishes the nodes counted as lost, and
how long recovery took (``record_property``; printed with ``-s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

import pytest
from integration.harness import Cluster

from live.test_faults import factory_for, run_fault

from .broker import PrivateBroker, PrivateVhost, require_aio_pika_module, require_broker

require_aio_pika_module()

from sioadapter.backends.amqp import AmqpBackend  # noqa: E402
from sioadapter.errors import BackendError  # noqa: E402

TIMEOUT = 10.0


@pytest.fixture
def vhost(amqp_url: str) -> Iterator[PrivateVhost]:
    require_broker()
    made = PrivateVhost("fault")
    try:
        yield made
    finally:
        made.delete()


async def test_connections_closed_under_load(
    vhost: PrivateVhost, cluster_name: str, record_property: Callable[[str, object], None]
) -> None:
    async with Cluster(factory_for(vhost.url, cluster_name), nodes=2) as cluster:
        await run_fault(
            cluster, vhost.close_connections, recovery_bound=10.0, record_property=record_property
        )
        failed = [node.mgr.stats.publish_failed for node in cluster.nodes]
        errors = [node.mgr.stats.backend_errors for node in cluster.nodes]
        record_property("publishes_reported_lost", failed)
        print(f"publishes reported lost (unconfirmed) per node: {failed}; errors: {errors}")
        assert all(count >= 1 for count in errors), "each node reported its disconnection"


async def test_the_queue_and_every_binding_come_back_after_the_connection_dies(
    vhost: PrivateVhost, record_property: Callable[[str, object], None]
) -> None:
    receiver = AmqpBackend.from_url(vhost.url)
    sender = AmqpBackend.from_url(vhost.url)
    errors: list[str] = []
    receiver.set_error_handler(lambda error, context: errors.append(f"{context}: {error}"))
    channels = [f"restore#/#room{i}#" for i in range(50)]
    got: list[tuple[str, bytes]] = []
    arrived = asyncio.Event()

    async def collect() -> None:
        async for batch in receiver.message_batches():
            got.extend(batch)
            arrived.set()

    try:
        await receiver.connect()
        await sender.connect()
        await receiver.subscribe(channels)
        reader = asyncio.create_task(collect())
        queue_name = receiver.queue_name

        started = time.monotonic()
        await asyncio.to_thread(vhost.close_connections)

        async def until_receiving_again() -> None:
            # Polled: the backend's state has no event to wait on from outside but this one,
            # which is set already until the close is noticed.
            while receiver.receiving:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await receiver.wait_receiving()

        await asyncio.wait_for(until_receiving_again(), TIMEOUT)
        restored_in = time.monotonic() - started
        await asyncio.wait_for(receiver.probe(), TIMEOUT)

        async def every_channel_delivers() -> None:
            # The sender reconnects on its own schedule; publish until everything arrives.
            while {c for c, p in got if p == b"after"} != set(channels):
                with contextlib.suppress(BackendError):  # the sender may be reconnecting
                    await sender.publish([(c, b"after") for c in channels])
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), 0.5)
                except asyncio.TimeoutError:
                    continue

        await asyncio.wait_for(every_channel_delivers(), TIMEOUT)
        reader.cancel()
        assert receiver.queue_name == queue_name  # the same exclusive queue, declared again
        assert any("disconnected from RabbitMQ" in e for e in errors), errors
        assert not any("guest:guest" in e for e in errors)
        record_property("bindings_restored_seconds", round(restored_in, 2))
        print(f"\nqueue and {len(channels)} bindings restored {restored_in:.2f} s after the close")
    finally:
        await receiver.close()
        await sender.close()


def test_close_all_connections_needs_no_more_than_rabbitmqctl(vhost: PrivateVhost) -> None:
    """What the tests use works here: rabbitmqctl reaches the broker (as root, or as a user
    with the Erlang cookie)."""
    vhost.close_connections("nothing to close yet")


OUTAGE = 1.5
"""Seconds the private broker stays down in the restart test."""


@pytest.fixture
def private_broker(amqp_url: str) -> Iterator[PrivateBroker]:
    broker = PrivateBroker("restart")
    try:
        yield broker.start()
    finally:
        broker.stop()


async def test_broker_restart_under_load(
    private_broker: PrivateBroker,
    cluster_name: str,
    record_property: Callable[[str, object], None],
) -> None:
    """A RabbitMQ node of the test's own crashes (SIGKILL) and starts again with its data: the
    non-durable exchange and the nodes' queues are gone, and each node declares them again."""

    def restart_after_an_outage() -> None:
        private_broker.kill()
        time.sleep(OUTAGE)  # the outage itself (this runs in a thread, not in the loop)
        private_broker.start()

    async with Cluster(factory_for(private_broker.url, cluster_name), nodes=2) as cluster:
        await run_fault(
            cluster, restart_after_an_outage, recovery_bound=15.0, record_property=record_property
        )
        failed = [node.mgr.stats.publish_failed for node in cluster.nodes]
        record_property("publishes_reported_lost", failed)
        print(f"publishes reported lost (unconfirmed or refused) per node: {failed}")
