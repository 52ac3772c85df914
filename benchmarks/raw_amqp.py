"""Raw aio-pika publish/consume, the RabbitMQ ceiling for a Python process.

Usage: ``python -m benchmarks.raw_amqp '<json config>'`` with ``role`` ``publisher`` or
``subscriber``, ``url`` (``amqp://...``), ``key`` (the exchange name, and the routing key),
``n`` and, for the subscriber, ``k`` (see :class:`benchmarks.raw_common.Tally`).

The subscriber declares a direct exchange ``key`` (auto-delete), an exclusive server-named
queue bound to it with routing key ``key``, and consumes with ``no_ack=True`` (a callback
counting only). The publisher publishes each message to the exchange on a channel without
publisher confirms (aio-pika writes the frames; no round trip per message), awaiting each
``publish``.

Output: ``{"ready": true}`` then ``{"result": {...}}``, one JSON object per line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aio_pika

from .node_python import emit_line
from .raw_common import END, Tally, payload, start_marker, warmed_then_go
from .warm import MARKER


async def exchange_of(cfg: dict[str, Any], channel: Any) -> Any:
    return await channel.declare_exchange(
        cfg["key"], aio_pika.ExchangeType.DIRECT, auto_delete=True
    )


async def publisher(cfg: dict[str, Any], channel: Any, connection: Any) -> None:
    exchange, rk, n = await exchange_of(cfg, channel), cfg["key"], cfg["n"]
    emit_line(ready=True)
    if cfg.get("warm"):  # benchmarks.warm: the same publishes, the marker, then "go"
        for i in range(int(cfg["warm"])):
            await exchange.publish(aio_pika.Message(payload(i).encode()), rk)
        await exchange.publish(aio_pika.Message(MARKER.encode()), rk)
        await warmed_then_go(cfg)
    await exchange.publish(aio_pika.Message(start_marker().encode()), rk)
    t0 = time.monotonic()
    for i in range(n):
        await exchange.publish(aio_pika.Message(payload(i).encode()), rk)
    await exchange.publish(aio_pika.Message(END.encode()), rk)
    emit_line(result={"emitted": n, "send_seconds": time.monotonic() - t0})
    await asyncio.Event().wait()  # until the orchestrator stops this process


async def subscriber(cfg: dict[str, Any], channel: Any, connection: Any) -> None:
    tally = Tally(cfg["n"], cfg.get("k", 1), int(cfg.get("warm") or 0))
    exchange = await exchange_of(cfg, channel)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, cfg["key"])

    async def on_message(message: Any) -> None:
        await tally.on_message(message.body)

    await queue.consume(on_message, no_ack=True)
    emit_line(ready=True)
    await tally.wait(cfg.get("timeout", 120))
    props = connection.transport.connection.server_properties
    version = props.get("version", b"?")
    tally.emit_result(server=version.decode() if isinstance(version, bytes) else str(version))


async def main(cfg: dict[str, Any]) -> None:
    connection = await aio_pika.connect(cfg["url"])
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        await (publisher if cfg["role"] == "publisher" else subscriber)(cfg, channel, connection)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        asyncio.run(main(config))
    except Exception as error:
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
