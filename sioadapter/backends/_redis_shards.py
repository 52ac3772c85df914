"""Sharded pub/sub on a Redis Cluster: one subscriber connection per primary that owns some of
our shard channels.

A shard channel lives on the primary that owns its hash slot; SSUBSCRIBE must be sent there.
The router groups channels by owner, keeps one :class:`~._redis_sub.Reader` per owning node,
and, when a connection fails, refreshes the cluster's slot map and moves every channel whose
owner changed (a failover, a resharding) to a connection on its new owner. A primary that
restarts with the same slots keeps its channels: its reader reconnects and replays them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisError

from ._redis_sub import Deliver, Reader, Report, ShardPubSub, logger

# ClusterNode connection kwargs that belong to the cluster client, not to one connection.
_CLUSTER_ONLY = frozenset({"event_dispatcher", "response_callbacks"})


def node_client(cluster: RedisCluster, node: ClusterNode) -> aioredis.Redis:
    """A plain client for one node of ``cluster``, with the cluster's credentials and TLS."""
    kwargs = {k: v for k, v in node.connection_kwargs.items() if k not in _CLUSTER_ONLY}
    pool = aioredis.ConnectionPool(connection_class=node.connection_class, **kwargs)
    return aioredis.Redis(connection_pool=pool)


class ShardRouter:
    """Shard channel subscriptions spread over the primaries that own them."""

    def __init__(
        self, cluster: RedisCluster, deliver: Deliver, report: Report, health_interval: float
    ) -> None:
        self.cluster = cluster
        self.readers: dict[str, Reader] = {}  # node name -> reader
        self._deliver = deliver
        self._report = report
        self._health = health_interval
        self._rebalancing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def _reader(self, node: ClusterNode) -> Reader:
        reader = self.readers.get(node.name)
        if reader is None:
            client = node_client(self.cluster, node)
            reader = self.readers[node.name] = Reader(
                ShardPubSub(client.connection_pool),
                self._deliver,
                self._report,
                f"shard {node.name}",
                self._health,
                on_failure=self._failed,
                owned_client=client,
            )
        return reader

    def _owner(self, channel: str) -> ClusterNode:
        node = self.cluster.get_node_from_key(channel)
        if node is None:
            raise RedisError(f"no cluster node owns the slot of {channel!r} (cluster down?)")
        return node

    async def subscribe(self, channels: Collection[str]) -> None:
        """SSUBSCRIBE each channel on its slot's primary; returns once all are active."""
        async with self._lock:
            groups: dict[str, tuple[ClusterNode, list[str]]] = {}
            for channel in channels:
                node = self._owner(channel)
                groups.setdefault(node.name, (node, []))[1].append(channel)
            for node, grouped in groups.values():
                await self._reader(node).subscribe(shard_channels=grouped)

    async def unsubscribe(self, channels: Collection[str]) -> None:
        """SUNSUBSCRIBE wherever each channel is held; close connections left empty."""
        async with self._lock:
            wanted = set(channels)
            for name, reader in list(self.readers.items()):
                held = reader.shard_channels & wanted
                if held:
                    await reader.unsubscribe(shard_channels=held)
                if reader.empty:
                    del self.readers[name]
                    await reader.close()

    def _failed(self, reader: Reader) -> None:
        if self._rebalancing is None or self._rebalancing.done():
            self._rebalancing = asyncio.ensure_future(self._rebalance())

    async def _rebalance(self) -> None:
        """Refresh the slot map; move channels whose owner changed."""
        try:
            await self.cluster.initialize()
        except (RedisError, OSError) as error:
            logger.debug("cluster topology refresh failed: %s", error)
            return  # the next failure retries
        async with self._lock:
            moves: dict[str, list[str]] = {}
            for name, reader in list(self.readers.items()):
                for channel in list(reader.shard_channels):
                    owner = self._owner(channel)
                    if owner.name != name:
                        moves.setdefault(name, []).append(channel)
            for name, moved in moves.items():
                old = self.readers[name]
                old.shard_channels.difference_update(moved)
                for channel in moved:
                    try:
                        await self._reader(self._owner(channel)).subscribe(shard_channels=[channel])
                    except (RedisError, OSError) as error:
                        self._report(error, f"moving shard channel {channel!r}")
                logger.warning("moved %d shard channels off %s", len(moved), name)
                if old.empty:
                    del self.readers[name]
                    await old.close()

    async def close(self) -> None:
        """Close every shard connection."""
        if self._rebalancing is not None:
            self._rebalancing.cancel()
            await asyncio.gather(self._rebalancing, return_exceptions=True)
        readers, self.readers = list(self.readers.values()), {}
        for reader in readers:
            await reader.close()
