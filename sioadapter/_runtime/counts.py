"""Subscriber counts, shared by concurrent requests and remembered across outages.

A cluster request expects one answer per other node, and the node count comes from the
backend (Redis ``PUBSUB NUMSUB`` of the namespace's count channel). Asking once per request
breaks under load: 10,000 concurrent requests opened 10,000 pooled connections, or failed on
redis-py's pool limit. Here a count already in flight for a channel is shared by every request
that needs it meanwhile (it is at most one round trip old, the same as if the request had come a
moment earlier), and at most ``max_concurrent`` counts run at once, so counting uses a small,
fixed number of connections whatever the load.

The last count seen per channel is kept (``last``): after an outage the manager waits until the
cluster's counts are back to what they were before (see :mod:`sioadapter._bus`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..backends.base import Backend


class SubscriberCounts:
    """Single-flight subscriber counts of one backend (one event loop)."""

    def __init__(self, backend: Backend, max_concurrent: int = 2) -> None:
        self._backend = backend
        self._max_concurrent = max_concurrent
        self._limit: asyncio.Semaphore | None = None  # made on the loop that first counts
        self._in_flight: dict[str, asyncio.Future[int | None]] = {}
        self.last: dict[str, int] = {}

    async def count(self, channel: str) -> int | None:
        """The number of subscribers of ``channel``; concurrent callers share one query.

        Raises what the backend raises (BackendError) to every caller sharing the query.
        """
        future = self._in_flight.get(channel)
        if future is None:
            future = asyncio.ensure_future(self._count(channel))
            self._in_flight[channel] = future
            future.add_done_callback(lambda done: self._settled(channel, done))
        return await asyncio.shield(future)

    def _settled(self, channel: str, future: asyncio.Future[int | None]) -> None:
        if self._in_flight.get(channel) is future:
            del self._in_flight[channel]
        if not future.cancelled():
            future.exception()  # retrieved here too: every waiter may have been cancelled

    async def _count(self, channel: str) -> int | None:
        if self._limit is None:
            self._limit = asyncio.Semaphore(self._max_concurrent)
        async with self._limit:
            count = await self._backend.subscriber_count(channel)
        if count is not None:
            self.last[channel] = count
        return count

    async def census(self, channels: Sequence[str]) -> dict[str, int] | None:
        """Count every channel in one backend query and remember the counts."""
        if self._limit is None:
            self._limit = asyncio.Semaphore(self._max_concurrent)
        async with self._limit:
            counts = await self._backend.subscriber_counts(channels)
        if counts is not None:
            self.last.update(counts)
        return counts

    def forget(self, channels: Sequence[str]) -> None:
        """Stop remembering channels this node no longer serves."""
        for channel in channels:
            self.last.pop(channel, None)
