"""The asyncio bus under a manager: publishing and receiving bytes through the backend.

The bus knows channels and bytes, not messages: the node (:mod:`sioadapter.core.node`) has
encoded, signed and size-checked what it is given, and decodes what it hands on.

* Publishing is asynchronous and ordered: ``publish`` appends to the outbox; a writer task
  hands everything queued to the backend as one batch. A lone message after a quiet spell is
  sent at once by the producer itself (``wait_writable``) when the backend writes without
  waiting for answers; either way one send runs at a time, so messages leave in order.
  Callers that need to know a message left use ``flush``.
* The outbox is bounded in messages and bytes (`Outbox`). Past its
  bounds, producers that wait (emits) wait for room while the backend is up; during an outage
  the message is not queued but counted in ``stats.publish_failed`` and logged at WARNING
  (nobody waits out an outage). Past twice the bounds nothing is queued, whatever the state.
* Outages. A failed publish, a subscriber connection that went down, a connection that died with
  replies due, or a backend unreachable at start begins an outage: publishing holds what is
  queued (in order), and a recovery task probes the backend with capped, jittered backoff. Once
  the backend answers, publishing waits until this node's subscriptions are back and the
  cluster's subscriber counts are what they were before the outage (other nodes resubscribe at
  their own pace, and pub/sub drops what a subscriber misses), for at most ``publish_timeout``
  seconds, then sends what it held. So every broadcast sent during or after an outage of any
  length reaches every node that is back within ``publish_timeout``, or is counted in
  ``stats.publish_failed`` (outbox full, or in flight when a connection died) and logged.
* ``stats.published`` counts what the backend accepted: on replies for backends that confirm
  later (``confirms_publishes``), when ``publish`` returns for the others.
* Subscriptions made while the backend is unreachable are remembered and made by the recovery.
* Received batches go to the handler one at a time, in order, from the backend's own reading
  task when it offers that (``set_receiver``), else from a listener task. A handler error is
  counted and logged; reading goes on.
* Subscriber counts for requests are shared by concurrent requests
  (:class:`~sioadapter._runtime.counts.SubscriberCounts`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from ..backends.base import Backend, Message
from ..core.effects import Publish
from ..errors import BackendError, ManagerClosedError
from ..stats import Stats
from .counts import SubscriberCounts
from .link import BackendLink
from .outbox import Outbox

__all__ = ["AsyncBus", "BatchHandler", "stopped"]

_QUIET = 0.0002  # seconds without a send after which a new message is sent at once
_RETRY_MIN, _RETRY_CAP = 0.05, 1.0  # seconds between probes of an unreachable backend
_POLL = 0.02  # seconds between subscriber counts while waiting for the cluster to come back
_CENSUS_INTERVAL = 1.0  # seconds between counts of the cluster's subscribers while healthy

BatchHandler = Callable[[list[Message]], Awaitable[None]]
STOP_TIMEOUT = 5.0  # seconds close() waits for cancelled tasks to end


async def stopped(tasks: Collection[asyncio.Future[Any]], logger: logging.Logger) -> None:
    """Wait (bounded) for cancelled tasks to end: a task that ignores its cancellation is
    logged, not waited for forever (close() must return)."""
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
    for task in done:
        if not task.cancelled():
            task.exception()  # retrieved: what a task died of was reported when it died
    for task in pending:
        logger.error("a task did not stop within %g s of its cancellation: %r", STOP_TIMEOUT, task)


class AsyncBus:
    """Backend I/O for one manager (one event loop).

    Args:
        backend: the backend.
        handler: called with each received batch, in order, one batch at a time.
        stats: where publishing and receiving are counted.
        logger: where outages and failures are logged.
        max_queue: outbox bound in messages.
        publish_timeout: seconds publishing waits after an outage for the cluster's
            subscribers to come back.
        max_queue_bytes: outbox bound in bytes.
        census_channels: the channels whose subscriber counts to watch (the count channels
            of the served namespaces).
    """

    def __init__(
        self,
        backend: Backend,
        handler: BatchHandler,
        stats: Stats,
        logger: logging.Logger,
        max_queue: int = 10_000,
        publish_timeout: float = 5.0,
        *,
        max_queue_bytes: int = 64 << 20,
        census_channels: Callable[[], Sequence[str]] = list,
    ) -> None:
        self.backend = backend
        self.stats = stats
        self.handler = handler
        """Called with each received batch (the manager sets its runner's ``receive``)."""
        self._logger = logger
        self._outbox = Outbox(max_queue, max_queue_bytes)
        self._wakeup = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._queued = 0  # messages ever queued
        self._sent = 0  # messages ever done with (handed to the backend, or dropped)
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        # One batch at a time: True while one is handled; later readers wait for a turn.
        self._receiving = False
        self._turns: collections.deque[asyncio.Future[None]] = collections.deque()
        self._sending = False
        self._last_send = 0.0
        self._closed = False
        self._closed_reason = "the manager was closed"
        self.link = BackendLink(
            backend,
            logger,
            publish_timeout,
            census_channels,
            lambda: self._outbox.held,
            self._outage_changed,
        )
        backend.set_publish_handlers(self._accepted, self._lost)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the writer and listener tasks and connect the backend. An unreachable
        backend does not fail the start: the node serves its own clients, and connects in the
        background (an outage from the start)."""
        self._tasks = [
            asyncio.create_task(self._writer(), name="sioadapter-writer"),
            asyncio.create_task(self.link.run_census(), name="sioadapter-census"),
        ]
        if not self.backend.set_receiver(self._receive):
            self._tasks.append(asyncio.create_task(self._listener(), name="sioadapter-listener"))
        await self.link.connect()

    def _outage_changed(self, began: bool) -> None:
        if began:
            self._writable.set()  # nobody waits out an outage: see publish
        elif self._outbox.held:
            self._wakeup.set()

    async def close(self, flush_timeout: float = 2.0) -> None:
        """Send what is queued (for at most ``flush_timeout`` s), fail pending requests, stop
        the tasks and close the backend."""
        if self._closed:
            return
        if self._tasks:
            try:
                await asyncio.wait_for(self.flush(), flush_timeout)
            except (asyncio.TimeoutError, ManagerClosedError):
                self._logger.warning("closing with %d unpublished messages", self._outbox.held)
        self._closed = True
        tasks: list[asyncio.Task[None]] = [*self._tasks, *self.link.stop()]
        for task in tasks:
            task.cancel()
        await stopped(tasks, self._logger)
        self._tasks = []
        for _, waiter in self._flush_waiters:
            if not waiter.done():
                waiter.set_exception(ManagerClosedError("the manager was closed"))
        self._flush_waiters.clear()
        self._outbox.clear()
        self.backend.set_receiver(None)
        await self.backend.close()

    def disown(self, reason: str) -> None:
        """Refuse all further use (ManagerClosedError(reason)) without touching the tasks or
        the backend: they belong to another process (a forked parent)."""
        self._closed = True
        self._closed_reason = reason

    def tasks_alive(self) -> bool:
        """True while the writer, the listener and the backend's own tasks all run."""
        if self._closed:
            return False
        return all(not task.done() for task in self._tasks) and self.backend.tasks_alive()

    @property
    def live(self) -> bool:
        """True when the backend is connected, no outage holds publishing, this node's
        subscriber connections are up with their subscriptions confirmed, and every task
        runs: what a readiness probe asks."""
        link = self.link
        return (
            link.connected and link.outage is None and self.backend.receiving and self.tasks_alive()
        )

    @property
    def in_outage(self) -> bool:
        """True while publishing holds because the backend was unreachable."""
        return self.link.outage is not None

    @property
    def queued_messages(self) -> int:
        """Messages waiting to be published (a batch being sent included)."""
        return self._outbox.held

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting to be published."""
        return self._outbox.held_bytes

    # -- publishing -----------------------------------------------------------------------

    def publish(self, message: Publish) -> None:
        """Queue an encoded message (see the module docstring for full queues).
        ManagerClosedError once closed."""
        if self._closed:
            raise ManagerClosedError(self._closed_reason)
        outbox = self._outbox
        hard_full = outbox.held >= 2 * outbox.max_messages or (
            outbox.held_bytes >= 2 * outbox.max_bytes
        )
        if hard_full or (outbox.full and self.link.outage is not None):
            self._overflow()
            return
        outbox.put((message.channel, message.payload))
        self._queued += 1
        if outbox.full and self.link.outage is None:
            self._writable.clear()
        self._wakeup.set()

    def _overflow(self) -> None:
        self.stats.publish_failed += 1
        outage = self.link.outage
        if outage is not None:
            outage.dropped += 1
            if outage.dropped > 1:
                return  # the end of the outage logs the total
        self._logger.warning(
            "the publish queue is full (%d messages, %d bytes): a message was dropped, "
            "counted in stats.publish_failed%s",
            self._outbox.held,
            self._outbox.held_bytes,
            "; further ones during this outage are counted and logged when it ends"
            if outage is not None
            else "",
        )

    async def wait_writable(self) -> None:
        """Call after publishing. A lone message after a quiet spell, with a backend whose
        ``publish`` returns once written (it does not wait for the server's answers), is sent
        now from the caller's task, without waiting for the writer's turn of the event loop.
        Otherwise return once the outbox is below its bounds (back-pressure); never wait out
        an outage."""
        if (
            len(self._outbox) == 1
            and not self._sending
            and self.link.outage is None
            and self._tasks
            and asyncio.get_running_loop().time() - self._last_send > _QUIET
            and self.backend.writes_without_waiting
            and self.backend.receiving
        ):
            # A lone message after a quiet spell: nothing to batch it with, so it leaves now.
            # Under load the writer batches instead (fewer writes, and bursts a node with no
            # member in the rooms skips in one go).
            await self._send_queued(once=True)
            if len(self._outbox):
                self._wakeup.set()  # queued while this task was writing: the writer's
            return
        if not self._writable.is_set():
            await self._writable.wait()

    async def flush(self) -> None:
        """Return once every message queued before the call has been handed to the backend
        (or dropped)."""
        target = self._queued
        if self._sent >= target:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flush_waiters.append((target, waiter))
        await waiter

    async def _writer(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # When a producer is sending, it wakes the writer again if more queued meanwhile.
            while len(self._outbox) and not self._sending:
                await self._send_queued()

    async def _send_queued(self, once: bool = False) -> None:
        """Send everything queued as one batch. One sender at a time (the writer, or a
        producer in ``wait_writable``), so batches leave in order.

        ``once`` (a producer's send): when the backend is unreachable, put the batch back at
        the head of the queue for the writer, which holds it through the outage.
        """
        self._sending = True
        batch = self._outbox.take()
        try:
            if once:
                try:
                    await self.backend.publish(batch)
                except BackendError as error:
                    self._outbox.put_back(batch)
                    batch = []
                    self.link.begin_outage(f"publishing failed ({error})")
                    self._wakeup.set()
                    return
                if not self.backend.confirms_publishes:
                    self.stats.published += len(batch)
            else:
                await self._send(batch)
            self.stats.publish_batches += 1
            self._sent += len(batch)
            self._release_flush_waiters()
        finally:
            self._outbox.release(batch)
            if not self._outbox.full or self.link.outage is not None:
                self._writable.set()
            self._sending = False
            self._last_send = asyncio.get_running_loop().time()

    async def _send(self, batch: list[Message]) -> None:
        """Publish one batch; through an outage, hold it and send it once the cluster is back.
        A batch the backend refuses for good (not an outage) is dropped, counted, reported."""
        while True:
            if self.backend.receiving:
                self.link.deaf_given_up = False
            elif self.link.outage is None and not self.link.deaf_given_up:
                self.link.begin_outage("this node's subscriber connection is down")
            outage = self.link.outage
            if outage is not None:
                await outage.over.wait()
                continue
            try:
                await self.backend.publish(batch)
            except asyncio.CancelledError:
                raise
            except BackendError as error:
                self.link.begin_outage(f"publishing failed ({error})")
                continue
            except Exception as error:
                self.backend.report_error(error, f"publishing {len(batch)} messages")
                self._fail(len(batch), str(error))
                return
            if not self.backend.confirms_publishes:
                self.stats.published += len(batch)
            return

    def _fail(self, count: int, reason: str) -> None:
        self.stats.publish_failed += count
        self._logger.warning(
            "%d messages could not be published (counted in stats.publish_failed): %s",
            count,
            reason,
        )

    def _accepted(self, count: int) -> None:
        self.stats.published += count

    def _lost(self, count: int, reason: str, connection_failed: bool) -> None:
        self.stats.publish_failed += count
        self._logger.warning(
            "%d published messages were not confirmed by the backend and may be lost "
            "(counted in stats.publish_failed): %s",
            count,
            reason,
        )
        if connection_failed and not self._closed:
            self.link.begin_outage(reason)

    def _release_flush_waiters(self) -> None:
        if not self._flush_waiters:
            return
        keep = []
        for target, waiter in self._flush_waiters:
            if target <= self._sent:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                keep.append((target, waiter))
        self._flush_waiters = keep

    # -- outages --------------------------------------------------------------------------

    async def _listener(self) -> None:
        async for batch in self.backend.message_batches():
            await self._receive(batch)

    async def _receive(self, batch: list[Message]) -> None:
        """Hand received batches on in order. Backends with several reading tasks (one per
        shard) call this concurrently: one batch at a time, the others wait their turn, first
        come first served. (Not an asyncio.Lock: its acquire and release cost three coroutines
        per batch, and at a fixed rate every message is a batch of its own.)"""
        if self._receiving:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._turns.append(turn)
            try:
                await turn
            except BaseException:
                if turn.done() and not turn.cancelled():
                    self._next_turn()  # handed the turn, but cancelled: pass it on
                raise
        else:
            self._receiving = True
        try:
            self.stats.received += len(batch)
            await self.handler(batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.handler_errors += 1
            self._logger.exception("error while handling %d received messages", len(batch))
        finally:
            self._next_turn()

    def _next_turn(self) -> None:
        while self._turns:
            turn = self._turns.popleft()
            if not turn.done():  # a cancelled waiter's turn is skipped
                turn.set_result(None)
                return  # still receiving: the turn was handed on
        self._receiving = False

    # -- the link's parts, as the manager uses them ----------------------------------------

    @property
    def connected(self) -> bool:
        """True once the backend's connect() succeeded."""
        return self.link.connected

    @property
    def counts(self) -> SubscriberCounts:
        """The shared subscriber counts."""
        return self.link.counts

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once the backend is connected; BackendError (saying why not) after
        ``timeout`` seconds."""
        await self.link.wait_connected(timeout)

    async def subscribe(self, channels: Collection[str], patterns: Collection[str] = ()) -> None:
        """Subscribe (returns once active; remembered and made later during an outage)."""
        await self.link.subscribe(channels, patterns)

    async def unsubscribe(self, channels: Collection[str], patterns: Collection[str] = ()) -> None:
        """Unsubscribe (and forget deferred subscriptions)."""
        await self.link.unsubscribe(channels, patterns)

    def census_soon(self) -> None:
        """Count the cluster's subscribers now (a namespace was just subscribed)."""
        self.link.census_soon()

    async def count_others(self, channel: str) -> int:
        """The other nodes counted on ``channel`` (BackendError if not connected)."""
        return await self.link.count_others(channel)
