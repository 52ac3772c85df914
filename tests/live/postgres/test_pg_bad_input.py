"""Hostile or broken traffic on the cluster's PostgreSQL channels: dropped, counted, logged once
per kind, and the nodes keep serving (tests/integration/test_bad_input.py, injected with
NOTIFY and through the attachments table)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from integration.harness import Cluster
from integration.test_bad_input import assert_dropped_and_serving, channels_of, garbage

from .conftest import require_psycopg

require_psycopg()

from sioadapter.backends.postgres import PostgresBackend  # noqa: E402

# Attachment headers that lead nowhere: no such row, an id that is no number, one too big.
BAD_HEADERS = [
    b'{"uid":"peer","type":3,"attachmentId":"999999999999"}',
    b'{"uid":"peer","type":3,"attachmentId":"abc"}',
    b'{"uid":"peer","type":3,"attachmentId":"99999999999999999999999"}',
    b'{"uid":"peer","type":3,"attachmentId":null}',
]


async def test_malformed_messages_are_dropped_counted_and_logged_once_per_kind(
    make_cluster: Callable[..., Cluster], pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        channels = channels_of(cluster)
        assert len(channels) == 1  # the namespace's one channel
        # Garbage that is not JSON goes through the table (the intruder's backend sends it
        # so), JSON garbage and the bad headers as NOTIFY payloads.
        payloads = [*garbage(), *BAD_HEADERS]
        caplog.set_level(logging.WARNING, logger="sioadapter")

        intruder = PostgresBackend.from_url(pg_url)  # a PostgreSQL client that is no node
        await intruder.connect()
        await intruder.publish([(c, p) for c in channels for p in payloads])
        await intruder.close()

        await assert_dropped_and_serving(cluster, clients, len(channels) * len(payloads), caplog)
