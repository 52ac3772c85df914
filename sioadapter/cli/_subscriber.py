"""The monitor's subscriber connections: redis-py asyncio, opened by the monitor alone.

:class:`Listener` holds one subscriber connection, or, in sharded mode on a Redis Cluster, one
per primary that owns a subscribed channel (SSUBSCRIBE must go to the slot's owner; a
classic PUBLISH reaches every node of a Cluster, so one connection hears it all). Everything
received goes to one queue. :meth:`Listener.subscribe` returns once Redis has confirmed the
subscriptions, so nothing published afterwards is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..backends._redis_shards import node_client
from ..backends._redis_sub import ShardPubSub
from ..backends.redis import clients_from_spec
from ..backends.redis_url import parse_redis_url

_CONFIRMATIONS = frozenset({"subscribe", "psubscribe", "ssubscribe"})
_DATA = frozenset({"message", "pmessage", "smessage"})
SUBSCRIBE_TIMEOUT = 10.0


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


class Listener:
    """Subscriber connections (one, or one per Cluster primary in sharded mode) feeding one
    queue of ``(channel, payload)``, with subscriptions confirmed by Redis before returning."""

    def __init__(self, url: str, sharded: bool) -> None:
        self.client, _ = clients_from_spec(parse_redis_url(url))
        self.cluster = self.client if isinstance(self.client, RedisCluster) else None
        self.sharded = sharded
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._pubsubs: dict[str, Any] = {}
        self._owned: list[Any] = []
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._confirming: dict[str, asyncio.Future[None]] = {}

    async def connect(self) -> None:
        """Reach the server (or discover the Cluster) first: a bad URL fails here, clearly."""
        if self.cluster is not None:
            await self.cluster.initialize()
        else:
            await self.client.ping()

    def _pubsub(self, channel: str | None) -> tuple[str, Any]:
        """(connection name, PubSub) that must carry ``channel`` (None: a pattern)."""
        if self.cluster is None or not self.sharded:
            name = "main"
        else:
            owner = self.cluster.get_node_from_key(channel or "")
            if owner is None:
                raise RedisError(f"no Cluster node owns the slot of {channel!r}")
            name = owner.name
        if name not in self._pubsubs:
            if self.cluster is None:
                pubsub = self.client.pubsub()
            elif not self.sharded:
                # A Cluster forwards every PUBLISH to every node: one node hears everything.
                pubsub = self._node_client(self.cluster.get_random_node()).pubsub()
            else:
                pubsub = ShardPubSub(self._node_client(owner).connection_pool)
            self._pubsubs[name] = pubsub
        return name, self._pubsubs[name]

    def _node_client(self, node: Any) -> Any:
        client = node_client(self.cluster, node)  # type: ignore[arg-type]
        self._owned.append(client)
        return client

    async def subscribe(self, names: Collection[str], *, patterns: bool, wait: bool = True) -> None:
        """PSUBSCRIBE ``names`` (classic) or SSUBSCRIBE them; ``wait`` for Redis to confirm."""
        loop = asyncio.get_running_loop()
        waiting = [self._confirming.setdefault(n, loop.create_future()) for n in names]
        for channel in names:
            name, pubsub = self._pubsub(None if patterns else channel)
            if patterns:
                await pubsub.psubscribe(channel)
            else:
                await pubsub.ssubscribe(channel)
            if name not in self._readers:  # read only once the connection exists
                self._readers[name] = asyncio.create_task(self._read(pubsub))
        if wait:
            try:
                await asyncio.wait_for(asyncio.gather(*waiting), SUBSCRIBE_TIMEOUT)
            except asyncio.TimeoutError:
                raise RedisTimeoutError(
                    f"Redis did not confirm the subscriptions to {' '.join(names)} within "
                    f"{SUBSCRIBE_TIMEOUT:g} s"
                ) from None

    async def _read(self, pubsub: Any) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except RedisTimeoutError:  # old redis-py: a silent channel hits socket_timeout
                continue
            if message is None:
                continue
            kind = message["type"]
            if kind in _DATA:
                self.queue.put_nowait((_text(message["channel"]), bytes(message["data"])))
            elif kind in _CONFIRMATIONS:
                future = self._confirming.get(_text(message["channel"]))
                if future is not None and not future.done():
                    future.set_result(None)

    async def next(self) -> tuple[str, bytes]:
        """The next message; a failed connection raises its error here."""
        getter = asyncio.ensure_future(self.queue.get())
        while True:
            readers = list(self._readers.values())
            done, _ = await asyncio.wait([getter, *readers], return_when="FIRST_COMPLETED")
            if getter in done:
                return getter.result()
            for task in done:
                if task.exception() is not None:
                    getter.cancel()
                    raise task.exception()  # type: ignore[misc]

    async def close(self) -> None:
        """Stop reading and close every connection (errors of dead connections ignored)."""
        for task in self._readers.values():
            task.cancel()
        await asyncio.gather(*self._readers.values(), return_exceptions=True)
        for pubsub in self._pubsubs.values():
            with contextlib.suppress(Exception):  # closing a dead connection is not news
                await pubsub.aclose()
        for client in [*self._owned, self.client]:
            with contextlib.suppress(Exception):
                await client.aclose()
