"""The publish queue of one manager, bounded in messages and in bytes.

Messages wait here, in order, until the writer hands them to the backend. A batch the writer has
taken but not yet finished with (sending it, or holding it through an outage) still counts
against the bounds: what a node holds in memory is ``messages + taken``, whatever the state.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from ..backends.base import Message


class Outbox:
    """A FIFO of (channel, payload) with a message bound and a byte bound.

    Args:
        max_messages: how many messages may wait (taken ones included).
        max_bytes: how many payload bytes may wait (taken ones included).
    """

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        if max_messages < 1 or max_bytes < 1:
            raise ValueError("the publish queue bounds must be positive")
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._queue: collections.deque[Message] = collections.deque()
        self._bytes = 0
        self._taken = 0
        self._taken_bytes = 0

    def __len__(self) -> int:
        """Messages waiting, not counting a taken batch."""
        return len(self._queue)

    @property
    def held(self) -> int:
        """Messages in memory: waiting plus taken."""
        return len(self._queue) + self._taken

    @property
    def held_bytes(self) -> int:
        """Payload bytes in memory: waiting plus taken."""
        return self._bytes + self._taken_bytes

    @property
    def full(self) -> bool:
        """True when one more message would go past a bound."""
        return self.held >= self.max_messages or self.held_bytes >= self.max_bytes

    def put(self, message: Message) -> None:
        """Queue one message (the caller checks ``full`` first if it must)."""
        self._queue.append(message)
        self._bytes += len(message[1])

    def take(self) -> list[Message]:
        """Everything waiting, as one batch that stays counted until ``release``."""
        batch = list(self._queue)
        self._queue.clear()
        self._taken += len(batch)
        self._taken_bytes += self._bytes
        self._bytes = 0
        return batch

    def release(self, batch: Iterable[Message]) -> None:
        """A taken batch is done with (sent or dropped): stop counting it."""
        for _, payload in batch:
            self._taken -= 1
            self._taken_bytes -= len(payload)

    def put_back(self, batch: list[Message]) -> None:
        """Return a taken batch to the head of the queue, in order."""
        self.release(batch)
        self._queue.extendleft(reversed(batch))
        self._bytes += sum(len(payload) for _, payload in batch)

    def clear(self) -> int:
        """Forget every waiting message; returns how many there were."""
        count = len(self._queue)
        self._queue.clear()
        self._bytes = 0
        return count
