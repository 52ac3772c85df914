"""The PostgreSQL backend: LISTEN/NOTIFY through psycopg 3 (extra ``[postgres]``), on the wire
of Node's ``@socket.io/postgres-adapter`` 0.5 and ``@socket.io/postgres-emitter``.

URLs: ``postgresql://user:password@host:5432/dbname`` and ``postgres://...``, any form libpq
reads (`sioadapter.backends._pg_url`). Or a ready ``psycopg.AsyncConnection`` in autocommit
mode as ``client=``: it publishes and is the caller's to close; the backend opens its LISTEN
connection with the same parameters.

Two connections of the backend's own: one LISTENs (``LISTEN "key#nsp"``, one channel per
namespace), opened by the first subscription, so an emitter never opens it; the other
publishes (``SELECT pg_notify(channel, payload)``, a batch pipelined in one round trip,
consecutive messages in one transaction, a new one begun before a message identical to one
already in it, which PostgreSQL would fold: `sioadapter.backends._pg_publish`), reads
attachments and cleans up. The manager speaks the ``"postgres"`` dialect here
(`sioadapter.wire.postgres`, ``capabilities.wire``) and counts nodes by heartbeat.

Attachments: a payload that is not JSON (the family's msgpack for binary or big messages), or
that is ``payload_threshold`` bytes or more, goes into the attachments table (``INSERT ...
RETURNING id``) and the NOTIFY carries ``{"uid":...,"type":...,"attachmentId":"<id>"}``, in
the same statement and so the same transaction: a receiver that hears the header finds the
row. A receiving backend swaps each header for its row's bytes (``SELECT payload ... WHERE id
= ...``), keeping the order of everything received; a header whose row is gone is passed on
as it is, and the manager drops and counts it as malformed. Every ``cleanup_interval`` the
backend deletes rows older than that, as Node's adapter does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

try:
    import psycopg
    import psycopg.errors
    from psycopg.conninfo import conninfo_to_dict
except ImportError as error:  # pragma: no cover (the [postgres] extra is installed in the tests)
    raise ImportError(
        "the PostgreSQL backend needs psycopg 3: pip install 'sioadapter[postgres]'"
    ) from error

from .._redact import MIN_SCRUBBED, REDACTED, redact_url, scrub
from ..errors import BackendError, SioAdapterError
from ..wire.postgres import MAX_PAYLOAD_THRESHOLD
from ._pg_attach import Attachments, header_prefix
from ._pg_listen import Listener
from ._pg_private import end_transaction
from ._pg_publish import plan
from ._pg_url import DEFAULT_TABLE, SCHEMES, check_options, check_table_name, parse_pg_url
from .base import Backend, Capabilities, Message, queued_batches

__all__ = ["PostgresBackend", "PostgresRefusedError"]

# TCP keepalives on the backend's own connections, unless the URL sets them: a LISTEN
# connection cut by the network is noticed within about 20 s instead of hours.
_IDLE = psycopg.pq.TransactionStatus.IDLE
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
               "keepalives_count": 3}  # fmt: skip


class PostgresRefusedError(SioAdapterError, RuntimeError):
    """The server refused a batch of messages for good (the attachments table is missing, the
    role may not write it ...), not an outage to wait out: a manager drops the batch, counts it
    in ``stats.publish_failed`` and reports it; an emitter raises it. The messages that share
    the refused one's transaction are not sent (PostgreSQL rolls it back); those of the batch's
    earlier transactions may have gone out, and those of later ones too."""


def _describe(conninfo: str, given: dict[str, Any], client: Any) -> str:
    """How to name the server in errors and logs: never a password."""
    if client is not None:
        return f"postgresql {client.info.host}:{client.info.port}/{client.info.dbname}"
    if "://" in conninfo:
        return f"postgresql {redact_url(conninfo)}"
    shown = " ".join(f"{k}={v}" for k, v in given.items() if k != "password")
    return f"postgresql {shown or 'libpq defaults'}"


class PostgresBackend(Backend):
    """PostgreSQL LISTEN/NOTIFY for the cluster. See the module docstring.

    Args:
        conninfo: a ``postgresql://`` URL or libpq ``key=value`` string without the backend's
            own options ("": libpq's defaults and ``PG*`` environment variables).
        client: a ready ``psycopg.AsyncConnection`` in autocommit mode, to publish on
            (not closed by ``close()``).
        table_name: the attachments table (Node's ``tableName``), ``name`` or ``schema.name``.
        payload_threshold: NOTIFY payloads of this many bytes or more go through the table
            (Node's ``payloadThreshold``; 8000 at most, PostgreSQL's limit, and by default).
        cleanup_interval: seconds between deletions of the rows older than this (Node's
            ``cleanupInterval``).
        create_table: create the table if it is missing (Node leaves that to the operator).
        connect_timeout: seconds to wait for a connection.
        timeout: seconds a probe waits for the server's answer.
        attachment_timeout: seconds a received attachment header waits for its row (the
            ``SELECT``, and the publishing connection it shares); past that the message is
            dropped, reported as a `sioadapter.errors.ReceivedMessageLostError` (a manager
            counts it in ``stats.dropped_unreadable``) and the messages behind it flow on. A
            table locked by another connection (``LOCK TABLE ... ACCESS EXCLUSIVE``, a
            ``VACUUM FULL``) would otherwise stall everything this node receives.
        connect_options: more keyword arguments for ``psycopg.AsyncConnection.connect``.
        description: how to name the server in errors and logs (never a password).
    """

    schemes = SCHEMES
    capabilities = Capabilities(
        patterns=False, sharded=False, counts_subscribers=False, wire="postgres"
    )

    def __init__(
        self,
        conninfo: str = "",
        *,
        client: Any = None,
        table_name: str = DEFAULT_TABLE,
        payload_threshold: int = MAX_PAYLOAD_THRESHOLD,
        cleanup_interval: float = 30.0,
        create_table: bool = True,
        connect_timeout: float = 5.0,
        timeout: float = 5.0,
        attachment_timeout: float = 5.0,
        connect_options: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__()
        check_options(
            payload_threshold, cleanup_interval, connect_timeout, timeout, attachment_timeout
        )
        self.table_name = check_table_name(table_name)
        if client is not None:
            if conninfo or connect_options:
                raise ValueError(
                    "connection options apply to a URL; configure a ready client yourself"
                )
            if not isinstance(client, psycopg.AsyncConnection):
                raise TypeError(
                    f"client must be a psycopg.AsyncConnection, not {type(client).__name__}"
                )
            if not client.autocommit:
                raise ValueError(
                    "the psycopg connection given as client= must be in autocommit mode "
                    "(pg_notify in an open transaction is sent only at its COMMIT)"
                )
        self._conninfo = conninfo
        given = conninfo_to_dict(conninfo) if client is None else {}
        passwords = [given.get("password"), (connect_options or {}).get("password")]
        if client is not None:
            passwords.append(client.info.password)
        self._secrets = [str(p) for p in passwords if p]
        self.payload_threshold = payload_threshold
        self.cleanup_interval = float(cleanup_interval)
        self.create_table = bool(create_table)
        self._connect_timeout = float(connect_timeout)
        self._timeout = float(timeout)
        self.attachment_timeout = float(attachment_timeout)
        self._connect_options = dict(connect_options or {})
        self._owns_client = client is None
        self.description = description or _describe(conninfo, given, client)
        self.pub_client: Any = client
        self._fresh()

    def _fresh(self) -> None:
        """The state made on first use (again in a forked child)."""
        self._queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
        self._attachments = Attachments(self.table_name, self._fetch_row, self._deliver,
                                        self.report_error, self.description)  # fmt: skip
        self.listener = Listener(self._open, self._attachments.take, self.report_error,
                                 self._safe, self.description)  # fmt: skip
        # One user of the publishing connection at a time: psycopg would run another task's
        # statement inside a pipeline under way.
        self._pub_lock = asyncio.Lock()
        self._cleaner: asyncio.Task[None] | None = None
        self.transactions = 0  # committed by publish, for tests: messages share them
        self._connected = False
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresBackend:
        """Build from a ``postgresql://`` or ``postgres://`` URL; ``options`` override the
        URL's query options."""
        spec = parse_pg_url(url)
        merged: dict[str, Any] = {**spec.options, **options}
        merged.setdefault("description", spec.redacted())
        return cls(spec.conninfo, **merged)

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.description}>"

    @property
    def sub_client(self) -> Any:
        """The LISTEN connection (None until the first subscription)."""
        return self.listener.conn

    def after_fork(self) -> None:
        """In a forked child, before first use: nothing of the parent's is reused."""
        self._fresh()

    def _safe(self, error: BaseException) -> str:
        """``error`` as text with no password in it."""
        text = f"{type(error).__name__}: {error}".strip() if str(error) else type(error).__name__
        text = scrub(text, self._conninfo if "://" in self._conninfo else None)
        for secret in self._secrets:
            if len(secret) >= MIN_SCRUBBED:
                text = text.replace(secret, REDACTED)
        return text

    # -- connections ----------------------------------------------------------------------

    async def _open(self) -> Any:
        """A new autocommit connection of the backend's own. BackendError if unreachable."""
        options: dict[str, Any] = {}
        if self._owns_client:
            conninfo = self._conninfo
            given = conninfo_to_dict(conninfo)
        else:  # the LISTEN connection next to a ready client: the client's parameters
            info = self.pub_client.info
            conninfo, given = "", info.get_parameters()
            options.update(given)
            if info.password:
                options["password"] = info.password
        options.update({k: v for k, v in _KEEPALIVES.items() if k not in given})
        options.update(self._connect_options)
        try:
            return await asyncio.wait_for(
                psycopg.AsyncConnection.connect(conninfo, autocommit=True, **options),
                self._connect_timeout,
            )
        except (psycopg.Error, OSError, asyncio.TimeoutError) as error:
            if isinstance(error, asyncio.TimeoutError):
                reason = f"no answer within {self._connect_timeout:g} s"
            else:
                reason = self._safe(error)
            raise BackendError(f"cannot reach PostgreSQL ({self.description}): {reason}") from None

    async def _publisher(self) -> Any:
        """The publishing connection, opened again if it broke (ours only). Call it holding
        ``_pub_lock``."""
        if self._closed:
            raise BackendError("the PostgreSQL backend is closed")
        if not self._connected:
            raise BackendError(f"not connected to PostgreSQL ({self.description})")
        conn = self.pub_client
        if not conn.closed and not conn.broken:
            return conn
        if not self._owns_client:
            raise BackendError(f"the psycopg connection given is closed ({self.description})")
        self.pub_client = await self._open()
        return self.pub_client

    async def connect(self) -> None:
        if self._closed:
            raise BackendError("the PostgreSQL backend is closed")
        if self._connected:
            return
        conn = self.pub_client if not self._owns_client else await self._open()
        try:
            if self.create_table:
                await self._attachments.ensure_table(conn)
        except psycopg.Error as error:
            if self._owns_client:
                await conn.close()
            raise BackendError(
                f"cannot create the attachments table {self.table_name!r} "
                f"({self.description}): {self._safe(error)}"
            ) from None
        self.pub_client = conn
        self._connected = True
        self._cleaner = asyncio.ensure_future(self._clean_up())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        cleaner, self._cleaner = self._cleaner, None
        if cleaner is not None:
            cleaner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cleaner
        await self.listener.close()
        await self._attachments.close()
        if self._owns_client and self.pub_client is not None:
            # After a publish under way (bounded: a dead server fails it within the timeout).
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._pub_lock.acquire(), self._timeout)
            with contextlib.suppress(Exception):  # closing whatever state it is in
                await self.pub_client.close()
        self._queue.put_nowait(None)

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, messages: Sequence[Message]) -> None:
        transactions = plan(messages, self.payload_threshold, self._attachment)
        async with self._pub_lock:
            conn = await self._publisher()
            try:
                async with conn.pipeline() as pipeline:
                    cursor = conn.cursor()
                    for index, runs in enumerate(transactions):
                        if index:  # the pipeline's end commits the last one
                            await end_transaction(pipeline)
                        for sql, rows in runs:
                            await cursor.executemany(sql, rows)
            except psycopg.Error as error:
                # PipelineAborted follows a refusal: the connection is fine.
                outage = isinstance(error, psycopg.OperationalError) and not isinstance(
                    error, psycopg.errors.PipelineAborted
                )
                if conn.broken or conn.closed or outage:
                    raise BackendError(
                        f"publishing to PostgreSQL failed: {self._safe(error)}"
                    ) from None
                raise PostgresRefusedError(
                    f"PostgreSQL refused {len(messages)} message(s): {self._safe(error)}"
                ) from None
            self.transactions += len(transactions)

    def _attachment(self, channel: str, payload: bytes) -> tuple[str, tuple[Any, ...]]:
        """The statement that stores ``payload`` in the table and NOTIFYs its header."""
        prefix, uid = header_prefix(payload)
        self._attachments.sent_by(uid)
        return self._attachments.insert_sql, (payload, channel, prefix)

    # -- receiving ------------------------------------------------------------------------

    def _deliver(self, batch: list[Message]) -> None:
        self._queue.put_nowait(batch)

    async def _fetch_row(self, attachment_id: int) -> bytes | None:
        """The row's payload (None: no such row), within ``attachment_timeout``;
        BackendError otherwise."""
        try:
            return await asyncio.wait_for(self._select_row(attachment_id), self.attachment_timeout)
        except asyncio.TimeoutError:
            raise BackendError(
                f"the row was not read within {self.attachment_timeout:g} s "
                f"(attachment_timeout; is table {self.table_name} locked?)"
            ) from None

    async def _select_row(self, attachment_id: int) -> bytes | None:
        async with self._pub_lock:
            conn = await self._publisher()
            try:
                cursor = await conn.execute(self._attachments.select_sql, (attachment_id,))
                row = await cursor.fetchone()
            except psycopg.Error as error:
                raise BackendError(f"reading an attachment failed: {self._safe(error)}") from None
            except asyncio.CancelledError:
                # Timed out: psycopg cancels the statement on the server; a connection still
                # busy after that is of no use (ours: closed, and opened again on next use).
                if self._owns_client and conn.pgconn.transaction_status != _IDLE:
                    with contextlib.suppress(Exception):
                        await conn.close()
                raise
        return None if row is None else bytes(row[0])

    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        if patterns:
            raise BackendError("the PostgreSQL backend has no pattern subscriptions")
        if self._closed:
            raise BackendError("the PostgreSQL backend is closed")
        if not self._connected:
            raise BackendError(f"not connected to PostgreSQL ({self.description})")
        await self.listener.listen(channels)

    async def unsubscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        await self.listener.unlisten(channels)

    def message_batches(self) -> AsyncIterator[list[Message]]:
        return queued_batches(self._queue)

    async def probe(self) -> None:
        async with self._pub_lock:
            conn = await self._publisher()
            try:
                await asyncio.wait_for(conn.execute("SELECT 1"), self._timeout)
            except (psycopg.Error, asyncio.TimeoutError) as error:
                raise BackendError(f"PostgreSQL does not answer: {self._safe(error)}") from None

    @property
    def receiving(self) -> bool:
        return not self.listener.restoring

    async def wait_receiving(self) -> None:
        await self.listener.restored.wait()

    def tasks_alive(self) -> bool:
        cleaner = self._cleaner
        return (
            (cleaner is None or not cleaner.done())
            and self.listener.alive()
            and self._attachments.alive()
        )

    # -- cleanup --------------------------------------------------------------------------

    async def _clean_up(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.cleanup_interval)
            try:
                async with self._pub_lock:
                    conn = await self._publisher()
                    await conn.execute(self._attachments.cleanup_sql(self.cleanup_interval))
                failing = False
            except (BackendError, psycopg.Error) as error:
                if not failing:  # once until it works again
                    failing = True
                    self.report_error(
                        BackendError(f"cleaning up attachments failed: {self._safe(error)}"),
                        f"PostgreSQL attachments table {self.table_name} ({self.description})",
                    )
