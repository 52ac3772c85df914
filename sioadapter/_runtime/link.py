"""The link to the backend: connection state, outages and their recovery, subscriptions.

An outage begins when a publish fails, a subscriber connection goes down, a connection dies with
replies due, or the backend is unreachable at start. Then the link probes the backend with
capped, jittered backoff; once it answers, it makes the subscriptions that could not be made and
waits until the cluster's subscriber counts are what they were before the outage (other nodes
resubscribe at their own pace, and pub/sub drops what a subscriber misses), for at most
``publish_timeout`` seconds; then the outage is over and publishing sends what it held.

The counts to wait for come from a census of the served namespaces' count channels every
second (and at once when a namespace is subscribed); requests' counts refresh it too.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from ..backends.base import Backend
from ..errors import BackendError
from .counts import SubscriberCounts

__all__ = ["BackendLink", "Outage"]

_RETRY_MIN, _RETRY_CAP = 0.05, 1.0  # seconds between probes of an unreachable backend
_POLL = 0.02  # seconds between subscriber counts while waiting for the cluster to come back
_CENSUS_INTERVAL = 1.0  # seconds between counts of the cluster's subscribers while healthy


@dataclass(slots=True)
class Outage:
    """One outage: since when, why, and the subscriber counts to wait for afterwards."""

    since: float
    reason: str
    expected: dict[str, int]
    over: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0  # messages not queued because the outbox was full


class BackendLink:
    """Connection state and outages of one backend (one event loop).

    Args:
        backend: the backend.
        logger: where outages are logged.
        publish_timeout: seconds to wait for the cluster's subscribers after an outage.
        census_channels: the channels whose subscriber counts to watch.
        held: how many messages publishing holds (for the logs).
        on_outage: called with True when an outage begins, False when it is over.
    """

    def __init__(
        self,
        backend: Backend,
        logger: logging.Logger,
        publish_timeout: float,
        census_channels: Callable[[], Sequence[str]],
        held: Callable[[], int],
        on_outage: Callable[[bool], None],
    ) -> None:
        self.backend = backend
        self.counts = SubscriberCounts(backend)
        self.publish_timeout = publish_timeout
        self.connected = False  # the backend's connect() succeeded
        self.last_error: BaseException | None = None  # why the backend is unreachable
        self.outage: Outage | None = None
        # An outage ended without this node's subscriptions back: held no more until they are.
        self.deaf_given_up = False
        self.closed = False
        self._logger = logger
        self._census_channels = census_channels
        self._held = held
        self._on_outage = on_outage
        self._connected_event = asyncio.Event()
        self._census_due = asyncio.Event()
        self._recovery: asyncio.Task[None] | None = None
        self._deferred: tuple[set[str], set[str]] = (set(), set())

    async def connect(self) -> None:
        """Connect the backend; when it is unreachable, begin an outage (the node serves its
        own clients and connects in the background)."""
        try:
            await self.backend.connect()
        except BackendError as error:
            self.last_error = error
            self.begin_outage(f"{error}; serving this node's clients, connecting in the background")
        else:
            self._set_connected()

    def stop(self) -> list[asyncio.Task[None]]:
        """Stop recovering and counting (closing); returns the task to wait for, if any."""
        self.closed = True
        self._census_due.set()
        tasks = [self._recovery] if self._recovery is not None else []
        for task in tasks:
            task.cancel()
        self._recovery = None
        return tasks

    async def run_census(self) -> None:
        """Count the cluster's subscribers every second, forever (the bus runs the task)."""
        await self._census()

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

    def begin_outage(self, reason: str) -> None:
        if self.outage is not None or self.closed:
            return
        loop = asyncio.get_running_loop()
        self.outage = Outage(loop.time(), reason, dict(self.counts.last))
        self._logger.warning(
            "%s: holding broadcasts until the backend and the cluster's subscribers are back",
            reason,
        )
        self._on_outage(True)  # nobody waits out an outage: see AsyncBus.publish
        self._recovery = asyncio.create_task(self._recover(), name="sioadapter-recovery")

    async def _recover(self) -> None:
        """Probe until the backend answers, make the subscriptions that could not be made,
        then wait (at most ``publish_timeout``) for the cluster's subscribers; end the outage."""
        outage = self.outage
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

    def _end_outage(self, outage: Outage, now: float, missing: dict[str, tuple[int, int]]) -> None:
        self.outage = None
        outage.over.set()
        self._recovery = None
        self.deaf_given_up = not self.backend.receiving
        held = self._held()
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
        self._on_outage(False)

    async def _census(self) -> None:
        """Count the cluster's subscribers every ``_CENSUS_INTERVAL`` seconds, and at once when
        this node starts serving a namespace, to know what to wait for after an outage (a
        failing count begins one: the backend is gone). Requests' counts refresh it too."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            # A timer sets the event, rather than asyncio.wait_for: on Python 3.11 a wait_for
            # timing out as its task is cancelled can swallow the cancellation. And stop()
            # sets it too: the loop ends on the flag even if a cancellation went astray (CI
            # saw this task still waiting 5 s after its cancellation).
            timer = loop.call_later(_CENSUS_INTERVAL, self._census_due.set)
            try:
                await self._census_due.wait()
            finally:
                timer.cancel()
            self._census_due.clear()
            if self.closed:
                return
            channels = list(self._census_channels())
            if not channels or self.outage is not None or not self.connected:
                continue
            try:
                await self.counts.census(channels)
            except BackendError as error:
                self.begin_outage(f"counting subscribers failed ({error})")

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

    async def subscribe(self, channels: Collection[str], patterns: Collection[str] = ()) -> None:
        """Subscribe through the backend (returns once active). While the backend is
        unreachable the subscriptions are remembered and made by the recovery."""
        if self.connected and self.outage is None:
            try:
                await self.backend.subscribe(channels, patterns)
                return
            except BackendError as error:
                self.begin_outage(f"subscribing failed ({error})")
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
