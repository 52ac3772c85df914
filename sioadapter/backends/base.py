"""The contract every pub/sub backend implements.

A backend moves opaque bytes between nodes: it publishes ``(channel, payload)`` pairs, keeps a
set of channel and pattern subscriptions, and yields what it receives. It knows nothing about
Socket.IO; the manager and the wire layer give the bytes and channel names their meaning.

The manager relies on these guarantees:

* ``publish`` sends its messages in the order given, and two calls made one after the other
  (the manager has a single writer task) are sent in that order;
* ``message_batches()`` yields received messages in the order the backend got them, from a
  single connection per backend, so a node sees one node's messages in publish order;
* ``subscribe`` returns once the subscription is active (a message published afterwards by
  anyone will be received);
* after a reconnection the backend restores every subscription it had, by itself;
* a ``subscribe`` that fails because the backend is unreachable raises BackendError; the
  manager then makes it again once the backend answers;
* errors in background work are never raised from a background task: they go to
  ``report_error`` (the manager installs the handler);
* a backend whose ``publish`` returns before the server confirmed the messages
  (``confirms_publishes``) reports each message once, as accepted (``report_accepted``) or as
  lost (``report_lost``: the connection died first, or the server refused it); the others'
  messages count as accepted once ``publish`` returned.

Which wire family a backend gets follows from its ``capabilities``: the classic protocol where
it has patterns and counts subscribers without sharding (Redis), the ClusterAdapter protocol
otherwise. A backend whose broker already has a Node adapter with a wire dialect of its own
(channel names, payload forms) names that dialect in ``Capabilities.wire``: the manager and the
emitters then speak it and no other. ``"postgres"`` is the one known today
(`sioadapter.wire.postgres`, Node's ``@socket.io/postgres-adapter``); the family may read
backend attributes it needs (the PostgreSQL backend's ``payload_threshold``).
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "AcceptedHandler",
    "Backend",
    "Capabilities",
    "ErrorHandler",
    "LostHandler",
    "Message",
    "Receiver",
    "queued_batches",
]

logger = logging.getLogger("sioadapter.backends")

Message = tuple[str, bytes]
"""A received or published message: (channel, payload)."""


async def queued_batches(
    queue: asyncio.Queue[list[Message] | None],
) -> AsyncIterator[list[Message]]:
    """Batches put on ``queue`` by a backend's receiving side, merged when several are waiting,
    until a ``None`` (the backend closed) is taken."""
    while True:
        batch = await queue.get()
        if batch is None:
            return
        if not queue.empty():  # whatever else arrived meanwhile goes in the same batch
            batch = list(batch)  # extended in place below: not the backend's own list
            while not queue.empty():
                more = queue.get_nowait()
                if more is None:
                    yield batch
                    return
                batch.extend(more)  # not batch + more: a backlog of n would copy n**2/2 items
        yield batch


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do; the manager picks a protocol family that fits.

    Attributes:
        patterns: pattern subscriptions (Redis PSUBSCRIBE) are available. The classic Node
            protocol needs them.
        sharded: channels are sharded (Redis SSUBSCRIBE/SPUBLISH). Node's sharded adapter
            protocol (the ClusterAdapter family) is used.
        counts_subscribers: ``subscriber_count`` answers. Without it, nodes are counted by
            heartbeat, as Node's ClusterAdapterWithHeartbeat does.
        wire: the wire dialect this backend dictates, by name, or None (the manager picks
            classic or cluster from the fields above). ``"postgres"``: Node's
            ``@socket.io/postgres-adapter`` dialect; ``protocol=`` may then only be None or
            that name.
    """

    patterns: bool = True
    sharded: bool = False
    counts_subscribers: bool = True
    wire: str | None = None


ErrorHandler = Callable[[BaseException, str], None]
"""``handler(error, context)``: a background failure of the backend (see ``report_error``)."""
Receiver = Callable[[list[Message]], Awaitable[None]]
"""``await receiver(batch)``: takes received messages straight from the reading task."""
AcceptedHandler = Callable[[int], None]
"""``handler(count)``: that many published messages were confirmed by the server."""
LostHandler = Callable[[int, str, bool], None]
"""``handler(count, reason, connection_failed)``: that many messages were never confirmed."""


