"""The RabbitMQ backend: AMQP 0-9-1 through aio-pika (extra ``[amqp]``).

URLs (the forms of the "RabbitMQ backend" page): ``amqp://user:password@host:5672/vhost``,
``amqps://`` for TLS. Or a ready aio-pika connection (``aio_pika.connect_robust(...)``) as
``client=``: it is the caller's to close; the backend opens a channel of its own on it.

What it creates (names in ``_amqp_names``): a non-durable **direct exchange** per key
(``sioadapter.<key>``), which stays until the broker restarts (it is never auto-deleted: an
emitter publishing to an exchange that vanished would lose its channel); and one **queue per
node** (``sioadapter.node.<random>``), declared at its first subscription (an emitter has
none), exclusive and auto-deleted, so it dies with the node's connection. The queue is bound
to the exchange with one routing key per channel the node subscribes to, so room traffic
reaches only the nodes that have a member in the room.

RabbitMQ cannot count a queue's subscribers in a way the cluster could use, and has no
pattern subscription the wire families could use: the manager uses the ClusterAdapter
protocol with heartbeats (``capabilities``).

Order: everything is published on one AMQP channel, in order, and consumed from one queue,
which RabbitMQ delivers in the order it got them. Publisher confirms are on: ``publish``
returns once the messages are handed to the connection, and each is reported later as
accepted (the broker's ack) or lost (a nack, or the connection died first): the manager
counts what a broker outage cost (``confirms_publishes``).

Failures: aio-pika's robust connection reconnects by itself; on the new connection it
declares the exchanges and the node's queue again (the old one died with the old connection),
binds every routing key again and consumes again, and only then is ``receiving`` True again.
Disconnections and errors go to ``report_error``; passwords never appear in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

try:
    import aio_pika
    import aiormq
    import aiormq.exceptions
except ImportError as error:  # pragma: no cover (the [amqp] extra is installed in the tests)
    raise ImportError(
        "the RabbitMQ backend needs aio-pika: pip install 'sioadapter[amqp]'"
    ) from error

from .._redact import REDACTED, redact_url
from ..errors import BackendError, MessageTooLargeError
from ._amqp_names import exchange_name, routing_key
from ._amqp_publish import ConfirmedPublisher
from ._amqp_url import DEFAULT_PORTS, SCHEMES, connect_options, parse_amqp_url
from .base import Backend, Capabilities, Message, logger, queued_batches

__all__ = ["DEFAULT_MAX_PAYLOAD", "AmqpBackend"]

DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
"""RabbitMQ 4's default ``max_message_size``, 16 MiB (3.8 to 3.13 allow 128 MiB)."""

_TRANSIENT = (aiormq.exceptions.AMQPError, ConnectionError, OSError, asyncio.TimeoutError,
              RuntimeError)  # fmt: skip


