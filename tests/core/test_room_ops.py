"""Room operations across nodes: sockets_join / sockets_leave / disconnect_sockets, the legacy
single-socket remote_join / remote_leave / remote_disconnect, and the room-channel grace."""

from __future__ import annotations

from sioadapter.core.messages import RemoteJoin

from .harness import KEY, Cluster


def test_sockets_join_makes_the_selected_sockets_of_every_node_join(cluster: Cluster):
    a, b, c = cluster.peers
    a1, b1, c1 = a.connect("lobby"), b.connect("lobby"), c.connect("lobby")
    other = c.connect()
    b.sockets_join(["game", "chat"], to="lobby")
    cluster.run()
    for peer, sid in [(a, a1), (b, b1), (c, c1)]:
        assert {"game", "chat"} <= peer.rooms_of(sid)
    assert c.rooms_of(other) == {other}


def test_sockets_join_then_a_broadcast_to_the_new_room_reaches_everyone(cluster: Cluster):
    a, b, c = cluster.peers
    sids = [(b, b.connect()), (c, c.connect())]
    a.sockets_join("news")
    cluster.run()
    cluster.advance(5.0)  # past the grace: the room channel, where families have them
    a.emit("flash", to="news")
    cluster.run()
    for peer, sid in sids:
        assert peer.events(sid) == [("flash",)]


def test_sockets_leave_makes_the_selected_sockets_leave(cluster: Cluster):
    a, b, c = cluster.peers
    b1, c1 = b.connect("game"), c.connect("game")
    a.sockets_leave("game", to=c1)
    cluster.run()
    assert "game" not in c.rooms_of(c1)
    assert "game" in b.rooms_of(b1)


def test_sockets_join_with_except_rooms_leaves_those_out(cluster: Cluster):
    a, b, c = cluster.peers
    joined, kept_out = b.connect(), c.connect("banned")
    a.sockets_join("vip", except_rooms="banned")
    cluster.run()
    assert "vip" in b.rooms_of(joined)
    assert "vip" not in c.rooms_of(kept_out)


def test_disconnect_sockets_disconnects_the_selected_sockets_everywhere(cluster: Cluster):
    a, b, c = cluster.peers
    a1, b1, c1, stay = a.connect("kick"), b.connect("kick"), c.connect("kick"), c.connect()
    b.disconnect_sockets(to="kick")
    cluster.run()
    assert a.disconnected == [(a1, False)] and b.disconnected == [(b1, False)]
    assert c.disconnected == [(c1, False)]
    assert c.sids() == {stay}


def test_disconnect_sockets_close_reaches_the_owner(cluster: Cluster):
    a, _b, c = cluster.peers
    sid = c.connect()
    a.disconnect_sockets(close=True)
    cluster.run()
    assert c.disconnected == [(sid, True)]
    assert c.sids() == set()


def test_remote_join_reaches_the_socket_wherever_it_is(cluster: Cluster):
    a, _b, c = cluster.peers
    sid = c.connect()
    call = a.remote_join(sid, "room-1")
    cluster.run()
    assert call.outcome == "completed"
    assert "room-1" in c.rooms_of(sid)


def test_remote_leave_and_remote_disconnect(cluster: Cluster):
    _a, b, c = cluster.peers
    sid = b.connect("room-1")
    leave = c.remote_leave(sid, "room-1")
    cluster.run()
    assert leave.outcome == "completed" and b.rooms_of(sid) == {sid}
    gone = c.remote_disconnect(sid, close=True)
    cluster.run()
    assert gone.outcome == "completed" and b.disconnected == [(sid, True)]


def test_classic_remote_operations_are_answered_by_the_owner_only():
    cluster = Cluster("classic")
    a, b, c = cluster.peers
    sid = b.connect()
    assert a.node.supports(RemoteJoin)
    call = a.remote_join(sid, "room-1")
    cluster.run()
    assert call.outcome == "completed"
    assert len(cluster.link.by(b)) == 1  # the owner's confirmation
    assert cluster.link.by(c) == []  # C has no such socket: it says nothing


