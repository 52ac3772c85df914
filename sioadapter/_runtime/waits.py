"""Requests under way, as the asyncio side sees them (a mixin of AsyncBus).

The sans-IO :class:`~sioadapter.core.requests.RequestTracker` decides when a request is done;
this adds what waiting needs: a future per request, one timer per deadline, per-item callbacks
(acknowledgements as they arrive) and cleanups run once the request ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from ..core.messages import Response
from ..core.requests import PendingRequest, RequestKind, RequestTracker, Update
from ..errors import ManagerClosedError, RequestTimeoutError
from ..stats import Stats

ItemCallback = Callable[[Any], None]

CALL_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sioadapter_call_timeout", default=None
)
"""The ``timeout`` of the ``sio.call()`` running in this context (set by the wrapper the
manager's ``set_server`` installs), so that its cluster-side wait ends with the caller's."""


@dataclass(slots=True)
class _Waiter:
    """The asyncio side of one pending request."""

    future: asyncio.Future[list[Any]]
    timer: asyncio.TimerHandle | None = None
    on_item: ItemCallback | None = None
    on_finish: list[Callable[[], None]] = field(default_factory=list)


class RequestWaits:
    """Futures, timers and callbacks of this node's pending requests."""

    tracker: RequestTracker
    stats: Stats
    _logger: logging.Logger
    _on_done: Callable[[PendingRequest, BaseException | None], None] | None

    @property
    def pending_requests(self) -> int:
        """Requests of this node still waiting for answers."""
        return len(self.tracker)

    def open_request(
        self,
        request_id: str,
        kind: RequestKind,
        expected: int | Collection[str],
        timeout: float,
        *,
        single: bool = False,
        on_item: ItemCallback | None = None,
    ) -> tuple[PendingRequest, asyncio.Future[list[Any]]]:
        """Track a request; the future resolves with its results or RequestTimeoutError.

        ``on_item`` is called with each collected item as it arrives (acknowledgements).
        Publish the request message after opening it, so that no answer can come first.
        """
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), on_item=on_item)
        request = self.tracker.open(
            request_id,
            kind,
            expected=expected,
            deadline=loop.time() + timeout,
            single=single,
            context=waiter,
        )
        if request.done:
            waiter.future.set_result(request.results)
        else:
            waiter.timer = loop.call_at(request.deadline, self._expire)
        return request, waiter.future

    def on_finish(self, request: PendingRequest, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when ``request`` completes, times out or is withdrawn."""
        waiter = request.context
        if isinstance(waiter, _Waiter):
            if request.done or waiter.future.done():
                cleanup()
            else:
                waiter.on_finish.append(cleanup)

    def feed(self, response: Response) -> Update | None:
        """Hand a received (or locally produced) answer to the tracker."""
        update = self.tracker.feed(response)
        if update is None:
            self.stats.late_responses += 1
            return None
        waiter = update.request.context
        if isinstance(waiter, _Waiter) and waiter.on_item is not None:
            for item in update.items:
                try:
                    waiter.on_item(item)
                except Exception:
                    self._logger.exception("acknowledgement callback failed")
        if update.done:
            self._finish(update.request, None)
        return update

    def node_left(self, uid: str) -> None:
        """Stop waiting for a node that left (heartbeat mode)."""
        for update in self.tracker.node_left(uid):
            self._finish(update.request, None)

    def withdraw(self, request_id: str) -> None:
        """Forget a request whose caller stopped waiting (cancelled)."""
        request = self.tracker.cancel(request_id)
        if request is not None:
            self._finish(request, ManagerClosedError("request withdrawn"))

    def _expire(self) -> None:
        now = asyncio.get_running_loop().time()
        for request in self.tracker.expire(now):
            self.stats.requests_timed_out += 1
            received, expected = request.progress()
            error = RequestTimeoutError(request.kind.value, received, expected, request.results)
            self._finish(request, error)

    def _finish(self, request: PendingRequest, error: BaseException | None) -> None:
        waiter = request.context
        if not isinstance(waiter, _Waiter):
            return
        if waiter.timer is not None:
            waiter.timer.cancel()
        for cleanup in waiter.on_finish:
            try:
                cleanup()
            except Exception:
                self._logger.exception("request cleanup failed")
        waiter.on_finish.clear()
        if self._on_done is not None:
            try:
                self._on_done(request, error)
            except Exception:
                self._logger.exception("request-done callback failed")
        if waiter.future.done():
            return
        if error is None:
            waiter.future.set_result(request.results)
        else:
            waiter.future.set_exception(error)
            # A caller that already gave up never retrieves it; mark it seen.
            waiter.future.add_done_callback(_consume_exception)


def _consume_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
