"""Which local sockets an operation selects, read from python-socketio's room table.

python-socketio keeps ``rooms[namespace][room] = {sid: eio_sid}``, with the room ``None`` holding
every socket of the namespace and each socket in a room named after its own sid. These helpers
read one namespace's part of that table (a mapping of room to members) and never change it.

Room names arrive from Node peers as numbers or strings (``rooms:[123]``), and from a channel
name always as strings. Node's ``hasRoom`` retries a numeric channel suffix as a number; the
lookups here likewise try the other spelling of a numeric room when the given one is absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NamespaceRooms = Mapping[Any, Mapping[str, Any]]
"""One namespace of python-socketio's room table: room -> {sid: eio_sid}."""


def _alternate(room: Any) -> Any:
    """The other spelling of a numeric room name (``"123"`` <-> ``123``), or None."""
    if isinstance(room, bool):
        return None
    if isinstance(room, int):
        return str(room)
    if isinstance(room, str) and room.isdigit() and room.isascii():
        # Only canonical digits: "0123" is not the number 123 in Node either.
        number = int(room)
        return number if str(number) == room else None
    return None


def members(namespace_rooms: NamespaceRooms, room: Any) -> Mapping[str, Any] | None:
    """The members of ``room`` ({sid: eio_sid}), or None if no local socket is in it."""
    found = namespace_rooms.get(room)
    if found is None:
        other = _alternate(room)
        if other is not None:
            found = namespace_rooms.get(other)
    return found


def has_room(namespace_rooms: NamespaceRooms, room: Any) -> bool:
    """True if some local socket is in ``room`` (decides whether to decode a room message)."""
    return members(namespace_rooms, room) is not None


def select(
    namespace_rooms: NamespaceRooms,
    rooms: Iterable[Any] = (),
    except_rooms: Iterable[Any] = (),
) -> dict[str, Any]:
    """The local sockets an operation targets, as {sid: eio_sid}.

    No ``rooms`` means every socket of the namespace. A socket in several target rooms appears
    once. A socket in any of ``except_rooms`` is left out.
    """
    # python-socketio's members are bidicts: copied through items(), since dict(bidict) looks
    # every key up again in Python (8x slower at 100 members).
    rooms = list(rooms)
    if not rooms:
        everyone = namespace_rooms.get(None)
        selected = dict(everyone.items()) if everyone else {}
    elif len(rooms) == 1:
        one = members(namespace_rooms, rooms[0])
        selected = dict(one.items()) if one else {}
    else:
        selected = {}
        for room in rooms:
            found = members(namespace_rooms, room)
            if found:
                selected.update(found.items())
    for room in except_rooms:
        excluded = members(namespace_rooms, room)
        if excluded:
            for sid in excluded:
                selected.pop(sid, None)
    return selected


def recipients(
    namespace_rooms: NamespaceRooms,
    rooms: Sequence[Any] = (),
    except_rooms: Sequence[Any] = (),
) -> list[Any]:
    """The eio_sids of the sockets :func:`select` picks, as a list taken now (the table may
    change while a delivery awaits). A broadcast's path: a single room (or the whole namespace)
    with no exception, the common case, copies only that room's eio_sids, not a dict."""
    if not except_rooms and len(rooms) <= 1:
        found = members(namespace_rooms, rooms[0]) if rooms else namespace_rooms.get(None)
        return list(found.values()) if found else []
    return list(select(namespace_rooms, rooms, except_rooms).values())


def rooms_of(namespace_rooms: NamespaceRooms, sid: str) -> list[Any]:
    """The rooms ``sid`` is in, its own sid room included (Node's ``socket.rooms``)."""
    return [
        room
        for room, room_members in namespace_rooms.items()
        if room is not None and sid in room_members
    ]


def rooms_by_sid(namespace_rooms: NamespaceRooms, sids: Iterable[str]) -> dict[str, list[Any]]:
    """The rooms of each of ``sids``, each list what `rooms_of` gives (same rooms, same order),
    read in one pass over the table. Why: a fetch answer describes many sockets, and asking
    `rooms_of` for each costs sockets x rooms (each socket's own room counts), 8 s for 10,000
    sockets; here each room costs the smaller of its members and ``sids``."""
    found: dict[str, list[Any]] = {sid: [] for sid in sids}
    wanted = len(found)
    for room, room_members in namespace_rooms.items():
        if room is None or not room_members:
            continue
        if len(room_members) < wanted:
            for sid in room_members:
                rooms = found.get(sid)
                if rooms is not None:
                    rooms.append(room)
        else:
            for sid, rooms in found.items():
                if sid in room_members:
                    rooms.append(room)
    return found


def all_rooms(namespace_rooms: NamespaceRooms) -> list[Any]:
    """Every room that has a local socket, sid rooms included (Node's ``adapter.rooms``)."""
    return [room for room in namespace_rooms if room is not None]
