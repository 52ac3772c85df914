"""The monitor's PostgreSQL side: LISTEN on a cluster's channels, attachments read.

:class:`PgListener` holds a `sioadapter.backends.postgres.PostgresBackend` of its own and uses
only its receiving half: the LISTEN connection (``LISTEN "key#nsp"``, restored after a lost
connection), and the swap of each attachment header for its row of the attachments table, in
order (`sioadapter.backends._pg_attach`), so that the monitor decodes binary and large
messages as the nodes do. It publishes nothing, so the nodes, which count servers by
heartbeat on PostgreSQL, never count it; it never creates the attachments table
(``create_table=False``). :meth:`PgListener.subscribe` returns once the LISTENs are active.

Errors the backend recovers from (a lost LISTEN connection, an attachment row it could not
read) are printed on stderr as ``monitor: warning: ...``: the backend's messages hold no
password.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Collection

import click

from ..backends import backend_from_url
from ..backends.base import Backend, Message
from ._common import CliError

__all__ = ["PgListener"]


class PgListener:
    """A PostgreSQL backend used to receive only, feeding ``(channel, payload)`` in order."""

    def __init__(self, url: str) -> None:
        try:
            self.backend: Backend = backend_from_url(url, create_table=False)
        except ImportError as error:  # no [postgres] extra: its message says what to install
            raise CliError(str(error)) from None
        self.backend.set_error_handler(_warn)
        self._batches: AsyncIterator[list[Message]] | None = None
        self._ready: collections.deque[Message] = collections.deque()

    @property
    def payload_threshold(self) -> int:
        """The backend's threshold: the family decodes with the same one."""
        threshold: int = getattr(self.backend, "payload_threshold", 8000)
        return threshold

    async def connect(self) -> None:
        """Reach the server: a bad URL or a server that refuses fails here, clearly."""
        await self.backend.connect()

    async def subscribe(self, channels: Collection[str]) -> None:
        """LISTEN on ``channels``; returns once PostgreSQL has them."""
        await self.backend.subscribe(channels)

    async def next(self) -> tuple[str, bytes]:
        """The next message (an attachment header already replaced by its row)."""
        while not self._ready:
            if self._batches is None:
                self._batches = aiter(self.backend.message_batches())
            try:
                self._ready.extend(await anext(self._batches))
            except StopAsyncIteration:
                raise CliError("the PostgreSQL backend closed") from None
        return self._ready.popleft()

    async def close(self) -> None:
        """Close the backend's connections."""
        await self.backend.close()


def _warn(error: BaseException, context: str) -> None:
    click.echo(f"monitor: warning: {context}: {error}", err=True)
