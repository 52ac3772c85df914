"""Cluster requests: fetch_sockets, all_rooms, sockets, server_count; timeouts with partial
results, late answers, withdrawal."""

from __future__ import annotations

from sioadapter.core.messages import AllRooms, SocketIds
from sioadapter.core.requests import RequestKind

from .harness import KEY, Cluster


def ids(call) -> list[str]:
    return sorted(socket["id"] for socket in call.value)


def test_fetch_sockets_returns_every_nodes_sockets_with_rooms_and_session(cluster: Cluster):
    a, b, c = cluster.peers
    a1 = a.connect()
    b1 = b.connect("game", data={"user": "bob"})
    c1 = c.connect()
    call = a.fetch_sockets()
    cluster.run()
    assert call.outcome == "completed"
    assert ids(call) == sorted([a1, b1, c1])
    bob = next(s for s in call.value if s["id"] == b1)
    assert sorted(bob["rooms"]) == sorted([b1, "game"]) and bob["data"] == {"user": "bob"}


def test_fetch_sockets_keeps_which_node_each_socket_came_from():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    b1, c1 = b.connect(), c.connect()
    call = a.fetch_sockets()
    cluster.run()
    assert sorted((node, s["id"]) for node, s in call.results) == [(b.uid, b1), (c.uid, c1)]


def test_fetch_sockets_selects_by_rooms_and_except_rooms(cluster: Cluster):
    a, b, c = cluster.peers
    a_in = a.connect("lobby")
    b_in, b_muted = b.connect("lobby"), b.connect("lobby", "muted")
    c.connect("other")
    call = b.fetch_sockets(rooms="lobby", except_rooms="muted")
    cluster.run()
    assert ids(call) == sorted([a_in, b_in])
    assert b_muted not in ids(call)


def test_a_session_the_wire_cannot_carry_is_sent_as_null(cluster: Cluster):
    a, b, _c = cluster.peers
    bad, good = b.connect(data=object()), b.connect(data="fine")
    call = a.fetch_sockets()
    cluster.run()
    assert call.outcome == "completed"  # an answer all the same: the requester does not hang
    data = {s["id"]: s["data"] for s in call.value}
    assert data == {bad: None, good: "fine"}
    assert [d.kind for d in b.dropped] == ["unencodable-session"]


def test_fetch_sockets_times_out_with_the_answers_of_the_nodes_that_answered(cluster: Cluster):
    a, b, c = cluster.peers
    b1 = b.connect()
    c.connect()
    cluster.link.pause(c)  # C is slow
    call = a.fetch_sockets(timeout=2.0)
    cluster.advance(2.0)
    assert call.outcome == "timeout"
    assert [s["id"] for _, s in call.results] == [b1]
    assert call.request is not None and call.request.progress() == (1, 2)
    assert a.stats.requests_timed_out == 1


def test_an_answer_after_the_timeout_is_counted_as_late(cluster: Cluster):
    a, b, c = cluster.peers
    b1 = b.connect()
    c.connect()
    cluster.link.pause(c)
    call = a.fetch_sockets(timeout=1.0)
    cluster.advance(1.0)
    assert call.outcome == "timeout"
    late = a.stats.late_responses
    cluster.link.resume(c)
    cluster.run()
    assert a.stats.late_responses == late + 1
    assert call.outcome == "timeout"
    assert [s["id"] for _, s in call.results] == [b1]  # B's; C's answer added nothing


def test_all_rooms_is_the_union_of_every_nodes_rooms(cluster: Cluster):
    a, b, c = cluster.peers
    a1 = a.connect("lobby")
    b1 = b.connect("lobby", "game")
    c1 = c.connect(7)
    call = a.all_rooms()
    cluster.run()
    assert call.outcome == "completed"
    assert call.value == {a1, b1, c1, "lobby", "game", 7}


def test_classic_all_rooms_uses_its_own_request_and_the_cluster_family_falls_back():
    classic, other = Cluster("classic"), Cluster("cluster")
    assert classic.peers[0].node.supports(AllRooms)
    assert not other.peers[0].node.supports(AllRooms)
    classic.peers[0].all_rooms()
    assert (
        b'"type":1}' in classic.link.by(classic.peers[0])[-1].payload
    )  # classic type 1: ALL_ROOMS
    assert other.peers[0].all_rooms().kind is RequestKind.FETCH_SOCKETS


def test_sockets_lists_the_ids_in_a_room_on_every_node(cluster: Cluster):
    a, b, c = cluster.peers
    a1, b1 = a.connect("game"), b.connect("game")
    b.connect(), c.connect("other")
    call = c.sockets("game")
    cluster.run()
    assert call.outcome == "completed" and call.value == {a1, b1}


