"""Exceptions raised by sioadapter.

Every error sioadapter raises on purpose is a `SioAdapterError`, so
``except sioadapter.errors.SioAdapterError`` catches them all. Where a caller could already catch
a standard exception before this hierarchy existed, the class keeps that standard base too
(``SocketNotFoundError`` is a ``LookupError``, ``MessageTooLargeError`` a ``ValueError``, ...).
Wrong arguments (a negative timeout, a key of the wrong type) raise plain ``TypeError`` and
``ValueError``: they are mistakes in the calling code, not conditions to handle.

The exception tree (standard bases in brackets):

    SioAdapterError
    ├── RequestTimeoutError [TimeoutError]     a cluster request got only some of its answers
    ├── SocketNotFoundError [LookupError]      no node owns the socket id
    ├── ManagerClosedError [RuntimeError]      the manager was closed
    ├── MessageTooLargeError [ValueError]      an emit over max_message_size
    ├── UnknownBackendError [ValueError]       no backend for the URL's scheme
    ├── UnknownPluginError [LookupError]       no plugin entry point by that name
    ├── WriteOnlyError [RuntimeError]          a request on a write_only=True manager
    ├── BackendError                           the pub/sub backend failed
    │   ├── OutputBufferLimitError             Redis dropped a subscriber over its buffer limit
    │   └── ReceivedMessageLostError           a received message could not be read: dropped
    ├── DecodeError [ValueError]               a received payload is malformed
    └── SignatureError                         a received message failed authentication
        ├── UnsignedMessageError               it carries no signature
        └── ForgedMessageError                 its signature matches no key

``DecodeError`` and the ``SignatureError`` family are raised by the wire codecs
(`sioadapter.wire`); a manager catches them, drops the message, logs and counts it, and
goes on listening. They are also importable from their first homes
(``sioadapter.wire.notepack``, ``sioadapter.wire.signing``, ``sioadapter.plugins``).

This module imports nothing from sioadapter but the stdlib-only ``_redact`` helper, so every
layer (wire, backends, plugins, shells) can import it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from ._redact import redact_url

__all__ = [
    "BackendError",
    "DecodeError",
    "ForgedMessageError",
    "ManagerClosedError",
    "MessageTooLargeError",
    "OutputBufferLimitError",
    "ReceivedMessageLostError",
    "RequestTimeoutError",
    "SignatureError",
    "SioAdapterError",
    "SocketNotFoundError",
    "UnknownBackendError",
    "UnknownPluginError",
    "UnsignedMessageError",
    "WriteOnlyError",
]


class SioAdapterError(Exception):
    """Base class of every sioadapter error."""


class RequestTimeoutError(SioAdapterError, TimeoutError):
    """A cluster request did not get all its answers in time.

    Attributes:
        responses: the answers that did arrive (partial results), in arrival order.
        received: how many answers arrived.
        expected: how many were expected, or ``None`` when unknown.
        operation: the name of the operation that timed out (``"fetch_sockets"``, ...).
    """

    def __init__(
        self,
        operation: str,
        received: int,
        expected: int | None,
        responses: Sequence[Any] = (),
    ) -> None:
        self.operation = operation
        self.received = received
        self.expected = expected
        self.responses = list(responses)
        out_of = "an unknown number" if expected is None else str(expected)
        super().__init__(
            f"{operation}: timeout reached: only {received} responses received out of {out_of}"
        )


class SocketNotFoundError(SioAdapterError, LookupError):
    """No node of the cluster owns the socket id an operation was aimed at."""

    def __init__(self, sid: str, namespace: str, detail: str = "") -> None:
        self.sid = sid
        self.namespace = namespace
        message = f"no node of the cluster has socket {sid!r} in namespace {namespace!r}"
        super().__init__(f"{message} ({detail})" if detail else message)


class UnknownBackendError(SioAdapterError, ValueError):
    """A URL names a scheme that no installed backend handles, or cannot be parsed.

    Attributes:
        url: the URL, its password and secret options replaced by ``***`` (as in the
            message).
        installed: the installed backends' URL schemes, sorted.
    """

    def __init__(self, url: str, installed: Iterable[str], reason: str = "") -> None:
        self.url = redact_url(url)
        self.installed = sorted(installed)
        listed = ", ".join(self.installed) or "none"
        why = reason or "no backend is installed for this URL scheme"
        super().__init__(f"{why}: {self.url!r} (installed backends: {listed})")


class BackendError(SioAdapterError):
    """The pub/sub backend failed (connection lost, command refused, ...)."""


class OutputBufferLimitError(BackendError):
    """Redis closed a subscriber connection because its output buffer went over
    ``client-output-buffer-limit pubsub``: what the buffer held was lost.

    Attributes:
        limit: the limit as Redis reports it (``"33554432 8388608 60"``: hard bytes, soft
            bytes, soft seconds), or ``None`` when it could not be read.
        certain: True when Redis's own counter said so (Redis 7.2+), False when inferred.
    """

    def __init__(self, message: str, limit: str | None, certain: bool) -> None:
        super().__init__(message)
        self.limit = limit
        self.certain = certain


class ReceivedMessageLostError(BackendError):
    """The backend received word of a message but could not read the message itself (a
    PostgreSQL attachment row not read within ``attachment_timeout``, or on a failed
    connection): the message is dropped, and a manager counts it in
    ``stats.dropped_unreadable``. Other messages keep flowing.

    Attributes:
        count: how many messages were lost.
    """

    def __init__(self, message: str, count: int = 1) -> None:
        super().__init__(message)
        self.count = count


class MessageTooLargeError(SioAdapterError, ValueError):
    """A message's encoded size is over the manager's (or emitter's) ``max_message_size``;
    nothing was published.

    Attributes:
        size: the encoded size in bytes.
        limit: the ``max_message_size`` in force.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"the encoded message is {size} bytes, over max_message_size ({limit} bytes); "
            "nothing was published"
        )


