"""ClusterManager over RabbitMQ in a gevent or eventlet server (Flask-SocketIO, ``socketio.run``
in a monkey-patched process), in one cluster with an asyncio node: aio-pika runs on the
manager's own loop, which runs as a greenlet there."""

from __future__ import annotations

import pytest

from live.green_check import check_green_cluster

from .broker import delete_exchanges, exchange_names, require_aio_pika_module

require_aio_pika_module()


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
async def test_a_green_node_on_rabbitmq_does_every_cluster_operation(
    mode: str, amqp_url: str
) -> None:
    before = exchange_names()
    try:
        await check_green_cluster(mode, amqp_url)
    finally:
        # The check picks its key ("green-<random>"): delete the exchange it made.
        made = [n for n in exchange_names() - before if n.startswith("sioadapter.green-")]
        delete_exchanges(amqp_url, made)
