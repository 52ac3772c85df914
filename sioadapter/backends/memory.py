"""In-process backend: managers in one process that share a hub form a cluster.

``memory://NAME`` URLs with the same NAME share one hub. It behaves like a single Redis server
for pub/sub: ordered delivery, exact channels and glob patterns, and subscriber counts (one per
backend, like NUMSUB counts connections). Useful for tests and for several servers in one
process; it is not a way to reach other processes.

Query options, mostly to exercise the other protocol paths in tests:

* ``patterns=false``: declare no pattern support, so the manager uses the ClusterAdapter
  family instead of the classic one;
* ``counts=false``: declare that subscribers cannot be counted, so nodes are counted by
  heartbeat.

Backends of one hub may run on different event loops (each ClusterManager runs its own, in a
thread): a message for a backend of another loop is handed over with ``call_soon_threadsafe``,
which keeps each publisher's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from collections.abc import AsyncIterator, Collection, Sequence
from fnmatch import translate
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import BackendError
from .base import Backend, Capabilities, Message, queued_batches

__all__ = [
    "MemoryBackend",
    "MemoryHub",
    "hub",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _glob(pattern: str) -> re.Pattern[str]:
    """Compile a Redis-style glob (``*``, ``?``, ``[...]``) to a regex."""
    return re.compile(translate(pattern), re.DOTALL)


class MemoryHub:
    """The shared bus of one ``memory://NAME``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: set[MemoryBackend] = set()

    def deliver(self, channel: str, payload: bytes) -> int:
        """Give a message to every subscriber it matches; returns how many got it."""
        receivers = 0
        here = asyncio.get_running_loop()
        for member in tuple(self.members):  # a member of another loop may join meanwhile
            if member.matches(channel):
                member.receive([(channel, payload)], here)
                receivers += 1
        return receivers

    def count(self, channel: str) -> int:
        """Backends subscribed to exactly ``channel`` (patterns do not count, as in NUMSUB)."""
        return sum(1 for member in self.members if channel in member.channels)


_hubs: weakref.WeakValueDictionary[str, MemoryHub] = weakref.WeakValueDictionary()


def hub(name: str) -> MemoryHub:
    """The hub for ``name``, created on first use and dropped when no backend holds it."""
    found = _hubs.get(name)
    if found is None:
        found = _hubs[name] = MemoryHub(name)
    return found


def _flag(query: dict[str, list[str]], key: str, default: bool) -> bool:
    values = query.get(key)
    if not values:
        return default
    value = values[-1].lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"memory:// option {key}={values[-1]!r} is not a boolean")


class MemoryBackend(Backend):
    """A member of an in-process hub.

    Args:
        name: the hub name; backends with the same name see each other's messages.
        patterns: declare pattern support (the classic protocol needs it).
        counts: declare subscriber counting (without it nodes are counted by heartbeat).
    """

    schemes = ("memory",)

    def __init__(self, name: str = "default", *, patterns: bool = True, counts: bool = True):
        super().__init__()
        if not name:
            raise ValueError("a memory backend needs a hub name: memory://NAME")
        self.name = name
        self.capabilities = Capabilities(
            patterns=patterns, sharded=False, counts_subscribers=counts
        )
        self.channels: set[str] = set()
        self.patterns: dict[str, re.Pattern[str]] = {}
        self.queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
        self._hub: MemoryHub | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the listener's, set by connect
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryBackend:
        """``memory://NAME[?patterns=false&counts=false]``."""
        parts = urlsplit(url)
        name = (parts.netloc + parts.path).strip("/")
        query = parse_qs(parts.query)
        unknown = set(query) - {"patterns", "counts"}
        if unknown:
            raise ValueError(f"unknown memory:// option(s): {', '.join(sorted(unknown))}")
        options.setdefault("patterns", _flag(query, "patterns", True))
        options.setdefault("counts", _flag(query, "counts", True))
        return cls(name, **options)

    @property
    def writes_without_waiting(self) -> bool:
        return True  # publishing hands messages straight to the hub

    def matches(self, channel: str) -> bool:
        """True if this backend subscribes to ``channel`` directly or through a pattern."""
        if channel in self.channels:
            return True
        return any(regex.match(channel) for regex in tuple(self.patterns.values()))

    def receive(self, batch: list[Message], publisher_loop: asyncio.AbstractEventLoop) -> None:
        """Queue a batch for this backend's listener, from its own loop or any other."""
        loop = self._loop
        if loop is None or loop is publisher_loop:
            self.queue.put_nowait(batch)
        else:
            # A loop that closed meanwhile belongs to a manager that is gone: nothing to do.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.queue.put_nowait, batch)

    async def connect(self) -> None:
        if self._closed:
            raise BackendError("this memory backend was closed")
        if self._hub is None:
            self._loop = asyncio.get_running_loop()
            self._hub = hub(self.name)
            self._hub.members.add(self)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._hub is not None:
            self._hub.members.discard(self)
            self._hub = None
        self.channels.clear()
        self.patterns.clear()
        self.queue.put_nowait(None)

    def _require_hub(self) -> MemoryHub:
        if self._hub is None:
            raise BackendError("memory backend is not connected")
        return self._hub

    async def publish(self, messages: Sequence[Message]) -> None:
        shared = self._require_hub()
        for channel, payload in messages:
            shared.deliver(channel, payload)

    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        self._require_hub()
        if patterns and not self.capabilities.patterns:
            raise BackendError("this memory backend was created without pattern support")
        self.channels.update(channels)
        for pattern in patterns:
            self.patterns.setdefault(pattern, _glob(pattern))

    async def unsubscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        self.channels.difference_update(channels)
        for pattern in patterns:
            self.patterns.pop(pattern, None)

    def message_batches(self) -> AsyncIterator[list[Message]]:
        return queued_batches(self.queue)

    async def subscriber_count(self, channel: str) -> int | None:
        if not self.capabilities.counts_subscribers:
            return None
        return self._require_hub().count(channel)
