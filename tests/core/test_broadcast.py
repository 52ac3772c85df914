"""Broadcasts across three nodes: rooms, except_rooms, sid rooms, skipping before decoding."""

from __future__ import annotations

import pytest

from .harness import KEY, Cluster


def test_broadcast_to_everyone_reaches_every_socket_of_every_node_once(cluster: Cluster):
    a, b, c = cluster.peers
    sids = [a.connect(), b.connect(), b.connect(), c.connect()]
    a.emit("news", {"n": 1})
    cluster.run()
    for peer, sid in zip([a, b, b, c], sids, strict=True):
        assert peer.events(sid) == [("news", {"n": 1})]


def test_broadcast_to_a_room_reaches_only_its_members(cluster: Cluster):
    a, b, c = cluster.peers
    a_in, b_in, b_out, c_out = a.connect("game"), b.connect("game"), b.connect(), c.connect()
    c.emit("move", 3, to="game")
    cluster.run()
    assert a.events(a_in) == b.events(b_in) == [("move", 3)]
    assert b.events(b_out) == c.events(c_out) == []


def test_a_socket_in_several_target_rooms_gets_the_event_once(cluster: Cluster):
    a, b, c = cluster.peers
    both = b.connect("red", "blue")
    red = c.connect("red")
    a.emit("paint", to=["red", "blue"])
    cluster.run()
    assert b.events(both) == [("paint",)]
    assert c.events(red) == [("paint",)]


def test_except_rooms_leave_their_members_out_on_every_node(cluster: Cluster):
    a, b, c = cluster.peers
    a_muted, b_muted = a.connect("lobby", "muted"), b.connect("lobby", "muted")
    a_ok, c_ok = a.connect("lobby"), c.connect("lobby")
    b.emit("chat", "hi", to="lobby", except_rooms=["muted"])
    cluster.run()
    assert a.events(a_muted) == b.events(b_muted) == []
    assert a.events(a_ok) == c.events(c_ok) == [("chat", "hi")]


def test_except_rooms_alone_means_everyone_but_them(cluster: Cluster):
    a, b, c = cluster.peers
    muted, ok_b, ok_c = b.connect("muted"), b.connect(), c.connect()
    a.emit("all", except_rooms="muted")
    cluster.run()
    assert b.events(muted) == []
    assert b.events(ok_b) == c.events(ok_c) == [("all",)]


def test_broadcast_to_a_sid_of_another_node_reaches_that_socket_only(cluster: Cluster):
    a, b, c = cluster.peers
    target, other_b, other_c = b.connect(), b.connect(), c.connect()
    a.emit("private", "psst", to=target)
    cluster.run()
    assert b.events(target) == [("private", "psst")]
    assert b.events(other_b) == c.events(other_c) == []


def test_broadcast_to_a_sid_of_the_same_node_publishes_nothing(cluster: Cluster):
    a, _b, _c = cluster.peers
    own = a.connect()
    before = len(cluster.link.published)
    assert a.emit("private", to=own) is None
    cluster.run()
    assert a.events(own) == [("private",)]
    assert len(cluster.link.published) == before


def test_classic_room_broadcast_is_skipped_undecoded_where_the_room_has_no_member():
    cluster = Cluster("classic")
    a, b, c = cluster.peers
    b_in = b.connect("game")
    c.connect("elsewhere")
    published = a.emit("move", to="game")
    assert published is not None and published.channel == f"{KEY}#/#game#"
    cluster.run()
    assert b.events(b_in) == [("move",)]
    # A and C receive it through PSUBSCRIBE socket.io#/#* and drop it from the channel name.
    assert (a.stats.skipped_rooms, b.stats.skipped_rooms, c.stats.skipped_rooms) == (1, 0, 1)
    assert a.stats.dropped_malformed == c.stats.dropped_malformed == 0
    assert (a.stats.delivered, b.stats.delivered, c.stats.delivered) == (0, 1, 0)