def test_remote_operation_on_a_local_socket_publishes_nothing(cluster: Cluster):
    a, _b, _c = cluster.peers
    sid = a.connect()
    before = len(cluster.link.published)
    call = a.remote_join(sid, "here")
    assert call.outcome == "completed" and "here" in a.rooms_of(sid)
    assert len(cluster.link.published) == before


def test_remote_join_of_an_unknown_socket_is_not_found():
    classic = Cluster("classic")
    call = classic.peers[0].remote_join("nobody".ljust(20, "_"), "r")
    classic.advance(5.0)
    assert call.outcome == "timeout"  # the manager raises SocketNotFoundError
    other = Cluster("cluster")
    fallback = other.peers[0].remote_join("nobody".ljust(20, "_"), "r")
    other.run()
    assert fallback.outcome == "not-found"


def test_the_cluster_family_falls_back_to_a_join_aimed_at_one_socket():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    sid, bystander, neighbour = c.connect(), b.connect(), c.connect()
    assert not a.node.supports(RemoteJoin)
    call = a.remote_join(sid, "r")
    cluster.run()
    assert call.outcome == "completed"
    assert "r" in c.rooms_of(sid)
    assert "r" not in b.rooms_of(bystander) | c.rooms_of(neighbour)


def test_a_broadcast_right_after_a_join_travels_on_the_namespace_channel():
    cluster = Cluster("cluster", mode="dynamic")
    a, b, _c = cluster.peers
    sid = b.connect()
    a.sockets_join("fresh", to=sid)
    published = a.emit("welcome", to="fresh")  # before B had the time to subscribe
    assert published is not None and published.channel == f"{KEY}#/#"
    cluster.run()
    assert b.events(sid) == [("welcome",)]


def test_without_the_grace_that_broadcast_would_be_lost():
    cluster = Cluster("cluster", mode="dynamic", room_grace=0.0)
    a, b, _c = cluster.peers
    sid = b.connect()
    a.sockets_join("fresh", to=sid)
    published = a.emit("welcome", to="fresh")
    assert published is not None and published.channel == f"{KEY}#/#fresh#"
    cluster.run()
    assert b.events(sid) == []  # fanned out before B subscribed to the room channel
    assert "fresh" in b.rooms_of(sid)


def test_the_grace_ends_and_the_room_channel_is_used_again():
    cluster = Cluster("cluster", mode="dynamic", room_grace=2.0)
    a, b, _c = cluster.peers
    sid = b.connect()
    a.sockets_join("fresh", to=sid)
    cluster.advance(1.9)
    assert a.emit("x", to="fresh").channel == f"{KEY}#/#"
    cluster.advance(0.2)
    assert a.emit("y", to="fresh").channel == f"{KEY}#/#fresh#"
    cluster.run()
    assert b.events(sid) == [("x",), ("y",)]


def test_a_broadcast_right_after_a_leave_misses_the_socket_that_left():
    cluster = Cluster("cluster", mode="dynamic-private")
    a, b, c = cluster.peers
    leaving, staying = b.connect("room"), c.connect("room")
    a.sockets_leave("room", to=leaving)
    published = a.emit("after", to="room")
    assert published is not None and published.channel == f"{KEY}#/#"
    cluster.run()
    assert b.events(leaving) == []
    assert c.events(staying) == [("after",)]


def test_classic_pattern_mode_has_no_room_channels_and_no_grace():
    cluster = Cluster("classic")
    a, b, _c = cluster.peers
    sid = b.connect()
    a.sockets_join("fresh", to=sid)
    assert a.emit("hi", to="fresh").channel == f"{KEY}#/#fresh#"
    cluster.run()
    assert b.events(sid) == [("hi",)]
