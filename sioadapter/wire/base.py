"""What a protocol family is: cluster messages to (channel, bytes) and back.

A family owns the channel names and byte layouts of one Node protocol. It is pure: no I/O, no
clock, no knowledge of sockets or Redis clients. The manager asks it

* which channels and patterns to subscribe to for a namespace (``subscriptions``);
* what a received channel name means, before decoding anything (``parse_channel``), so that a
  broadcast for a room with no local member is dropped without being decoded;
* how to encode a message (``encode``) and decode a payload (``decode``).

``decode`` raises `sioadapter.errors.DecodeError` for anything malformed: bad
bytes, wrong field types, unknown message types. It never returns a half-valid message.
The field readers the families decode with live in the private ``_fields`` module.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.messages import ClusterMessage, Room

__all__ = [
    "ChannelInfo",
    "Family",
    "Role",
]


class Role(enum.Enum):
    """What kind of traffic a channel carries."""

    BROADCAST = "broadcast"
    """Classic broadcast channels (one pattern per namespace)."""
    REQUEST = "request"
    """Classic request channel."""
    RESPONSE = "response"
    """Classic shared or per-node response channel, or a ClusterAdapter node's own channel."""
    MAIN = "main"
    """ClusterAdapter main channel (everything except responses and room broadcasts)."""
    ROOM = "room"
    """ClusterAdapter per-room channel (dynamic subscription modes)."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """The meaning of a channel name: its namespace, role, and room suffix if any.

    ``room`` is set for single-room broadcast channels: a node without a local socket in that
    room can drop the message undecoded.
    """

    nsp: str
    role: Role
    room: str | None = None


class Family(abc.ABC):
    """One Node protocol family, configured for one key prefix and one node uid."""

    name: ClassVar[str]
    #: Message classes this family can carry; the manager falls back for the others.
    supported: ClassVar[frozenset[type]]

    def __init__(self, key: str, uid: str, *, json_module: Any = None) -> None:
        if not key:
            raise ValueError("the channel key prefix must not be empty")
        self.key = key
        self.uid = uid
        #: python-socketio's ``json=`` module: encodes, in the JSON messages, the values the
        #: wire's own JSON encoder refuses (None: those raise TypeError).
        self.json_module = json_module
        # parse_channel's answers, per channel; some depend on the uid (a node's own channel).
        self._channel_cache: dict[str, ChannelInfo | None] = {}

    def take_uid(self, uid: str) -> None:
        """Speak for the node ``uid`` from now on (a forked child's fresh identity): channel
        names and parsed channels follow it. Call it before subscribing, not while serving."""
        self.uid = uid
        self._channel_cache.clear()

    @abc.abstractmethod
    def subscriptions(self, nsp: str) -> tuple[list[str], list[str]]:
        """(channels, patterns) a node subscribes to in order to serve ``nsp``."""

    @abc.abstractmethod
    def count_channel(self, nsp: str) -> str:
        """The channel whose subscriber count is the number of nodes serving ``nsp``."""

    def room_channel(self, nsp: str, room: Room, is_sid: bool) -> str | None:
        """The channel to subscribe to while a local socket is in ``room``, if the family has
        per-room subscriptions (dynamic modes); None otherwise."""
        return None

    signed: bool = True
    """False for a family whose messages are never signed (the streams protocol, where
    ``signing_keys`` is refused): the receiver strips no signature from them."""

    @property
    def has_room_channels(self) -> bool:
        """True when nodes subscribe to room channels as rooms come and go."""
        return self.room_channel("/", "room", is_sid=False) is not None

    @abc.abstractmethod
    def parse_channel(self, channel: str) -> ChannelInfo | None:
        """What ``channel`` carries, or None if it is not one of this family's channels."""

    def is_own(self, info: ChannelInfo, payload: bytes) -> bool:
        """True only when the undecoded ``payload``, received on a channel described by
        ``info``, is surely a message of this node's uid, which the receiver ignores: it may
        then drop it without decoding. False when unsure (the decoded message's uid is checked
        anyway). Families that can tell from the bytes cheaply override this; the receiver
        calls it only then."""
        return False

    @abc.abstractmethod
    def encode(
        self, message: ClusterMessage, *, use_room_channel: bool = True
    ) -> tuple[str, bytes]:
        """The channel and payload for ``message``. TypeError for unsupported messages or
        values that cannot be encoded (the caller has published nothing yet).

        ``use_room_channel=False`` keeps a single-room broadcast on the namespace's shared channel,
        which every node reads (see `sioadapter.core.grace`).
        """

    @abc.abstractmethod
    def decode(
        self, info: ChannelInfo, payload: bytes, *, preserve: bool = False
    ) -> ClusterMessage:
        """The message in ``payload``, received on a channel described by ``info``.

        By default values come out ready for Python code and clients: dates inside broadcast
        data become ISO strings (what a Node server would send its clients), JSON Buffers become
        ``bytes``, notepack 2's ``undefined`` becomes None. ``preserve=True`` keeps the wire's
        own representation instead (datetimes, Buffer objects, legacy ext-0 markers), so that
        ``encode`` gives back the very same bytes: for tools and tests.
        """
