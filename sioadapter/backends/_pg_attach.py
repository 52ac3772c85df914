"""The attachments table of Node's ``@socket.io/postgres-adapter``: what goes in, what comes
out, and the order of everything received around it.

A header ``{"uid":...,"type":...,"attachmentId":"<id>"}`` stands for the row ``<id>``, whose
payload is the message (msgpack). `Attachments.take` gets every notification from the
LISTEN connection's reading task: while no header waits for its row, a notification is handed
on at once; from a header on, notifications queue behind it and a task of their own reads the
rows in order, so that a node sees one node's messages in publish order. A header naming a uid
this backend published attachments for is dropped unread (the manager ignores its own messages
anyway; Node's adapter means to skip them too, but checks a field the header lacks).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack

from ..errors import BackendError, ReceivedMessageLostError

__all__ = ["Attachments", "header_prefix", "parse_header"]

Message = tuple[str, bytes]
_HEADER_MAX = 512  # longer notifications are never headers (a uid of 16 hex digits is usual)


def header_prefix(payload: bytes) -> tuple[str, str | None]:
    """The NOTIFY text before the row's id, for a payload that goes to the table:
    ``{"uid":"<uid>","type":<type>,"attachmentId":"`` as ``JSON.stringify`` writes it.

    Returns the prefix and the message's uid. The uid and type come from the message (a
    msgpack map, or JSON signed past the threshold); they are null for bytes that are neither
    (a backend carries any bytes: the receivers drop what they cannot decode).
    """
    fields: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # whatever the bytes are
        if payload[:1] == b"{":
            value = json.loads(payload)
            if isinstance(value, dict):
                fields = value
        else:
            unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
            unpacker.feed(payload)
            for _ in range(unpacker.read_map_header()):
                key = unpacker.unpack()
                if key in ("type", "uid"):
                    fields[key] = unpacker.unpack()
                    if len(fields) == 2:
                        break
                else:
                    unpacker.skip()
    if not isinstance(fields.get("uid"), (str, type(None))):
        fields["uid"] = None
    if not isinstance(fields.get("type"), int) or isinstance(fields.get("type"), bool):
        fields["type"] = None
    uid = json.dumps(fields.get("uid"), ensure_ascii=False)
    type_ = json.dumps(fields.get("type"))
    return f'{{"uid":{uid},"type":{type_},"attachmentId":"', fields.get("uid")


def parse_header(payload: str) -> tuple[str, Any] | None:
    """(attachment id, uid) of a header notification, or None for any other notification."""
    if len(payload) > _HEADER_MAX or '"attachmentId"' not in payload:
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(value, dict) or "attachmentId" not in value:
        return None
    return str(value["attachmentId"]), value.get("uid")


class Attachments:
    """The table's SQL, and the in-order resolution of received headers.

    Args:
        table: the table name (checked: a plain SQL name or ``schema.name``).
        fetch: ``await fetch(id)``: the row's payload, None if there is no such row;
            BackendError when it cannot be read (bounded in time: the rows behind it wait), and
            the message is then dropped and reported as a ``ReceivedMessageLostError``.
        deliver: takes a batch of received ``(channel, payload)`` in order.
        report: the backend's ``report_error``.
        description: how to name the server in errors.
    """

    def __init__(
        self,
        table: str,
        fetch: Callable[[int], Awaitable[bytes | None]],
        deliver: Callable[[list[Message]], None],
        report: Callable[[BaseException, str], None],
        description: str,
    ) -> None:
        self.table = table
        self._fetch = fetch
        self._deliver = deliver
        self._report = report
        self._description = description
        self.insert_sql = (
            f"WITH a AS (INSERT INTO {table} (payload) VALUES (%s) RETURNING id) "
            "SELECT pg_notify(%s, %s || a.id::text || '\"}') FROM a"
        )
        self.select_sql = f"SELECT payload FROM {table} WHERE id = %s"
        self._own: set[str] = set()  # uids this backend sent attachments for
        self._pending: collections.deque[tuple[str, str, str | None]] = collections.deque()
        self._wake = asyncio.Event()
        self._resolver: asyncio.Task[None] | None = None
        self.fetched = 0  # rows read, for tests

    async def ensure_table(self, conn: Any) -> None:
        """Create the table with Node's DDL if it does not exist (no CREATE needed if it
        does). Two nodes creating it at once is fine."""
        cursor = await conn.execute("SELECT to_regclass(%s)", (self.table,))
        row = await cursor.fetchone()
        if row is not None and row[0] is not None:
            return
        import psycopg.errors

        with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            # The race of two CREATE TABLE IF NOT EXISTS shows as a unique violation.
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)"
            )

    def cleanup_sql(self, interval: float) -> str:
        """Node's cleanup: the rows older than ``interval`` seconds go."""
        milliseconds = max(1, round(interval * 1000))
        return (
            f"DELETE FROM {self.table} "
            f"WHERE created_at < now() - interval '{milliseconds} milliseconds'"
        )

    def sent_by(self, uid: str | None) -> None:
        """This backend sends attachments for ``uid``: their headers need no reading (before
        the INSERT, so that no header of ours can come first)."""
        if uid is not None:
            self._own.add(uid)

    # -- receiving ------------------------------------------------------------------------

    def take(self, channel: str, payload: str) -> None:
        """One notification, from the reading task (never blocks)."""
        header = parse_header(payload)
        attachment_id = None
        if header is not None:
            attachment_id, uid = header
            if uid in self._own:
                return
        if attachment_id is None and not self._pending:
            self._deliver([(channel, payload.encode("utf-8"))])
            return
        self._pending.append((channel, payload, attachment_id))
        if self._resolver is None:
            self._resolver = asyncio.ensure_future(self._resolve())
        self._wake.set()

    async def _resolve(self) -> None:
        pending = self._pending
        while True:
            await self._wake.wait()
            self._wake.clear()
            while pending:
                channel, payload, attachment_id = pending[0]
                batch: list[Message] = []
                if attachment_id is not None:
                    row = await self._row(attachment_id, payload)
                    if row is not None:
                        batch.append((channel, row))
                else:
                    batch.append((channel, payload.encode("utf-8")))
                pending.popleft()
                # What follows the header and is no header goes along.
                while pending and pending[0][2] is None:
                    item = pending.popleft()
                    batch.append((item[0], item[1].encode("utf-8")))
                if batch:
                    self._deliver(batch)

    async def _row(self, attachment_id: str, payload: str) -> bytes | None:
        """The row's payload; the header itself when there is no such row (the manager counts
        it as malformed); None when it could not be read (reported as lost)."""
        header = payload.encode("utf-8")
        if not attachment_id.isdigit() or len(attachment_id) > 19:
            return header
        try:
            row = await self._fetch(int(attachment_id))
        except BackendError as error:
            lost = ReceivedMessageLostError(f"a received message was dropped: {error}")
            self._report(lost, f"PostgreSQL attachment {attachment_id} ({self._description})")
            return None
        self.fetched += 1
        return header if row is None else row

    def alive(self) -> bool:
        """False if the resolving task died."""
        return self._resolver is None or not self._resolver.done()

    async def close(self) -> None:
        """Stop resolving; what is pending is dropped."""
        resolver, self._resolver = self._resolver, None
        if resolver is not None:
            resolver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resolver
        self._pending.clear()
