"""The NATS backend: core NATS publish/subscribe through nats-py (extra ``[nats]``).

URLs (the forms of the "NATS backend" page): ``nats://host:4222``, several servers
``nats://h1:4222,h2:4223``, ``tls://host:4222``, ``nats://user:password@host``,
``nats://token@host``. Or a ready, connected ``nats.aio.client.Client`` as ``client=``: it is
the caller's to close.

Each channel is one NATS subject (the mapping is in ``_nats_subjects``), so a node that
subscribes to no room channel of a room never receives that room's traffic. NATS cannot count
subscribers and has no pattern subscription the wire families could use: the manager uses the
ClusterAdapter protocol with heartbeats (``capabilities``).

Everything goes over one connection: publishing keeps its order, and received messages are
taken in the order the connection received them. nats-py reconnects by itself (to the other
servers of the URL, and to the cluster members the server announces) and subscribes again;
while it does, messages published here are buffered by nats-py (its ``pending_size``, 2 MiB by
default) and ``receiving`` is False. Disconnections and errors go to ``report_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

try:
    import nats
    import nats.errors
    from nats.aio.client import Client
except ImportError as error:  # pragma: no cover (the [nats] extra is installed in the tests)
    raise ImportError("the NATS backend needs nats-py: pip install 'sioadapter[nats]'") from error

from .._redact import REDACTED
from ..errors import BackendError, MessageTooLargeError
from ._nats_private import chain_callback, intercept_messages, send_publishes, subscription_id
from ._nats_subjects import channel_to_subject, pub_prefix
from ._nats_url import SCHEMES, parse_nats_url
from .base import Backend, Capabilities, Message, logger, queued_batches

__all__ = ["NatsBackend"]

_TRANSIENT = (nats.errors.Error, OSError, asyncio.TimeoutError)


class NatsBackend(Backend):
    """NATS pub/sub for the cluster. See the module docstring.

    Args:
        servers: ``nats://host:port`` / ``tls://host:port`` addresses, without credentials.
        client: a connected nats-py client to use instead (not closed by ``close()``).
        user: with ``password``, the user to authenticate as.
        password: the user's password.
        token: an authentication token.
        credentials: a ``.creds`` file (user JWT and NKey seed), nats-py's
            ``user_credentials``.
        nkeys_seed: an NKey seed file, nats-py's ``nkeys_seed``.
        tls: an ``ssl.SSLContext`` (``tls://`` URLs without one use the system's defaults).
        tls_hostname: the name to check the server's certificate against.
        name: the connection name the server shows (``connz``).
        connect_timeout: seconds to wait for each server when connecting.
        timeout: seconds a subscription or a probe waits for the server's answer.
        nats_options: more keyword arguments for nats-py's ``connect()``; they win.
        description: how to name the servers in errors and logs (never a credential).
    """

    schemes = SCHEMES
    capabilities = Capabilities(patterns=False, sharded=False, counts_subscribers=False)

    def __init__(
        self,
        servers: Sequence[str] = ("nats://localhost:4222",),
        *,
        client: Any = None,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        credentials: str | None = None,
        nkeys_seed: str | None = None,
        tls: Any = None,
        tls_hostname: str | None = None,
        name: str | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 2.0,
        nats_options: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__()
        if connect_timeout <= 0 or timeout <= 0:
            raise ValueError("connect_timeout and timeout must be positive")
        own = (user, password, token, credentials, nkeys_seed, tls, tls_hostname, nats_options)
        if client is not None and any(value is not None for value in own):
            raise ValueError("connection options apply to a URL; configure a ready client yourself")
        self._servers = list(servers)
        self._secrets = [s for s in (password, token) if s]
        self._connect_options: dict[str, Any] = {
            "servers": self._servers,
            "user": user,
            "password": password,
            "token": token,
            "user_credentials": credentials,
            "nkeys_seed": nkeys_seed,
            "tls": tls,
            "tls_hostname": tls_hostname,
            "name": name,
            "connect_timeout": connect_timeout,
            "max_reconnect_attempts": -1,  # an outage lasts as long as it lasts
            **(nats_options or {}),
        }
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self.description = description or f"nats {','.join(self._servers)}"
        self._owns_client = client is None
        self.pub_client: Any = client if client is not None else Client()
        self.sub_client: Any = self.pub_client
        self._prepared = False  # our hooks are on the client
        self._connected = False
        self._subs: dict[str, Any] = {}  # channel -> nats-py Subscription
        self._channels: dict[int, str] = {}  # sid -> channel
        self._queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
        # Messages nats-py's parser handed over since the loop last ran our hand-over: one
        # batch per chunk read from the socket, not a queue item (and a wake-up) per message.
        self._pending: list[Message] = []
        self._listening = asyncio.Event()
        self._reported_down = False
        self._last_error: BaseException | None = None  # of the connect() under way
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> NatsBackend:
        """Build from a ``nats://`` or ``tls://`` URL; ``options`` override the URL's."""
        spec = parse_nats_url(url)
        merged: dict[str, Any] = {**spec.options, **options}
        for key, value in (("user", spec.user), ("password", spec.password),
                           ("token", spec.token)):  # fmt: skip
            if value is not None:
                merged.setdefault(key, value)
        merged.setdefault("description", spec.redacted())
        return cls(spec.servers, **merged)

    def __repr__(self) -> str:
        return f"<NatsBackend {self.description}>"

    def after_fork(self) -> None:
        """In a forked child, before first use: a client of our own is made again (a ready
        client is the caller's, made for this process or not)."""
        if self._owns_client:
            self.pub_client = self.sub_client = Client()
            self._prepared = False
        self._queue = asyncio.Queue()
        self._pending = []
        self._listening = asyncio.Event()

    def _require_connected(self) -> Any:
        if self._closed:
            raise BackendError("the NATS backend is closed")
        if not self._connected:
            raise BackendError(f"not connected to NATS ({self.description})")
        return self.pub_client

    def _safe(self, error: BaseException) -> str:
        """``error`` as text with no password or token in it."""
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    # -- lifecycle ------------------------------------------------------------------------

    def _prepare(self, client: Any) -> None:
        if not self._prepared:
            intercept_messages(client, self._take)
            self._prepared = True

    async def connect(self) -> None:
        if self._closed:
            raise BackendError("the NATS backend is closed")
        if self._connected:
            return
        client = self.pub_client
        if not self._owns_client:
            if not client.is_connected:
                raise BackendError(f"the NATS client given is not connected ({self.description})")
            chain_callback(client, "error", self._on_error)
            chain_callback(client, "disconnected", self._on_disconnected)
            chain_callback(client, "reconnected", self._on_reconnected)
            self._prepare(client)
        else:
            if client.is_closed or client.is_connected:  # a failed or an earlier attempt
                client = self.pub_client = self.sub_client = Client()
                self._prepared = False
            self._prepare(client)
            # nats-py, told to reconnect forever, would also try forever to connect: the
            # manager wants an answer, and retries on its own schedule.
            limit = self._connect_timeout * len(self._servers) + 1.0
            self._last_error = None
            try:
                await asyncio.wait_for(
                    client.connect(
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                        **self._connect_options,
                    ),
                    limit,
                )
            except _TRANSIENT as error:
                with contextlib.suppress(Exception):  # cleaning up after a failed attempt
                    await client.close()
                # A refused login makes nats-py try again until the time is up: the last
                # error it reported says why, the timeout does not.
                cause = self._last_error or error
                raise BackendError(
                    f"cannot reach NATS ({self.description}): {self._safe(cause)}"
                ) from None
        self._connected = True
        self._listening.set()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        client = self.pub_client
        self._channels.clear()  # our message hook lets everything through from now on
        with contextlib.suppress(*_TRANSIENT):
            if not self._owns_client:
                for sub in self._subs.values():
                    await sub.unsubscribe()
            if client.is_connected:
                await client.flush(self._timeout)  # what was published goes out first
        self._subs.clear()
        if self._owns_client:
            with contextlib.suppress(Exception):  # closing whatever state it is in
                await client.close()
        self._listening.set()
        self._queue.put_nowait(None)

    # -- callbacks from nats-py -----------------------------------------------------------

    async def _on_error(self, error: Exception) -> None:
        if not self._connected:
            self._last_error = error  # connect() says why it failed
            return
        if self._closed:
            return  # a closing client's errors are expected
        if isinstance(error, (OSError, asyncio.TimeoutError, nats.errors.NoServersError)):
            if self._reported_down:  # each failed attempt of a reconnection: report once
                return
            self._reported_down = True
        self.report_error(BackendError(self._safe(error)), f"NATS connection ({self.description})")

    async def _on_disconnected(self) -> None:
        if self._closed:
            return
        self._listening.clear()
        if not self._reported_down:
            self._reported_down = True
            self.report_error(
                BackendError("disconnected from the NATS server; reconnecting"),
                f"NATS connection ({self.description})",
            )

    async def _on_reconnected(self) -> None:
        # nats-py has sent every SUB again and round-tripped (flush) before calling this.
        self._reported_down = False
        self._listening.set()
        server = getattr(self.pub_client, "connected_url", None)
        logger.warning(
            "reconnected to NATS (%s)%s",
            self.description,
            f" at {server.hostname}:{server.port}" if server is not None else "",
        )

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, messages: Sequence[Message]) -> None:
        client = self._require_connected()
        # The server's max_payload (its last INFO's, also while reconnecting): nats-py refuses
        # larger messages, for good, which is no outage to wait out.
        limit = int(client.max_payload)
        for _, payload in messages:  # all or none: a batch is never cut half-way
            if len(payload) > limit:
                raise MessageTooLargeError(len(payload), limit)
        commands: list[bytes] = []
        size = 0
        for channel, payload in messages:
            commands += (pub_prefix(channel), b"%d\r\n" % len(payload), payload, b"\r\n")
            size += len(payload)
        try:
            await send_publishes(client, b"".join(commands), len(messages), size)
        except _TRANSIENT as error:
            raise BackendError(f"publishing to NATS failed: {self._safe(error)}") from None

    @property
    def writes_without_waiting(self) -> bool:
        # nats-py appends to its output buffer; its flusher task writes it.
        return bool(self._connected and self.pub_client.is_connected)

    # -- subscribing ----------------------------------------------------------------------

    def _take(self, sid: int, payload: bytes) -> bool:
        channel = self._channels.get(sid)
        if channel is None:
            return False
        pending = self._pending
        pending.append((channel, bytes(payload)))
        if len(pending) == 1:  # the first since the last hand-over: schedule the next one
            asyncio.get_running_loop().call_soon(self._hand_over)
        return True

    def _hand_over(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self._queue.put_nowait(batch)

    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        if patterns:
            raise BackendError("the NATS backend has no pattern subscriptions")
        client = self._require_connected()
        try:
            for channel in channels:
                if channel in self._subs:
                    continue
                # No callback: nats-py starts no task for it; _take receives its messages.
                sub = await client.subscribe(channel_to_subject(channel))
                self._subs[channel] = sub
                self._channels[subscription_id(sub)] = channel
            # The PING/PONG round trip: the server has every SUB sent before it. Twice: nats-py
            # (2.16) writes a flush's PING straight to the socket while the SUBs may still wait
            # in its output buffer for the flusher task, so the first PONG can come back before
            # the server saw them; by then the flusher has written them, ahead of the 2nd PING.
            await client.flush(self._timeout)
            await client.flush(self._timeout)
        except _TRANSIENT as error:
            # Subscriptions made are kept: nats-py sends them again when it reconnects.
            raise BackendError(f"subscribing on NATS failed: {self._safe(error)}") from None

    async def unsubscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        try:
            for channel in channels:
                sub = self._subs.pop(channel, None)
                if sub is None:
                    continue
                self._channels.pop(subscription_id(sub), None)
                await sub.unsubscribe()
        except _TRANSIENT as error:
            raise BackendError(f"unsubscribing on NATS failed: {self._safe(error)}") from None

    def message_batches(self) -> AsyncIterator[list[Message]]:
        return queued_batches(self._queue)

    async def probe(self) -> None:
        client = self._require_connected()
        try:
            await client.flush(self._timeout)
        except _TRANSIENT as error:
            raise BackendError(f"NATS does not answer: {self._safe(error)}") from None

    @property
    def receiving(self) -> bool:
        return self._listening.is_set()

    async def wait_receiving(self) -> None:
        await self._listening.wait()
