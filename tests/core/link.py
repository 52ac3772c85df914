"""A list-backed pub/sub server with Redis's delivery semantics, for sans-IO nodes.

A message is fanned out when it is published, to the connections subscribed at that moment
(to the channel, or to a glob pattern as Redis matches it; a connection subscribed both ways
gets it twice, as from Redis). So a SUBSCRIBE that comes after a PUBLISH misses it, as on a
real server. ``numsub`` counts exact-channel subscribers, as ``PUBSUB NUMSUB`` does.
Deliveries wait in one queue until :meth:`Link.run`; a paused connection's wait until it is
resumed (a slow node).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import Protocol

from sioadapter.core import effects as fx


class Connection(Protocol):
    """What the link delivers to: one subscriber connection."""

    uid: str

    def receive(self, channel: str, payload: bytes) -> None: ...

    def receive_batch(self, batch: list[tuple[str, bytes]]) -> None: ...


def redis_glob(pattern: str) -> re.Pattern[str]:
    """A regex matching what Redis's ``stringmatchlen`` matches: ``*``, ``?``, ``[a-z]``,
    ``[^x]`` and ``\\x`` escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


class Link:
    """The pub/sub server. ``batch=True``: each run hands a peer everything queued for it in
    one ``receive_batch`` call, as the shell does when the backend yields several at once."""

    def __init__(self, batch: bool = False) -> None:
        self.batch = batch
        self.channels: dict[Connection, set[str]] = {}
        self.patterns: dict[Connection, dict[str, re.Pattern[str]]] = {}
        self.queue: deque[tuple[Connection, str, bytes]] = deque()
        self.held: dict[Connection, list[tuple[Connection, str, bytes]]] = {}
        self.published: list[tuple[str | None, fx.Publish]] = []
        self.deliveries: dict[Connection, int] = {}

    def subscribe(
        self, peer: Connection, channels: Iterable[str] = (), patterns: Iterable[str] = ()
    ):
        self.channels.setdefault(peer, set()).update(channels)
        table = self.patterns.setdefault(peer, {})
        for pattern in patterns:
            table[pattern] = redis_glob(pattern)

    def unsubscribe(
        self, peer: Connection, channels: Iterable[str] = (), patterns: Iterable[str] = ()
    ):
        self.channels.get(peer, set()).difference_update(channels)
        for pattern in patterns:
            self.patterns.get(peer, {}).pop(pattern, None)

    def drop(self, peer: Connection) -> None:
        """The peer's connection is gone: no subscription, nothing queued for it."""
        self.channels.pop(peer, None)
        self.patterns.pop(peer, None)
        self.held.pop(peer, None)
        self.queue = deque(item for item in self.queue if item[0] is not peer)

    def numsub(self, channel: str) -> int:
        """``PUBSUB NUMSUB channel``: connections subscribed to exactly this channel."""
        return sum(channel in subscribed for subscribed in self.channels.values())

    def publish(self, sender: Connection | None, message: fx.Publish) -> int:
        """Fan out now; returns the number of receivers, as ``PUBLISH`` does."""
        self.published.append((sender.uid if sender else None, message))
        receivers = 0
        for peer in list(self.channels):
            copies = int(message.channel in self.channels[peer])
            copies += sum(
                bool(p.fullmatch(message.channel)) for p in self.patterns.get(peer, {}).values()
            )
            for _ in range(copies):
                self.queue.append((peer, message.channel, message.payload))
            receivers += copies
        return receivers

    def inject(self, channel: str, payload: bytes) -> int:
        """Publish raw bytes from outside the cluster (an emitter, a Node server, an attacker)."""
        return self.publish(None, fx.Publish(channel, payload))

    def on(self, channel: str) -> list[fx.Publish]:
        """What was published on ``channel``, in order."""
        return [message for _, message in self.published if message.channel == channel]

    def by(self, peer: Connection) -> list[fx.Publish]:
        """What ``peer`` published, in order."""
        return [message for uid, message in self.published if uid == peer.uid]

    def pause(self, peer: Connection) -> None:
        """Hold the peer's deliveries (a slow node)."""
        self.held.setdefault(peer, [])

    def resume(self, peer: Connection) -> None:
        self.queue.extend(self.held.pop(peer, []))

    def run(self, limit: int = 100_000) -> int:
        """Deliver until nothing is queued; returns how many messages were delivered."""
        delivered = 0
        while self.queue:
            if self.batch:
                pending, self.queue = list(self.queue), deque()
                batches: dict[Connection, list[tuple[str, bytes]]] = {}
                for item in pending:
                    if item[0] in self.held:
                        self.held[item[0]].append(item)
                    else:
                        batches.setdefault(item[0], []).append(item[1:])
                for peer, batch in batches.items():
                    self.deliveries[peer] = self.deliveries.get(peer, 0) + len(batch)
                    peer.receive_batch(batch)
                    delivered += len(batch)
            else:
                peer, channel, payload = self.queue.popleft()
                if peer in self.held:
                    self.held[peer].append((peer, channel, payload))
                    continue
                self.deliveries[peer] = self.deliveries.get(peer, 0) + 1
                peer.receive(channel, payload)
                delivered += 1
            assert delivered < limit, "the nodes keep talking: a message loop?"
        return delivered
