"""The PostgreSQL backend's LISTEN connection: one per backend, restored after a loss.

psycopg's ``notifies()`` holds the connection's lock while it waits, so no command can run on
the connection meanwhile. A LISTEN or UNLISTEN therefore stops the reading task (a
cancellation, which lands only where the task waits for the socket: no notification is half
read), runs, and starts a new reading task; notifications that arrive during the command go to
psycopg's backlog, and the new reading task yields them first, so the order holds.

When the connection dies (``pg_terminate_backend``, a server restart, a network failure the TCP
keepalives notice), the reading task fails; `Listener` reports it once, marks itself
``restoring``, and reconnects with backoff (50 ms doubling to 5 s), running ``LISTEN`` for every
channel before it reads again. Notifications sent while it was away are lost: PostgreSQL keeps
none for a connection that is not listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from ..errors import BackendError
from .base import logger

__all__ = ["Listener", "listen_sql"]

_FIRST_DELAY = 0.05
_MAX_DELAY = 5.0


def listen_sql(command: str, channel: str) -> str:
    """``LISTEN "channel"`` (or UNLISTEN), quoted as Node's adapter quotes it: case and any
    character are kept."""
    return f'{command} "{channel.replace(chr(34), chr(34) * 2)}"'


class Listener:
    """The LISTEN connection of one backend.

    Args:
        open_connection: opens an autocommit connection (BackendError when it cannot).
        on_notify: called with ``(channel, payload)`` for each notification, in order, from the
            reading task.
        report: ``report(error, context)``, the backend's ``report_error``.
        safe: turns an exception into text without secrets.
        description: how to name the server in errors and logs.
    """

    def __init__(
        self,
        open_connection: Callable[[], Awaitable[Any]],
        on_notify: Callable[[str, str], None],
        report: Callable[[BaseException, str], None],
        safe: Callable[[BaseException], str],
        description: str,
    ) -> None:
        self._open = open_connection
        self._on_notify = on_notify
        self._report = report
        self._safe = safe
        self._description = description
        self.channels: dict[str, None] = {}  # wanted, in subscription order
        self.conn: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._restorer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one command (or restoration) at a time
        self.restored = asyncio.Event()
        self.restored.set()
        self.restorations = 0  # completed, for tests and logs
        self._closed = False

    @property
    def restoring(self) -> bool:
        """True from a lost connection until every channel is listened to again."""
        return not self.restored.is_set()

    def alive(self) -> bool:
        """False if the reading task died without a restoration under way."""
        if self._closed or self.conn is None or self.restoring or self._lock.locked():
            return True  # nothing to read yet, or a command is under way (no reader meanwhile)
        return self._reader is not None and not self._reader.done()

    # -- commands -------------------------------------------------------------------------

    async def listen(self, channels: Collection[str]) -> None:
        """LISTEN every channel of ``channels`` not yet listened to; returns once they are
        active. BackendError when the server cannot be reached (the channels stay wanted: a
        restoration listens to them)."""
        new = [channel for channel in channels if channel not in self.channels]
        self.channels.update(dict.fromkeys(new))
        async with self._lock:
            if self._closed:
                raise BackendError("the PostgreSQL backend is closed")
            if self.restoring:
                raise BackendError(f"reconnecting to PostgreSQL ({self._description})")
            if self.conn is None:  # the first subscription opens the connection
                conn = await self._open()
                await self._run(conn, [listen_sql("LISTEN", c) for c in self.channels], False)
                self.conn = conn
                self._start_reader(conn)
            elif new:
                await self._run(self.conn, [listen_sql("LISTEN", c) for c in new], True)

    async def unlisten(self, channels: Collection[str]) -> None:
        """UNLISTEN ``channels`` (unknown ones are ignored)."""
        gone = [channel for channel in channels if channel in self.channels]
        for channel in gone:
            del self.channels[channel]
        async with self._lock:
            if gone and self.conn is not None and not self.restoring and not self._closed:
                await self._run(self.conn, [listen_sql("UNLISTEN", c) for c in gone], True)

    async def _run(self, conn: Any, statements: list[str], reading: bool) -> None:
        if reading:
            await self._stop_reader()
        try:
            for statement in statements:
                await conn.execute(statement)
        except Exception as error:
            if conn is self.conn:
                self._lost(conn, error)
            else:
                with contextlib.suppress(Exception):
                    await conn.close()
            raise BackendError(
                f"LISTEN on PostgreSQL failed ({self._description}): {self._safe(error)}"
            ) from None
        if reading and not self.restoring:
            self._start_reader(conn)

    # -- reading --------------------------------------------------------------------------

    def _start_reader(self, conn: Any) -> None:
        self._reader = asyncio.ensure_future(self._read(conn))

    async def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, conn: Any) -> None:
        on_notify = self._on_notify
        try:
            async for notify in conn.notifies():
                on_notify(notify.channel, notify.payload)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._lost(conn, error)
            return
        self._lost(conn, BackendError("the notifications ended"))  # pragma: no cover

    # -- losing and restoring -------------------------------------------------------------

    def _lost(self, conn: Any, error: BaseException) -> None:
        if self._closed or conn is not self.conn:
            return
        self.conn = None
        self.restored.clear()
        self._report(
            BackendError(
                f"the LISTEN connection was lost ({self._safe(error)}); reconnecting, "
                "notifications sent meanwhile are lost"
            ),
            f"PostgreSQL LISTEN connection ({self._description})",
        )
        self._restorer = asyncio.ensure_future(self._restore(conn))

    async def _restore(self, dead: Any) -> None:
        await _quietly_closed(dead)
        delay = _FIRST_DELAY
        failures = 0
        while not self._closed:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            try:
                async with self._lock:
                    if self._closed:
                        return
                    conn = await self._open()
                    await self._run(conn, [listen_sql("LISTEN", c) for c in self.channels], False)
                    self.conn = conn
                    self._start_reader(conn)
                    self.restorations += 1
                    self.restored.set()
                logger.warning(
                    "PostgreSQL LISTEN connection restored (%s), %d channel(s)",
                    self._description,
                    len(self.channels),
                )
                return
            except BackendError as error:
                failures += 1
                if failures == 1:  # once per outage; the manager sees the rest as one outage
                    self._report(error, f"PostgreSQL LISTEN connection ({self._description})")
                delay = min(delay * 2, _MAX_DELAY)

    async def close(self) -> None:
        """Stop reading and restoring, close the connection. Idempotent."""
        self._closed = True
        restorer, self._restorer = self._restorer, None
        if restorer is not None and not restorer.done():
            restorer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await restorer
        await self._stop_reader()
        conn, self.conn = self.conn, None
        if conn is not None:
            await _quietly_closed(conn)
        self.restored.set()


async def _quietly_closed(conn: Any) -> None:
    with contextlib.suppress(Exception):  # closing whatever state it is in
        await conn.close()
