"""The alternative green-thread shell, as a prototype: sioadapter's sans-IO core on sync redis-py.

Issue 13 asked whether ClusterManager under gevent should keep its loop (an asyncio loop in a
greenlet, what ships) or drive the shared core (:class:`sioadapter.core.node.ClusterNode`)
from greenlets on redis-py's sync client, with no asyncio at all. This is the second design,
built as far as a broadcast benchmark needs it, to measure it against the first in the same
run (contender ``shell-gevent``): a ``socketio.Manager`` whose

- ``emit`` runs the core's ``broadcast`` (the same encoding and channel choice as the real
  manager) and queues the message; the queue is published in non-transactional pipelines of
  up to 1,000 messages, by the emitting greenlet when it is full, else by a greenlet spawned
  for it (``flush`` publishes what is left);
- reading is one greenlet on a redis-py ``PubSub``: each message goes through the core's
  receiver, and a ``Deliver`` effect is sent to the local sockets its target selects, encoded
  once (python-socketio's packet class), through the server's ``_send_eio_packet``.

Not a product: no requests, acknowledgements, outages, hooks or room channels. Rooms and
sockets are python-socketio's own base ``Manager`` tables, which the core reads.
"""

from __future__ import annotations

import secrets
from typing import Any

import gevent
import redis
from engineio import packet as eio_packet
from socketio import Manager
from socketio import packet as sio_packet

from sioadapter._runtime.assembly import make_family
from sioadapter._runtime.operations import as_args, as_rooms
from sioadapter.backends.redis import RedisBackend
from sioadapter.core.effects import Deliver
from sioadapter.core.node import ClusterNode

BATCH = 1_000


class GreenShellManager(Manager):  # type: ignore[misc]
    """The core on sync redis-py, in greenlets (a gevent-patched process)."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__()
        # A backend object only for what the wire family asks of it (its capabilities).
        backend = RedisBackend.from_url(url)
        family = make_family(backend, key, secrets.token_hex(8), None, False, None)
        self.node = ClusterNode(family, self.rooms)
        self.redis = redis.Redis.from_url(url)
        self._queue: list[Any] = []
        self._flushing: Any = None
        self._reader: Any = None

    def start(self) -> None:
        """Subscribe to the namespace's channels (confirmed) and start reading."""
        channels, patterns = self.node.subscriptions("/")
        pubsub = self.redis.pubsub()
        if channels:
            pubsub.subscribe(*channels)
        if patterns:
            pubsub.psubscribe(*patterns)
        confirmed = 0
        while confirmed < len(channels) + len(patterns):
            message = pubsub.get_message(timeout=5.0)
            if message is not None and message["type"] in ("subscribe", "psubscribe"):
                confirmed += 1
        self.node.serve("/", 0.0)
        self._reader = gevent.spawn(self._read, pubsub)

    def initialize(self) -> None:
        super().initialize()
        if self._reader is None:
            self.start()

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        nsp = namespace or "/"
        rooms = as_rooms(to if to is not None else room)
        excluded = as_rooms(skip_sid)
        payload = [event, *as_args(data)]
        publish = self.node.broadcast(nsp, payload, rooms, excluded, {}, 0.0)
        if publish is not None:
            self._queue.append(publish)
            if len(self._queue) >= BATCH:
                self._publish()
            elif self._flushing is None:
                self._flushing = gevent.spawn(self._publish)
        self._deliver(nsp, payload, rooms, excluded)

    def flush(self) -> None:
        while self._queue:
            self._publish()

    def _publish(self) -> None:
        self._flushing = None
        batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
        if not batch:
            return
        pipe = self.redis.pipeline(transaction=False)
        for message in batch:
            pipe.publish(message.channel, message.payload)
        pipe.execute()

    def _read(self, pubsub: Any) -> None:
        receive = self.node.receiver.receive
        for message in pubsub.listen():
            if message["type"] not in ("message", "pmessage"):
                continue
            out: list[Any] = []
            receive(message["channel"].decode(), message["data"], 0.0, out)
            for effect in out:
                if type(effect) is Deliver:
                    target = effect.message.target
                    self._deliver(
                        effect.message.nsp, effect.message.data, target.rooms, target.except_rooms
                    )

    def _deliver(self, nsp: str, data: list[Any], rooms: Any, except_rooms: Any) -> None:
        table = self.rooms.get(nsp)
        if not table:
            return
        if not rooms:
            targets = dict(table.get(None, {}))
        else:
            targets = {}
            for room in rooms:
                targets.update(table.get(room, {}))
        for room in except_rooms:
            for sid in table.get(room, {}):
                targets.pop(sid, None)
        if not targets:
            return
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=nsp, data=data).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        send = self.server._send_eio_packet
        for eio_sid in targets.values():
            for part in packets:
                send(eio_sid, part)
