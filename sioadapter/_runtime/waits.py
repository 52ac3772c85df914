"""Requests under way, as the asyncio side sees them.

The sans-IO node (:class:`~sioadapter.core.node.ClusterNode`) decides when a request is done,
timed out or withdrawn, and says so in effects; this adds what waiting needs: a future per
request, a per-item callback (acknowledgements as they arrive) and cleanups run once the
request ends, however it ends. Deadlines are the node's: the effect runner's one timer ticks it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.effects import RequestDone, RequestItems
from ..core.requests import PendingRequest
from ..errors import ManagerClosedError, RequestTimeoutError

__all__ = ["CALL_TIMEOUT", "RequestWaits"]

ItemCallback = Callable[[Any], None]

CALL_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sioadapter_call_timeout", default=None
)
"""The ``timeout`` of the ``sio.call()`` running in this context (set by the wrapper the
manager's ``set_server`` installs), so that its cluster-side wait ends with the caller's."""


@dataclass(slots=True)
class Waiter:
    """The asyncio side of one pending request (the request's ``context``)."""

    future: asyncio.Future[list[Any]]
    on_item: ItemCallback | None = None
    on_finish: list[Callable[[], None]] = field(default_factory=list)


class RequestWaits:
    """Futures and callbacks of one node's pending requests.

    Args:
        logger: where failing callbacks are logged.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    @staticmethod
    def waiter(on_item: ItemCallback | None = None) -> Waiter:
        """A new waiter, to pass as the request's ``context`` when opening it."""
        return Waiter(asyncio.get_running_loop().create_future(), on_item)

    def on_finish(self, request: PendingRequest, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when ``request`` completes, times out or is withdrawn (now, if it
        already ended)."""
        waiter = request.context
        if isinstance(waiter, Waiter):
            if request.done or waiter.future.done():
                cleanup()
            else:
                waiter.on_finish.append(cleanup)

    def items(self, effect: RequestItems) -> None:
        """Answers arrived: hand each to the request's item callback."""
        waiter = effect.request.context
        if isinstance(waiter, Waiter) and waiter.on_item is not None:
            for item in effect.items:
                try:
                    waiter.on_item(item)
                except Exception:
                    self._logger.exception("acknowledgement callback failed")

    def done(self, effect: RequestDone) -> None:
        """A request ended: run its cleanups and resolve its future."""
        request = effect.request
        waiter = request.context
        if not isinstance(waiter, Waiter):
            return
        for cleanup in waiter.on_finish:
            try:
                cleanup()
            except Exception:
                self._logger.exception("request cleanup failed")
        waiter.on_finish.clear()
        future = waiter.future
        if future.done():
            return
        if effect.outcome == "completed":
            future.set_result(request.results)
            return
        if effect.outcome == "timeout":
            received, expected = request.progress()
            error: Exception = RequestTimeoutError(
                request.kind.value, received, expected, request.results
            )
        elif effect.outcome == "closed":
            error = ManagerClosedError("the manager was closed")
        else:
            error = ManagerClosedError("request withdrawn")
        future.set_exception(error)
        # A caller that already gave up never retrieves it; mark it seen.
        future.add_done_callback(_consume_exception)


def _consume_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
