"""Hostile or broken traffic on the cluster's NATS subjects: dropped, counted, logged once per
kind, and the nodes keep serving (tests/integration/test_bad_input.py, injected over NATS)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from integration.harness import Cluster
from integration.test_bad_input import assert_dropped_and_serving, channels_of, garbage

from .natsservers import NatsServer, require_nats_py_module

require_nats_py_module()

from sioadapter.backends.nats import NatsBackend  # noqa: E402


# The intruder talks to the single server: the nodes must be on it too.
@pytest.mark.parametrize("manager_factory", ["nats"], indirect=True)
async def test_malformed_messages_are_dropped_counted_and_logged_once_per_kind(
    make_cluster: Callable[..., Cluster],
    nats_server: NatsServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        channels = channels_of(cluster)
        payloads = garbage()
        caplog.set_level(logging.WARNING, logger="sioadapter")

        intruder = NatsBackend.from_url(nats_server.url)  # a NATS client that is no node
        await intruder.connect()
        await intruder.publish([(c, p) for c in channels for p in payloads])
        await intruder.close()

        await assert_dropped_and_serving(cluster, clients, len(channels) * len(payloads), caplog)
