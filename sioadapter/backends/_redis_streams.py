"""Redis streams I/O for the streams protocol: XADD, a resuming XREAD loop, gap detection,
sessions. It knows redis-py and stream ids, nothing about Socket.IO packets (the entries' fields
come from and go to `sioadapter.wire.streams`). Not wired into any manager yet: see
``docs/design/streams.md``.

Redis commands used: XADD (``MAXLEN ~``), XREAD (``COUNT``, ``BLOCK``), XINFO STREAM, XREAD and
XRANGE in one MULTI/EXEC (the gap check), XRANGE (replay), SET ``PX``, GET and DEL in one
MULTI/EXEC (taking a session, as Node does; GETDEL needs Redis 6.2).

Delivery: `StreamReader` reads one stream from a known id onwards, so that a dropped connection
(CLIENT KILL, a restart, a timeout) resumes where it stopped, and nothing written meanwhile is
missed unless ``MAXLEN`` trimmed it first. That is a *gap*: the reader counts the entries it
lost, exactly on Redis 7+ (XINFO's ``entries-added``), and reports them (`Gap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

__all__ = [
    "Entry",
    "Gap",
    "StreamReader",
    "entries_after",
    "save_session",
    "take_session",
    "xadd_entries",
]

logger = logging.getLogger("sioadapter.backends.redis")

Entry = tuple[str, dict[bytes, bytes]]
"""A stream entry as read: its id and its fields (bytes, as Redis returns them)."""

_RETRY_MIN, _RETRY_CAP = 0.05, 2.0
_REPLAY_CALLS = 100  # Node's RESTORE_SESSION_MAX_XRANGE_CALLS


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True, slots=True)
class Gap:
    """Entries trimmed from ``stream`` (``MAXLEN``) before the reader read them.

    ``after`` is the last id read before the gap, ``resumed_at`` the first id still there.
    ``lost`` is the number of entries lost, or None when Redis cannot say: the stream was
    deleted or recreated (a restart without persistence), or Redis is older than 7.0.
    """

    stream: str
    after: str
    resumed_at: str | None
    lost: int | None


def _entries(reply: Any, stream: str) -> list[Entry]:
    """XREAD's entries for ``stream``, from a RESP2 list or a RESP3 map reply."""
    if not reply:
        return []
    if isinstance(reply, Mapping):
        items = [(name, value[0] if value else []) for name, value in reply.items()]
    else:
        items = [(name, value) for name, value in reply]
    for name, entries in items:
        if _text(name) == stream:
            return [(_text(entry_id), dict(fields or {})) for entry_id, fields in entries]
    return []


