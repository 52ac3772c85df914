"""Raw redis-py pub/sub, the ceiling for a Python process: one publisher, one subscriber.

Usage: ``python -m benchmarks.raw_redis '<json config>'`` with ``role`` ``publisher`` or
``subscriber``, ``redis``, ``key`` (the channel), ``n`` and, for the publisher, ``mode``:

* ``single``: ``await client.publish(channel, payload)`` one at a time (a round trip each);
* ``pipelined``: non-transactional pipelines of 1,000 PUBLISH commands, the most a Python
  process can push through one redis-py connection.

The payload is the JSON of the same small dict the Socket.IO contenders emit (``{"i": n,
"t": time}``), between a ``start`` and an ``end`` message on the same channel. The subscriber
is the plain redis-py asyncio loop, ``await pubsub.get_message(timeout=None)``, with hiredis
when installed; it counts messages without decoding them (no Socket.IO work at all), and
reports the same figures as a Socket.IO receiver (:class:`benchmarks.raw_common.Tally`: each
message is handed to ``k`` sockets, 1 by default, through the receivers' counting stub).

Output: ``{"ready": true}`` then ``{"result": {...}}``, one JSON object per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import redis.asyncio

from .node_python import emit_line
from .raw_common import Tally, warmed_then_go
from .stats import rates
from .warm import MARKER

BATCH = 1000


async def publisher(cfg: dict[str, Any], client: Any) -> None:
    channel, n = cfg["key"], cfg["n"]

    async def send(n: int) -> None:
        if cfg["mode"] == "single":
            for i in range(n):
                await client.publish(channel, json.dumps({"i": i, "t": time.monotonic()}))
        else:
            for start in range(0, n, BATCH):
                pipe = client.pipeline(transaction=False)
                for i in range(start, min(start + BATCH, n)):
                    pipe.publish(channel, json.dumps({"i": i, "t": time.monotonic()}))
                await pipe.execute()

    emit_line(ready=True)
    if cfg.get("warm"):  # benchmarks.warm: the same sends, the marker, then wait for "go"
        await send(int(cfg["warm"]))
        await client.publish(channel, MARKER)
        await warmed_then_go(cfg)
    await client.publish(channel, json.dumps({"start": time.monotonic()}))
    t0 = time.monotonic()
    await send(n)
    await client.publish(channel, b"end")
    emit_line(result={"emitted": n, "send_seconds": time.monotonic() - t0})
    await asyncio.Event().wait()  # until the orchestrator stops this process


async def subscriber(cfg: dict[str, Any], client: Any) -> None:
    channel, n = cfg["key"], cfg["n"]
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    while True:  # subscribed once Redis counts the subscriber
        if (await client.pubsub_numsub(channel))[0][1] >= 1:
            break
        await asyncio.sleep(0.02)
    emit_line(ready=True)
    tally = Tally(n, cfg.get("k", 1), int(cfg.get("warm") or 0))

    async def read() -> None:
        while not tally.done.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is None or message["type"] != "message":
                continue
            await tally.on_message(message["data"])

    with contextlib.suppress(asyncio.TimeoutError):  # the result then says incomplete
        await asyncio.wait_for(read(), cfg.get("timeout", 120))
    await tally.wait(0)
    tally.emit_result()


def emit_result(count: int, n: int, emitted: float, first: float, last: float, cpu: float) -> None:
    """The subscriber's result line: what a Socket.IO receiver at K=1 reports."""
    emit_line(
        result={
            "received": count,
            "expected": n,
            "complete": count >= n,
            **rates(count, 1, emitted, first, last),
            "cpu_s": cpu,
            "cpu_per_10k": cpu / n * 10_000,
        }
    )


async def main(cfg: dict[str, Any]) -> None:
    client = redis.asyncio.Redis.from_url(cfg["redis"])
    await (publisher if cfg["role"] == "publisher" else subscriber)(cfg, client)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        asyncio.run(main(config))
    except Exception as error:
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
