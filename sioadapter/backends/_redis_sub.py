"""Subscriber connections of the Redis backend: reading, health checks, reconnection.

A :class:`Reader` owns one redis-py ``PubSub`` connection and the task that reads it. It hands
every ``message`` / ``pmessage`` / ``smessage`` to the backend's queue, in order. When the
connection fails, it reports the error once per outage, clears ``listening``, waits with capped
exponential backoff and tries again (redis-py's own retries are off on this connection, so no
failure goes unseen); redis-py reconnects on the next read and replays every channel, pattern
and shard channel the connection had (room channels included). A silent connection is PINGed every
``health_interval`` seconds; no answer within another interval means the peer is gone without
TCP noticing (a failover, a dropped route), and the connection is dropped so it reconnects.

``sync()`` is a PING answered through the same connection: Redis handles a connection's
commands in order, so once the PONG is back every earlier SUBSCRIBE is active.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("sioadapter.backends.redis")

Deliver = Callable[[list[tuple[str, bytes]]], Awaitable[None]]
Report = Callable[[BaseException, str], None]
OnFailure = Callable[["Reader"], None]

try:  # the marker redis-py's hiredis reader returns when its buffer holds no whole reply
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as NOT_ENOUGH_DATA
except ImportError:  # pragma: no cover - another redis-py layout: read replies one by one
    NOT_ENOUGH_DATA = None

_TRANSIENT = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
# Seconds between reconnection attempts at most: what a subscriber misses while it is away is
# lost (pub/sub keeps nothing), so it comes back soon after Redis does.
_BACKOFF_CAP = 0.5


class _OwnReconnects(Retry):
    """No retry inside redis-py: the Reader handles a failed connection."""

    def __init__(self) -> None:
        super().__init__(NoBackoff(), 0)


_tokens = itertools.count(1)


class ShardPubSub(PubSub):
    """A redis-py PubSub that replays shard subscriptions one channel per SSUBSCRIBE when it
    reconnects (redis-py sends them all in one command, which a Cluster node refuses when they
    hash to different slots)."""

    async def _resubscribe_shard_channels(self) -> None:
        for channel in list(self.shard_channels):
            await self.ssubscribe(channel)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


class Reader:
    """One subscriber connection and its reading task.

    Args:
        pubsub: a redis-py asyncio ``PubSub`` (not yet subscribed).
        deliver: awaited with lists of (channel, payload), in the order received; reading
            waits for it (pushing back on Redis when the node cannot keep up, as Node does).
        report: called with errors (once per outage) and their context.
        name: for logs ("subscriber", "shard 127.0.0.1:7001" ...).
        health_interval: seconds of silence before a PING.
        on_failure: called (from the task) each time the connection fails, after reporting.
        owned_client: a client opened only for this connection, closed with it.
    """

    def __init__(
        self,
        pubsub: Any,
        deliver: Deliver,
        report: Report,
        name: str,
        health_interval: float = 5.0,
        on_failure: OnFailure | None = None,
        owned_client: Any = None,
    ) -> None:
        self.pubsub = pubsub
        self._owned_client = owned_client
        self.name = name
        self.channels: set[str] = set()
        self.patterns: set[str] = set()
        self.shard_channels: set[str] = set()
        self.failures = 0
        self.last_error: BaseException | None = None
        self._deliver = deliver
        self._report = report
        self._on_failure = on_failure
        self._health_interval = health_interval
        self._poll = max(min(health_interval / 2, 1.0), 0.01)
        self._pongs: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._last_activity = 0.0
        self._ping_sent: float | None = None
        self._needs_restore = False
        # Set while the connection is up and its subscriptions confirmed; cleared when it fails.
        self.listening = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._closed = False

    @property
    def running(self) -> bool:
        """False once the reading task has ended for any reason other than ``close()``."""
        if self._closed or self._task is None:
            return True
        return not self._task.done() and not (self._watchdog is not None and self._watchdog.done())

    @property
    def empty(self) -> bool:
        """True when the connection holds no subscription at all."""
        return not (self.channels or self.patterns or self.shard_channels)

    async def subscribe(
        self,
        channels: Collection[str] = (),
        patterns: Collection[str] = (),
        shard_channels: Collection[str] = (),
    ) -> None:
        """Subscribe and return once the subscriptions are active.

        The subscriptions are remembered before they are sent: if the connection is down, the
        error is raised, and the reading task makes them when the connection comes back.
        """
        new_channels = [c for c in channels if c not in self.channels]
        new_patterns = [p for p in patterns if p not in self.patterns]
        new_shards = [s for s in shard_channels if s not in self.shard_channels]
        if not (new_channels or new_patterns or new_shards):
            return
        self.channels.update(new_channels)
        self.patterns.update(new_patterns)
        self.shard_channels.update(new_shards)
        self._ensure_task()
        try:
            async with self._send_lock:
                await self._send_subscribe(new_channels, new_patterns, new_shards)
        except (RedisError, *_TRANSIENT):
            self._needs_restore = True
            raise
        await self.sync()

    async def unsubscribe(
        self,
        channels: Collection[str] = (),
        patterns: Collection[str] = (),
        shard_channels: Collection[str] = (),
    ) -> None:
        """Drop subscriptions this connection holds (others are ignored)."""
        gone_channels = [c for c in channels if c in self.channels]
        gone_patterns = [p for p in patterns if p in self.patterns]
        gone_shards = [s for s in shard_channels if s in self.shard_channels]
        self.channels.difference_update(gone_channels)
        self.patterns.difference_update(gone_patterns)
        self.shard_channels.difference_update(gone_shards)
        if self.pubsub.connection is None:
            return  # never connected: nothing to undo on the server
        async with self._send_lock:
            if gone_channels:
                await self.pubsub.unsubscribe(*gone_channels)
            if gone_patterns:
                await self.pubsub.punsubscribe(*gone_patterns)
            for shard in gone_shards:  # one per channel, as for SSUBSCRIBE
                await self.pubsub.sunsubscribe(shard)

    async def sync(self, timeout: float = 10.0) -> None:
        """Return once Redis has processed every command sent on this connection so far."""
        token = f"sioadapter-sync-{next(_tokens)}"
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[token] = waiter
        try:
            async with self._send_lock:
                await self.pubsub.ping(token)
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            raise RedisTimeoutError(
                f"Redis did not answer a PING on the {self.name} connection within {timeout:g} s"
            ) from None
        finally:
            self._pongs.pop(token, None)

    async def close(self) -> None:
        """Stop reading, unsubscribe (best effort) and close the connection."""
        if self._closed:
            return
        self._closed = True
        tasks = [task for task in (self._task, self._watchdog) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.pubsub.connection is not None:
            # Explicit unsubscribes: some servers (and fakeredis) keep counting the
            # subscriptions of a closed connection otherwise.
            with contextlib.suppress(RedisError, *_TRANSIENT):
                if self.channels:
                    await self.pubsub.unsubscribe()
                if self.patterns:
                    await self.pubsub.punsubscribe()
                if self.shard_channels:
                    await self.pubsub.sunsubscribe()
        for closable in (self.pubsub, self._owned_client):
            if closable is not None:
                with contextlib.suppress(RedisError, *_TRANSIENT):
                    await closable.aclose()
        for waiter in self._pongs.values():
            if not waiter.done():
                waiter.cancel()

    async def _send_subscribe(
        self, channels: Collection[str], patterns: Collection[str], shards: Collection[str]
    ) -> None:
        """Send subscriptions; the first one opens the connection (subscribe, then each
        ``_restore``: every path that can open it comes here)."""
        try:
            if channels:
                await self.pubsub.subscribe(*channels)
            if patterns:
                await self.pubsub.psubscribe(*patterns)
            # One SSUBSCRIBE per channel: on a Cluster, channels of different slots in one
            # command are refused (CROSSSLOT), even when one node owns them all.
            for shard in shards:
                await self.pubsub.ssubscribe(shard)
        finally:
            connection = self.pubsub.connection
            if connection is not None and not isinstance(connection.retry, _OwnReconnects):
                # redis-py would retry a failed read itself, reconnecting out of sight with its
                # own backoff (up to 1 s apart, 10 times): the node would be deaf without
                # knowing. Failures come to the reading task instead, to be reported, to clear
                # ``listening`` and to reconnect on this reader's schedule.
                connection.retry = _OwnReconnects()

    async def _restore(self) -> None:
        """Send what redis-py will not replay by itself: subscriptions whose SUBSCRIBE failed
        while the connection was down (also opens the connection if there is none yet)."""
        async with self._send_lock:
            known = {_text(c) for c in self.pubsub.channels}
            known_patterns = {_text(p) for p in self.pubsub.patterns}
            known_shards = {_text(c) for c in getattr(self.pubsub, "shard_channels", {})}
            await self._send_subscribe(
                self.channels - known,
                self.patterns - known_patterns,
                self.shard_channels - known_shards,
            )
        self._needs_restore = False

    def _ensure_task(self) -> None:
        if self._task is None and not self._closed:
            self._last_activity = asyncio.get_running_loop().time()
            self._task = asyncio.create_task(self._run(), name=f"sioadapter-{self.name}")
            self._watchdog = asyncio.create_task(
                self._watch(), name=f"sioadapter-{self.name}-health"
            )

    async def _run(self) -> None:
        """Read forever: blocking reads (no per-message timer), raw replies (no per-message
        dict), data messages handed over at once; everything else goes through redis-py's
        own handler so that its subscription bookkeeping stays right."""
        loop = asyncio.get_running_loop()
        backoff = 0.05
        down_since: float | None = None
        deliver = self._deliver
        while True:
            try:
                if self._needs_restore or self.pubsub.connection is None:
                    await self._restore()
                if self.pubsub.connection is None:
                    await asyncio.sleep(self._poll)  # nothing to subscribe yet
                    continue
                reply = await self.pubsub.parse_response(block=True)
            except asyncio.CancelledError:
                raise
            except (RedisError, *_TRANSIENT) as error:
                self.failures += 1
                self.last_error = error
                self._needs_restore = True
                self.listening.clear()
                if down_since is None:
                    down_since = loop.time()
                    self._report(error, f"reading the {self.name} connection")
                else:
                    logger.debug("%s still down: %s", self.name, error)
                if self._on_failure is not None:
                    self._on_failure(self)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_CAP)
                continue
            self._last_activity = loop.time()
            self.listening.set()  # a reply: connected, and what was sent before it was read
            if down_since is not None:
                logger.warning(
                    "%s reconnected after %.2f s; subscriptions restored",
                    self.name,
                    loop.time() - down_since,
                )
                down_since, backoff, self.failures = None, 0.05, 0
            batch: list[tuple[str, bytes]] = []
            for item in self._drain(reply):
                if isinstance(item, list) and item:
                    kind = item[0]
                    if kind == b"pmessage":
                        batch.append((_text(item[2]), item[3]))
                        continue
                    if kind == b"message" or kind == b"smessage":
                        batch.append((_text(item[1]), item[2]))
                        continue
                if isinstance(item, BaseException):
                    raise item  # a reply the parser turned into an error
                if batch:  # keep the order: hand over what came before this one
                    await deliver(batch)
                    batch = []
                # Confirmations and PONGs (a bare string in RESP3): redis-py's handler
                # normalizes them and keeps its subscription bookkeeping.
                await self._other(item)
            if batch:
                await deliver(batch)

    def _drain(self, first: Any) -> list[Any]:
        """``first`` and every further reply already buffered on the connection.

        With hiredis, a burst of messages arrives in one socket read; taking the buffered
        replies straight from its reader costs one call each instead of one awaited read
        each. Without hiredis (or if redis-py's internals change) replies come one by one.
        """
        replies = [first]
        connection = self.pubsub.connection
        reader = getattr(getattr(connection, "_parser", None), "_reader", None)
        gets = getattr(reader, "gets", None)
        if gets is None or NOT_ENOUGH_DATA is None:
            return replies
        while (item := gets()) is not NOT_ENOUGH_DATA and item is not False:
            replies.append(item)
        return replies

    async def _other(self, reply: Any) -> None:
        """Subscription confirmations and PONGs (rare): redis-py updates its own state."""
        self._ping_sent = None
        if reply is None:
            return
        message = await self.pubsub.handle_message(reply, ignore_subscribe_messages=True)
        if message is not None and _text(message["type"]) == "pong":
            waiter = self._pongs.get(_text(message["data"]))
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def _watch(self) -> None:
        """PING a silent connection; drop it when the PING goes unanswered for an interval
        (the peer is gone without TCP noticing: the blocked read would wait forever)."""
        loop = asyncio.get_running_loop()
        interval = self._health_interval
        while True:
            await asyncio.sleep(self._poll)
            now = loop.time()
            if self._ping_sent is not None and self._last_activity < self._ping_sent:
                if now - self._ping_sent > interval:
                    self._ping_sent = None
                    self._report(
                        TimeoutError(f"no PING answer within {interval:g} s"),
                        f"checking the {self.name} connection",
                    )
                    connection = self.pubsub.connection
                    if connection is not None:
                        await connection.disconnect()
            elif now - self._last_activity > interval and self.pubsub.connection is not None:
                self._ping_sent = now
                with contextlib.suppress(RedisError, *_TRANSIENT):  # the reader reports it
                    async with self._send_lock:
                        await self.pubsub.ping(f"sioadapter-health-{next(_tokens)}")
