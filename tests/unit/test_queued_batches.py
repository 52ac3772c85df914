"""backends.base.queued_batches: what a backend's receiving side hands the bus."""

from __future__ import annotations

import asyncio

from sioadapter.backends.base import Message, queued_batches


async def test_waiting_batches_merge_into_one_in_order_until_the_close() -> None:
    queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
    first = [("ch", b"0")]
    queue.put_nowait(first)
    for i in range(1, 5000):  # a backlog: what a node that fell behind finds waiting
        queue.put_nowait([("ch", str(i).encode())])
    queue.put_nowait(None)
    batches = [batch async for batch in queued_batches(queue)]
    assert len(batches) == 1
    assert [payload for _, payload in batches[0]] == [str(i).encode() for i in range(5000)]
    assert first == [("ch", b"0")]  # the backend's own list is left as it was


async def test_a_lone_batch_is_passed_on_and_the_close_ends_the_stream() -> None:
    queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
    stream = queued_batches(queue)
    queue.put_nowait([("a", b"1"), ("a", b"2")])
    assert await asyncio.wait_for(stream.__anext__(), 5) == [("a", b"1"), ("a", b"2")]
    queue.put_nowait(None)
    assert [batch async for batch in stream] == []
