"""Raw psycopg 3 NOTIFY/LISTEN, the PostgreSQL ceiling for a Python process.

Usage: ``python -m benchmarks.raw_postgres '<json config>'`` with ``role`` ``publisher`` or
``subscriber``, ``url`` (``postgresql://...``), ``key`` (the channel), ``n`` and, for the
subscriber, ``k`` (see :class:`benchmarks.raw_common.Tally`).

The publisher is one autocommit ``psycopg.AsyncConnection`` in pipeline mode sending
``SELECT pg_notify(channel, payload)``, one statement per message, in pipelines of 1,000
(``executemany``): no round trip per message, and the 1,000 statements share one implicit
transaction (a notification is delivered at its transaction's commit; PostgreSQL would fold
identical payloads of one transaction into one, which these, all different, never are). With
``mode`` ending in ``each``: the same pipelines with a Sync after each statement, a transaction
per message, the simplest way for a pub/sub that must deliver two identical messages twice
(the PostgreSQL backend shares transactions instead, beginning a new one only before a
duplicate). The subscriber runs ``LISTEN`` and reads
``connection.notifies()``, counting only.

Output: ``{"ready": true}`` then ``{"result": {...}}``, one JSON object per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

from .node_python import emit_line
from .raw_common import BATCH, END, Tally, payload, start_marker, warmed_then_go
from .warm import MARKER

NOTIFY = "SELECT pg_notify(%s, %s)"


async def each(conn: Any, cur: Any, rows: list[tuple[str, str]]) -> None:
    """``rows`` in one pipeline, a transaction (a Sync) after each statement."""
    async with conn.pipeline() as pipeline:
        # _enqueue_sync queues the Sync without waiting for results, as the PostgreSQL
        # backend does between transactions; the public sync() would wait for them.
        enqueue = getattr(pipeline, "_enqueue_sync", None)
        for row in rows:
            await cur.execute(NOTIFY, row)
            if enqueue is not None:
                enqueue()
            else:
                await pipeline.sync()


async def publisher(cfg: dict[str, Any], conn: Any) -> None:
    channel, n = cfg["key"], cfg["n"]
    apart = str(cfg.get("mode", "")).endswith("each")
    emit_line(ready=True)
    async with conn.cursor() as cur:

        async def send(n: int) -> None:
            for start in range(0, n, BATCH):
                rows = [(channel, payload(i)) for i in range(start, min(start + BATCH, n))]
                if apart:
                    await each(conn, cur, rows)
                else:
                    await cur.executemany(NOTIFY, rows)

        if cfg.get("warm"):  # benchmarks.warm: the same sends, the marker, then "go"
            await send(int(cfg["warm"]))
            await cur.execute(NOTIFY, (channel, MARKER))
            await warmed_then_go(cfg)
        await cur.execute(NOTIFY, (channel, start_marker()))
        t0 = time.monotonic()
        await send(n)
        await cur.execute(NOTIFY, (channel, END))
    emit_line(result={"emitted": n, "send_seconds": time.monotonic() - t0})
    await asyncio.Event().wait()  # until the orchestrator stops this process


async def subscriber(cfg: dict[str, Any], conn: Any) -> None:
    tally = Tally(cfg["n"], cfg.get("k", 1), int(cfg.get("warm") or 0))
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(cfg["key"])))
    emit_line(ready=True)

    async def read() -> None:
        async for notify in conn.notifies():
            await tally.on_message(notify.payload)
            if tally.done.is_set():
                return

    with contextlib.suppress(asyncio.TimeoutError):  # the result then says incomplete
        await asyncio.wait_for(read(), cfg.get("timeout", 120))
    await tally.wait(0)
    version = conn.info.server_version  # e.g. 150004 for 15.4
    tally.emit_result(server=f"{version // 10000}.{version % 10000}")


async def main(cfg: dict[str, Any]) -> None:
    conn = await psycopg.AsyncConnection.connect(cfg["url"], autocommit=True)
    await (publisher if cfg["role"] == "publisher" else subscriber)(cfg, conn)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        asyncio.run(main(config))
    except Exception as error:
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
