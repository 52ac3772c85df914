"""The Redis backend: standalone, TLS, ACL, unix socket, Sentinel, Cluster, sharded pub/sub.

Built on ``redis.asyncio`` (redis-py 8), with hiredis used when installed. Two modes:

* ``mode="classic"`` (default): PUBLISH, SUBSCRIBE and PSUBSCRIBE, for Node's classic protocol.
  On a Cluster, one node is pinned for publishing and one for subscribing: Redis Cluster
  forwards every PUBLISH to every node, and one publishing connection keeps one node's
  messages in order for everyone.
* ``mode="sharded"``: SPUBLISH and SSUBSCRIBE (Redis 7+), for Node's ``createShardedAdapter``
  protocol. On a Cluster each shard channel lives on its slot's primary: one subscriber
  connection per primary that owns some of our channels, moved when slots move.

Redis commands used: PUBLISH / SPUBLISH (pipelined), SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their
UNSUBSCRIBE forms, PING (health checks and subscription barriers), PUBSUB NUMSUB / SHARDNUMSUB
(summed over every node of a Cluster), CLUSTER SLOTS (through redis-py's topology refresh).

Clients: give a URL (see `sioadapter.backends.redis_url`), or ready redis-py clients as in
Node's ``pubClient``/``subClient``: ``client=`` (a subscriber connection is opened from it), or
``pub_client=`` and ``sub_client=``. A ``redis.asyncio.Redis``, a ``RedisCluster``, a Sentinel
``master_for(...)`` client and ``fakeredis.FakeAsyncRedis`` all work. Clients passed in are the
caller's to close; clients built from a URL are closed by ``close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ReadOnlyError, RedisClusterException, RedisError

from ..errors import BackendError
from ._redis_closes import CloseExplainer
from ._redis_pub import StreamPublisher
from ._redis_shards import ShardRouter, node_client
from ._redis_sub import Reader, logger
from .base import Backend, Capabilities, Message, Receiver, queued_batches
from .redis_url import SCHEMES, RedisSpec, parse_redis_url

__all__ = [
    "MODES",
    "RedisBackend",
    "clients_from_spec",
]

MODES = ("classic", "sharded")
# RedisClusterException is not a RedisError: it is what a Cluster client raises when no startup
# node answers, or when they answer but are not in cluster mode (a redis+cluster:// URL that
# points at a plain server). Both are a backend the node cannot reach, not a bug.
_TRANSIENT = (RedisError, RedisClusterException, ConnectionError, OSError, asyncio.TimeoutError)


def clients_from_spec(
    spec: RedisSpec, redis_options: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """(pub_client, sub_client) for a parsed URL. The sub client may be the pub client: every
    ``pubsub()`` opens its own connection.

    Off a Cluster a failed command is retried once, at once (a pooled connection Redis closed
    meanwhile is reopened), not redis-py's default ten times over ~5 s: the manager has its
    own recovery (backoff with jitter, see `sioadapter._runtime.link`), and a request or a
    connection attempt that hid 5 s of retries would hold up whoever waits on it.

    ``redis_options`` (python-socketio's option) are keyword arguments for the redis-py
    client class (``Redis``, ``RedisCluster``, or ``Sentinel``, as python-socketio passes
    them); they override what the URL says, ``retry`` included.
    """
    options = dict(spec.connection)
    if spec.tls:
        options["ssl"] = True
    if spec.topology != "cluster":
        options["retry"] = Retry(NoBackoff(), 1)
    options.update(redis_options or {})
    if spec.topology == "cluster":
        nodes = [ClusterNode(host, port) for host, port in spec.hosts]
        cluster = RedisCluster(startup_nodes=nodes, **options)
        return cluster, cluster
    if spec.topology == "sentinel":
        sentinel = Sentinel(spec.hosts, **options)  # type: ignore[no-untyped-call]
        assert spec.service_name is not None
        master = sentinel.master_for(spec.service_name, db=spec.db)
        return master, master
    if spec.unix_path is not None:
        options.pop("ssl", None)
        client = aioredis.Redis(unix_socket_path=spec.unix_path, db=spec.db, **options)
    else:
        host, port = spec.hosts[0]
        client = aioredis.Redis(host=host, port=port, db=spec.db, **options)
    return client, client


class RedisBackend(Backend):
    """Redis pub/sub for the cluster. See the module docstring for modes and clients.

    Args:
        client: one redis-py client used to publish and to open the subscriber connection.
        pub_client: the publishing client (with ``sub_client``).
        sub_client: the client the subscriber connection is opened from.
        mode: ``"classic"`` or ``"sharded"``.
        health_check_interval: seconds of silence on a subscriber connection before a PING.
        close_clients: close the clients in ``close()`` (set when built from a URL).
        description: how to name the server in errors, logs and the repr; from a URL, its
            topology and hosts (`RedisSpec.redacted`), never its credentials.
    """

    schemes = SCHEMES

    def __init__(
        self,
        *,
        client: Any = None,
        pub_client: Any = None,
        sub_client: Any = None,
        mode: str = "classic",
        health_check_interval: float = 5.0,
        close_clients: bool = False,
        description: str = "redis",
    ) -> None:
        super().__init__()
        if client is not None and (pub_client is not None or sub_client is not None):
            raise ValueError("pass client=, or pub_client= and sub_client=, not both")
        pub = pub_client if pub_client is not None else client
        if pub is None:
            raise ValueError("the Redis backend needs a URL or a redis-py client")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if health_check_interval <= 0:
            raise ValueError("health_check_interval must be positive")
        self.mode = mode
        self.sharded = mode == "sharded"
        self.description = description
        self.capabilities = Capabilities(
            patterns=not self.sharded, sharded=self.sharded, counts_subscribers=True
        )
        self._health = health_check_interval
        self._close_clients = close_clients
        self._remake: Callable[[], tuple[Any, Any]] | None = None  # set by from_url
        self._use_clients(pub, sub_client if sub_client is not None else (client or pub))

    def _use_clients(self, pub: Any, sub: Any) -> None:
        """Take these clients, with nothing opened from them yet (construction, a fork)."""
        self.pub_client = pub
        self.sub_client = sub
        self._cluster = pub if isinstance(pub, RedisCluster) else None
        # Off a Cluster, one connection publishes without waiting for replies (StreamPublisher)
        # and confirms each message when its reply comes.
        self.confirms_publishes = self._cluster is None
        self._queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
        self._reader: Reader | None = None
        self._shards: ShardRouter | None = None
        self._publisher: Any = None  # pinned node client (classic mode on a Cluster)
        self._streamer: StreamPublisher | None = None  # not on a Cluster
        # Why Redis closes our subscriber (its output buffer limit?); not on a Cluster.
        self._explainer = (
            CloseExplainer(self.pub_client, self.description) if self._cluster is None else None
        )
        self._tasks: set[asyncio.Future[None]] = set()
        self._receiver: Receiver | None = None
        self._closed = False

    def after_fork(self) -> None:
        """In a forked child, before first use: no connection of the parent's is used here.

        Clients built from a URL are built again. Clients passed in are the caller's: their
        connection pools are emptied with redis-py's ``connection_pool.reset()`` (the parent's
        sockets are left to the parent). A client without one (a ``RedisCluster``) cannot be
        reset: that is logged, with what to do.
        """
        if self._remake is not None:
            self._use_clients(*self._remake())
            return
        self._use_clients(self.pub_client, self.sub_client)
        for client in {id(self.pub_client): self.pub_client,
                       id(self.sub_client): self.sub_client}.values():  # fmt: skip
            reset = getattr(getattr(client, "connection_pool", None), "reset", None)
            if callable(reset):
                reset()
            else:
                logger.warning(
                    "the redis-py client %r was made before this process was forked and its "
                    "connections cannot be reset: the parent's sockets may be shared. Build "
                    "the client (and the manager) in each worker, or give the manager a URL",
                    type(client).__name__,
                )

    def __repr__(self) -> str:
        # The description is the URL's redacted form: never a password.
        return f"<RedisBackend {self.description} mode={self.mode}>"

    @classmethod
    def from_url(
        cls, url: str, *, redis_options: dict[str, Any] | None = None, **options: Any
    ) -> RedisBackend:
        """Build from any accepted Redis URL; ``options`` override the URL's own options;
        ``redis_options`` go to the redis-py client (see `clients_from_spec`)."""
        if redis_options is not None and not isinstance(redis_options, dict):
            raise TypeError(f"redis_options must be a dict, not {type(redis_options).__name__}")
        spec = parse_redis_url(url)
        merged = {**spec.backend, **options}
        pub, sub = clients_from_spec(spec, redis_options)
        backend = cls(
            pub_client=pub,
            sub_client=sub,
            close_clients=True,
            description=spec.redacted(),
            **merged,
        )
        backend._remake = lambda: clients_from_spec(
            spec, redis_options
        )  # in a forked child (after_fork)
        return backend

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        try:
            if self._cluster is not None:
                await self._cluster.initialize()
            await self.pub_client.ping()
        except _TRANSIENT as error:
            raise BackendError(f"cannot reach Redis ({self.description}): {error}") from error

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._reader is not None:
            await self._reader.close()
        if self._shards is not None:
            await self._shards.close()
        if self._publisher is not None:
            await self._publisher.aclose()
        if self._streamer is not None:
            await self._streamer.close()
        if self._close_clients:
            for client in {id(self.pub_client): self.pub_client,
                           id(self.sub_client): self.sub_client}.values():  # fmt: skip
                await _quiet_close(client)
        self._queue.put_nowait(None)

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, messages: Sequence[Message]) -> None:
        if self._closed:
            raise BackendError("the Redis backend is closed")
        command = "SPUBLISH" if self.sharded else "PUBLISH"
        try:
            if self._cluster is None:
                await self._stream_publisher(command).publish(messages)
                return
            if self.sharded:
                pipe = self._cluster.pipeline()  # routes each SPUBLISH to its slot's primary
            else:
                pipe = self._pinned_publisher().pipeline(transaction=False)
            for channel, payload in messages:
                pipe.execute_command(command, channel, payload)
            await pipe.execute()
        except _TRANSIENT as error:
            await self._after_publish_error(error)
            raise BackendError(f"publishing to Redis ({self.description}) failed: {error}") from (
                error
            )

    @property
    def writes_without_waiting(self) -> bool:
        # One connection written without waiting for replies (StreamPublisher), once it is
        # open: a publish that must (re)connect first, which can take a while when Redis is
        # down, is the writer's to do, not the emitting task's. On a Cluster, pipelines wait
        # for their replies.
        return self._streamer is not None and self._streamer.connected

    def _readers(self) -> list[Reader]:
        readers = [] if self._reader is None else [self._reader]
        if self._shards is not None:
            readers += self._shards.readers.values()
        return [reader for reader in readers if not reader.empty]

    @property
    def receiving(self) -> bool:
        return all(reader.listening.is_set() for reader in self._readers())

    async def wait_receiving(self) -> None:
        while not self.receiving:  # readers may be replaced meanwhile: look again
            for reader in self._readers():
                await reader.listening.wait()

    def _stream_publisher(self, command: str) -> StreamPublisher:
        if self._streamer is None:
            self._streamer = StreamPublisher(
                self.pub_client, command, self.report_error, self.report_accepted, self.report_lost
            )
        return self._streamer

    def _pinned_publisher(self) -> Any:
        if self._publisher is None:
            assert self._cluster is not None
            self._publisher = node_client(self._cluster, self._cluster.get_random_node())
        return self._publisher

    async def _after_publish_error(self, error: BaseException) -> None:
        if self._publisher is not None:
            # Pick another node next time: this one may be down.
            stale, self._publisher = self._publisher, None
            await asyncio.shield(_quiet_close(stale))
        if isinstance(error, ReadOnlyError):
            # A demoted master (planned Sentinel failover): reconnect, asking the sentinels.
            pool = getattr(self.pub_client, "connection_pool", None)
            if pool is not None:
                await pool.disconnect()

    # -- subscribing ----------------------------------------------------------------------

    async def _deliver(self, batch: list[Message]) -> None:
        if self._receiver is not None:
            await self._receiver(batch)
        else:
            self._queue.put_nowait(batch)

    def set_receiver(self, receiver: Receiver | None) -> bool:
        self._receiver = receiver
        return True

    def _single_reader(self) -> Reader:
        if self._reader is None:
            owned = None
            if self._cluster is not None:
                owned = node_client(self._cluster, self._cluster.get_random_node())
                pubsub, name = owned.pubsub(), "cluster subscriber"
            else:
                pubsub, name = self.sub_client.pubsub(), "subscriber"
            self._reader = Reader(
                pubsub,
                self._deliver,
                self.report_error,
                name,
                self._health,
                on_failure=self._single_reader_failed,
                owned_client=owned,
            )
        return self._reader

    def _single_reader_failed(self, reader: Reader) -> None:
        if reader.failures == 1 and "closed by server" in str(reader.last_error):
            self._spawn(self._explain_close(reader.name))
        # On a Cluster, a subscriber whose node stays down moves to another node.
        if self._cluster is not None and reader.failures >= 3 and reader is self._reader:
            self._reader = None
            self._spawn(self._move_reader(reader))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _explain_close(self, name: str) -> None:
        """Redis closed a subscriber connection: say so when its output buffer limit did it."""
        if self._explainer is None:
            return
        error = await self._explainer.explain(name)
        if error is not None:
            self.report_error(error, f"reading the {name} connection")

    async def _move_reader(self, old: Reader) -> None:
        # Close the old connection first: two live subscribers on two nodes would receive
        # every message twice (the Cluster forwards PUBLISH to all nodes).
        await old.close()
        fresh = self._single_reader()
        try:
            await self._cluster.initialize()  # type: ignore[union-attr]
            await fresh.subscribe(old.channels, old.patterns)
            logger.warning("cluster subscriber moved to another node")
        except _TRANSIENT as error:
            # The fresh reader keeps its subscriptions and retries them when it reconnects.
            self.report_error(error, "moving the cluster subscriber to another node")

    def _router(self) -> ShardRouter:
        if self._shards is None:
            assert self._cluster is not None
            self._shards = ShardRouter(
                self._cluster, self._deliver, self.report_error, self._health
            )
        return self._shards

    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        if self._closed:
            raise BackendError("the Redis backend is closed")
        if patterns and self.sharded:
            raise BackendError("sharded pub/sub has no pattern subscriptions")
        if self._explainer is not None and not self._explainer.has_baseline:
            # Before the first subscription: what INFO says now is what a later close of the
            # subscriber is compared with (publish-only users, emitters, never ask).
            await self._explainer.remember()
        try:
            if self.sharded and self._cluster is not None:
                await self._router().subscribe(channels)
            elif self.sharded:
                await self._single_reader().subscribe(shard_channels=channels)
            else:
                await self._single_reader().subscribe(channels, patterns)
        except _TRANSIENT as error:
            raise BackendError(f"subscribing on Redis ({self.description}): {error}") from error

    async def unsubscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        try:
            if self._shards is not None:
                await self._shards.unsubscribe(channels)
            elif self._reader is not None:
                if self.sharded:
                    await self._reader.unsubscribe(shard_channels=channels)
                else:
                    await self._reader.unsubscribe(channels, patterns)
        except _TRANSIENT as error:
            raise BackendError(f"unsubscribing on Redis ({self.description}): {error}") from error

    def message_batches(self) -> AsyncIterator[list[Message]]:
        return queued_batches(self._queue)

    async def subscriber_count(self, channel: str) -> int | None:
        counts = await self.subscriber_counts([channel])
        return counts.get(channel, 0) if counts is not None else None

    async def subscriber_counts(self, channels: Sequence[str]) -> dict[str, int] | None:
        """One PUBSUB NUMSUB (SHARDNUMSUB) for all ``channels``; summed over every node of a
        Cluster, where each node counts only its own connections."""
        kind = "SHARDNUMSUB" if self.sharded else "NUMSUB"
        if not channels:
            return {}
        try:
            if self._cluster is not None:
                # Each node counts only its own connections: ask all, sum per channel. Shard
                # channels one per command (channels of several slots in one are refused).
                groups = [[c] for c in channels] if self.sharded else [list(channels)]
                totals: dict[str, int] = {}
                for group in groups:
                    replies = await self._cluster.execute_command(
                        f"PUBSUB {kind}", *group, target_nodes=RedisCluster.ALL_NODES
                    )
                    totals.update(_sum_counts(replies, group))
                return totals
            reply = await self.pub_client.execute_command("PUBSUB", kind, *channels)
        except _TRANSIENT as error:
            raise BackendError(f"counting subscribers on Redis: {error}") from error
        counts = _counts_from_reply(reply)
        return {channel: counts.get(channel, 0) for channel in channels}

    async def probe(self) -> None:
        try:
            if self._cluster is not None:
                await self._cluster.initialize()
            await self.pub_client.ping()
        except _TRANSIENT as error:
            raise BackendError(f"Redis ({self.description}) does not answer: {error}") from error


def _counts_from_reply(reply: Any) -> dict[str, int]:
    """A NUMSUB reply as {channel: count}: it comes as [(channel, n), ...], a flat
    [channel, n, ...] or {channel: n}, by client, protocol version and Cluster merge."""
    if isinstance(reply, dict):
        return {_text(key): int(value) for key, value in reply.items()}
    items = list(reply or [])
    if items and isinstance(items[0], (list, tuple)):
        return {_text(pair[0]): int(pair[1]) for pair in items}
    return {_text(items[i]): int(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def _sum_counts(replies: Any, channels: Sequence[str]) -> dict[str, int]:
    """Per-channel sums of a Cluster-wide NUMSUB: redis-py answers {node: reply} (or an
    already merged reply)."""
    totals = dict.fromkeys(channels, 0)
    per_node = (
        replies.values() if isinstance(replies, dict) and _is_per_node(replies) else [replies]
    )
    for reply in per_node:
        for channel, count in _counts_from_reply(reply).items():
            if channel in totals:
                totals[channel] += count
    return totals


def _is_per_node(replies: dict[Any, Any]) -> bool:
    return all(isinstance(value, (list, tuple, dict)) for value in replies.values())


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


async def _quiet_close(client: Any) -> None:
    with contextlib.suppress(*_TRANSIENT):
        await client.aclose()