def test_sockets_without_rooms_lists_every_socket(cluster: Cluster):
    a, b, c = cluster.peers
    every = {a.connect(), b.connect("x"), c.connect(), c.connect()}
    call = b.sockets()
    cluster.run()
    assert call.value == every


def test_classic_sockets_uses_socket_ids_and_cluster_falls_back():
    assert Cluster("classic").peers[0].node.supports(SocketIds)
    assert Cluster("cluster").peers[0].sockets().kind is RequestKind.FETCH_SOCKETS


def test_server_count_on_classic_is_numsub_of_the_request_channel():
    cluster = Cluster("classic")
    a = cluster.peers[0]
    assert cluster.link.numsub(f"{KEY}-request#/#") == 3
    assert a.server_count() == 3
    cluster.add()
    assert a.server_count() == 4
    cluster.peers[1].close()
    assert a.server_count() == 3


def test_server_count_by_heartbeat_is_the_known_members_plus_one():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    assert a.node.members("/") == {b.uid, c.uid}
    assert [p.server_count() for p in cluster.peers] == [3, 3, 3]
    d = cluster.add()
    cluster.advance(1.0)
    assert a.server_count() == d.server_count() == 4


def test_a_request_no_other_node_can_answer_completes_at_once_and_publishes_nothing(
    cluster: Cluster,
):
    a, _b, _c = cluster.peers
    a.serve("/solo")
    cluster.advance(1.0)
    own = a.connect(nsp="/solo")
    before = len(cluster.link.published)
    call = a.fetch_sockets(nsp="/solo")
    assert call.outcome == "completed"
    assert [s["id"] for s in call.value] == [own]
    assert len(cluster.link.published) == before


def test_a_withdrawn_request_stops_waiting_and_later_answers_are_late(cluster: Cluster):
    a, b, _c = cluster.peers
    b.connect()
    call = a.fetch_sockets()
    a.withdraw(call)
    assert call.outcome == "withdrawn" and a.node.pending_deadlines == 0
    late = a.stats.late_responses
    cluster.run()
    assert a.stats.late_responses == late + 2
    assert call.results == []
    assert a.node.withdraw(call.request_id) == []  # withdrawing twice says nothing


def test_concurrent_requests_keep_their_answers_apart(cluster: Cluster):
    a, b, c = cluster.peers
    red, blue = b.connect("red"), c.connect("blue")
    first, second = a.fetch_sockets("red"), a.fetch_sockets("blue")
    cluster.run()
    assert ids(first) == [red] and ids(second) == [blue]


def test_classic_answers_on_the_shared_channel_are_ignored_by_other_nodes():
    cluster = Cluster("classic")
    a, b, c = cluster.peers
    c.connect()
    call = a.fetch_sockets()
    cluster.run()
    assert call.outcome == "completed"
    # Each answer reached every node. Answers to another node's request are not late ones.
    assert b.stats.late_responses == c.stats.late_responses == 0
    assert a.stats.late_responses == 0


def test_classic_specific_response_channels_reach_only_the_requester():
    cluster = Cluster("classic", specific_responses=True)
    a, b, c = cluster.peers
    b1 = b.connect()
    call = a.fetch_sockets()
    cluster.run()
    assert call.outcome == "completed" and ids(call) == [b1]
    assert b.stats.late_responses == c.stats.late_responses == 0
    assert {m.channel for m in cluster.link.by(b)} == {f"{KEY}-response#/#{a.uid}#"}


def test_requests_leave_nothing_behind(cluster: Cluster):
    a, b, _c = cluster.peers
    b.connect()
    for _ in range(50):
        a.fetch_sockets()
        cluster.run()
    assert len(a.node.tracker) == 0
    assert a.node.tracker.heap_size <= 16


def test_an_answer_over_max_message_size_is_dropped_not_raised():
    cluster = Cluster("classic")
    a = cluster.peers[0]
    limited = cluster.add(max_message_size=600)
    for _ in range(5):
        limited.connect(data="x" * 100)  # each socket fits, the five together do not
    call = a.fetch_sockets(timeout=2.0)
    cluster.run()  # the node must not raise out of fetch_answer
    assert [(d.kind, d.detail) for d in limited.dropped] == [("oversized", "fetch-answer")]
    cluster.advance(2.0)
    assert call.outcome == "timeout"  # the limited node could not answer


def test_an_oversized_answer_with_an_unencodable_session_is_dropped_not_raised():
    cluster = Cluster("classic")
    a = cluster.peers[0]
    limited = cluster.add(max_message_size=600)
    limited.connect(data=object())
    for _ in range(5):
        limited.connect(data="x" * 100)
    a.fetch_sockets()
    cluster.run()
    assert [(d.kind, d.detail) for d in limited.dropped] == [
        ("unencodable-session", ""),
        ("oversized", "fetch-answer"),
    ]
