"""`selection.rooms_by_sid`, which fetch answers read their sockets' rooms with, gives what
`selection.rooms_of` gives each socket (hypothesis), whichever side of each room is smaller."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sioadapter.core.selection import rooms_by_sid, rooms_of

SIDS = [f"s{i}" for i in range(12)]


@st.composite
def tables(draw: Any) -> dict[Any, dict[str, str]]:
    """A namespace's room table as python-socketio keeps it: None holds every socket, each
    socket has its own room, and named rooms (strings and numbers) hold some of them."""
    sockets = draw(st.lists(st.sampled_from(SIDS), unique=True, max_size=len(SIDS)))
    table: dict[Any, dict[str, str]] = {None: {sid: f"e{sid}" for sid in sockets}}
    for sid in sockets:
        table[sid] = {sid: f"e{sid}"}
    names = draw(st.lists(st.one_of(st.text(max_size=3), st.integers(0, 9)), max_size=6))
    for name in names:
        members = draw(st.lists(st.sampled_from(sockets), unique=True)) if sockets else []
        table[name] = {sid: f"e{sid}" for sid in members}  # may be empty, as after leaves
    return table


@settings(max_examples=300, deadline=None, database=None)
@given(table=tables(), data=st.data())
def test_each_socket_gets_the_rooms_rooms_of_gives_it(table: Any, data: Any) -> None:
    asked = data.draw(st.lists(st.sampled_from(SIDS), unique=True))  # some not connected
    found = rooms_by_sid(table, asked)
    assert list(found) == asked
    for sid in asked:
        assert found[sid] == rooms_of(table, sid), sid


def test_a_socket_in_no_room_of_the_table_gets_none() -> None:
    table = {None: {"a": "ea"}, "a": {"a": "ea"}, "lobby": {"a": "ea"}}
    assert rooms_by_sid(table, ["a", "gone"]) == {"a": ["a", "lobby"], "gone": []}


class Counted(dict):  # type: ignore[type-arg]
    """A room's members that count the membership tests asked of them."""

    checks = 0

    def __contains__(self, sid: object) -> bool:
        Counted.checks += 1
        return super().__contains__(sid)


def test_a_fetch_of_every_socket_costs_the_table_once_not_once_per_socket() -> None:
    n = 500
    table: dict[Any, Any] = {None: Counted({f"s{i}": "e" for i in range(n)})}
    for i in range(n):
        table[f"s{i}"] = Counted({f"s{i}": "e"})  # each socket's own room
    table["lobby"] = Counted({f"s{i}": "e" for i in range(0, n, 2)})
    Counted.checks = 0
    found = rooms_by_sid(table, list(table[None]))
    assert found["s2"] == ["s2", "lobby"] and found["s1"] == ["s1"]
    assert Counted.checks <= 2 * n  # asking each socket apart: n x (n + 1) tests