class ManagerClosedError(SioAdapterError, RuntimeError):
    """An operation was attempted on a manager after ``close()``."""


class WriteOnlyError(SioAdapterError, RuntimeError):
    """A request (``fetch_sockets``, ``emit_with_ack``, an emit with ``callback=``,
    ``server_side_call``, ``server_count`` ...) on a ``write_only=True`` manager: such a
    manager never subscribes, so no answer could reach it. Its emits, room changes and
    disconnects (which need no answer) work.

    .. versionadded:: 0.2
    """


class UnknownPluginError(SioAdapterError, LookupError):
    """A plugin name that no installed entry point of ``sioadapter.plugins`` has.

    Attributes:
        name: the name asked for.
        installed: the installed plugins' names, sorted.
    """

    def __init__(self, name: str, installed: Iterable[str]) -> None:
        self.name = name
        self.installed = sorted(installed)
        listed = ", ".join(self.installed) or "none"
        super().__init__(f"no sioadapter plugin named {name!r} (installed plugins: {listed})")


class DecodeError(SioAdapterError, ValueError):
    """The payload is not a value this codec can decode.

    The wire codecs raise it, and only it, for anything malformed: bad MessagePack or JSON,
    a field of the wrong type, an unknown message type, a date out of range. A manager drops
    such a message (logged once per kind, counted) and keeps listening.
    """


class SignatureError(SioAdapterError):
    """A received message failed authentication; ``kind`` says how.

    Attributes:
        kind: ``"unsigned"`` or ``"forged"`` in the subclasses (the label of the drop counter).
    """

    kind: ClassVar[str] = "unauthenticated"


class UnsignedMessageError(SignatureError):
    """The message carries no signature (and signatures are required)."""

    kind: ClassVar[str] = "unsigned"


class ForgedMessageError(SignatureError):
    """The message carries a signature that no key produced for this channel and body: a
    forgery, a tampered or truncated message, one moved from another channel, or one signed
    with a key this node does not have (yet, or any more)."""

    kind: ClassVar[str] = "forged"