class StreamReader:
    """Reads ``stream`` from where it last stopped, forever, and hands over each batch in order.

    Args:
        client: a ``redis.asyncio`` client: ``Redis`` (standalone, Sentinel) or
            ``RedisCluster``. The reader borrows one connection for its blocking reads, so
            the pool needs one to spare.
        stream: the stream's key.
        on_batch: awaited with each batch of entries, in stream order; an exception it raises
            is logged and the reader goes on (the batch is not read again).
        read_count: XREAD's COUNT (Node's ``readCount``).
        block_ms: XREAD's BLOCK (Node's ``blockTimeInMs``); kept below the client's socket
            timeout, so that an idle stream is not mistaken for a dead connection.
        on_gap: called with each `Gap` found; the gap is logged either way. The read after a
            failure, after a batch and after an idle BLOCK is a checked one
            (`_checked_read`), so a gap is found unless more than ``MAXLEN`` entries are
            written and trimmed within the one round trip between an empty checked read and
            the blocking XREAD that follows it.
        start: the id to read after; None means the stream's newest entry when `start` runs
            (Node's ``$``, but fixed at once, so that entries written before the first XREAD
            are not skipped).
        renew_client: awaited after a failed read for the client to read with from then on
            (on a Redis Cluster: a client of the stream's slot owner, which may have moved);
            the reader then owns its clients, and closes each one it stops using.
    """

    def __init__(
        self,
        client: Any,
        stream: str,
        on_batch: Callable[[str, list[Entry]], Awaitable[None]],
        *,
        read_count: int = 100,
        block_ms: int = 5000,
        on_gap: Callable[[Gap], None] | None = None,
        start: str | None = None,
        renew_client: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        if read_count < 1 or block_ms < 1:
            raise ValueError("read_count and block_ms must be positive")
        self.client = client
        self.stream = stream
        self.on_batch = on_batch
        self.read_count = read_count
        self.block_ms = self._block_within_socket_timeout(client, block_ms)
        self.on_gap = on_gap
        self.renew_client = renew_client
        #: The last id read; every entry after it is still to be handed over.
        self.last_id = start or ""
        #: The checkpoint: an id, and how many of the entries added to the stream up to it
        #: (XINFO's ``entries-added``) are accounted for, read or reported lost (None when
        #: unknown: a ``start`` given, or Redis < 7).
        self._cp_id = self.last_id
        self._cp_added: int | None = None
        #: Ids read since the checkpoint (an entry read, then trimmed, is not lost).
        self._since: list[str] = []
        self.gaps = 0
        self.lost = 0
        #: Reads that failed (redis-py retries some failures itself, unseen here).
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._check = start is not None  # a given start may already be trimmed
        self._closing = False
        self._last_read = False  # last_id is the id of an entry read (not a start position)

    @staticmethod
    def _block_within_socket_timeout(client: Any, block_ms: int) -> int:
        # A Redis client keeps its connection options on its pool, a RedisCluster on itself.
        pool = getattr(client, "connection_pool", client)
        options = getattr(pool, "connection_kwargs", None)
        timeout = options.get("socket_timeout") if isinstance(options, dict) else None
        if timeout:
            block_ms = min(block_ms, max(1, int(timeout * 1000) - 1000))
        return block_ms

    async def start(self) -> None:
        """Fix the start position (the stream's last id, unless one was given) and start
        reading in a task. Raises the client's error if Redis cannot be reached."""
        if not self.last_id:
            try:
                info = await self.client.xinfo_stream(self.stream)
            except ResponseError as error:
                if "no such key" not in str(error).lower():
                    raise
                self.last_id, self._cp_added = "0-0", 0
            else:
                self.last_id = _text(info["last-generated-id"])
                added = info.get("entries-added")
                self._cp_added = int(added) if added is not None else None
            self._cp_id = self.last_id
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop reading (the client is the caller's). Within ``block_ms`` at worst: redis-py
        8.1 can swallow the cancellation of a blocking read on a client with a socket
        timeout, and the loop then stops when that read returns."""
        task, self._task = self._task, None
        self._closing = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.renew_client is not None:
            await _close_quietly(self.client)

    async def _renew_client(self) -> None:
        if self.renew_client is None:
            return
        try:
            fresh = await self.renew_client()
        except Exception as error:  # Redis still unreachable: keep the old one, try again later
            logger.debug("renewing the client of stream %r failed: %s", self.stream, error)
            return
        stale, self.client = self.client, fresh
        if stale is not fresh:
            await _close_quietly(stale)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        backoff = _RETRY_MIN
        failing = False
        while not self._closing:
            checked = self._check
            try:
                if checked:
                    entries = await self._checked_read()
                    self._check = False
                else:
                    reply = await self.client.xread(
                        {self.stream: self.last_id}, count=self.read_count, block=self.block_ms
                    )
                    entries = _entries(reply, self.stream)
                backoff = _RETRY_MIN
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure: reconnect and resume from last_id
                self._check = True
                self.failures += 1
                if not failing:
                    logger.warning(
                        "reading stream %r failed (%s); resuming after %s",
                        self.stream,
                        type(error).__name__,
                        self.last_id,
                    )
                failing = True
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, _RETRY_CAP)
                await self._renew_client()
                continue
            if self._closing:
                return
            if failing:
                logger.info("reading stream %r again after %s", self.stream, self.last_id)
                failing = False
            if not entries:
                # Idle for block_ms: check the stream once (a new stream under the key whose
                # ids lie below last_id would never answer the blocking XREAD); after an
                # empty checked read, block again.
                self._check = not checked
                continue
            self.last_id = entries[-1][0]
            self._since.extend(entry_id for entry_id, _ in entries)
            self._last_read = True
            # While the batch is handled, MAXLEN may trim entries not read yet: the next read
            # is a checked one.
            self._check = True
            try:
                await self.on_batch(self.stream, entries)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("handling entries of stream %r failed", self.stream)

    async def _checked_read(self) -> list[Entry]:
        """One non-blocking XREAD with XINFO STREAM in the same MULTI/EXEC: the stream's
        counters and the entries read are one snapshot, so a gap cannot open unseen between
        the check and the read."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xinfo_stream(self.stream)
            pipe.xread({self.stream: self.last_id}, count=self.read_count)
            # Is the entry read last still there? (Trimmed, or a new stream under the key.)
            pipe.xrange(self.stream, self.last_id, self.last_id)
            info, reply, last = await pipe.execute(raise_on_error=False)
        if isinstance(reply, Exception):
            raise reply
        entries = _entries(reply, self.stream)
        if isinstance(info, ResponseError) and "no such key" in str(info).lower():
            if self._cp_added or self._since:  # it had entries: deleted, or lost in a restart
                self._report(Gap(self.stream, self.last_id, None, None))
            # A new stream's ids may be at or below ours (same millisecond, another clock).
            self.last_id = self._cp_id = "0-0"
            self._cp_added, self._since, self._last_read = 0, [], False
            return entries
        if isinstance(info, Exception):
            raise info
        gone = self._last_read and not isinstance(last, Exception) and not last
        return await self._account(info, gone) + entries

    async def _account(self, info: Mapping[str, Any], last_gone: bool) -> list[Entry]:
        """Compare XINFO's counters with what was read since the checkpoint, report the
        entries trimmed unread, and move the checkpoint to ``last_id``. Returns the entries of
        a new stream under the same key that lie at or below ``last_id`` (to hand over)."""
        length = int(info["length"])
        first = info.get("first-entry")
        first_text = _text(first[0]) if first else None
        first_id = _id(first_text) if first_text is not None else None
        raw_added = info.get("entries-added")
        added = int(raw_added) if raw_added is not None else None
        cp, since, self._since = _id(self._cp_id), self._since, []
        # MAXLEN trims the head only: with the first entry after the checkpoint, every entry
        # added since then is either still there or trimmed (read or not).
        after_cp = first_id is None or first_id > cp
        trimmed_read = [i for i in since if first_id is None or _id(i) < first_id]
        if added is not None and self._cp_added is not None:
            counted = self._cp_added
            lost = added - counted - length - len(trimmed_read) if after_cp else 0
            # The entry read last is gone, yet the first entry is not after it: not trimmed.
            recreated = last_gone and first_id is not None and first_id <= _id(self.last_id)
            if added < counted or lost < 0 or recreated:
                # Impossible in one stream: a new stream under the same key (a restart
                # without persistence, a DEL). Its entries at or below last_id were never
                # read: hand them over now.
                self._report(Gap(self.stream, self.last_id, first_text, None))
                seen = set(since)
                raw = await self.client.xrange(self.stream, "-", self.last_id)
                pairs = [(_text(i), dict(f)) for i, f in raw]
                # From now on, positions are in the new stream's ids.
                self.last_id = self._cp_id = pairs[-1][0] if pairs else "0-0"
                self._cp_added = added - length + len(pairs)
                self._last_read = bool(pairs)
                return [(i, f) for i, f in pairs if i not in seen]
            if lost > 0:
                after = max(trimmed_read, key=_id) if trimmed_read else self._cp_id
                self._report(Gap(self.stream, after, first_text, lost))
            if after_cp:
                # Accounted for: all added but the entries still there that were not read.
                self._cp_added = added - (length - (len(since) - len(trimmed_read)))
            else:
                self._cp_added = counted + len(since)
        elif first_id is not None and first_id > _id(self.last_id):
            # Redis < 7, or a start given without its count: the entry read last is gone,
            # and perhaps some after it.
            self._report(Gap(self.stream, self.last_id, first_text, None))
            self._cp_added = None if added is None else added - length
        elif added is not None and after_cp and not since:
            self._cp_added = added - length
        self._cp_id = self.last_id
        return []

    def _report(self, gap: Gap) -> None:
        self.gaps += 1
        self.lost += gap.lost or 0
        logger.warning(
            "stream %r: %s entries after %s were trimmed before they were read (maxLen too "
            "small for this reader's lag, or the stream was reset); resuming at %s",
            gap.stream,
            "some" if gap.lost is None else gap.lost,
            gap.after,
            gap.resumed_at,
        )
        if self.on_gap is not None:
            self.on_gap(gap)


async def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):
        await client.aclose()


async def xadd_entries(
    client: Any, entries: Sequence[tuple[str, Mapping[str, str]]], max_len: int | None
) -> list[str]:
    """XADD each ``(stream, fields)`` in order, in one pipeline, with ``MAXLEN ~ max_len``
    (None: no trimming). Returns the new ids."""
    async with client.pipeline(transaction=False) as pipe:
        for stream, fields in entries:
            pipe.xadd(stream, dict(fields), maxlen=max_len, approximate=True)
        return [_text(entry_id) for entry_id in await pipe.execute()]


async def save_session(
    client: Any, key: str, value: str, ttl_ms: int, *, only_existing: bool = False
) -> None:
    """``SET key value PX ttl_ms``: a session that expires unless restored in time. With
    ``only_existing`` (``XX``), only over the session still there: one that a restoring server
    took is not written back."""
    await client.set(key, value, px=ttl_ms, xx=only_existing)


async def take_session(client: Any, key: str) -> bytes | None:
    """The session at ``key``, deleted in the same MULTI/EXEC (a session restores once)."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.get(key)
        pipe.delete(key)
        value, _ = await pipe.execute()
    return value if value is None else bytes(value)


async def entries_after(
    client: Any, stream: str, offset: str, *, max_calls: int = _REPLAY_CALLS, count: int = 1000
) -> list[Entry] | None:
    """Every entry after ``offset`` (an id still in the stream), in order, as Node replays
    missed packets: None when ``offset`` is no longer (or never was) in the stream, since
    what followed it may be trimmed too. At most ``max_calls`` XRANGE calls of ``count``."""
    if not await client.xrange(stream, offset, offset):
        return None
    found: list[Entry] = []
    ms, seq = _id(offset)
    for _ in range(max_calls):
        batch = await client.xrange(stream, f"{ms}-{seq + 1}", "+", count=count)
        if not batch:
            break
        found.extend((_text(entry_id), dict(fields)) for entry_id, fields in batch)
        ms, seq = _id(found[-1][0])
    return found
