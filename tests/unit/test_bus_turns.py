"""Received batches are handled one at a time and in arrival order, even when several reading
tasks (one per shard) hand them over at once, and a reader cancelled while waiting for its turn
does not stall the others."""

from __future__ import annotations

import asyncio
import logging

from sioadapter._runtime.bus import AsyncBus
from sioadapter.backends.memory import MemoryBackend
from sioadapter.stats import Stats


def make_bus(handled: list[str], gate: asyncio.Event) -> AsyncBus:
    running = 0

    async def handler(batch: list[tuple[str, bytes]]) -> None:
        nonlocal running
        running += 1
        assert running == 1, "two batches handled at once"
        handled.append(batch[0][0])
        await gate.wait()
        running -= 1

    return AsyncBus(MemoryBackend("turns"), handler, Stats(), logging.getLogger("test"))


async def test_concurrent_batches_are_handled_one_at_a_time_in_arrival_order() -> None:
    handled: list[str] = []
    gate = asyncio.Event()
    bus = make_bus(handled, gate)
    readers = [asyncio.ensure_future(bus._receive([(name, b"")])) for name in "abcd"]
    await asyncio.sleep(0)
    assert handled == ["a"]  # the others wait for their turn
    gate.set()
    await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert handled == ["a", "b", "c", "d"]
    assert bus.stats.received == 4


async def test_a_reader_cancelled_while_waiting_does_not_stall_the_others() -> None:
    handled: list[str] = []
    gate = asyncio.Event()
    bus = make_bus(handled, gate)
    first = asyncio.ensure_future(bus._receive([("a", b"")]))
    waiting = asyncio.ensure_future(bus._receive([("b", b"")]))
    last = asyncio.ensure_future(bus._receive([("c", b"")]))
    await asyncio.sleep(0)
    waiting.cancel()
    gate.set()
    await asyncio.wait_for(asyncio.gather(first, last), 5)
    assert handled == ["a", "c"]
    # Nothing left holding the turn: the next batch is handled at once.
    await asyncio.wait_for(bus._receive([("d", b"")]), 5)
    assert handled[-1] == "d"