class AmqpBackend(Backend):
    """RabbitMQ pub/sub for the cluster. See the module docstring.

    Args:
        host: the broker's host name or address.
        port: its port (5672; 5671 with TLS).
        virtualhost: the virtual host (``/`` by default).
        user: the user to log in as (``guest`` when not given, as RabbitMQ's default).
        password: the user's password.
        tls: speak TLS (``amqps://``).
        ssl_context: an ``ssl.SSLContext`` for TLS (without one, the system's defaults).
        client: a ready aio-pika connection to use instead (not closed by ``close()``).
        name: the connection name the broker shows (``rabbitmqctl list_connections``).
        heartbeat: seconds; the AMQP heartbeat the client proposes (a dead TCP connection is
            noticed within about twice that).
        connect_timeout: seconds to wait for the broker when connecting.
        timeout: seconds a subscription, a probe or the last confirms at close wait.
        reconnect_interval: seconds between reconnection attempts.
        exchange_prefix: what exchange names start with, before the key.
        queue_prefix: what the node's queue name starts with, before a random part.
        queue_arguments: ``x-`` arguments for the node's queue (``{"x-max-length": 100000,
            "x-overflow": "drop-head"}`` bounds what a stalled node holds on the broker).
        max_payload: the largest message body, in bytes, the broker takes (its
            ``max_message_size``): a larger one raises MessageTooLargeError before anything
            is sent, where RabbitMQ would close the channel.
        amqp_options: more keyword arguments for ``aio_pika.connect_robust``; they win.
        description: how to name the broker in errors and logs (never a credential).
    """

    schemes = SCHEMES
    capabilities = Capabilities(patterns=False, sharded=False, counts_subscribers=False)
    confirms_publishes = True

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        virtualhost: str = "/",
        *,
        user: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ssl_context: Any = None,
        client: Any = None,
        name: str | None = None,
        heartbeat: int = 10,
        connect_timeout: float = 5.0,
        timeout: float = 5.0,
        reconnect_interval: float = 0.5,
        exchange_prefix: str = "sioadapter.",
        queue_prefix: str = "sioadapter.node.",
        queue_arguments: dict[str, Any] | None = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        amqp_options: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__()
        if connect_timeout <= 0 or timeout <= 0 or reconnect_interval <= 0:
            raise ValueError("connect_timeout, timeout and reconnect_interval must be positive")
        if heartbeat < 0:
            raise ValueError("heartbeat must be 0 (none) or a number of seconds")
        if isinstance(max_payload, bool) or not isinstance(max_payload, int) or max_payload <= 0:
            raise ValueError(f"max_payload must be a positive number of bytes, not {max_payload!r}")
        own = (user, password, ssl_context, name, amqp_options)
        if client is not None and (any(value is not None for value in own) or tls):
            raise ValueError("connection options apply to a URL; configure a ready client yourself")
        if tls is False and ssl_context is not None:
            tls = True
        port = port or DEFAULT_PORTS["amqps" if tls else "amqp"]
        self._secrets = [password] if password else []
        self._connect_options = connect_options(
            host, port, virtualhost, user, password, tls, ssl_context, name,
            heartbeat, connect_timeout, reconnect_interval, amqp_options,
        )  # fmt: skip
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._exchange_prefix = exchange_prefix
        self._queue_prefix = queue_prefix
        self._queue_name = f"{queue_prefix}{secrets.token_hex(8)}"
        self._queue_arguments = dict(queue_arguments or {})
        self.max_payload = max_payload
        shown = f"[{host}]" if ":" in host else host
        where = f"{'amqps' if tls else 'amqp'} {shown}:{port} vhost {virtualhost}"
        if client is not None:  # where the caller's connection goes, its password hidden
            where = f"aio-pika connection {redact_url(str(getattr(client, 'url', '?')))}"
        self.description = description or where
        self._owns_client = client is None
        self.pub_client: Any = client
        self.sub_client: Any = client
        self._channel: Any = None  # our aio-pika RobustChannel
        self._queue_obj: Any = None  # the node's aio-pika RobustQueue
        self._exchanges: dict[str, Any] = {}  # name -> declared aio-pika exchange
        self._bound: dict[str, tuple[str, str]] = {}  # channel -> (exchange, routing key)
        self._by_key: dict[str, str] = {}  # routing key -> channel, for shortened keys
        self._publisher = ConfirmedPublisher(self, self._safe)
        self._queue: asyncio.Queue[list[Message] | None] = asyncio.Queue()
        self._listening = asyncio.Event()
        self._connected = False
        self._reported_down = False
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> AmqpBackend:
        """Build from an ``amqp://`` or ``amqps://`` URL; ``options`` override the URL's."""
        spec_ = parse_amqp_url(url)
        merged: dict[str, Any] = {**spec_.options, **options}
        for key, value in (("user", spec_.user), ("password", spec_.password)):
            if value is not None:
                merged.setdefault(key, value)
        merged.setdefault("tls", spec_.tls)
        merged.setdefault("description", spec_.redacted())
        return cls(spec_.host, spec_.port, spec_.virtualhost, **merged)

    def __repr__(self) -> str:
        return f"<AmqpBackend {self.description}>"

    def after_fork(self) -> None:
        """In a forked child, before first use: nothing of the parent's is kept (the backend
        opens its connection in ``connect``)."""
        if self._owns_client:
            self.pub_client = self.sub_client = None
        self._queue = asyncio.Queue()
        self._listening = asyncio.Event()
        self._queue_name = f"{self._queue_prefix}{secrets.token_hex(8)}"  # not the parent's

    def _safe(self, error: BaseException) -> str:
        """``error`` as text with no password in it."""
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _require_channel(self) -> Any:
        if self._closed:
            raise BackendError("the RabbitMQ backend is closed")
        if not self._connected or self._channel is None:
            raise BackendError(f"not connected to RabbitMQ ({self.description})")
        return self._channel

    @property
    def queue_name(self) -> str:
        """The name of this node's queue."""
        return self._queue_name

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._closed:
            raise BackendError("the RabbitMQ backend is closed")
        if self._connected:
            return
        channel: Any = None
        try:
            if self._owns_client:
                self.pub_client = self.sub_client = await asyncio.wait_for(
                    aio_pika.connect_robust(**self._connect_options), self._connect_timeout + 1.0
                )
            elif self.pub_client.is_closed:
                raise BackendError(f"the aio-pika connection given is closed ({self.description})")
            connection = self.pub_client
            channel = await connection.channel(publisher_confirms=True)
        except BackendError:
            raise
        except (*_TRANSIENT, aio_pika.exceptions.AMQPException) as error:
            if channel is not None and not self._owns_client:  # on the caller's connection
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(channel.close(), self._timeout)
            await self._drop_connection()
            raise BackendError(
                f"cannot reach RabbitMQ ({self.description}): {self._safe(error)}"
            ) from None
        self._channel = channel
        connection.close_callbacks.add(self._on_connection_closed)
        if hasattr(connection, "reconnect_callbacks"):
            connection.reconnect_callbacks.add(self._on_reconnected)
        channel.close_callbacks.add(self._on_channel_closed)
        if hasattr(channel, "reopen_callbacks"):
            channel.reopen_callbacks.add(self._on_channel_reopened)
        self._connected = True
        self._listening.set()

    async def _drop_connection(self) -> None:
        if self._owns_client and self.pub_client is not None:
            with contextlib.suppress(Exception):  # cleaning up after a failed attempt
                await self.pub_client.close()
            self.pub_client = self.sub_client = None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._publisher.drain(self._timeout)  # what was published is confirmed first
        connection, channel = self.pub_client, self._channel
        if connection is not None and self._connected:
            connection.close_callbacks.discard(self._on_connection_closed)
            if hasattr(connection, "reconnect_callbacks"):
                connection.reconnect_callbacks.discard(self._on_reconnected)
        with contextlib.suppress(Exception):  # closing whatever state it is in
            if channel is not None:
                channel.close_callbacks.discard(self._on_channel_closed)
                if not self._owns_client and self._queue_obj and not channel.is_closed:
                    # On a connection the caller keeps, the exclusive queue would outlive us.
                    await asyncio.wait_for(self._queue_obj.delete(if_unused=False), self._timeout)
                await asyncio.wait_for(channel.close(), self._timeout)
        if self._owns_client:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drop_connection(), self._timeout)
        self._publisher.cancel()
        self._bound.clear()
        self._listening.set()
        self._queue.put_nowait(None)

    # -- callbacks from aio-pika ----------------------------------------------------------

    def _on_connection_closed(self, _sender: Any, error: BaseException | None = None) -> None:
        if self._closed:
            return
        self._listening.clear()
        if not self._reported_down:
            self._reported_down = True
            why = f": {self._safe(error)}" if error is not None else ""
            self.report_error(
                BackendError(f"disconnected from RabbitMQ{why}; reconnecting"),
                f"RabbitMQ connection ({self.description})",
            )

    def _on_channel_closed(self, _sender: Any, error: BaseException | None = None) -> None:
        if self._closed:
            return
        self._listening.clear()  # the robust channel reopens and restores itself
        connection_lost = (asyncio.CancelledError, aiormq.exceptions.ConnectionClosed)
        if error is not None and not isinstance(error, connection_lost) and not self._reported_down:
            # A channel error (the broker refused something): aio-pika reopens the channel.
            self.report_error(
                BackendError(f"the RabbitMQ channel closed: {self._safe(error)}"),
                f"RabbitMQ channel ({self.description})",
            )

    def _on_channel_reopened(self, _sender: Any) -> None:
        # aio-pika has declared the exchanges and the queue again, bound it, and consumes.
        if self._closed:
            return
        self._reported_down = False
        self._listening.set()

    def _on_reconnected(self, _sender: Any) -> None:
        if self._closed:
            return
        self._reported_down = False
        self._listening.set()
        logger.warning("reconnected to RabbitMQ (%s)", self.description)

    async def _on_message(self, message: Any) -> None:
        # aio-pika runs it in a task per delivery, the tasks made in delivery order; it does
        # not suspend, so each runs whole in its first step, in that order.
        key = message.routing_key or ""
        self._queue.put_nowait([(self._by_key.get(key, key), message.body)])

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, messages: Sequence[Message]) -> None:
        channel = self._require_channel()
        for _, payload in messages:  # all or none: a batch is never cut half-way
            if len(payload) > self.max_payload:
                raise MessageTooLargeError(len(payload), self.max_payload)
        try:
            for name in {exchange_name(c, self._exchange_prefix) for c, _ in messages}:
                if name not in self._exchanges:
                    await self._declare(name)
            underlay = await asyncio.wait_for(channel.get_underlay_channel(), self._timeout)
        except _TRANSIENT as error:
            raise BackendError(f"publishing to RabbitMQ failed: {self._safe(error)}") from None
        self._publisher.send(underlay, messages, self._route)

    def _route(self, channel: str) -> tuple[str, str]:
        return exchange_name(channel, self._exchange_prefix), routing_key(channel)

    async def _node_queue(self) -> Any:
        """The node's queue, declared and consumed at the first subscription (an emitter, which
        subscribes to nothing, has none)."""
        if self._queue_obj is None:
            queue = await asyncio.wait_for(
                self._channel.declare_queue(
                    self._queue_name,
                    durable=False,
                    exclusive=True,
                    auto_delete=True,
                    arguments=self._queue_arguments or None,
                ),
                self._timeout,
            )
            # No acknowledgements: at most once, as pub/sub.
            await asyncio.wait_for(queue.consume(self._on_message, no_ack=True), self._timeout)
            self._queue_obj = queue
        return self._queue_obj

    async def _declare(self, name: str) -> Any:
        exchange = await asyncio.wait_for(
            self._channel.declare_exchange(
                name, aio_pika.ExchangeType.DIRECT, durable=False, auto_delete=False
            ),
            self._timeout,
        )
        self._exchanges[name] = exchange
        return exchange

    @property
    def writes_without_waiting(self) -> bool:
        return bool(self._connected and self._listening.is_set())

    # -- subscribing ----------------------------------------------------------------------

    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        if patterns:
            raise BackendError("the RabbitMQ backend has no pattern subscriptions")
        self._require_channel()
        try:
            queue: Any = await self._node_queue() if channels else None
            for channel in channels:
                if channel in self._bound:
                    continue
                name, key = exchange_name(channel, self._exchange_prefix), routing_key(channel)
                exchange = self._exchanges.get(name) or await self._declare(name)
                if key != channel:
                    self._by_key[key] = channel
                # queue.bind returns on the broker's BindOk: from then on, it routes to us.
                # aio-pika's robust queue keeps the binding and makes it again on reconnect.
                await asyncio.wait_for(queue.bind(exchange, routing_key=key), self._timeout)
                self._bound[channel] = (name, key)
        except _TRANSIENT as error:
            raise BackendError(f"subscribing on RabbitMQ failed: {self._safe(error)}") from None

    async def unsubscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        try:
            for channel in channels:
                bound = self._bound.pop(channel, None)
                if bound is None:
                    continue
                name, key = bound
                self._by_key.pop(key, None)
                await asyncio.wait_for(
                    self._queue_obj.unbind(self._exchanges[name], routing_key=key), self._timeout
                )
        except _TRANSIENT as error:
            raise BackendError(f"unsubscribing on RabbitMQ failed: {self._safe(error)}") from None

    def message_batches(self) -> AsyncIterator[list[Message]]:
        return queued_batches(self._queue)

    async def probe(self) -> None:
        channel = self._require_channel()
        try:
            underlay = await asyncio.wait_for(channel.get_underlay_channel(), self._timeout)
            # A round trip that needs no permission and changes nothing we use (no_ack).
            await underlay.basic_qos(prefetch_count=0, timeout=self._timeout)
        except _TRANSIENT as error:
            raise BackendError(f"RabbitMQ does not answer: {self._safe(error)}") from None

    @property
    def receiving(self) -> bool:
        return self._listening.is_set()

    async def wait_receiving(self) -> None:
        await self._listening.wait()
