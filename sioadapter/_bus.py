"""The asyncio engine under AsyncClusterManager: publishing, receiving, pending requests.

* Publishing is asynchronous and ordered: ``publish`` encodes at once (so bad data fails in the
  caller, before anything is sent) and appends to an outbox; a writer task hands everything
  queued to the backend as one batch. A lone message after a quiet spell is sent at once by
  the producer itself (``wait_writable``) when the backend writes without waiting for answers;
  either way one send runs at a time, so messages leave in order. Callers that need to know a
  message left use ``flush``. When the outbox holds more than ``max_queue`` messages,
  ``wait_writable`` makes producers wait, so memory stays bounded.
* While the backend is unreachable (it raises BackendError), the writer retries the current
  batch in order for ``publish_timeout`` seconds, then drops it (``stats.publish_failed``) and
  reports it; what queued meanwhile waits its turn. While the backend's subscriptions are being
  restored (``backend.receiving`` is False), publishing is held, for at most
  ``publish_timeout`` per outage: what other nodes miss while they resubscribe is lost.
* Received messages go to the manager's handler one at a time, in order: from the backend's
  own reading task when it offers that (``set_receiver``; one task switch less), else from a
  listener task reading ``message_batches()``. A handler error is counted and logged; reading
  goes on.
* Pending requests live in the sans-IO :class:`~sioadapter.core.requests.RequestTracker`; the
  bus adds a future per request and one timer per deadline
  (:class:`~sioadapter._request_waits.RequestWaits`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection

from ._request_waits import RequestWaits
from .backends.base import Backend, Message
from .core.messages import ClusterMessage
from .core.requests import PendingRequest, RequestTracker
from .errors import BackendError, ManagerClosedError
from .stats import Stats
from .wire.base import Family
from .wire.signing import Signer

_QUIET = 0.0002  # seconds without a send after which a new message is sent at once

MessageHandler = Callable[[str, bytes], Awaitable[None]]


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
    ) -> None:
        self.backend = backend
        self.family = family
        self.stats = stats
        self.tracker = RequestTracker()
        self._handler = handler
        self._logger = logger
        self._max_queue = max_queue
        self.publish_timeout = publish_timeout
        self._on_done = on_done
        self._outbox: collections.deque[Message] = collections.deque()
        self._wakeup = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._queued = 0  # messages ever queued
        self._sent = 0  # messages ever handed to the backend (or dropped by it)
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._receive_lock = asyncio.Lock()
        self._sending = False
        self._last_send = 0.0
        self._deaf_since: float | None = None  # when this node's subscriptions went down
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the backend and start the writer and listener tasks."""
        await self.backend.connect()
        self._tasks = [asyncio.create_task(self._writer(), name="sioadapter-writer")]
        if not self.backend.set_receiver(self._receive):
            self._tasks.append(asyncio.create_task(self._listener(), name="sioadapter-listener"))

    async def close(self, flush_timeout: float = 2.0) -> None:
        """Send what is queued (for at most ``flush_timeout`` s), fail pending requests, stop
        the tasks and close the backend."""
        if self._closed:
            return
        if self._tasks:
            try:
                await asyncio.wait_for(self.flush(), flush_timeout)
            except (asyncio.TimeoutError, ManagerClosedError):
                self._logger.warning("closing with %d unpublished messages", len(self._outbox))
        self._closed = True
        for request in self.tracker.cancel_all():
            self._finish(request, ManagerClosedError("the manager was closed"))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
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

    # -- publishing -----------------------------------------------------------------------

    def publish(self, message: ClusterMessage, *, use_room_channel: bool = True) -> None:
        """Encode ``message`` and queue it. TypeError if it cannot be encoded."""
        self.publish_raw(*self.family.encode(message, use_room_channel=use_room_channel))

    def publish_raw(self, channel: str, payload: bytes) -> None:
        """Queue an already encoded message (signed here when the manager signs)."""
        if self._closed:
            raise ManagerClosedError("the manager was closed")
        if self.signer is not None:
            payload = self.signer.sign(channel, payload)
        self._outbox.append((channel, payload))
        self._queued += 1
        if len(self._outbox) >= self._max_queue:
            self._writable.clear()
        self._wakeup.set()

    async def wait_writable(self) -> None:
        """Call after publishing. A lone message after a quiet spell, with a backend whose
        ``publish`` returns once written (it does not wait for Redis's answers), is sent now
        from the caller's task, without waiting for the writer's turn of the event loop.
        Otherwise return once the outbox is below its bound (back-pressure)."""
        if (
            len(self._outbox) == 1
            and not self._sending
            and self._tasks
            and asyncio.get_running_loop().time() - self._last_send > _QUIET
            and self.backend.writes_without_waiting
            and self.backend.receiving
        ):
            # A lone message after a quiet spell: nothing to batch it with, so it leaves now.
            # Under load the writer batches instead (fewer writes, and bursts a node with no
            # member in the rooms skips in one go).
            await self._send_queued(once=True)
            if self._outbox:
                self._wakeup.set()  # queued while this task was writing: the writer's
            return
        if not self._writable.is_set():
            await self._writable.wait()

    async def flush(self) -> None:
        """Return once every message queued before the call has been handed to the backend."""
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
            while self._outbox and not self._sending:
                await self._send_queued()

    async def _send_queued(self, once: bool = False) -> None:
        """Send everything queued as one batch. One sender at a time (the writer, or a
        producer in ``wait_writable``), so batches leave in order.

        ``once`` (a producer's send): when the backend is unreachable, put the batch back at
        the head of the queue for the writer, which retries; a producer does not wait out an
        outage.
        """
        self._sending = True
        try:
            batch = list(self._outbox)
            self._outbox.clear()
            self._writable.set()
            if once:
                try:
                    await self.backend.publish(batch)
                except BackendError:
                    self._outbox.extendleft(reversed(batch))
                    self._wakeup.set()
                    return
                self.stats.published += len(batch)
            else:
                await self._send(batch)
            self.stats.publish_batches += 1
            self._sent += len(batch)
            self._release_flush_waiters()
        finally:
            self._sending = False
            self._last_send = asyncio.get_running_loop().time()

    async def _hold_while_deaf(self) -> None:
        """While this node's subscriptions are being restored, hold publishing (for at most
        ``publish_timeout`` per outage): the other nodes are likely resubscribing too, and
        pub/sub drops what a subscriber misses."""
        if self.backend.receiving:
            self._deaf_since = None
            return
        now = asyncio.get_running_loop().time()
        if self._deaf_since is None:
            self._deaf_since = now
        remaining = self._deaf_since + self.publish_timeout - now
        if remaining > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.backend.wait_receiving(), remaining)

    async def _send(self, batch: list[Message]) -> None:
        """Publish one batch; while the backend is unreachable, retry it (in order, with capped
        backoff) for ``publish_timeout`` seconds, then drop it, counted and reported."""
        loop = asyncio.get_running_loop()
        failing_since: float | None = None
        delay = 0.05
        while True:
            await self._hold_while_deaf()
            try:
                await self.backend.publish(batch)
            except asyncio.CancelledError:
                raise
            except BackendError as error:  # unreachable for now: worth retrying
                now = loop.time()
                if failing_since is None:
                    failing_since = now
                    self.backend.report_error(error, f"publishing {len(batch)} messages")
                waited = now - failing_since
                if waited >= self.publish_timeout:
                    self._drop(batch, f"Redis unreachable for {waited:.1f} s")
                    return
                await asyncio.sleep(min(delay, self.publish_timeout - waited))
                delay = min(delay * 2, 1.0)
                continue
            except Exception as error:
                self.backend.report_error(error, f"publishing {len(batch)} messages")
                self._drop(batch, str(error))
                return
            self.stats.published += len(batch)
            if failing_since is not None:
                self._logger.warning(
                    "published again after %.2f s of failures", loop.time() - failing_since
                )
            return

    def _drop(self, batch: list[Message], reason: str) -> None:
        self.stats.publish_failed += len(batch)
        self._logger.error(
            "dropped %d messages that could not be published: %s", len(batch), reason
        )

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

    # -- receiving ------------------------------------------------------------------------

    async def _listener(self) -> None:
        async for batch in self.backend.message_batches():
            await self._receive(batch)

    async def _receive(self, batch: list[Message]) -> None:
        """Handle received messages in order. Backends with several reading tasks (one per
        shard) call this concurrently: the lock keeps one batch at a time."""
        handler, stats = self._handler, self.stats
        async with self._receive_lock:
            stats.received += len(batch)
            for channel, payload in batch:
                try:
                    await handler(channel, payload)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    stats.handler_errors += 1
                    self._logger.exception("error while handling a message on %r", channel)

    async def subscribe(self, channels: Collection[str], patterns: Collection[str] = ()) -> None:
        """Subscribe through the backend (returns once active)."""
        await self.backend.subscribe(channels, patterns)

    async def unsubscribe(self, channels: Collection[str], patterns: Collection[str] = ()) -> None:
        """Unsubscribe through the backend."""
        await self.backend.unsubscribe(channels, patterns)