class Backend(abc.ABC):
    """Abstract async pub/sub backend. Subclasses implement the abstract methods.

    A backend is used by one manager, from one event loop. ``connect`` is called once before
    anything else; ``close`` may be called at any time, more than once, and ends the
    ``message_batches()`` iterator.
    """

    #: URL schemes this class handles (informational; discovery uses entry points).
    schemes: ClassVar[tuple[str, ...]] = ()

    capabilities: Capabilities = Capabilities()

    @property
    def writes_without_waiting(self) -> bool:
        """True when ``publish`` would return once the messages are written, without waiting
        for the server's answers or for a connection: the manager then sends a lone message
        from the emitting task, with no extra scheduling step. Default False."""
        return False

    #: True when ``publish`` returns once the messages are written and the server's answers
    #: come later: the backend then calls ``report_accepted`` / ``report_lost`` for each one.
    confirms_publishes: bool = False

    def __init__(self) -> None:
        self._error_handler: ErrorHandler | None = None
        self._accepted_handler: AcceptedHandler | None = None
        self._lost_handler: LostHandler | None = None

    def after_fork(self) -> None:  # noqa: B027 (nothing to renew by default)
        """Called in a forked child process (``gunicorn --preload``, multiprocessing) before
        the backend's first use, when it was built, never connected, in the parent: renew
        whatever the client library made there (clients, connection pools) so that no socket
        of the parent's is used here. Default: nothing (a backend that opens nothing before
        ``connect``)."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Backend:
        """Build a backend from a URL and backend-specific keyword options."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from a URL")

    def set_error_handler(self, handler: ErrorHandler | None) -> None:
        """Install the callable that receives errors from background work."""
        self._error_handler = handler

    def report_error(self, error: BaseException, context: str) -> None:
        """Hand an error to the manager (or log it when no handler is installed)."""
        if self._error_handler is not None:
            self._error_handler(error, context)
        else:
            logger.error("%s: %s", context, error, exc_info=error)

    def set_publish_handlers(
        self, accepted: AcceptedHandler | None, lost: LostHandler | None
    ) -> None:
        """Install the callables ``report_accepted`` and ``report_lost`` call."""
        self._accepted_handler = accepted
        self._lost_handler = lost

    def report_accepted(self, count: int) -> None:
        """``count`` published messages were confirmed by the server (``confirms_publishes``)."""
        if self._accepted_handler is not None and count:
            self._accepted_handler(count)

    def report_lost(self, count: int, reason: str, connection_failed: bool = True) -> None:
        """``count`` written messages were never confirmed (``confirms_publishes``): the
        connection died first (``connection_failed``: the server may be restarting, and the
        manager treats it as an outage), or the server refused them."""
        if count <= 0:
            return
        if self._lost_handler is not None:
            self._lost_handler(count, reason, connection_failed)
        else:
            logger.warning("%d published messages may be lost: %s", count, reason)

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open connections. Raises `BackendError` if unreachable."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Unsubscribe, close connections and end ``message_batches()``. Idempotent."""

    @abc.abstractmethod
    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish every message, in order (pipelined where the backend can)."""

    @abc.abstractmethod
    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        """Add subscriptions; returns once they are active. Already held ones are kept."""

    @abc.abstractmethod
    async def unsubscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        """Drop subscriptions; unknown ones are ignored."""

    @abc.abstractmethod
    def message_batches(self) -> AsyncIterator[list[Message]]:
        """Received messages in lists (whatever arrived together), in order, until closed.

        The manager reads this; batching saves a step per message on bursts.
        """

    def set_receiver(self, receiver: Receiver | None) -> bool:
        """Ask the backend to await ``receiver(batch)`` itself for each received batch, from its
        reading task, instead of queueing batches for ``message_batches()``: one task switch
        less per burst. Returns False when the backend does not do that (the default); the
        manager then reads ``message_batches()``."""
        return False

    async def messages(self) -> AsyncIterator[Message]:
        """Received messages one by one, in order, until the backend is closed."""
        async for batch in self.message_batches():
            for message in batch:
                yield message

    async def subscriber_count(self, channel: str) -> int | None:
        """How many connections subscribe to ``channel`` (all nodes), or None if unknown."""
        return None

    async def subscriber_counts(self, channels: Sequence[str]) -> dict[str, int] | None:
        """The subscriber count of each channel (one round trip where the backend can), or
        None when the backend cannot count."""
        counts: dict[str, int] = {}
        for channel in channels:
            count = await self.subscriber_count(channel)
            if count is None:
                return None
            counts[channel] = count
        return counts

    async def probe(self) -> None:  # noqa: B027 (nothing to check by default)
        """Return once the backend answers; BackendError while it is unreachable. The manager
        calls it to find out when an outage is over."""

    @property
    def receiving(self) -> bool:
        """False while this backend's subscriptions are being restored after a failure (the
        manager then holds its publishing for a while: other nodes are likely resubscribing
        too, and pub/sub drops what they miss). Default True."""
        return True

    async def wait_receiving(self) -> None:  # noqa: B027 (nothing to wait for by default)
        """Return once ``receiving`` is True (callers bound the wait)."""

    def tasks_alive(self) -> bool:
        """False if a background task of the backend has died (backends without tasks: True)."""
        return True
