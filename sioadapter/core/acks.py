"""Acknowledgement callbacks this node holds for other nodes' acknowledged broadcasts.

When another node broadcasts with acknowledgements (Node's ``broadcastWithAck``), this node
delivers to its clients, registers one callback per client, and relays each client's answer.
Those callbacks must not live forever: they go when every client answered, or when the
sender's own timeout (``flags.timeout``, milliseconds) is up, capped by this node's
``ack_timeout``. A steady stream of answered broadcasts therefore holds nothing.

Sans-IO: times are passed in (seconds of a monotonic clock).
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["SANE_TIMEOUT", "CallbackExpiry", "peer_timeout"]

SANE_TIMEOUT = 86_400.0
"""Seconds: a peer's acknowledgement timeout above a day is garbage."""


def peer_timeout(value: Any, ack_timeout: float) -> float | None:
    """A peer's ``flags.timeout`` (milliseconds) in seconds, capped by ``ack_timeout``.

    Absent stands for ``ack_timeout``. Returns None for a value that is not a positive number
    of at most a day (NaN, inf, 1e300, a 400-digit integer, a string, a bool): the caller counts
    it and uses ``ack_timeout`` instead, since a timer that never fires would hold the
    callbacks forever.
    """
    if value is None:
        return ack_timeout
    seconds = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value) / 1000
        except OverflowError:  # an integer beyond any float
            seconds = math.inf
    if 0 < seconds <= SANE_TIMEOUT:  # NaN compares false
        return max(min(seconds, ack_timeout), 0.001)
    return None


def describe_number(value: Any) -> str:
    """A short, safe description of a wire value (a huge int has no affordable repr)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return repr(value)
    return f"a {type(value).__name__}"


@dataclass(slots=True, eq=False)
class _Held:
    deadline: float
    unanswered: int
    context: Any


class CallbackExpiry:
    """Groups of callbacks (one group per received broadcast), each with a deadline."""

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}
        self._heap: list[tuple[float, int]] = []
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._held)

    @property
    def callbacks(self) -> int:
        """Callbacks still waiting for a client's answer, in every group."""
        return sum(held.unanswered for held in self._held.values())

    def hold(self, context: Any, count: int, deadline: float) -> int | None:
        """Hold ``count`` callbacks registered under ``context`` until ``deadline``.
        Returns the group's key (None when ``count`` is 0: nothing to hold)."""
        if count <= 0:
            return None
        key = next(self._ids)
        self._held[key] = _Held(deadline, count, context)
        heapq.heappush(self._heap, (deadline, key))
        return key

    def answered(self, key: int | None) -> bool:
        """One callback of the group was called. True when that was the group's last (the
        group is then gone: nothing to withdraw)."""
        held = self._held.get(key) if key is not None else None
        if held is None:
            return False
        held.unanswered -= 1
        if held.unanswered > 0:
            return False
        del self._held[key]  # type: ignore[arg-type]
        if len(self._heap) > 2 * len(self._held) + 16:
            self._heap = [(h.deadline, k) for k, h in self._held.items()]
            heapq.heapify(self._heap)
        return True

    def expire(self, now: float) -> list[Any]:
        """The contexts of the groups whose deadline is at or before ``now`` (removed)."""
        gone = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            held = self._held.pop(key, None)
            if held is not None:
                gone.append(held.context)
        return gone

    def next_deadline(self) -> float | None:
        """The earliest deadline held, or None."""
        heap = self._heap
        while heap and heap[0][1] not in self._held:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def clear(self) -> list[Any]:
        """Drop every group; returns their contexts."""
        contexts = [held.context for held in self._held.values()]
        self._held.clear()
        self._heap.clear()
        return contexts
