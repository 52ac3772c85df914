"""Rooms that just gained members on other nodes, for per-room channel protocols.

With per-room channels (the ClusterAdapter protocol's dynamic subscription modes), a node only
hears a room's broadcasts once it has subscribed to that room's channel, which it does when the
room gets its first local member. When node A makes a socket of node B join a new room and at
once broadcasts to it, the broadcast can reach the room channel before B subscribed: Node's
adapter loses it (its own tests wait 50 ms). sioadapter's sender avoids that: for a short grace
period after it sent a join into a room, it broadcasts to that room on the namespace's main
channel, which B reads in order with the join.

Sans-IO: the caller passes the current time (seconds of a monotonic clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_PRUNE_ABOVE = 1024


class RecentJoins:
    """(namespace, room) pairs this node recently sent joins into, each with an expiry time."""

    def __init__(self, grace: float) -> None:
        if grace < 0:
            raise ValueError("the grace period cannot be negative")
        self.grace = grace
        self._until: dict[tuple[str, Any], float] = {}

    def __len__(self) -> int:
        return len(self._until)

    def joined(self, nsp: str, rooms: Iterable[Any], now: float) -> None:
        """Record that this node just sent a join of remote sockets into ``rooms``."""
        if self.grace == 0:
            return
        until = now + self.grace
        for room in rooms:
            self._until[(nsp, room)] = until
        if len(self._until) > _PRUNE_ABOVE:
            self._until = {key: t for key, t in self._until.items() if t > now}

    def is_recent(self, nsp: str, room: Any, now: float) -> bool:
        """True while broadcasts to ``room`` should avoid its room channel."""
        until = self._until.get((nsp, room))
        if until is None:
            return False
        if until <= now:
            del self._until[(nsp, room)]
            return False
        return True
