"""The backend of the streams protocol: Redis streams for what must not be lost, a Redis
backend's pub/sub for the rest (Node's ``@socket.io/redis-streams-adapter`` 0.3).

`StreamsBackend` wraps a `RedisBackend` (standalone, Sentinel or Cluster; classic or sharded
pub/sub, Node's ``useShardedPubSub``). The streams family (`sioadapter.wire.streams`) hands it
two kinds of message:

* a stream entry, on a channel starting with NUL (`sioadapter.wire._entries`): XADDed to its
  stream with ``MAXLEN ~ max_len``, in one pipeline per run of entries, in order;
* anything else: published by the wrapped backend, as it would be without streams.

For every namespace whose main channel it subscribes to, it reads that namespace's stream
(`StreamReader`: one task per stream, resuming from the last id read after any failure, gaps
from trimming counted and logged) and hands each batch of entries to the manager as messages
on entry channels. A node reads its own entries too; the manager skips them by uid, as Node's
adapter does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from functools import partial
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from ..errors import BackendError
from ..wire._entries import ENTRY_MARK, entry_fields, received_entry
from ._redis_pub import StreamPublisher
from ._redis_shards import node_client
from ._redis_streams import Entry, Gap, StreamReader, xadd_entries
from .base import Backend, Message, Receiver, queued_batches
from .redis import RedisBackend

__all__ = ["StreamsBackend"]

_TRANSIENT = (RedisError, RedisClusterException, ConnectionError, OSError, asyncio.TimeoutError)


class StreamsBackend(Backend):
    """Stream entries to Redis streams, the rest through ``inner``'s pub/sub.

    Args:
        inner: the Redis backend whose clients this one uses (and closes, with ``close()``).
        stream_of: the stream a node must read once it subscribes to a channel, or None for
            a channel without one (the family's `StreamsFamily.stream_of_channel`).
        max_len: ``MAXLEN ~`` of every XADD (Node's ``maxLen``); None: no trimming.
        read_count: entries per XREAD (Node's ``readCount``).
        block_time_in_ms: how long an XREAD waits for entries (Node's ``blockTimeInMs``).
        settings: the streams protocol's options this backend was built with (an emitter
            given this backend speaks them: `sioadapter._runtime.assembly.STREAMS_OPTIONS`).

    Raises:
        ValueError: a ``max_len``, ``read_count`` or ``block_time_in_ms`` that is not a
            positive int.
    """

    schemes = ()

    def __init__(
        self,
        inner: RedisBackend,
        stream_of: Callable[[str], str | None],
        *,
        max_len: int | None = 10_000,
        read_count: int = 100,
        block_time_in_ms: int = 5_000,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("read_count", read_count), ("block_time_in_ms", block_time_in_ms),
                            ("max_len", 1 if max_len is None else max_len)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        self.inner = inner
        self.stream_of = stream_of
        self.max_len = max_len
        self.read_count = read_count
        self.block_time_in_ms = block_time_in_ms
        self.settings = dict(settings or {})
        self.capabilities = inner.capabilities
        self.confirms_publishes = inner.confirms_publishes
        self.description = inner.description
        self._readers: dict[str, StreamReader] = {}
        #: The channels subscribed to that need each stream (a stream may serve several
        #: namespaces): the reader stops with the last of them.
        self._needed: dict[str, set[str]] = {}
        self._queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
        self._receiver: Receiver | None = None
        # The first messages of a batch, sent before a later run of it failed: when the bus
        # retries them (the same message objects, at the head of its next batch), they are
        # not sent twice.
        self._sent_head: Sequence[Message] = ()
        self.gaps = 0
        self.lost_entries = 0
        #: Called with each `Gap` (the manager counts them in its stats).
        self.gap_handler: Callable[[Gap], None] | None = None
        self._adder: StreamPublisher | None = None  # XADDs, off a Cluster
        self._published_plain = False  # the inner backend has published (its connection)
        self._closed = False
        inner.set_receiver(self._deliver)

    def __repr__(self) -> str:
        return f"<StreamsBackend {self.description} max_len={self.max_len}>"

    def after_fork(self) -> None:
        self.inner.after_fork()
        self._readers, self._needed = {}, {}
        self._adder = None
        self._queue = asyncio.Queue()
        self.inner.set_receiver(self._deliver)

    # -- handlers: the inner backend reports to the same manager ---------------------------

    def set_error_handler(self, handler: Any) -> None:
        super().set_error_handler(handler)
        self.inner.set_error_handler(handler)

    def set_publish_handlers(self, accepted: Any, lost: Any) -> None:
        super().set_publish_handlers(accepted, lost)
        self.inner.set_publish_handlers(accepted, lost)

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        readers, self._readers = list(self._readers.values()), {}
        await asyncio.gather(*(reader.close() for reader in readers))
        if self._adder is not None:
            await self._adder.close()
        await self.inner.close()
        self._queue.put_nowait(None)

    async def probe(self) -> None:
        await self.inner.probe()

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, messages: Sequence[Message]) -> None:
        """Each run of entries in one XADD pipeline, each run of other messages through the
        inner backend, in the order given. BackendError when Redis fails; the messages sent
        before the failure are not sent again when the same batch is retried."""
        if self._closed:
            raise BackendError("the Redis streams backend is closed")
        head, self._sent_head = self._sent_head, ()
        start = len(head)
        if len(messages) < start or any(messages[i] is not head[i] for i in range(start)):
            start = 0
        index = start
        while index < len(messages):
            is_entry = messages[index][0].startswith(ENTRY_MARK)
            end = index + 1
            while end < len(messages) and messages[end][0].startswith(ENTRY_MARK) == is_entry:
                end += 1
            run = messages[index:end]
            try:
                if is_entry:
                    await self._add(run)
                else:
                    self._published_plain = True
                    await self.inner.publish(run)
            except BackendError:
                self._sent_head = messages[:index]
                raise
            index = end

    async def _add(self, run: Sequence[Message]) -> None:
        entries = [entry_fields(channel, payload) for channel, payload in run]
        client = self.inner.pub_client
        try:
            if isinstance(client, RedisCluster):  # each stream to its slot's primary
                await xadd_entries(client, entries, self.max_len)
                return
            # Off a Cluster: written on a connection of their own without waiting for the
            # replies, each confirmed (report_accepted) or reported lost when its reply comes.
            if self._adder is None:
                self._adder = StreamPublisher(
                    client, "XADD", self.report_error, self.report_accepted, self.report_lost
                )
            trim = () if self.max_len is None else ("MAXLEN", "~", self.max_len)
            await self._adder.send(
                [("XADD", stream, *trim, "*", *_flat(fields)) for stream, fields in entries]
            )
        except _TRANSIENT as error:
            raise BackendError(
                f"adding to a Redis stream ({self.description}) failed: {error}"
            ) from error

    @property
    def writes_without_waiting(self) -> bool:
        # Both connections open (the inner one once it was ever used): a publish only writes.
        adder = self._adder
        return (
            adder is not None
            and adder.connected
            and (self.inner.writes_without_waiting or not self._published_plain)
        )

    # -- receiving ------------------------------------------------------------------------

    async def _deliver(self, batch: list[Message]) -> None:
        if self._receiver is not None:
            await self._receiver(batch)
        else:
            self._queue.put_nowait(batch)

    def set_receiver(self, receiver: Receiver | None) -> bool:
        self._receiver = receiver
        return True

    def message_batches(self) -> AsyncIterator[list[Message]]:
        return queued_batches(self._queue)

    async def _on_entries(self, stream: str, entries: list[Entry]) -> None:
        await self._deliver([received_entry(stream, entry_id, f) for entry_id, f in entries])

    def _reader(self, stream: str) -> StreamReader:
        client = self.inner.pub_client
        renew = None
        if isinstance(client, RedisCluster):
            # redis-py's cluster client cannot run the reader's MULTI/EXEC with an XREAD in
            # it: read with a client of the stream's primary, found again after a failure.
            renew = partial(self._slot_owner, client, stream)
            client = _node_of(client, stream)
        return StreamReader(
            client,
            stream,
            self._on_entries,
            read_count=self.read_count,
            block_ms=self.block_time_in_ms,
            on_gap=self._on_gap,
            renew_client=renew,
        )

    @staticmethod
    async def _slot_owner(cluster: RedisCluster, stream: str) -> Any:
        await cluster.initialize()  # slots may have moved, or the primary failed over
        return _node_of(cluster, stream)

    def _on_gap(self, gap: Gap) -> None:
        self.gaps += 1
        self.lost_entries += gap.lost or 0
        if self.gap_handler is not None:
            self.gap_handler(gap)

    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        """Subscribe through the inner backend, then read the stream of every namespace
        whose channel this is, from the stream's newest entry when the reader starts."""
        if self._closed:
            raise BackendError("the Redis streams backend is closed")
        await self.inner.subscribe(channels, patterns)
        for channel in channels:
            stream = self.stream_of(channel)
            if stream is None:
                continue
            self._needed.setdefault(stream, set()).add(channel)
            if stream in self._readers:
                continue
            reader = self._reader(stream)
            try:
                await reader.start()
            except _TRANSIENT as error:
                self._needed[stream].discard(channel)
                raise BackendError(
                    f"reading a Redis stream ({self.description}): {error}"
                ) from error
            self._readers[stream] = reader

    async def unsubscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        await self.inner.unsubscribe(channels, patterns)
        for channel in channels:
            stream = self.stream_of(channel)
            needed = self._needed.get(stream or "")
            if stream is None or needed is None:
                continue
            needed.discard(channel)
            if not needed:
                del self._needed[stream]
                reader = self._readers.pop(stream, None)
                if reader is not None:
                    await reader.close()

    # -- what the manager asks ----------------------------------------------------------------

    async def subscriber_counts(self, channels: Sequence[str]) -> dict[str, int] | None:
        return await self.inner.subscriber_counts(channels)

    async def subscriber_count(self, channel: str) -> int | None:
        return await self.inner.subscriber_count(channel)

    @property
    def receiving(self) -> bool:
        # A stream reader that fails resumes where it stopped: nothing to hold publishing for.
        return self.inner.receiving

    async def wait_receiving(self) -> None:
        await self.inner.wait_receiving()

    def tasks_alive(self) -> bool:
        return self.inner.tasks_alive() and all(r.running for r in self._readers.values())

    @property
    def streams(self) -> list[str]:
        """The streams read now."""
        return sorted(self._readers)


def _node_of(cluster: RedisCluster, stream: str) -> Any:
    """A client of the primary that owns ``stream``'s slot (BackendError when none does)."""
    node = cluster.get_node_from_key(stream)
    if node is None:
        raise BackendError(f"no Redis Cluster node holds the slot of stream {stream!r}")
    return node_client(cluster, node)


def _flat(fields: Mapping[str, Any]) -> list[Any]:
    """An entry's fields as XADD's arguments: name, value, name, value ..."""
    return [item for pair in fields.items() for item in pair]
