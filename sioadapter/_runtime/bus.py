"""The asyncio engine under AsyncClusterManager: publishing, receiving, pending requests.

* Publishing is asynchronous and ordered: ``publish`` encodes at once (so bad data fails in the
  caller, before anything is sent) and appends to the outbox; a writer task hands everything
  queued to the backend as one batch. A lone message after a quiet spell is sent at once by
  the producer itself (``wait_writable``) when the backend writes without waiting for answers;
  either way one send runs at a time, so messages leave in order. Callers that need to know a
  message left use ``flush``. A message whose encoded size is over ``max_message_size`` raises
  MessageTooLargeError before anything is queued.
* The outbox is bounded in messages and bytes (:class:`~sioadapter._outbox.Outbox`). Past its
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
* Received messages go to the manager's handler one at a time, in order, from the backend's
  own reading task when it offers that (``set_receiver``), else from a listener task. A message
  over ``max_message_size`` is dropped undecoded (``stats.dropped_oversized``). A handler error
  is counted and logged; reading goes on.
* Pending requests live in the sans-IO :class:`~sioadapter.core.requests.RequestTracker`; the
  bus adds a future per request and one timer per deadline
  (:class:`~sioadapter._request_waits.RequestWaits`). Subscriber counts for requests are shared
  by concurrent requests (:class:`~sioadapter._counts.SubscriberCounts`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Backend, Message
from ..core.messages import ClusterMessage
from ..core.requests import PendingRequest, RequestTracker
from ..errors import BackendError, ManagerClosedError, MessageTooLargeError
from ..stats import Stats
from ..wire.base import Family
from ..wire.signing import SIGNATURE_OVERHEAD, Signer
from .counts import SubscriberCounts
from .outbox import Outbox
from .waits import RequestWaits

_QUIET = 0.0002  # seconds without a send after which a new message is sent at once
_RETRY_MIN, _RETRY_CAP = 0.05, 1.0  # seconds between probes of an unreachable backend
_POLL = 0.02  # seconds between subscriber counts while waiting for the cluster to come back
_CENSUS_INTERVAL = 1.0  # seconds between counts of the cluster's subscribers while healthy

MessageHandler = Callable[[str, bytes], Awaitable[None]]
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


@dataclass(slots=True)
class _Outage:
    """One outage: since when, why, and the subscriber counts to wait for afterwards."""

    since: float
    reason: str
    expected: dict[str, int]
    over: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0  # messages not queued because the outbox was full


class AsyncBus(RequestWaits):
    """Backend I/O and request bookkeeping for one manager (one event loop)."""

    signer: Signer | None = None
    """Signs every published message when set (the manager's ``signing_keys``)."""

    def __init__(
        self,
        backend: Backend,
        family: Family,
        handler: MessageHandler,
        stats: Stats,
        logger: logging.Logger,
        max_queue: int = 10_000,
        publish_timeout: float = 5.0,
        on_done: Callable[[PendingRequest, BaseException | None], None] | None = None,
        *,
        max_queue_bytes: int = 64 << 20,
        max_message_size: int | None = None,
        census_channels: Callable[[], Sequence[str]] = list,
    ) -> None:
        self.backend = backend
        self.family = family
        self.stats = stats
        self.tracker = RequestTracker()
        self.counts = SubscriberCounts(backend)
        self.publish_timeout = publish_timeout
        self.max_message_size = max_message_size
        self.connected = False  # the backend's connect() succeeded
        self.last_error: BaseException | None = None  # why the backend is unreachable
        self._connected_event = asyncio.Event()
        self._census_due = asyncio.Event()
        self._handler = handler
        self._logger = logger
        self._on_done = on_done
        self._census_channels = census_channels
        self._outbox = Outbox(max_queue, max_queue_bytes)
        self._wakeup = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._queued = 0  # messages ever queued
        self._sent = 0  # messages ever done with (handed to the backend, or dropped)
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._recovery: asyncio.Task[None] | None = None
        self._outage: _Outage | None = None
        self._deferred: tuple[set[str], set[str]] = (set(), set())
        self._receive_lock = asyncio.Lock()
        self._sending = False
        self._last_send = 0.0
        self._logged_kinds: set[str] = set()
        # An outage ended without this node's subscriptions back: held no more until they are.
        self._deaf_given_up = False
        self._closed = False
        backend.set_publish_handlers(self._accepted, self._lost)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the writer and listener tasks and connect the backend. An unreachable
        backend does not fail the start: the node serves its own clients, and connects in the
        background (an outage from the start)."""
        self._tasks = [
            asyncio.create_task(self._writer(), name="sioadapter-writer"),
            asyncio.create_task(self._census(), name="sioadapter-census"),
        ]
        if not self.backend.set_receiver(self._receive):
            self._tasks.append(asyncio.create_task(self._listener(), name="sioadapter-listener"))
        try:
            await self.backend.connect()
        except BackendError as error:
            self.last_error = error
            self._begin_outage(
                f"{error}; serving this node's clients, connecting in the background"
            )
        else:
            self._set_connected()

    def _set_connected(self) -> None:
        self.connected = True
        self.last_error = None
        self._connected_event.set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once the backend is connected; BackendError (saying why not) after
        ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except asyncio.TimeoutError:
            reason = self.last_error or "no answer yet"
            raise BackendError(f"not connected after {timeout:g} s: {reason}") from None

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
        for request in self.tracker.cancel_all():
            self._finish(request, ManagerClosedError("the manager was closed"))
        tasks = [*self._tasks, *([self._recovery] if self._recovery is not None else [])]
        for task in tasks:
            task.cancel()
        await stopped(tasks, self._logger)
        self._tasks, self._recovery = [], None
        for _, waiter in self._flush_waiters:
            if not waiter.done():
                waiter.set_exception(ManagerClosedError("the manager was closed"))
        self._flush_waiters.clear()
        self._outbox.clear()
        self.backend.set_receiver(None)
        await self.backend.close()

    def tasks_alive(self) -> bool:
        """True while the writer, the listener and the backend's own tasks all run."""
        if self._closed:
            return False
        return all(not task.done() for task in self._tasks) and self.backend.tasks_alive()

    @property
    def in_outage(self) -> bool:
        """True while publishing holds because the backend was unreachable."""
        return self._outage is not None

    @property
    def queued_messages(self) -> int:
        """Messages waiting to be published (a batch being sent included)."""
        return self._outbox.held

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting to be published."""
        return self._outbox.held_bytes

    # -- publishing -----------------------------------------------------------------------

    def publish(self, message: ClusterMessage, *, use_room_channel: bool = True) -> None:
        """Encode ``message`` and queue it. TypeError if it cannot be encoded,
        MessageTooLargeError if it is over ``max_message_size``."""
        self.publish_raw(*self.family.encode(message, use_room_channel=use_room_channel))

    def check_size(self, payload: bytes, signed: bool = True) -> None:
        """MessageTooLargeError if ``payload`` is over ``max_message_size`` (``signed=False``:
        a payload not signed yet, counted with the signature it will get)."""
        limit = self.max_message_size
        if limit is None:
            return
        size = len(payload)
        if not signed and self.signer is not None:
            size += SIGNATURE_OVERHEAD
        if size > limit:
            raise MessageTooLargeError(size, limit)

    def publish_raw(self, channel: str, payload: bytes) -> None:
        """Queue an already encoded message (signed here when the manager signs; see the
        module docstring for full queues)."""
        if self._closed:
            raise ManagerClosedError("the manager was closed")
        if self.signer is not None:
            payload = self.signer.sign(channel, payload)
        self.check_size(payload)
        outbox = self._outbox
        hard_full = outbox.held >= 2 * outbox.max_messages or (
            outbox.held_bytes >= 2 * outbox.max_bytes
        )
        if hard_full or (outbox.full and self._outage is not None):
            self._overflow()
            return
        outbox.put((channel, payload))
        self._queued += 1
        if outbox.full and self._outage is None:
            self._writable.clear()
        self._wakeup.set()

    def _overflow(self) -> None:
        self.stats.publish_failed += 1
        outage = self._outage
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
            and self._outage is None
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
                    self._begin_outage(f"publishing failed ({error})")
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
            if not self._outbox.full or self._outage is not None:
                self._writable.set()
            self._sending = False
            self._last_send = asyncio.get_running_loop().time()

    async def _send(self, batch: list[Message]) -> None:
        """Publish one batch; through an outage, hold it and send it once the cluster is back.
        A batch the backend refuses for good (not an outage) is dropped, counted, reported."""
        while True:
            if self.backend.receiving:
                self._deaf_given_up = False
            elif self._outage is None and not self._deaf_given_up:
                self._begin_outage("this node's subscriber connection is down")
            outage = self._outage
            if outage is not None:
                await outage.over.wait()
                continue
            try:
                await self.backend.publish(batch)
            except asyncio.CancelledError:
                raise
            except BackendError as error:
                self._begin_outage(f"publishing failed ({error})")
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
            self._begin_outage(reason)

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

    def _begin_outage(self, reason: str) -> None:
        if self._outage is not None or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._outage = _Outage(loop.time(), reason, dict(self.counts.last))
        self._logger.warning(
            "%s: holding broadcasts until the backend and the cluster's subscribers are back",
            reason,
        )
        self._writable.set()  # nobody waits out an outage: see publish_raw
        self._recovery = asyncio.create_task(self._recover(), name="sioadapter-recovery")

    async def _recover(self) -> None:
        """Probe until the backend answers, make the subscriptions that could not be made,
        then wait (at most ``publish_timeout``) for the cluster's subscribers; end the outage."""
        outage = self._outage
        assert outage is not None
        loop = asyncio.get_running_loop()
        backoff = _RETRY_MIN
        answered_at: float | None = None
        missing: dict[str, tuple[int, int]] = {}
        while True:
            try:
                if not self.connected:
                    await self.backend.connect()
                    self._set_connected()
                await self._apply_deferred()
                if outage.expected:
                    counts = await self.counts.census(list(outage.expected)) or {}
                else:
                    await self.backend.probe()
                    counts = {}
            except BackendError as error:
                answered_at = None
                self.last_error = error
                self._logger.debug("backend still unreachable: %s", error)
                # Jitter, so that the nodes of a cluster do not all retry in lockstep.
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, _RETRY_CAP)
                continue
            now = loop.time()
            if answered_at is None:
                answered_at = now
            missing = {
                channel: (wanted, counts.get(channel, 0))
                for channel, wanted in outage.expected.items()
                if counts.get(channel, 0) < wanted
            }
            if self.backend.receiving and not missing:
                break
            if now - answered_at >= self.publish_timeout:
                break
            await asyncio.sleep(_POLL)
        self._end_outage(outage, loop.time(), missing)

    def _end_outage(self, outage: _Outage, now: float, missing: dict[str, tuple[int, int]]) -> None:
        self._outage = None
        outage.over.set()
        self._recovery = None
        self._deaf_given_up = not self.backend.receiving
        held = self._outbox.held
        if missing:
            detail = ", ".join(f"{c}: {n} of {w}" for c, (w, n) in sorted(missing.items()))
            self._logger.warning(
                "publishing again %.1f s after the outage began (%s), although some of the "
                "cluster's subscribers are still missing after %g s (%s): nodes that come back "
                "later miss what is sent meanwhile; %d held messages, %d dropped (queue full)",
                now - outage.since,
                outage.reason,
                self.publish_timeout,
                detail,
                held,
                outage.dropped,
            )
        else:
            self._logger.warning(
                "the cluster is back %.2f s after the outage began (%s): publishing %d held "
                "messages; %d were dropped (queue full)",
                now - outage.since,
                outage.reason,
                held,
                outage.dropped,
            )
        if held:
            self._wakeup.set()

    async def _census(self) -> None:
        """Count the cluster's subscribers every ``_CENSUS_INTERVAL`` seconds, and at once when
        this node starts serving a namespace, to know what to wait for after an outage (a
        failing count begins one: the backend is gone). Requests' counts refresh it too."""
        loop = asyncio.get_running_loop()
        while True:
            # A timer sets the event, rather than asyncio.wait_for: on Python 3.11 a wait_for
            # timing out as its task is cancelled can swallow the cancellation, and close()
            # then waits for this task forever.
            timer = loop.call_later(_CENSUS_INTERVAL, self._census_due.set)
            try:
                await self._census_due.wait()
            finally:
                timer.cancel()
            self._census_due.clear()
            channels = list(self._census_channels())
            if not channels or self._outage is not None or not self.connected:
                continue
            try:
                await self.counts.census(channels)
            except BackendError as error:
                self._begin_outage(f"counting subscribers failed ({error})")

    def census_soon(self) -> None:
        """Count the cluster's subscribers now (a namespace was just subscribed)."""
        self._census_due.set()

    async def count_others(self, channel: str) -> int:
        """The other nodes counted on ``channel`` (BackendError if unknown: not connected)."""
        if not self.connected:
            raise BackendError(
                f"not connected to the backend yet ({self.last_error or 'connecting'}): cluster "
                "requests fail until it is"
            )
        count = await self.counts.count(channel)
        return max((count or 0) - 1, 0)

    # -- receiving ------------------------------------------------------------------------

    async def _listener(self) -> None:
        async for batch in self.backend.message_batches():
            await self._receive(batch)

    async def _receive(self, batch: list[Message]) -> None:
        """Handle received messages in order. Backends with several reading tasks (one per
        shard) call this concurrently: the lock keeps one batch at a time."""
        handler, stats, limit = self._handler, self.stats, self.max_message_size
        async with self._receive_lock:
            stats.received += len(batch)
            for channel, payload in batch:
                if limit is not None and len(payload) > limit:
                    self._oversized(channel, len(payload), limit)
                    continue
                try:
                    await handler(channel, payload)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    stats.handler_errors += 1
                    self._logger.exception("error while handling a message on %r", channel)

    def _oversized(self, channel: str, size: int, limit: int) -> None:
        self.stats.dropped_oversized += 1
        if "oversized" not in self._logged_kinds:
            self._logged_kinds.add("oversized")
            self._logger.warning(
                "dropped a %d-byte message on %r, undecoded: over max_message_size (%d); "
                "further ones are only counted in stats.dropped_oversized",
                size,
                channel,
                limit,
            )

    async def subscribe(self, channels: Collection[str], patterns: Collection[str] = ()) -> None:
        """Subscribe through the backend (returns once active). While the backend is
        unreachable the subscriptions are remembered and made by the recovery."""
        if self.connected and self._outage is None:
            try:
                await self.backend.subscribe(channels, patterns)
                return
            except BackendError as error:
                self._begin_outage(f"subscribing failed ({error})")
        self._deferred[0].update(channels)
        self._deferred[1].update(patterns)

    async def _apply_deferred(self) -> None:
        channels, patterns = self._deferred
        if channels or patterns:
            await self.backend.subscribe(sorted(channels), sorted(patterns))
            channels.clear()
            patterns.clear()

    async def unsubscribe(self, channels: Collection[str], patterns: Collection[str] = ()) -> None:
        """Unsubscribe through the backend (and forget deferred subscriptions)."""
        self._deferred[0].difference_update(channels)
        self._deferred[1].difference_update(patterns)
        if self.connected:
            await self.backend.unsubscribe(channels, patterns)
