"""Publishing on one dedicated connection, without waiting for each reply.

redis-py's pipeline writes a batch, then waits for every reply before the next batch can go: one
round trip per batch, and per-reply bookkeeping (a timeout context each). Here a batch is
written as soon as it is handed over, and a separate task reads the replies (integers: how many
subscribers got each message; entry ids for the streams backend's XADDs) as they come back.
Order is kept: one connection, written in order. A reply that is an error is reported; a
connection that fails, or whose replies stop coming for ``socket_timeout`` seconds, is dropped,
and the next batch opens a new one (asking the sentinels again, for a Sentinel client).

Writes go to the connection's stream directly, draining only when the socket's send buffer is
full, so a quiet publish costs no extra task; without those redis-py internals (another version)
(or fakeredis's fake connections) it falls back to ``send_packed_command``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
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
        accepted: called with how many messages Redis confirmed.
        lost: called with how many written messages were never confirmed, and why.
    """

    def __init__(
        self,
        client: Any,
        command: str,
        report: Report,
        accepted: Callable[[int], None],
        lost: Callable[[int, str, bool], None],
    ) -> None:
        self.client = client
        self.command = command
        self._report = report
        self._accepted = accepted
        self._lost = lost
        self._connection: Any = None
        self._pending = 0  # messages written on the current connection, reply not read yet
        self._replies_due = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """True while a connection is open (a publish then only writes)."""
        return self._connection is not None

    @property
    def pending(self) -> int:
        """Messages written whose reply has not been read yet."""
        return self._pending

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Write every message, in order; returns once written (not once answered).

        Raises BackendError-worthy errors (the caller wraps them) only when nothing was
        written: the connection could not be opened, or Redis had closed it. Once the bytes
        are handed to the socket, a failure reports them lost instead.
        """
        await self.send([(self.command, channel, payload) for channel, payload in messages])

    async def send(self, commands: Sequence[tuple[Any, ...]]) -> None:
        """Write any commands as `publish` writes its PUBLISHes (the streams backend's XADDs):
        each reply that is not an error confirms one command."""
        connection = await self._open()
        if _closed_by_peer(connection):
            # Redis closed it while no reply was due (nobody reading to notice): a write now
            # would vanish without an error. Drop it and tell the caller: Redis went away, so
            # the other nodes may be resubscribing (the manager waits for them).
            await self._drop(connection, "Redis closed the publishing connection")
            raise ConnectionError("Redis closed the publishing connection")
        writer = getattr(connection, "_writer", None)
        chunks = connection.pack_commands(commands)
        # Due before written: replies may come back while the write drains.
        self._pending += len(commands)
        self._replies_due.set()
        try:
            if isinstance(writer, asyncio.StreamWriter):
                writer.writelines(chunks)
                if writer.transport.get_write_buffer_size() > _HIGH_WATER:
                    await writer.drain()
            else:  # fakeredis's connections, or another redis-py layout
                await connection.send_packed_command(chunks, check_health=False)
        except _TRANSIENT as error:
            await self._drop(connection, f"writing to Redis failed: {error}")

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
                self._settle(0, 1, f"refused by a read-only replica: {error}")
                await self._drop(connection, "the master was demoted")
                return
            except ResponseError as error:  # an error reply: that one message failed
                self._report(error, "publishing")
                self._settle(0, 1, f"refused by Redis: {error}")
            except _TRANSIENT as error:  # the connection failed, or replies stopped coming
                self._report(error, "reading publish replies")
                await self._drop(connection, f"the publishing connection failed: {error}")
                return
            else:
                refused = [0]
                confirmed = 1 + self._skip_buffered(connection, refused)
                self._settle(confirmed - refused[0], refused[0], "refused by Redis")

    def _settle(self, accepted: int, refused: int, reason: str) -> None:
        """``accepted + refused`` due replies came in."""
        self._pending -= accepted + refused
        if self._pending < 0:  # more replies than messages: a bug, never papered over
            logger.error("publisher reply accounting is off by %d", -self._pending)
            self._pending = 0
        if not self._pending:
            self._replies_due.clear()
        if accepted:
            self._accepted(accepted)
        if refused:
            self._lost(refused, reason, False)

    @staticmethod
    def _skip_buffered(connection: Any, refused: list[int]) -> int:
        """Count replies already buffered by hiredis, without a read each (they are replies,
        or errors: those are added to ``refused[0]``)."""
        reader = getattr(getattr(connection, "_parser", None), "_reader", None)
        gets = getattr(reader, "gets", None)
        if gets is None or NOT_ENOUGH_DATA is None:
            return 0
        count = 0
        while (item := gets()) is not NOT_ENOUGH_DATA and item is not False:
            count += 1
            if isinstance(item, BaseException):
                refused[0] += 1
                logger.warning("publish failed: %s", item)
        return count

    async def _drop(self, connection: Any, reason: str) -> None:
        """Forget a failed connection, reporting what it still owed; the next publish opens
        another."""
        if self._connection is connection:
            self._connection = None
            self._replies_due.clear()
            owed, self._pending = self._pending, 0
            self._lost(owed, reason, True)
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
