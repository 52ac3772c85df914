"""Exceptions raised by sioadapter.

Every error a user can catch lives here, so ``except sioadapter.errors.SioAdapterError`` catches
them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ._redact import redact_url


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
            message: see :func:`sioadapter._redact.redact_url`).
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
