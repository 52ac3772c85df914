"""Hostile or broken traffic on the cluster's RabbitMQ exchange: dropped, counted, logged once
per kind, and the nodes keep serving (tests/integration/test_bad_input.py, injected over
RabbitMQ by a raw aio-pika connection that is no node)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from integration.harness import Cluster
from integration.test_bad_input import assert_dropped_and_serving, channels_of, garbage

from .broker import require_aio_pika_module

require_aio_pika_module()

import aio_pika  # noqa: E402

from sioadapter.backends._amqp_names import exchange_name, routing_key  # noqa: E402


async def test_malformed_messages_are_dropped_counted_and_logged_once_per_kind(
    make_cluster: Callable[..., Cluster], amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        channels = channels_of(cluster)
        payloads = garbage()
        caplog.set_level(logging.WARNING, logger="sioadapter")

        connection = await aio_pika.connect(amqp_url)  # plain aio-pika: no sioadapter code
        try:
            amqp_channel = await connection.channel()
            for channel in channels:
                exchange = await amqp_channel.get_exchange(exchange_name(channel, "sioadapter."))
                for payload in payloads:
                    await exchange.publish(aio_pika.Message(payload), routing_key(channel))
        finally:
            await connection.close()

        await assert_dropped_and_serving(cluster, clients, len(channels) * len(payloads), caplog)
