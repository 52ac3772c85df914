"""Where an emitter's messages go: a redis-py client (Node's ``@socket.io/redis-emitter``
path) or any installed backend (NATS, PostgreSQL, RabbitMQ, a third party's).

An emitter encodes each message with its sink's family and hands ``(channel, payload)`` to the
sink. Sinks are shared by an emitter and the emitters its operators return (``to``, ``of``),
so they hold the one connection; ``close`` ends it.

A backend sink connects on its first message. The synchronous one runs the backend on an event
loop in a thread of its own (`sioadapter._runtime.loop_thread.LoopThread`) and returns once the
backend's ``publish`` has returned, as a redis-py ``publish`` does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..backends import Backend, backend_from_url
from ..backends.redis_streams import StreamsBackend
from ..backends.redis_url import parse_redis_url
from ..core.messages import EMITTER_UID
from ..wire._entries import entry_fields
from ..wire.base import Family
from ..wire.classic import ClassicFamily
from ..wire.streams import StreamsFamily
from .assembly import make_family
from .green import patched
from .loop_thread import LoopThread

__all__ = [
    "AsyncBackendSink",
    "BackendSink",
    "EntrySink",
    "backend_for",
    "family_for",
    "redis_url_scheme",
    "streams_family",
]


def redis_url_scheme(url: str) -> bool:
    """True when ``url`` names a Redis server (any form the Redis backend accepts): the
    emitter then publishes through redis-py directly, as Node's emitter does."""
    try:
        parse_redis_url(url if "://" in url else f"redis://{url}")
    except ValueError:
        return False
    return True


def backend_for(target: Any, options: dict[str, Any]) -> Backend:
    """The backend for a URL (with ``options`` for it) or a ready `Backend` (no options)."""
    if isinstance(target, Backend):
        if options:
            raise ValueError("backend options apply to a URL, not to a ready backend")
        return target
    return backend_from_url(target, **options)


def family_for(
    backend: Backend | None, key: str, protocol: str | None, subscription_mode: str | None
) -> Family:
    """The wire family the cluster's servers use on this backend: the classic protocol on a
    plain Redis client (``backend`` None), else what a server's manager would pick."""
    if backend is None:
        if protocol not in (None, "classic"):
            raise ValueError("a redis-py client carries the classic protocol only")
        return ClassicFamily(key, EMITTER_UID)
    if isinstance(backend, StreamsBackend) and protocol in (None, "streams"):
        return streams_family(key, backend.settings)  # as the servers it was built for
    return make_family(backend, key, EMITTER_UID, protocol, False, subscription_mode)


def streams_family(key: str, options: dict[str, Any]) -> StreamsFamily:
    """The streams emitter's family (``options`` from `take_streams_options`): every message
    an entry, in the emitter's layout, sent by uid ``"emitter"``."""
    return StreamsFamily(
        key, EMITTER_UID, stream_name=options["stream_name"],
        stream_count=options["stream_count"], only_plaintext=bool(options["only_plaintext"]),
        layout="emitter",
    )  # fmt: skip


class EntrySink:
    """XADDs an emitter's stream entries (the streams protocol) with a redis-py client:
    ``publish`` returns what the client's ``xadd`` returns, a coroutine on ``redis.asyncio``."""

    def __init__(self, client: Any, max_len: int | None) -> None:
        self.client = client
        self.max_len = max_len

    def publish(self, channel: str, payload: bytes) -> Any:
        stream, fields = entry_fields(channel, payload)
        return self.client.xadd(stream, fields, maxlen=self.max_len, approximate=True)


async def _connected(backend: Backend, lock: asyncio.Lock, state: list[bool]) -> None:
    async with lock:
        if not state[0]:
            await backend.connect()
            state[0] = True


class AsyncBackendSink:
    """A backend that publishes an `AsyncEmitter`'s messages (connected on first use)."""

    def __init__(self, backend: Backend, owned: bool) -> None:
        self.backend = backend
        self._owned = owned
        self._state = [False]  # connected
        self._lock: asyncio.Lock | None = None  # made on the loop that first publishes

    async def publish(self, channel: str, payload: bytes) -> None:
        """Publish one message; BackendError while the backend is unreachable."""
        if not self._state[0]:
            if self._lock is None:
                self._lock = asyncio.Lock()
            await _connected(self.backend, self._lock, self._state)
        await self.backend.publish([(channel, payload)])

    async def aclose(self) -> None:
        """Close the backend if the emitter built it (a ready backend is the caller's)."""
        if self._owned:
            await self.backend.close()


class BackendSink:
    """A backend that publishes an `Emitter`'s messages, run on a loop thread of its own.

    The backend lives on that loop, so ``close`` closes it, even a ready one the caller gave
    (which must not have been connected on another loop)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._async = AsyncBackendSink(backend, owned=True)
        # Under gevent/eventlet the "thread" is a greenlet whose running loop stays its own.
        self._loop = LoopThread("sioadapter-emitter", green=patched())

    def publish(self, channel: str, payload: bytes) -> None:
        """Publish one message and return once the backend took it."""
        self._loop.wait(self._async.publish(channel, payload))

    def close(self) -> None:
        """Close the backend and stop the loop thread. Idempotent."""
        if not self._loop.alive:
            return
        self._loop.wait(self._async.aclose())
        self._loop.stop()
