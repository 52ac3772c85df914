"""ClusterManager over NATS in a gevent or eventlet server (Flask-SocketIO, ``socketio.run``
in a monkey-patched process), in one cluster with an asyncio node: nats-py runs on the
manager's own loop, which runs as a greenlet there."""

from __future__ import annotations

import pytest

from live.green_check import check_green_cluster

from .natsservers import NatsServer


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
async def test_a_green_node_on_nats_does_every_cluster_operation(
    mode: str, nats_server: NatsServer
) -> None:
    await check_green_cluster(mode, nats_server.url)
