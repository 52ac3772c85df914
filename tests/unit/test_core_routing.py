"""Routing decisions, the node table and local socket selection (all sans-IO)."""

import pytest
from bidict import bidict

from sioadapter.core import routing
from sioadapter.core.messages import (
    AdapterClose,
    AllRooms,
    Broadcast,
    BroadcastClientCount,
    DisconnectSockets,
    FetchSockets,
    Heartbeat,
    RemoteJoin,
    RequestReply,
    ServerSideEmit,
    SocketsJoin,
    Target,
)
from sioadapter.core.nodes import NodeTable
from sioadapter.core.routing import Action
from sioadapter.core.selection import all_rooms, has_room, recipients, rooms_of, select

SERVED = {"/", "/chat"}


def test_own_messages_are_ignored_even_room_operations():
    own = SocketsJoin("/", "me", Target(), ["r"])
    assert routing.route(own, "me", SERVED) is Action.IGNORE_OWN
    assert routing.route(Broadcast("/", "me", ["ev"]), "me", SERVED) is Action.IGNORE_OWN


def test_messages_for_unserved_namespaces_are_dropped():
    message = Broadcast("/other", "peer", ["ev"])
    assert routing.route(message, "me", SERVED) is Action.FOREIGN_NAMESPACE


def test_responses_are_routed_whoever_sent_them():
    # Classic responses carry no uid; a node's own local answers carry its own uid.
    assert routing.route(RequestReply("/", "r1"), "me", SERVED) is Action.RESPONSE
    own = BroadcastClientCount("/", "me", "r1", 3)
    assert routing.route(own, "me", SERVED) is Action.RESPONSE


@pytest.mark.parametrize(
    ("message", "action"),
    [
        (Broadcast("/", "emitter", ["ev"]), Action.DELIVER),
        (Broadcast("/", "peer", ["ev"], request_id="x"), Action.DELIVER_WITH_ACKS),
        (SocketsJoin("/chat", None, Target(), ["r"]), Action.JOIN),
        (DisconnectSockets("/", "peer", Target()), Action.DISCONNECT),
        (FetchSockets("/", "peer", "x", Target()), Action.ANSWER_FETCH),
        (AllRooms("/", None, "x"), Action.ANSWER_ALL_ROOMS),
        (RemoteJoin("/", None, "x", "sid", "room"), Action.REMOTE_JOIN),
        (ServerSideEmit("/", "emitter", ["hello"]), Action.SERVER_EVENT),
        (Heartbeat("/", "peer", initial=True), Action.HEARTBEAT),
        (AdapterClose("/", "peer"), Action.NODE_CLOSED),
    ],
)
def test_each_message_kind_gets_its_action(message, action):
    assert routing.route(message, "me", SERVED) is action


def test_ack_reply_carries_every_argument_only_when_there_are_several():
    request = Broadcast("/", "asker", ["ev"], request_id="b1")
    one = routing.ack_reply(request, "me", ["ok"])
    assert (one.data, one.args, one.has_data, one.requester) == ("ok", None, True, "asker")
    several = routing.ack_reply(request, "me", ["a", 2])
    assert several.data == "a" and several.arguments() == ["a", 2]
    none = routing.ack_reply(request, "me", [])
    assert not none.has_data and none.arguments() == []


def test_node_table_tracks_peers_but_not_self_or_emitters():
    table = NodeTable("me", timeout=10.0)
    assert table.seen("n1", now=0.0) is True
    assert table.seen("n1", now=1.0) is False
    assert table.seen("me", now=1.0) is False
    assert table.seen("emitter", now=1.0) is False
    assert table.seen(None, now=1.0) is False
    assert table.uids == {"n1"}


