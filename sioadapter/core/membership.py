"""Which other nodes serve each namespace, for backends that cannot count subscribers.

As Node's ``ClusterAdapterWithHeartbeat``: every node publishes a HEARTBEAT per namespace every
``interval`` seconds, and an INITIAL_HEARTBEAT when it starts serving one, which the others
answer at once; every message from a node refreshes its last-seen time; ADAPTER_CLOSE removes it;
a node silent for longer than ``timeout`` is gone. A request opened within ``discovery`` seconds
of the initial heartbeat first waits for those answers.

Backends that count subscribers (Redis) need none of this: there the number of nodes is the
subscriber count of a channel, which only I/O can read.

Sans-IO: times are passed in (seconds of a monotonic clock).
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Heartbeat
from .nodes import NodeTable

__all__ = ["Membership"]


@dataclass(slots=True)
class _Namespace:
    table: NodeTable
    discovered_at: float  # requests opened before this wait for the initial answers


class Membership:
    """The heartbeat node tables of one node, one per namespace it serves."""

    def __init__(self, uid: str, interval: float, timeout: float, discovery: float) -> None:
        if interval <= 0:
            raise ValueError("the heartbeat interval must be positive")
        self.uid = uid
        self.interval = interval
        self.timeout = timeout
        self.discovery = discovery
        self._namespaces: dict[str, _Namespace] = {}
        self._next_beat: float | None = None

    def joined(self, nsp: str, now: float) -> Heartbeat:
        """This node starts serving ``nsp``: the INITIAL_HEARTBEAT to publish."""
        self._namespaces[nsp] = _Namespace(NodeTable(self.uid, self.timeout), now + self.discovery)
        if self._next_beat is None:
            self._next_beat = now + self.interval
        return Heartbeat(nsp, self.uid, initial=True)

    def seen(self, nsp: str, uid: str | None, now: float) -> bool:
        """A message from ``uid`` in ``nsp``; True when that node is new."""
        entry = self._namespaces.get(nsp)
        return entry is not None and entry.table.seen(uid, now)

    def closed(self, nsp: str, uid: str | None) -> bool:
        """``uid`` said ADAPTER_CLOSE in ``nsp``; True when it was known."""
        entry = self._namespaces.get(nsp)
        return entry is not None and entry.table.remove(uid)

    def members(self, nsp: str) -> frozenset[str]:
        """The other nodes known to serve ``nsp``."""
        entry = self._namespaces.get(nsp)
        return entry.table.uids if entry is not None else frozenset()

    def discovery_wait(self, nsp: str, now: float) -> float:
        """Seconds a request in ``nsp`` should wait for the answers to this node's initial
        heartbeat before it counts the members (0 once the window is over)."""
        entry = self._namespaces.get(nsp)
        return max(entry.discovered_at - now, 0.0) if entry is not None else 0.0

    def leave(self) -> None:
        """This node left the cluster: forget every namespace and stop beating, so that a
        late tick neither publishes a heartbeat (which would bring it back in the others'
        tables) nor reports the others gone."""
        self._namespaces.clear()
        self._next_beat = None

    def next_deadline(self) -> float | None:
        """When :meth:`beat` is due next."""
        return self._next_beat

    def beat(self, now: float) -> tuple[list[Heartbeat], list[tuple[str, str]]]:
        """If due: the heartbeats to publish, and the (namespace, uid) pairs gone silent."""
        if self._next_beat is None or now < self._next_beat:
            return [], []
        self._next_beat = now + self.interval
        beats: list[Heartbeat] = []
        gone: list[tuple[str, str]] = []
        for nsp, entry in self._namespaces.items():
            beats.append(Heartbeat(nsp, self.uid))
            gone.extend((nsp, uid) for uid in entry.table.expire(now))
        return beats, gone
