"""Publishing with publisher confirms on one aiormq channel, in order, without waiting.

``ConfirmedPublisher.send`` starts one task per message, in the order given. Each task's first
step takes aiormq's channel lock, a FIFO, and writes its frames under it, so frames go out in
the order the tasks were made (asyncio runs new tasks in creation order); the task then waits
for the broker's confirm outside the lock, so many messages are in flight at once. When a task
ends, its message is reported once, through the backend's ``report_accepted`` /
``report_lost`` (the ``confirms_publishes`` contract of ``sioadapter.backends.base``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import aiormq.exceptions
from pamqp import commands as spec

from .base import Backend, Message

__all__ = ["ConfirmedPublisher"]

# The broker closed the channel over the publish itself (an exchange deleted under it, a
# permission missing, a message over its max_message_size): a refusal, not an outage.
_REFUSALS = (
    aiormq.exceptions.ChannelAccessRefused,
    aiormq.exceptions.ChannelNotFoundEntity,
    aiormq.exceptions.ChannelPreconditionFailed,
)
# Transient messages (delivery_mode 1): nothing is written to disk for pub/sub traffic.
_PROPERTIES = spec.Basic.Properties(delivery_mode=1)


class ConfirmedPublisher:
    """The publishes of one backend that wait for their confirms."""

    def __init__(self, backend: Backend, safe: Callable[[BaseException], str]) -> None:
        self._backend = backend
        self._safe = safe  # error text without secrets
        self.pending: set[asyncio.Task[Any]] = set()

    def send(
        self,
        channel: Any,
        messages: Sequence[Message],
        route: Callable[[str], tuple[str, str]],
    ) -> None:
        """Start publishing ``messages`` on the aiormq ``channel``; ``route(channel_name)``
        gives the exchange and routing key."""
        loop = asyncio.get_running_loop()
        for name, payload in messages:
            exchange, key = route(name)
            task = loop.create_task(
                channel.basic_publish(
                    payload,
                    exchange=exchange,
                    routing_key=key,
                    properties=_PROPERTIES,
                    wait=False,  # no wait for the socket's drain under the lock
                )
            )
            self.pending.add(task)
            task.add_done_callback(self._confirmed)

    def _confirmed(self, task: asyncio.Task[Any]) -> None:
        self.pending.discard(task)
        report = self._backend
        if task.cancelled():
            report.report_lost(1, "the RabbitMQ channel closed before the broker confirmed", True)
            return
        error = task.exception()
        if error is None and isinstance(task.result(), spec.Basic.Ack):
            report.report_accepted(1)
        elif error is None or isinstance(error, aiormq.exceptions.DeliveryError):
            report.report_lost(1, "RabbitMQ refused the message (nack)", False)
        elif isinstance(error, _REFUSALS):
            report.report_lost(1, f"RabbitMQ refused the message: {self._safe(error)}", False)
        else:
            report.report_lost(1, f"not confirmed by RabbitMQ: {self._safe(error)}", True)

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the confirms still due."""
        if self.pending:
            await asyncio.wait(set(self.pending), timeout=timeout)

    def cancel(self) -> None:
        """Give up on the confirms still due (each is then reported lost)."""
        for task in list(self.pending):
            task.cancel()