def test_node_table_expires_silent_nodes_and_removes_closed_ones():
    table = NodeTable("me", timeout=10.0)
    table.seen("n1", now=0.0)
    table.seen("n2", now=5.0)
    assert table.expire(now=10.0) == []
    assert table.expire(now=10.5) == ["n1"]
    assert table.remove("n2") is True
    assert table.remove("n2") is False
    assert len(table) == 0


def test_node_table_rejects_a_non_positive_timeout():
    with pytest.raises(ValueError, match="positive"):
        NodeTable("me", timeout=0)


def room_table():
    everyone = bidict({"s1": "e1", "s2": "e2", "s3": "e3"})
    return {
        None: everyone,
        "s1": bidict({"s1": "e1"}),
        "s2": bidict({"s2": "e2"}),
        "s3": bidict({"s3": "e3"}),
        "red": bidict({"s1": "e1", "s2": "e2"}),
        "blue": bidict({"s2": "e2", "s3": "e3"}),
        123: bidict({"s3": "e3"}),
    }


def test_select_everyone_rooms_and_except():
    rooms = room_table()
    assert set(select(rooms)) == {"s1", "s2", "s3"}
    assert set(select(rooms, ["red"])) == {"s1", "s2"}
    assert set(select(rooms, ["red", "blue"])) == {"s1", "s2", "s3"}
    assert set(select(rooms, [], ["blue"])) == {"s1"}
    assert set(select(rooms, ["red"], ["s2"])) == {"s1"}
    assert select(rooms, ["nobody"]) == {}


def test_select_returns_eio_sids_and_a_copy():
    rooms = room_table()
    selected = select(rooms, ["red"])
    assert selected == {"s1": "e1", "s2": "e2"}
    selected.clear()
    assert len(rooms["red"]) == 2


@pytest.mark.parametrize(
    ("rooms", "except_rooms"),
    [
        ((), ()),
        (("red",), ()),
        (("red", "blue"), ()),
        ((), ("blue",)),
        (("red",), ("s2",)),
        (("nobody",), ()),
        (("123",), ()),
        ((123,), ("s3",)),
    ],
)
def test_recipients_are_the_eio_sids_select_picks_taken_now(rooms, except_rooms):
    table = room_table()
    got = recipients(table, rooms, except_rooms)
    assert sorted(got) == sorted(select(table, rooms, except_rooms).values())
    # a snapshot: a socket leaving during the delivery does not change the list being sent to
    before = list(got)
    table["red"].pop("s1", None)
    table[None].pop("s1", None)
    assert got == before


def test_numeric_rooms_match_across_spellings_like_nodes_hasroom():
    rooms = room_table()
    assert has_room(rooms, "123")  # from a channel name
    assert has_room(rooms, 123)
    assert not has_room(rooms, "0123")
    rooms["456"] = bidict({"s1": "e1"})
    assert set(select(rooms, [456])) == {"s1"}


def test_rooms_of_and_all_rooms_include_sid_rooms():
    rooms = room_table()
    assert set(rooms_of(rooms, "s2")) == {"s2", "red", "blue"}
    assert set(all_rooms(rooms)) == {"s1", "s2", "s3", "red", "blue", 123}


def test_recent_room_changes_expire_after_the_grace_period():
    from sioadapter.core.grace import RecentRoomChanges

    recent = RecentRoomChanges(grace=2.0)
    recent.changed("/", ["vip", "lobby"], now=10.0)
    assert recent.is_recent("/", "vip", now=11.9)
    assert not recent.is_recent("/chat", "vip", now=11.9)
    assert not recent.is_recent("/", "vip", now=12.0)
    assert len(recent) == 1  # expired entries are forgotten when looked at


def test_recent_room_changes_stay_bounded():
    from sioadapter.core.grace import RecentRoomChanges

    recent = RecentRoomChanges(grace=1.0)
    for second in range(3000):
        recent.changed("/", [f"room-{second}"], now=float(second))
    assert len(recent) <= 1025
    assert RecentRoomChanges(grace=0).is_recent("/", "x", now=0.0) is False
