"""The node table: which other nodes are alive, for backends that cannot count subscribers.

Node's ``ClusterAdapterWithHeartbeat`` keeps the same table: every message from another node
refreshes that node's last-seen time, ``ADAPTER_CLOSE`` removes it at once, and a node silent for
longer than the heartbeat timeout is dropped. The server count is then 1 + the table's size.

Sans-IO: times are passed in by the caller (seconds of a monotonic clock).
"""

from __future__ import annotations

from .messages import EMITTER_UID


class NodeTable:
    """Last-seen times of the other nodes of one namespace.

    Args:
        own_uid: this node's uid; never entered in the table.
        timeout: seconds of silence after which a node counts as gone.
    """

    def __init__(self, own_uid: str, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("the heartbeat timeout must be positive")
        self.own_uid = own_uid
        self.timeout = timeout
        self._last_seen: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._last_seen)

    def __contains__(self, uid: object) -> bool:
        return uid in self._last_seen

    @property
    def uids(self) -> frozenset[str]:
        """The uids of the nodes currently considered alive (this node excluded)."""
        return frozenset(self._last_seen)

    def seen(self, uid: str | None, now: float) -> bool:
        """Record a message from ``uid``. Returns True if the node was not known before.

        Messages without a uid, from this node or from an emitter say nothing about membership.
        """
        if uid is None or uid == self.own_uid or uid == EMITTER_UID:
            return False
        is_new = uid not in self._last_seen
        self._last_seen[uid] = now
        return is_new

    def remove(self, uid: str | None) -> bool:
        """Forget a node (it said ADAPTER_CLOSE). Returns True if it was known."""
        return self._last_seen.pop(uid, None) is not None if uid is not None else False

    def expire(self, now: float) -> list[str]:
        """Drop and return the nodes not heard from for longer than the timeout."""
        gone = [uid for uid, last in self._last_seen.items() if now - last > self.timeout]
        for uid in gone:
            del self._last_seen[uid]
        return gone
