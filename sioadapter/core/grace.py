"""Rooms whose membership this node just changed on other nodes, for per-room channel protocols.

With per-room channels (the ClusterAdapter protocol's dynamic subscription modes), a room's
broadcasts travel on the room's own channel while joins and leaves travel on the namespace's
main channel, and nothing orders two channels against each other (on a Cluster they may even
live on different shards). When node A makes a socket of node B join a new room and at once
broadcasts to it, the broadcast can reach the room channel before B subscribed: Node's adapter
loses it (its own tests wait 50 ms). When A makes B's sockets leave a room and then broadcasts
to it, B can read the broadcast before the leave and deliver it to a socket that had left.
sioadapter's sender avoids both: for a short grace period after it sent a join or a leave for a
room, it broadcasts to that room on the main channel, which B reads in order with the change.

Sans-IO: the caller passes the current time (seconds of a monotonic clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_PRUNE_ABOVE = 1024


class RecentRoomChanges:
    """(namespace, room) pairs this node recently sent joins or leaves for, with expiry times."""

    def __init__(self, grace: float) -> None:
        if grace < 0:
            raise ValueError("the grace period cannot be negative")
        self.grace = grace
        self._until: dict[tuple[str, Any], float] = {}

    def __len__(self) -> int:
        return len(self._until)

    def changed(self, nsp: str, rooms: Iterable[Any], now: float) -> None:
        """Record that this node just sent a join or a leave of other nodes' sockets."""
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
