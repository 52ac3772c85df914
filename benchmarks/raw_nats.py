"""Raw nats-py publish/subscribe, the NATS ceiling for a Python process.

Usage: ``python -m benchmarks.raw_nats '<json config>'`` with ``role`` ``publisher`` or
``subscriber``, ``url`` (``nats://...``), ``key`` (the subject), ``n`` and, for the
subscriber, ``k`` (see :class:`benchmarks.raw_common.Tally`).

The publisher awaits ``client.publish(subject, payload)`` for each message: nats-py appends
to its output buffer and its flusher task writes it (no round trip per message), then
``flush()`` once. The subscriber is nats-py's public API, ``subscribe(subject, cb=...)``
(``cb`` counting only); it is ready once a ``flush()`` round trip after the ``SUB`` returned.

Output: ``{"ready": true}`` then ``{"result": {...}}``, one JSON object per line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import nats

from .node_python import emit_line
from .raw_common import END, Tally, payload, start_marker, warmed_then_go
from .warm import MARKER


async def publisher(cfg: dict[str, Any], client: Any) -> None:
    subject, n = cfg["key"], cfg["n"]
    emit_line(ready=True)
    if cfg.get("warm"):  # benchmarks.warm: the same publishes, the marker, then "go"
        for i in range(int(cfg["warm"])):
            await client.publish(subject, payload(i).encode())
        await client.publish(subject, MARKER.encode())
        await client.flush(60)
        await warmed_then_go(cfg)
    await client.publish(subject, start_marker().encode())
    t0 = time.monotonic()
    for i in range(n):
        await client.publish(subject, payload(i).encode())
    await client.publish(subject, END.encode())
    await client.flush(60)
    emit_line(result={"emitted": n, "send_seconds": time.monotonic() - t0})
    await asyncio.Event().wait()  # until the orchestrator stops this process


async def subscriber(cfg: dict[str, Any], client: Any) -> None:
    tally = Tally(cfg["n"], cfg.get("k", 1), int(cfg.get("warm") or 0))

    async def on_message(msg: Any) -> None:
        await tally.on_message(msg.data)

    # nats-py drops a slow callback's messages past its pending limits: lifted, as Redis's
    # pub/sub buffer limit is, so that a slow subscriber is measured as slow.
    await client.subscribe(cfg["key"], cb=on_message, pending_msgs_limit=0, pending_bytes_limit=0)
    await client.flush(10)
    emit_line(ready=True)
    await tally.wait(cfg.get("timeout", 120))
    tally.emit_result(server=client._server_info.get("version", "?"))


async def main(cfg: dict[str, Any]) -> None:
    client = await nats.connect(cfg["url"])
    await (publisher if cfg["role"] == "publisher" else subscriber)(cfg, client)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        asyncio.run(main(config))
    except Exception as error:
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
