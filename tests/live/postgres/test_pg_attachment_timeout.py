"""A received attachment whose row cannot be read (its table locked by another connection)
costs that message only: it is dropped after ``attachment_timeout``, counted in
``stats.dropped_unreadable`` and logged without secrets, and the messages behind it flow on.

PostgreSQL has no lock that stops a ``SELECT`` and lets an ``INSERT`` through, so a locked
table would stop the sender's INSERT as well and no header would ever be sent. The sending node
therefore writes its attachments to a table of its own (the header names only the row id) and
the receiving node reads a second table, which the test locks ``ACCESS EXCLUSIVE``: the
receiver hears a real 9000-byte broadcast's header and its SELECT hangs on the lock, as it
would on a shared table locked right after the sender's INSERT. Both tables are this test's
own (other tests share the server) and are dropped at the end.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from integration.harness import Cluster

import sioadapter

from .conftest import require_psycopg, short_key

require_psycopg()
import psycopg  # noqa: E402

pytestmark = pytest.mark.timeout(60)

SECRET = "Att4chPw-s3cret"
TIMEOUT = 1.0


@pytest.fixture
def tables(pg_url: str) -> Iterator[tuple[str, str]]:
    """(the sender's table, the receiver's table), created empty, dropped afterwards."""
    tag = uuid.uuid4().hex[:10]
    names = (f"att_send_{tag}", f"att_recv_{tag}")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for name in names:
            conn.execute(
                f"CREATE TABLE {name} (id bigserial UNIQUE, created_at timestamptz "
                "DEFAULT NOW(), payload bytea)"
            )
    try:
        yield names
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP TABLE IF EXISTS {name}")


async def test_a_locked_attachment_table_drops_that_message_only(
    pg_url: str, tables: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Trust authentication ignores the password: it is there to be kept out of the logs.
    url = pg_url.replace("postgres@", f"postgres:{SECRET}@", 1)
    assert SECRET in url
    key = short_key(uuid.uuid4().hex)

    def factory(index: int, /, **options: Any) -> Any:
        options.setdefault("requests_timeout", 5.0)
        return sioadapter.AsyncClusterManager(
            url, key=key, table_name=tables[index], attachment_timeout=TIMEOUT, **options
        )

    caplog.set_level(logging.WARNING)
    async with Cluster(factory, nodes=2) as cluster:
        sender, receiver = cluster.nodes
        listener = await cluster.client(1)
        watcher = await cluster.client(0)
        locker = await psycopg.AsyncConnection.connect(pg_url)
        try:
            await locker.execute(f"LOCK TABLE {tables[1]} IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            await sender.sio.emit("big", "x" * 9000)  # past 8000 bytes: through the table
            await sender.sio.emit("small", 1)
            assert await listener.wait_for("small", timeout=TIMEOUT + 10) == [(1,)]
            waited = time.monotonic() - started
            assert listener.count("big") == 0  # dropped, not delivered late or out of order
            assert receiver.mgr.stats.dropped_unreadable == 1
            assert sender.mgr.stats.dropped_unreadable == 0
            assert waited >= TIMEOUT * 0.9  # the small one waited behind the big one's header
        finally:
            await locker.rollback()  # unlock
            await locker.close()
        # The receiver's publishing connection, whose SELECT was cancelled, still works.
        await receiver.sio.emit("after", 2)
        assert await watcher.wait_for("after") == [(2,)]
    lost = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert lost, caplog.text
    assert "attachment_timeout" in lost[0].getMessage()
    assert SECRET not in caplog.text