def test_classic_namespace_broadcast_is_skipped_by_a_node_without_any_socket():
    cluster = Cluster("classic")
    a, b, c = cluster.peers
    b_sid = b.connect()
    a.emit("hello")
    cluster.run()
    assert b.events(b_sid) == [("hello",)]
    assert c.stats.skipped_rooms == 1 and c.stats.delivered == 0


def test_sid_broadcast_on_classic_is_skipped_by_every_other_node():
    cluster = Cluster("classic")
    a, b, c = cluster.peers
    a.connect(), c.connect()
    target = b.connect()
    a.emit("dm", to=target)
    cluster.run()
    assert b.events(target) == [("dm",)]
    assert a.stats.skipped_rooms == 1 and c.stats.skipped_rooms == 1


def test_the_sender_ignores_its_own_broadcast_coming_back():
    cluster = Cluster("classic")
    a, _b, _c = cluster.peers
    own = a.connect()
    a.emit("once")
    cluster.run()
    assert a.events(own) == [("once",)]  # python-socketio's local delivery, not the echo
    assert a.stats.ignored_own == 1


def test_cluster_dynamic_room_broadcast_wakes_only_nodes_with_a_member():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    b_in = b.connect("game")
    c.connect()
    cluster.advance(5)  # past the grace of nothing: no room change was sent
    deliveries_c = cluster.link.deliveries.get(c, 0)
    published = a.emit("move", to="game")
    assert published is not None and published.channel == f"{KEY}#/#game#"
    cluster.run()
    assert b.events(b_in) == [("move",)]
    assert cluster.link.deliveries.get(c, 0) == deliveries_c  # never woken


def test_cluster_dynamic_sid_rooms_stay_on_the_main_channel():
    cluster = Cluster("cluster")
    a, b, _c = cluster.peers
    target = b.connect()
    published = a.emit("dm", to=target)
    assert published is not None and published.channel == f"{KEY}#/#"
    cluster.run()
    assert b.events(target) == [("dm",)]


def test_classic_dynamic_private_subscribes_to_each_local_room_and_leaves_empty_ones():
    cluster = Cluster("classic", mode="dynamic-private")
    a, b, c = cluster.peers
    sid = b.connect("game")
    room_channel = f"{KEY}#/#game#"
    assert cluster.link.numsub(room_channel) == 1
    assert cluster.link.numsub(f"{KEY}#/#{sid}#") == 1
    a.emit("move", to="game")
    cluster.run()
    assert b.events(sid) == [("move",)]
    assert c.stats.skipped_rooms == 0  # C was never sent it
    b.leave_room(sid, "game")
    assert cluster.link.numsub(room_channel) == 0
    a.emit("move", to="game")
    cluster.run()
    assert b.events(sid) == [("move",)]


def test_numeric_room_names_match_their_string_channel_suffix():
    cluster = Cluster("classic")
    a, b, _c = cluster.peers
    sid = b.connect(123)
    published = a.emit("n", to=123)
    assert published is not None and published.channel == f"{KEY}#/#123#"
    cluster.run()
    assert b.events(sid) == [("n",)]


@pytest.mark.parametrize("family", ["classic", "cluster"])
def test_batched_delivery_gives_the_same_result_as_one_by_one(family: str):
    cluster = Cluster(family, batch=True)
    a, b, c = cluster.peers
    b_sid, c_sid = b.connect("r"), c.connect()
    for n in range(3):
        a.emit("seq", n)
    a.emit("room", to="r")
    cluster.run()
    assert b.events(b_sid) == [("seq", 0), ("seq", 1), ("seq", 2), ("room",)]
    assert c.events(c_sid) == [("seq", 0), ("seq", 1), ("seq", 2)]


def test_binary_arguments_arrive_as_bytes(cluster: Cluster):
    a, _b, c = cluster.peers
    sid = c.connect()
    a.emit("blob", b"\x00\xffdata", {"nested": b"\x01"})
    cluster.run()
    assert c.events(sid) == [("blob", b"\x00\xffdata", {"nested": b"\x01"})]
