"""What every raw-client subscriber of the benchmark counts, whatever its broker.

Contract: the raw publishers (:mod:`benchmarks.raw_redis`, :mod:`benchmarks.raw_nats`,
:mod:`benchmarks.raw_postgres`, :mod:`benchmarks.raw_amqp`) send, on one channel, a start
marker ``{"start": <CLOCK_MONOTONIC>}``, then ``n`` payloads ``{"i": n, "t": time}`` (the
JSON the Socket.IO contenders emit), then ``end``; before them, with ``warm``, the warm-up
(:mod:`benchmarks.warm`): ``warm`` payloads, the marker ``warmed``, then the publisher waits
for ``go`` (:func:`warmed_then_go`). :class:`Tally` takes each received payload,
as ``bytes`` or ``str``, without decoding it (no Socket.IO work at all), and hands it to ``k``
sockets through the stub the Socket.IO receivers' per-socket writes are replaced by: an
awaited coroutine calling :meth:`benchmarks.node_python.Receipt.on_packet`, the very counter
behind the Python receivers' ``_send_eio_packet`` (and the same work as the Node receiver's
``writeToEngine``), so that every contender's per-socket cost includes the same harness work.
At K=1 the raw client's ceiling, at K>1 that ceiling with the least work a server delivering
to K sockets does. Its result has the
fields a Socket.IO receiver reports (:func:`benchmarks.stats.rates`, CPU seconds from
``start`` to ``end`` per 10,000 messages).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from .node_python import Receipt, cpu_seconds, emit_line
from .stats import rates
from .warm import MARKER, wait_go

BATCH = 1000  # messages per pipeline / batch, for the raw publishers that batch


def payload(i: int) -> str:
    """The ``i``-th message, the same JSON as the Socket.IO contenders' event data."""
    return json.dumps({"i": i, "t": time.monotonic()})


def start_marker() -> str:
    return json.dumps({"start": time.monotonic()})


END = "end"


async def warmed_then_go(cfg: dict[str, Any]) -> None:
    """After the warm-up's payloads and marker: say so, then wait for the orchestrator."""
    emit_line(warmed=True)
    await asyncio.to_thread(wait_go, cfg.get("timeout", 120))


class Tally:
    """Counts what a raw subscriber receives; ``done`` is set at the end marker. The
    ``warm`` payloads before the ``warmed`` marker go the same way, counted apart (the
    receipt's :class:`benchmarks.warm.Warmup`)."""

    def __init__(self, n: int, k: int = 1, warm: int = 0) -> None:
        self.n, self.k = n, max(1, k)
        # the Socket.IO receivers' counter; its markers never come (they are handled here)
        self._receipt = Receipt({"n": n, "k": self.k, "room": "room1", "warm": warm})
        self.cpu_start = self.cpu_end = self.emitted = 0.0
        self.done = asyncio.Event()
        self._sockets = [f"eio{i}" for i in range(self.k)]

    @property
    def count(self) -> int:
        return self._receipt.count

    async def _send(self, eio_sid: str, data: bytes | str) -> None:
        # What the Socket.IO receivers' per-socket write (the server's _send_eio_packet) is
        # replaced by: an awaited coroutine handing the packet to the same counter.
        self._receipt.on_packet(eio_sid, data)

    async def on_message(self, data: bytes | str) -> None:
        """One received payload (``bytes`` or ``str``)."""
        head = data[:3]
        if head in (b'{"s', '{"s'):
            self.cpu_start = cpu_seconds()
            self.emitted = json.loads(data)["start"]
        elif head in (b"end", "end"):
            self.cpu_end = cpu_seconds()
            self.done.set()
        elif head in (MARKER[:3].encode(), MARKER[:3]):
            self._receipt.warmup.mark()
        else:
            for eio_sid in self._sockets:
                await self._send(eio_sid, data)

    async def wait(self, timeout: float) -> None:
        """Until the end marker, or ``timeout`` seconds (the result then says incomplete)."""
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except asyncio.TimeoutError:
            self.cpu_end = cpu_seconds()

    def emit_result(self, **extra: Any) -> None:
        """The subscriber's result line: what a Socket.IO receiver reports."""
        expected = self.n * self.k
        cpu = self.cpu_end - self.cpu_start
        emit_line(
            result={
                "received": self.count,
                "expected": expected,
                "complete": self.count >= expected,
                **rates(self.count, self.k, self.emitted, self._receipt.first, self._receipt.last),
                "cpu_s": cpu,
                "cpu_per_10k": cpu / self.n * 10_000 if self.n else float("nan"),
                **extra,
            }
        )
