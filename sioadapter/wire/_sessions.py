"""Connection state recovery's values in the streams protocol: the sessions Node's
``@socket.io/redis-streams-adapter`` stores, its entry ids (offsets), and which missed
broadcasts a recovering session gets (re-exported by `sioadapter.wire.streams`)."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.messages import Room, Target
from . import notepack
from ._entries import unbase64
from ._fields import as_map, as_rooms, req_str

__all__ = [
    "Session",
    "decode_session",
    "encode_session",
    "next_entry_id",
    "parse_entry_id",
    "replays_to",
]

# Node's restoreSession accepts offsets of this shape only.
_ENTRY_ID = re.compile(r"[0-9]+-[0-9]+")


@dataclass(slots=True)
class Session:
    """A disconnected socket's state, as the adapter stores it for connection state recovery.

    ``rooms`` includes the socket's own sid room, as Node's does; ``data`` is the socket's data
    (Node's ``socket.data``, python-socketio's session).
    """

    sid: str
    pid: str
    rooms: list[Room]
    data: Any = None


def parse_entry_id(text: str) -> tuple[int, int] | None:
    """``(milliseconds, sequence)`` of a stream entry id ``"<ms>-<seq>"``, or None for any other
    string (Node refuses to restore a session from such an offset)."""
    if not isinstance(text, str) or _ENTRY_ID.fullmatch(text) is None:
        return None
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)


def next_entry_id(entry_id: str) -> str:
    """The smallest id after ``entry_id`` (``ms-(seq+1)``): where a replay resumes, as Node does
    it for Redis servers older than 6.2, which have no exclusive ranges. ValueError for an
    invalid id."""
    parsed = parse_entry_id(entry_id)
    if parsed is None:
        raise ValueError(f"not a stream entry id: {entry_id!r}")
    return f"{parsed[0]}-{parsed[1] + 1}"


def encode_session(session: Session) -> str:
    """The session key's value: base64 of the msgpack of ``{sid, pid, rooms, data}``.
    TypeError for data msgpack cannot carry."""
    fields = {"sid": session.sid, "pid": session.pid, "rooms": session.rooms, "data": session.data}
    return base64.b64encode(notepack.packb(fields)).decode("ascii")


def decode_session(value: bytes | str) -> Session:
    """The session in a session key's value (DecodeError if it is not one)."""
    fields = as_map(notepack.unpackb(unbase64(value, "session")), "session")
    return Session(
        req_str(fields, "sid"),
        req_str(fields, "pid"),
        as_rooms(fields.get("rooms"), "session.rooms"),
        fields.get("data"),
    )


def replays_to(session_rooms: Sequence[Room], target: Target) -> bool:
    """Whether a missed broadcast for ``target`` is replayed to a session in ``session_rooms``
    (Node's ``shouldIncludePacket``: no rooms or a shared room, and no room excepted; rooms
    compare as they are, ``"1"`` is not ``1``)."""
    included = not target.rooms or any(room in target.rooms for room in session_rooms)
    return included and not any(room in target.except_rooms for room in session_rooms)
