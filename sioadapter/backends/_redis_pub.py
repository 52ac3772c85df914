"""Publishing on one dedicated connection, without waiting for each reply.

redis-py's pipeline writes a batch, then waits for every reply before the next batch can go:
one round trip per batch, and per-reply bookkeeping (a timeout context each). Here a batch is
written as soon as it is handed over, and a separate task reads the replies (integers: how many
subscribers got each message) as they come back. Order is kept: one connection, written in
order. A reply that is an error is reported; a connection that fails, or whose replies stop
coming for ``socket_timeout`` seconds, is dropped, and the next batch opens a new one (asking
the sentinels again, for a Sentinel client).

Writes go to the connection's stream directly, draining only when the socket's send buffer is
full, so a quiet publish costs no extra task; without those redis-py internals (another version)
(or fakeredis's fake connections) it falls back to ``send_packed_command``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ReadOnlyError, RedisError, ResponseError

from ._redis_sub import NOT_ENOUGH_DATA, Report, logger

_HIGH_WATER = 1 << 20  # bytes buffered in the transport before a write waits for the socket
_TRANSIENT = (RedisError, ConnectionError, OSError, asyncio.TimeoutError)


def _closed_by_peer(connection: Any) -> bool:
    """True when the connection's socket has seen the server close it (EOF, or a transport
    already closing)."""
    reader = getattr(connection, "_reader", None)
    writer = getattr(connection, "_writer", None)
    if isinstance(reader, asyncio.StreamReader) and reader.at_eof():
        return True
    return isinstance(writer, asyncio.StreamWriter) and writer.transport.is_closing()


class StreamPublisher:
    """PUBLISH (or SPUBLISH) on a connection of its own, replies read in the background.

    Args:
        client: a ``redis.asyncio.Redis`` (standalone, Sentinel ``master_for``, fakeredis).
        command: ``"PUBLISH"`` or ``"SPUBLISH"``.
        report: called with errors found in replies or while reading them.
    """

    def __init__(self, client: Any, command: str, report: Report) -> None:
        self.client = client
        self.command = command
        self._report = report
        self._connection: Any = None
        self._pending = 0
        self._replies_due = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """True while a connection is open (a publish then only writes)."""
        return self._connection is not None

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Write every message, in order; returns once written (not once answered)."""
        connection = await self._open()
        if _closed_by_peer(connection):
            # Redis closed it while no reply was due (nobody reading to notice): a write now
            # would vanish without an error. Open another.
            await self._drop(connection)
            connection = await self._open()
        writer = getattr(connection, "_writer", None)
        chunks = connection.pack_commands([(self.command, c, p) for c, p in messages])
        try:
            if isinstance(writer, asyncio.StreamWriter):
                writer.writelines(chunks)
                if writer.transport.get_write_buffer_size() > _HIGH_WATER:
                    await writer.drain()
            else:  # fakeredis's connections, or another redis-py layout
                await connection.send_packed_command(chunks, check_health=False)
        except _TRANSIENT:
            await self._drop(connection)
            raise
        self._pending += len(messages)
        self._replies_due.set()

    async def _open(self) -> Any:
        if self._connection is None:
            pool = self.client.connection_pool
            connection = await pool.get_connection()
            self._connection = connection
            self._pending = 0
            self._reader = asyncio.create_task(
                self._read_replies(connection), name="sioadapter-publisher-replies"
            )
        return self._connection

    async def _read_replies(self, connection: Any) -> None:
        while True:
            await self._replies_due.wait()
            try:
                await connection.read_response()
            except asyncio.CancelledError:
                raise
            except ReadOnlyError as error:
                # A demoted master (Sentinel failover): reconnect, asking the sentinels.
                self._report(error, "publishing")
                await self._drop(connection)
                return
            except ResponseError as error:  # an error reply: that one message failed
                self._report(error, "publishing")
            except _TRANSIENT as error:  # the connection failed, or replies stopped coming
                self._report(error, "reading publish replies")
                await self._drop(connection)
                return
            self._pending -= 1 + self._skip_buffered(connection)
            if self._pending <= 0:
                self._pending = 0
                self._replies_due.clear()

    @staticmethod
    def _skip_buffered(connection: Any) -> int:
        """Count replies already buffered by hiredis, without a read each (they are integers)."""
        reader = getattr(getattr(connection, "_parser", None), "_reader", None)
        gets = getattr(reader, "gets", None)
        if gets is None or NOT_ENOUGH_DATA is None:
            return 0
        count = 0
        while (item := gets()) is not NOT_ENOUGH_DATA and item is not False:
            count += 1
            if isinstance(item, BaseException):
                logger.warning("publish failed: %s", item)
        return count

    async def _drop(self, connection: Any) -> None:
        """Forget a failed connection; the next publish opens another."""
        if self._connection is connection:
            self._connection = None
            self._replies_due.clear()
            self._pending = 0
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        with contextlib.suppress(*_TRANSIENT):
            await connection.disconnect()
        with contextlib.suppress(*_TRANSIENT):
            await self.client.connection_pool.release(connection)

    async def close(self) -> None:
        """Stop reading replies and give the connection back."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(*_TRANSIENT):
                await self.client.connection_pool.release(connection)
