"""Field readers and writers the wire families share (private to `sioadapter.wire`).

Each reader returns the field when it has the expected type and raises ``DecodeError`` naming
what is wrong otherwise, so a family's ``decode`` never returns a half-valid message.
"""

from __future__ import annotations

from typing import Any

from ..core.messages import Broadcast, Room, Target
from ..errors import DecodeError
from . import notepack

COUNT_MAX = 2**63 - 1
"""The largest count a decoded message may carry (Node's own are JS safe integers)."""


def as_map(value: Any, what: str) -> dict[Any, Any]:
    """``value`` if it is a map, else DecodeError."""
    if not isinstance(value, dict):
        raise DecodeError(f"{what} must be a map, got {type(value).__name__}")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """``value`` if it is an array, else DecodeError."""
    if not isinstance(value, list):
        raise DecodeError(f"{what} must be an array, got {type(value).__name__}")
    return value


def req_str(fields: dict[Any, Any], key: str) -> str:
    """A required string field."""
    value = fields.get(key)
    if not isinstance(value, str):
        raise DecodeError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def opt_str(fields: dict[Any, Any], key: str) -> str | None:
    """An optional string field (absent or null means None)."""
    value = fields.get(key)
    if value is not None and not isinstance(value, str):
        raise DecodeError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def req_int(fields: dict[Any, Any], key: str) -> int:
    """A required integer field (booleans refused)."""
    value = fields.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(f"field {key!r} must be an integer, got {type(value).__name__}")
    return value


def req_count(fields: dict[Any, Any], key: str) -> int:
    """A required count: an integer from 0 to `COUNT_MAX` (the manager adds them up)."""
    value = req_int(fields, key)
    if not 0 <= value <= COUNT_MAX:
        raise DecodeError(f"field {key!r} must be a count from 0 to 2**63-1, got {value}")
    return value


def packet_type(packet: dict[Any, Any]) -> int:
    """The Socket.IO packet type of a broadcast: 2 (EVENT, the default when absent), or 5
    (BINARY_EVENT, from emitter 3.1.x). Exactly the integer: not ``2.0``, not ``True``."""
    value = packet.get("type", 2)
    if type(value) is not int or value not in (2, 5):
        raise DecodeError(f"packet.type {value!r} is not an event")
    return value


def as_socket_details(value: Any, what: str, ids: bool = False) -> list[Any]:
    """A list of socket details (maps), or with ``ids`` also of socket ids (strings): a classic
    answer holds either, and only the request it answers tells which."""
    items = as_list(value, what)
    for item in items:
        if not isinstance(item, dict) and not (ids and isinstance(item, str)):
            kind = "socket ids or details" if ids else "socket details"
            raise DecodeError(f"{what} holds a {type(item).__name__}, not {kind}")
    return items


def iso_dates(data: list[Any]) -> list[Any]:
    """``data`` with its dates as JS ISO strings (see `notepack.dates_to_iso`)."""
    try:
        converted: list[Any] = notepack.dates_to_iso(data)
    except RecursionError:  # the C decoder nests deeper than this recursive walk can go
        raise DecodeError("data nested too deep to look for dates") from None
    return converted


def as_rooms(value: Any, what: str) -> list[Room]:
    """A list of room names (strings or numbers); absent means empty."""
    if value is None:
        return []
    rooms = as_list(value, what)
    for room in rooms:
        if isinstance(room, bool) or not isinstance(room, (str, int)):
            raise DecodeError(f"{what} holds a {type(room).__name__}, not a room name")
    return rooms


def as_event_data(value: Any, what: str) -> list[Any]:
    """A Socket.IO event's data: an array whose first element is the event name."""
    data = as_list(value, what)
    if not data or not isinstance(data[0], str):
        raise DecodeError(f"{what} must start with the event name")
    return data


