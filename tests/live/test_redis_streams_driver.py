"""The Redis streams I/O (sioadapter/backends/_redis_streams.py) on private redis-servers.

A reader resumes after CLIENT KILL and a Redis restart from the last id it read, hands over
every entry once and in order, and counts the entries MAXLEN trimmed before it read them.
Each test uses a stream key of its own on the shared server, or a server of its own when it
kills or restarts things.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from sioadapter.backends._redis_streams import (
    Entry,
    Gap,
    StreamReader,
    entries_after,
    save_session,
    take_session,
    xadd_entries,
)

pytestmark = [pytest.mark.redis, pytest.mark.integration]


def key() -> str:
    return f"streams-test-{uuid.uuid4().hex[:12]}"


class Collector:
    """on_batch and on_gap for a reader: keeps what arrives, lets a test wait for it."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.batches: list[int] = []
        self.gaps: list[Gap] = []
        self.changed = asyncio.Event()
        self.hold: asyncio.Event | None = None

    async def on_batch(self, stream: str, entries: list[Entry]) -> None:
        self.entries.extend(entries)
        self.batches.append(len(entries))
        self.changed.set()
        if self.hold is not None:
            await self.hold.wait()

    def on_gap(self, gap: Gap) -> None:
        self.gaps.append(gap)
        self.changed.set()

    def values(self) -> list[int]:
        return [int(fields[b"n"]) for _, fields in self.entries]

    async def wait(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self.changed.clear()
                await self.changed.wait()


async def write(client: Any, stream: str, numbers: range, max_len: int | None = None) -> None:
    await xadd_entries(client, [(stream, {"n": str(n)}) for n in numbers], max_len)


async def test_every_entry_arrives_once_in_order_in_batches_of_read_count(redis_standalone):
    client = redis_standalone.async_client(decode_responses=False)
    stream, seen = key(), Collector()
    await write(client, stream, range(5))  # before the reader starts: not handed over
    reader = StreamReader(client, stream, seen.on_batch, read_count=100, block_ms=500)
    await reader.start()
    try:
        await write(client, stream, range(5, 255))
        await seen.wait(lambda: len(seen.entries) >= 250)
        assert seen.values() == list(range(5, 255))
        assert max(seen.batches) <= 100
        ids = [entry_id for entry_id, _ in seen.entries]
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        assert reader.gaps == 0
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()


async def test_a_missing_stream_is_read_from_its_first_entry(redis_standalone):
    client = redis_standalone.async_client(decode_responses=False)
    stream, seen = key(), Collector()
    reader = StreamReader(client, stream, seen.on_batch, block_ms=500)
    await reader.start()  # no such key yet
    try:
        assert reader.last_id == "0-0"
        await write(client, stream, range(3))
        await seen.wait(lambda: len(seen.entries) >= 3)
        assert seen.values() == [0, 1, 2]
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()


async def test_client_kill_twice_during_a_20ms_ticker_loses_nothing(redis_standalone):
    name = f"reader-{uuid.uuid4().hex[:8]}"
    client = redis_standalone.async_client(decode_responses=False, client_name=name)
    writer = redis_standalone.async_client(decode_responses=False)
    admin = redis_standalone.async_client()
    stream, seen = key(), Collector()
    reader = StreamReader(client, stream, seen.on_batch, block_ms=200)
    await reader.start()

    async def ticker() -> None:
        for n in range(60):
            await write(writer, stream, range(n, n + 1))
            await asyncio.sleep(0.02)

    async def kill_reader_connections() -> int:
        killed = 0
        for conn in await admin.client_list():
            if conn.get("name") == name:
                killed += await admin.execute_command("CLIENT", "KILL", "ID", conn["id"])
        return killed

    try:
        ticking = asyncio.create_task(ticker())
        for after in (15, 35):
            await seen.wait(lambda after=after: len(seen.entries) >= after)
            assert await kill_reader_connections() >= 1
        await ticking
        await seen.wait(lambda: len(seen.entries) >= 60)
        assert seen.values() == list(range(60))  # once each, in order
        assert seen.gaps == []
    finally:
        await reader.close()
        await writer.delete(stream)
        for c in (client, writer, admin):
            await c.aclose()


async def test_entries_trimmed_while_the_reader_was_busy_are_counted_exactly(redis_standalone):
    client = redis_standalone.async_client(decode_responses=False)
    stream, seen = key(), Collector()
    reader = StreamReader(client, stream, seen.on_batch, on_gap=seen.on_gap, block_ms=500)
    await reader.start()
    try:
        seen.hold = asyncio.Event()
        await write(client, stream, range(1))
        await seen.wait(lambda: len(seen.entries) == 1)  # the reader is busy with entry 0
        for n in range(1, 51):  # exact MAXLEN 10: entries 1..40 are trimmed unread
            await client.xadd(stream, {"n": str(n)}, maxlen=10, approximate=False)
        seen.hold.set()
        seen.hold = None
        await seen.wait(lambda: len(seen.entries) >= 11)
        assert seen.values() == [0, *range(41, 51)]
        (gap,) = seen.gaps
        assert gap.lost == 40
        assert gap.after == seen.entries[0][0]
        assert gap.resumed_at == seen.entries[1][0]
        assert (reader.gaps, reader.lost) == (1, 40)
        # Reading on after the gap counts no more losses.
        await write(client, stream, range(51, 61))
        await seen.wait(lambda: len(seen.entries) >= 21)
        assert seen.values()[-10:] == list(range(51, 61))
        assert reader.lost == 40
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()


async def test_a_restart_without_persistence_is_reported_and_reading_goes_on(
    fresh_redis_standalone,
):
    client = fresh_redis_standalone.async_client(decode_responses=False)
    stream, seen = "socket.io", Collector()
    reader = StreamReader(client, stream, seen.on_batch, on_gap=seen.on_gap, block_ms=200)
    await reader.start()
    try:
        await write(client, stream, range(3))
        await seen.wait(lambda: len(seen.entries) >= 3)
        await asyncio.to_thread(fresh_redis_standalone.restart)  # --save '': the stream is gone
        await write(client, stream, range(3, 6))
        await seen.wait(lambda: len(seen.entries) >= 6)
        assert seen.values() == list(range(6))
        # The reset is noticed at the checked read after the first batch of the new stream
        # (redis-py may retry the read itself, unseen): lost None, it cannot tell how many.
        await seen.wait(lambda: bool(seen.gaps))
        assert [gap.lost for gap in seen.gaps] == [None]
    finally:
        await reader.close()
        await client.aclose()


async def test_a_new_stream_with_lower_ids_is_read_from_its_start(redis_standalone):
    client = redis_standalone.async_client(decode_responses=False)
    stream, seen = key(), Collector()
    reader = StreamReader(client, stream, seen.on_batch, on_gap=seen.on_gap, block_ms=200)
    await reader.start()
    try:
        await write(client, stream, range(2))
        await seen.wait(lambda: len(seen.entries) >= 2)
        await client.delete(stream)  # and a writer whose ids are below what was read
        for n, entry_id in ((2, "1-0"), (3, "1-1")):
            await client.xadd(stream, {"n": str(n)}, id=entry_id)
        await seen.wait(lambda: len(seen.entries) >= 4 and bool(seen.gaps))
        assert seen.values() == [0, 1, 2, 3]
        assert [gap.lost for gap in seen.gaps] == [None]
        await write(client, stream, range(4, 6))
        await seen.wait(lambda: len(seen.entries) >= 6)
        assert seen.values() == list(range(6))
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()


async def test_sessions_are_taken_once_and_expire(redis_standalone):
    client = redis_standalone.async_client(decode_responses=False)
    session_key = f"sio:session:{key()}"
    try:
        await save_session(client, session_key, "c2Vzc2lvbg==", 60000)
        assert 59000 < await client.pttl(session_key) <= 60000
        assert await take_session(client, session_key) == b"c2Vzc2lvbg=="
        assert await take_session(client, session_key) is None
        await save_session(client, session_key, "x", 50)
        await asyncio.sleep(0.2)  # a TTL of 50 ms: nothing to wait on but Redis's clock
        assert await take_session(client, session_key) is None
    finally:
        await client.aclose()


async def test_entries_after_an_offset_as_node_replays_them(redis_standalone):
    client = redis_standalone.async_client(decode_responses=False)
    stream = key()
    try:
        ids = await xadd_entries(client, [(stream, {"n": str(n)}) for n in range(30)], None)
        found = await entries_after(client, stream, ids[4], count=7)  # several XRANGE calls
        assert found is not None
        assert [entry_id for entry_id, _ in found] == ids[5:]
        assert await entries_after(client, stream, ids[-1]) == []
        assert await entries_after(client, stream, "1-0") is None  # not in the stream
        await client.xtrim(stream, maxlen=5, approximate=False)
        assert await entries_after(client, stream, ids[4]) is None  # trimmed: cannot replay
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_xadd_trims_approximately_as_node_does(redis_standalone):
    client = redis_standalone.async_client(decode_responses=False)
    stream = key()
    try:
        ids = await xadd_entries(client, [(stream, {"n": str(n)}) for n in range(500)], 100)
        assert len(ids) == 500
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        # MAXLEN ~ trims whole radix-tree nodes (100 entries each): at least 100 are kept.
        assert 100 <= await client.xlen(stream) < 500
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_the_reader_and_the_gap_check_work_on_a_cluster(redis_cluster):
    client = redis_cluster.async_client(decode_responses=False)
    stream, seen = key(), Collector()
    reader = StreamReader(client, stream, seen.on_batch, on_gap=seen.on_gap)
    assert reader.block_ms == 4000  # within the cluster client's 5 s socket timeout
    reader.block_ms = 200
    await reader.start()
    try:
        seen.hold = asyncio.Event()
        await write(client, stream, range(1))
        await seen.wait(lambda: len(seen.entries) == 1)
        for n in range(1, 31):  # exact MAXLEN 10: entries 1..20 are trimmed unread
            await client.xadd(stream, {"n": str(n)}, maxlen=10, approximate=False)
        seen.hold.set()
        seen.hold = None
        await seen.wait(lambda: len(seen.entries) >= 11 and bool(seen.gaps))
        assert seen.values() == [0, *range(21, 31)]
        assert [gap.lost for gap in seen.gaps] == [20]
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()


async def test_what_is_delivered_plus_what_is_counted_lost_is_all_that_was_written(
    redis_standalone,
):
    # Bursts of writes with exact trimming of random depth, while the reader is sometimes held
    # inside a batch: whatever it does not deliver, it counts, and never twice.
    rng = random.Random(15)
    client = redis_standalone.async_client(decode_responses=False)
    stream, seen = key(), Collector()
    reader = StreamReader(client, stream, seen.on_batch, read_count=7, block_ms=100)
    await reader.start()
    written = 0
    try:
        for _ in range(60):
            seen.hold = asyncio.Event() if rng.random() < 0.4 else None
            held = seen.hold
            for _ in range(rng.randint(1, 30)):
                max_len = rng.choice([3, 8, 20, None])
                await client.xadd(stream, {"n": str(written)}, maxlen=max_len, approximate=False)
                written += 1
            if held is not None:
                seen.hold = None
                held.set()
            await asyncio.sleep(rng.choice([0, 0.001, 0.01]))
        await client.xadd(stream, {"n": str(written)})  # a marker, never trimmed
        written += 1
        await seen.wait(lambda: bool(seen.values()) and seen.values()[-1] == written - 1)
        values = seen.values()
        assert values == sorted(set(values))  # in order, none twice
        assert len(values) + reader.lost == written
        assert reader.lost > 0  # the run did trim unread entries
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()


async def test_a_given_start_that_was_trimmed_is_reported_as_a_possible_gap(redis_standalone):
    # A position from elsewhere (a restarted node's saved offset) comes without its count:
    # the reader can only tell that the entry it starts after is gone (Redis < 7 likewise).
    client = redis_standalone.async_client(decode_responses=False)
    stream, seen = key(), Collector()
    ids = await xadd_entries(client, [(stream, {"n": str(n)}) for n in range(20)], None)
    await client.xtrim(stream, maxlen=5, approximate=False)  # keeps 15..19
    reader = StreamReader(client, stream, seen.on_batch, on_gap=seen.on_gap, start=ids[2])
    await reader.start()
    try:
        await seen.wait(lambda: len(seen.entries) >= 5 and bool(seen.gaps))
        assert seen.values() == list(range(15, 20))
        assert seen.gaps == [Gap(stream, ids[2], ids[15], None)]
        await write(client, stream, range(20, 25))  # and from then on, exact counts
        await seen.wait(lambda: len(seen.entries) >= 10)
        assert (reader.gaps, reader.lost) == (1, 0)
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()


async def test_the_reader_works_through_sentinel(redis_sentinel):
    from redis.asyncio.sentinel import Sentinel

    sentinel = Sentinel([("127.0.0.1", redis_sentinel.sentinel.port)])
    client = sentinel.master_for(redis_sentinel.service_name)
    stream, seen = key(), Collector()
    reader = StreamReader(client, stream, seen.on_batch, block_ms=200)
    await reader.start()
    try:
        await write(client, stream, range(30))
        await seen.wait(lambda: len(seen.entries) >= 30)
        assert seen.values() == list(range(30))
    finally:
        await reader.close()
        await client.delete(stream)
        await client.aclose()
