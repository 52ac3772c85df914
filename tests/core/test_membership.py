"""Heartbeat membership (the ClusterAdapter protocol on backends that cannot count
subscribers): discovery, heartbeats, silent nodes, ADAPTER_CLOSE, and closing a node."""

from __future__ import annotations

from sioadapter.core.messages import EMITTER_UID, Broadcast

from .harness import HEARTBEAT, KEY, Cluster

TIMEOUT = HEARTBEAT["timeout"]


def test_nodes_learn_of_each_other_from_the_initial_heartbeat():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    assert sorted(a.joined) == [("/", b.uid), ("/", c.uid)]
    assert sorted(c.joined) == [("/", a.uid), ("/", b.uid)]
    for peer in cluster.peers:
        assert peer.node.members("/") == {p.uid for p in cluster.peers} - {peer.uid}


def test_a_newcomer_waits_the_discovery_window_before_counting():
    cluster = Cluster("cluster")
    d = cluster.add()
    assert d.node.discovery_wait("/", cluster.now) == HEARTBEAT["discovery"]
    cluster.advance(HEARTBEAT["discovery"])
    assert d.node.discovery_wait("/", cluster.now) == 0
    assert d.server_count() == 4


def test_heartbeats_keep_quiet_nodes_in_the_cluster():
    cluster = Cluster("cluster")
    cluster.advance(10 * TIMEOUT)
    for peer in cluster.peers:
        assert peer.left == []
        assert peer.server_count() == 3
    beats = [m for m in cluster.link.by(cluster.peers[0]) if m.channel == f"{KEY}#/#"]
    assert len(beats) >= 10 * TIMEOUT / HEARTBEAT["interval"]


def test_a_silent_node_is_dropped_after_the_heartbeat_timeout_not_before():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    cluster.remove(c)  # the process died: no ADAPTER_CLOSE
    cluster.advance(TIMEOUT - 1.0)
    assert a.left == b.left == []
    cluster.advance(TIMEOUT)
    assert a.left == [("/", c.uid)] and b.left == [("/", c.uid)]
    assert a.server_count() == 2


def test_a_request_waiting_for_a_lost_node_completes_without_it():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    b1 = b.connect()
    c.connect()
    cluster.remove(c)
    call = a.fetch_sockets(timeout=60.0)  # C is still a member: the request waits for it
    cluster.run()
    assert not call.done
    cluster.advance(2 * TIMEOUT)
    assert call.outcome == "completed"  # at NodeLeft, long before its own deadline
    assert [s["id"] for s in call.value] == [b1]
    assert a.stats.requests_timed_out == 0


def test_adapter_close_removes_the_node_at_once_and_completes_requests():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    b.on("who", lambda: "b")
    c.on("who", lambda: "c")
    cluster.link.pause(c)
    call = a.server_side_call("who", timeout=60.0)
    cluster.run()
    assert call.results == ["b"] and not call.done
    cluster.link.drop(c)  # C's held deliveries are lost with its connection
    c.close()
    assert a.left == [("/", c.uid)] and b.left == [("/", c.uid)]
    assert call.outcome == "completed" and call.results == ["b"]
    assert a.server_count() == b.server_count() == 2


def test_close_withdraws_the_nodes_own_requests_and_forgets_held_callbacks():
    cluster = Cluster("cluster")
    a, b, c = cluster.peers
    b.connect()
    cluster.link.pause(a)
    mine = b.fetch_sockets(timeout=60.0)
    cluster.run()
    a.emit_with_ack("ask", timeout=60.0)
    cluster.link.resume(a)
    cluster.run()
    assert b.node.pending_deadlines == 1  # its callback for A's broadcast (its fetch is done)
    pending = b.fetch_sockets(timeout=60.0)
    cluster.link.pause(c)
    cluster.run()
    b.close()
    assert mine.outcome == "completed"
    assert pending.outcome == "closed"
    assert len(b.forgotten) == 1
    assert b.node.pending_deadlines == 0


def test_a_closed_classic_node_says_nothing_and_leaves_the_count():
    cluster = Cluster("classic")
    a, _b, c = cluster.peers
    before = len(cluster.link.published)
    c.close()
    assert len(cluster.link.published) == before
    assert a.server_count() == 2


def test_a_node_that_comes_back_is_a_member_again():
    cluster = Cluster("cluster")
    a, _b, c = cluster.peers
    c.close()
    assert a.server_count() == 2
    d = cluster.add()
    cluster.advance(1.0)
    assert ("/", d.uid) in a.joined and a.server_count() == 3


def test_emitter_messages_do_not_make_a_member():
    cluster = Cluster("cluster")
    a, b, _c = cluster.peers
    sid = b.connect()
    channel, payload = a.node.family.encode(Broadcast("/", EMITTER_UID, ["from-emitter"]))
    cluster.link.inject(channel, payload)
    cluster.run()
    assert b.events(sid) == [("from-emitter",)]
    assert EMITTER_UID not in b.node.members("/")
    assert b.server_count() == 3


def test_every_message_from_a_node_refreshes_it():
    cluster = Cluster("cluster")
    a, _b, _c = cluster.peers
    rarely = {"interval": 1000.0, "timeout": 10.0, "discovery": 1.0}
    talker, mute = cluster.add(heartbeat=rarely), cluster.add(heartbeat=rarely)
    cluster.advance(1.0)
    for _ in range(5):
        cluster.advance(6.0)
        talker.emit("alive")  # never a heartbeat within the timeout, but it talks
        cluster.run()
    assert ("/", talker.uid) not in a.left
    assert ("/", mute.uid) in a.left


def test_a_closed_node_schedules_nothing_and_never_beats_again():
    cluster = Cluster("cluster")
    a, _b, c = cluster.peers
    c.close()
    assert c.node.next_deadline() is None  # a shell's timer has nothing left to wait for
    late_tick = c.node.tick(cluster.now + 60.0)  # a timer that fired after close all the same
    assert late_tick == []  # no HEARTBEAT bringing it back, no NodeLeft for the others
    assert c.uid not in a.node.members("/")
