"""The dialect of Node's ``@socket.io/postgres-adapter`` 0.5 (and ``@socket.io/postgres-emitter``).

It is socket.io-adapter's ClusterAdapter protocol (`sioadapter.wire.cluster`) on PostgreSQL
LISTEN/NOTIFY, with these differences:

* **One channel per namespace**, ``key#nsp`` (no trailing ``#``): ``socket.io#/`` by default.
  Every message goes there, responses included (Node's ``doPublishResponse`` ignores the
  requester), so decoded responses have ``requester`` None. There are no room channels.
* **JSON payloads** ``{type, data?, uid, nsp}``, as ``JSON.stringify`` writes them.
* **Attachments**: a message that holds binary (types 3, 8, 9, 10 and 12), or whose JSON is
  ``payload_threshold`` bytes or more (8000: PostgreSQL refuses NOTIFY payloads of 8000 bytes
  or more), is encoded as msgpack of the whole message, as Node's ``@msgpack/msgpack`` encodes
  it (maps in key order, bytes as bin). The backend tells these apart by their first byte (not
  ``{``), stores them in the attachments table and NOTIFYs a small header instead
  (`sioadapter.backends.postgres`); the receiving backend yields the row's bytes.
* Node's emitter sends no top-level ``nsp``: the channel names the namespace.

PostgreSQL refuses channel names over 63 bytes (``NAMEDATALEN - 1``): the family raises
ValueError when the key, or a namespace, makes one.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..core.messages import ClusterMessage, Room
from . import notepack
from .base import ChannelInfo, Role
from .cluster import ClusterFamily

__all__ = ["MAX_CHANNEL_BYTES", "MAX_PAYLOAD_THRESHOLD", "PostgresFamily", "check_channel"]

MAX_CHANNEL_BYTES = 63
"""The longest channel name PostgreSQL accepts, in bytes (``NAMEDATALEN - 1``)."""
MAX_PAYLOAD_THRESHOLD = 8000
"""PostgreSQL refuses NOTIFY payloads of this many bytes or more."""


def check_channel(channel: str) -> str:
    """``channel``, or ValueError if PostgreSQL would refuse it as a LISTEN/NOTIFY channel."""
    size = len(channel.encode("utf-8"))
    if size > MAX_CHANNEL_BYTES:
        raise ValueError(
            f"the PostgreSQL channel {channel!r} is {size} bytes long; PostgreSQL accepts "
            f"{MAX_CHANNEL_BYTES} at most (a channel is key#namespace: shorten the key= or "
            "the namespace)"
        )
    return channel


class PostgresFamily(ClusterFamily):
    """The ClusterAdapter protocol as ``@socket.io/postgres-adapter`` 0.5 speaks it.

    Args:
        key: the channel prefix (Node's ``channelPrefix``, default ``"socket.io"``).
        uid: this node's uid.
        json_module: python-socketio's ``json=`` (see `ClusterFamily`).
        payload_threshold: JSON payloads of this many bytes or more are encoded as msgpack, for
            the attachments table (Node's ``payloadThreshold``; at most 8000, PostgreSQL's
            limit, which is also the default).

    Raises:
        ValueError: ``key#/`` is over 63 bytes, or ``payload_threshold`` is not in 1..8000.
    """

    name: ClassVar[str] = "postgres"
    protocol_title: ClassVar[str] = "the PostgreSQL adapter protocol"

    def __init__(
        self,
        key: str = "socket.io",
        uid: str = "",
        *,
        json_module: Any = None,
        payload_threshold: int = MAX_PAYLOAD_THRESHOLD,
    ) -> None:
        super().__init__(key, uid, subscription_mode="static", json_module=json_module)
        if (
            isinstance(payload_threshold, bool)
            or not isinstance(payload_threshold, int)
            or not 0 < payload_threshold <= MAX_PAYLOAD_THRESHOLD
        ):
            raise ValueError(
                f"payload_threshold must be an int from 1 to {MAX_PAYLOAD_THRESHOLD} "
                f"(PostgreSQL refuses NOTIFY payloads of {MAX_PAYLOAD_THRESHOLD} bytes or more), "
                f"not {payload_threshold!r}"
            )
        self.payload_threshold = payload_threshold
        self._own_tails: dict[str, bytes] = {}  # per namespace, see is_own
        self.main_channel("/")  # the shortest channel this key makes must fit

    def take_uid(self, uid: str) -> None:
        super().take_uid(uid)
        self._own_tails.clear()

    # -- channels -------------------------------------------------------------------------

    def main_channel(self, nsp: str) -> str:
        """``key#nsp``: every message of the namespace. ValueError if over 63 bytes."""
        return check_channel(f"{self._prefix}{nsp}")

    def node_channel(self, nsp: str, uid: str) -> str:
        """Responses go on the namespace's one channel too."""
        return self.main_channel(nsp)

    def count_channel(self, nsp: str) -> str:
        return self.main_channel(nsp)

    def subscriptions(self, nsp: str) -> tuple[list[str], list[str]]:
        return [self.main_channel(nsp)], []

    def room_channel(self, nsp: str, room: Room, is_sid: bool) -> str | None:
        return None

    def parse_channel(self, channel: str) -> ChannelInfo | None:
        try:
            return self._channel_cache[channel]
        except KeyError:
            pass
        info: ChannelInfo | None = None
        if channel.startswith(self._prefix) and channel[len(self._prefix) :].startswith("/"):
            info = ChannelInfo(channel[len(self._prefix) :], Role.MAIN)
        if len(self._channel_cache) >= 4096:
            self._channel_cache.clear()
        self._channel_cache[channel] = info
        return info

    def _reply_channel(self, message: Any) -> str:
        # Node's doPublishResponse ignores the requester: every node hears every response.
        return self.main_channel(message.nsp)

    # -- receiving ------------------------------------------------------------------------

    def is_own(self, info: ChannelInfo, payload: bytes) -> bool:
        """True when the JSON ``payload`` ends with ``,"uid":"<this uid>","nsp":"<nsp>"}``,
        as every JSON message of this node does (``{type, data?, uid, nsp}``, the order of
        Node's adapter too): a node hears its own messages on the shared channel, and this
        spares it decoding them.

        Sound on any valid JSON, whoever wrote it: the final ``}`` closes the top-level object,
        and reading the tail backwards each quote in it is a string's delimiter (the tail
        begins with ``,``, so no run of backslashes reaches in from outside): its last two
        members are that uid and nsp, and for a duplicated key the last one counts, for
        Python's decoder and ``JSON.parse`` alike. Anything else (msgpack rows, another
        layout, other spacing) is decoded as before. (Invalid JSON with that tail is counted as
        ignored rather than malformed.)
        """
        tail = self._own_tails.get(info.nsp)
        if tail is None:
            tail = b"," + notepack.dumps_json({"uid": self.uid, "nsp": info.nsp})[1:]
            self._own_tails[info.nsp] = tail
        return payload.endswith(tail) and payload[:1] == b"{"

    # -- encoding -------------------------------------------------------------------------

    def encode(
        self, message: ClusterMessage, *, use_room_channel: bool = True
    ) -> tuple[str, bytes]:
        """JSON, or msgpack (for the attachments table) when the message holds binary or its
        JSON is ``payload_threshold`` bytes or more."""
        channel, fields, capable = self._fields(message, False)
        if capable:
            found = notepack.dumps_json_unless_binary(fields, self.json_module)
            if found is None:
                return channel, notepack.packb(fields)
            payload = found
        else:
            payload = notepack.dumps_json(fields, self.json_module)
        if len(payload) < self.payload_threshold:
            return channel, payload
        try:
            return channel, notepack.packb(fields)
        except TypeError:
            # A value only the json= module can write: msgpack what it wrote.
            return channel, notepack.packb(json.loads(payload))

    # decode is ClusterFamily's: JSON or msgpack, ``nsp`` from the channel when the message
    # has none (Node's emitter), ``requester`` None on the MAIN role.