def read_target(value: Any) -> Target:
    """Wire ``opts`` to a Target. Missing fields are empty: old emitters sent no ``except``,
    socket.io-redis 6.x no ``flags``."""
    if value is None:
        return Target()
    opts = as_map(value, "opts")
    flags = opts.get("flags")
    return Target(
        rooms=as_rooms(opts.get("rooms"), "opts.rooms"),
        except_rooms=as_rooms(opts.get("except"), "opts.except"),
        flags=dict(as_map(flags, "opts.flags")) if flags is not None else {},
    )


def _plain_rooms(value: Any) -> list[Room] | None:
    """``value`` if it is a list of exact ``str``/``int`` room names, else None (not a refusal:
    `as_rooms` then decides)."""
    if type(value) is not list:
        return None
    for room in value:
        kind = type(room)
        if kind is not str and kind is not int:
            return None
    return value


def plain_broadcast(fields: dict[Any, Any], nsp: Any, uid: Any) -> Broadcast | None:
    """The common broadcast, read with exact type checks only: ``{"packet": {"type": 2|5?,
    "data": [event, ...]}, "opts": {"rooms": [...], "except": [...], "flags": {...}}}`` as JSON
    decodes it (``fields`` is the message's ``data``), ``nsp`` and ``uid`` already checked.

    Contract: a Broadcast equal to what the generic readers (`as_map`, `packet_type`,
    `as_event_data`, `read_target`, `opt_str`) build from the same fields, or None whenever
    anything is not the plain shape, and those readers then accept or refuse it as before.
    Why: it runs for every broadcast a node receives, and the generic path's calls and
    keyword-built Target cost a fifth of a receiving node's decode.
    """
    request_id = fields.get("requestId")
    if request_id is not None and type(request_id) is not str:
        return None
    return plain_event(fields.get("packet"), fields.get("opts"), nsp, uid, request_id)


def plain_event(
    packet: Any, opts: Any, nsp: str, uid: str | None, request_id: str | None = None
) -> Broadcast | None:
    """The Broadcast of a plain ``packet`` (a map with ``data`` and maybe ``type``; its ``nsp``
    is the caller's) and ``opts`` (absent, or rooms, except and flags), with exact type checks
    only; None when either is not the plain shape (see `plain_broadcast`, whose contract this
    shares: the classic family reads its ``[uid, packet, opts]`` broadcasts with it too)."""
    if type(packet) is not dict:
        return None
    type_code = packet.get("type", 2)
    if type(type_code) is not int or (type_code != 2 and type_code != 5):
        return None
    data = packet.get("data")
    if type(data) is not list or not data or type(data[0]) is not str:
        return None
    if opts is None:
        target = Target()
    elif type(opts) is dict:
        rooms = opts.get("rooms")
        rooms = [] if rooms is None else _plain_rooms(rooms)
        except_rooms = opts.get("except")
        except_rooms = [] if except_rooms is None else _plain_rooms(except_rooms)
        flags = opts.get("flags")
        if rooms is None or except_rooms is None:
            return None
        if flags is None:
            flags = {}
        elif type(flags) is dict:
            flags = dict(flags)
        else:
            return None
        target = Target(rooms, except_rooms, flags)
    else:
        return None
    return Broadcast(nsp, uid, data, target, request_id, type_code)


def write_target(target: Target, flags: bool = True) -> dict[str, Any]:
    """A Target as wire ``opts`` (Node's key order: rooms, except, flags)."""
    opts: dict[str, Any] = {"rooms": target.rooms, "except": target.except_rooms}
    if flags:
        opts["flags"] = target.flags
    return opts


def split_channel(channel: str, prefix: str) -> tuple[str, str | None] | None:
    """Split ``prefix + nsp + "#" [+ room + "#"]`` into (nsp, room or None).

    The namespace ends at the first ``#`` after the prefix; everything up to the final ``#`` is
    the room, which may itself contain ``#``. Returns None when the shape does not match.
    """
    if not channel.startswith(prefix) or not channel.endswith("#"):
        return None
    rest = channel[len(prefix) : -1]
    nsp, _, room = rest.partition("#")
    if not nsp:
        return None
    return (nsp, room or None)
