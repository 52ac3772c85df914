"""Acknowledged broadcasts (``emit_with_ack``, ``sio.call`` to a remote sid) and the callbacks a
node holds for other nodes' clients."""

from __future__ import annotations

import math

import pytest

from sioadapter.core.messages import Broadcast, Target

from .harness import KEY, Cluster


def test_emit_with_ack_collects_the_answer_of_every_client_of_every_node(cluster: Cluster):
    a, b, c = cluster.peers
    a1, b1, b2, c1 = a.connect(), b.connect(), b.connect(), c.connect()
    call = a.emit_with_ack("ask", "q?")
    cluster.run()
    assert not call.done  # every node reported its count; no client answered yet
    for peer, sid, answer in [(a, a1, "a1"), (b, b1, "b1"), (b, b2, "b2"), (c, c1, "c1")]:
        assert peer.events(sid) == [("ask", "q?")]
        peer.ack(sid, answer)
    cluster.run()
    assert call.outcome == "completed"
    assert sorted(call.items) == [["a1"], ["b1"], ["b2"], ["c1"]]
    assert sorted(call.results) == sorted(call.items)


def test_acknowledgements_are_handed_on_as_they_arrive(cluster: Cluster):
    a, b, c = cluster.peers
    b1, c1 = b.connect(), c.connect()
    call = a.emit_with_ack("ask")
    cluster.run()
    b.ack(b1, 1)
    cluster.run()
    assert call.items == [[1]] and not call.done
    c.ack(c1, 2)
    cluster.run()
    assert call.items == [[1], [2]] and call.outcome == "completed"


def test_emit_with_ack_times_out_with_the_answers_that_arrived(cluster: Cluster):
    a, b, c = cluster.peers
    b1, c1 = b.connect(), c.connect()
    call = a.emit_with_ack("ask", timeout=3.0)
    cluster.run()
    b.ack(b1, "fast")
    cluster.advance(2.9)
    assert not call.done
    cluster.advance(0.2)
    assert call.outcome == "timeout"
    assert call.results == [["fast"]]
    assert call.request is not None and call.request.progress() == (1, 2)
    assert a.stats.requests_timed_out == 1
    assert c.events(c1) == [("ask",)]


def test_emit_with_ack_to_a_room_without_members_completes_with_no_answers(cluster: Cluster):
    a, b, c = cluster.peers
    b.connect(), c.connect()
    call = a.emit_with_ack("ask", to="empty-room")
    assert not call.done  # the other nodes' counts (0) are still to come
    cluster.run()
    assert call.outcome == "completed" and call.results == []


def test_emit_with_ack_except_rooms_are_not_asked(cluster: Cluster):
    a, b, c = cluster.peers
    asked, skipped = b.connect(), c.connect("quiet")
    call = a.emit_with_ack("ask", except_rooms="quiet")
    cluster.run()
    assert c.events(skipped) == []
    b.ack(asked, "yes")
    cluster.run()
    assert call.outcome == "completed" and call.results == [["yes"]]


def test_call_to_a_remote_sid_completes_on_its_one_acknowledgement(cluster: Cluster):
    a, b, c = cluster.peers
    target = c.connect()
    b.connect()
    call = a.emit_with_ack("rpc", 41, to=target, single=True)
    cluster.run()
    c.ack(target, 42)
    cluster.run()
    assert call.outcome == "completed" and call.results == [[42]]


def test_call_to_a_sid_of_the_same_node_publishes_nothing(cluster: Cluster):
    a, _b, _c = cluster.peers
    own = a.connect()
    before = len(cluster.link.published)
    call = a.emit_with_ack("rpc", to=own, single=True)
    a.ack(own, "local")
    assert call.outcome == "completed" and call.results == [["local"]]
    assert len(cluster.link.published) == before


def test_multi_argument_and_empty_acknowledgements_keep_their_shape(cluster: Cluster):
    a, b, c = cluster.peers
    b1, c1 = b.connect(), c.connect()
    call = a.emit_with_ack("ask")
    cluster.run()
    b.ack(b1, "x", 2, None)
    c.ack(c1)
    cluster.run()
    assert call.outcome == "completed"
    assert sorted(call.results, key=len) == [[], ["x", 2, None]]


def test_callbacks_for_another_node_are_forgotten_at_the_senders_deadline(cluster: Cluster):
    a, b, _c = cluster.peers
    b1, b2 = b.connect(), b.connect()
    a.emit_with_ack("ask", timeout=4.0)
    cluster.run()
    b.ack(b1, "one")
    cluster.run()
    assert b.node.pending_deadlines == 1  # b2's callback still waits
    cluster.advance(3.9)
    assert b.forgotten == []
    cluster.advance(0.2)
    assert [sorted(group.sids) for group in b.forgotten] == [sorted([b1, b2])]
    assert b.node.pending_deadlines == 0


def test_callbacks_live_no_longer_than_this_nodes_ack_timeout():
    cluster = Cluster("classic")
    short = cluster.add(ack_timeout=1.0)
    sid = short.connect()
    a = cluster.peers[0]
    a.emit_with_ack("ask", timeout=30.0)
    cluster.run()
    assert short.events(sid) == [("ask",)]
    cluster.advance(1.0)
    assert len(short.forgotten) == 1
    assert short.node.pending_deadlines == 0


def test_nothing_is_held_once_every_client_answered(cluster: Cluster):
    a, b, c = cluster.peers
    b1, b2, c1 = b.connect(), b.connect(), c.connect()
    for round_ in range(5):
        call = a.emit_with_ack("ask", round_)
        cluster.run()
        for peer, sid in [(b, b1), (b, b2), (c, c1)]:
            peer.ack(sid, round_)
        cluster.run()
        assert call.outcome == "completed"
    assert b.node.pending_deadlines == c.node.pending_deadlines == a.node.pending_deadlines == 0
    cluster.advance(10.0)
    assert b.forgotten == c.forgotten == []


def test_a_node_without_recipients_reports_zero_and_holds_nothing(cluster: Cluster):
    a, b, c = cluster.peers
    b1 = b.connect("r")
    call = a.emit_with_ack("ask", to="r")
    cluster.run()
    assert c.node.pending_deadlines == 0
    b.ack(b1, "ok")
    cluster.run()
    assert call.outcome == "completed" and call.results == [["ok"]]


def garbage_acked_broadcast(cluster: Cluster, timeout: object) -> None:
    """An acknowledged broadcast from a peer that sends a garbage ``flags.timeout``."""
    a = cluster.peers[0]
    message = Broadcast("/", "rogue", ["ask"], Target([], [], {"timeout": timeout}), "rogue-1")
    channel, payload = a.node.family.encode(message)
    cluster.link.inject(channel, payload)
    cluster.run()


@pytest.mark.parametrize(
    ("family", "value"),
    [
        ("classic", math.nan),
        ("classic", math.inf),
        ("classic", 1e300),
        ("classic", -5),
        ("classic", 0),
        ("classic", "soon"),
        ("classic", True),
        ("cluster", 10**400),  # JSON carries any integer; msgpack cannot
    ],
)
def test_garbage_timeouts_are_counted_and_replaced_by_this_nodes_ack_timeout(family, value):
    cluster = Cluster(family, heartbeat=None, ack_timeout=2.0)
    _a, b, _c = cluster.peers
    sid = b.connect()
    garbage_acked_broadcast(cluster, value)
    assert b.events(sid) == [("ask",)]  # delivered all the same
    assert b.stats.bad_numbers == 1
    assert [(d.kind, d.detail) for d in b.dropped] == [("bad-number", "flags.timeout")]
    cluster.advance(1.9)
    assert b.forgotten == []
    cluster.advance(0.1)
    assert len(b.forgotten) == 1
    assert b.node.pending_deadlines == 0


def test_a_sane_timeout_is_not_counted_as_a_bad_number():
    cluster = Cluster("classic", ack_timeout=60.0)
    b = cluster.peers[1]
    b.connect()
    garbage_acked_broadcast(cluster, 1500)
    assert b.stats.bad_numbers == 0 and b.dropped == []
    cluster.advance(1.5)
    assert len(b.forgotten) == 1


def test_an_acknowledgement_after_the_timeout_is_a_late_response(cluster: Cluster):
    a, b, _c = cluster.peers
    b1 = b.connect()
    call = a.emit_with_ack("ask", timeout=2.0)
    cluster.run()
    cluster.advance(1.9)
    cluster.link.pause(a)  # the answer is on its way while A's deadline passes
    b.ack(b1, "late")
    cluster.advance(0.2)
    assert call.outcome == "timeout" and call.results == []
    late = a.stats.late_responses
    cluster.link.resume(a)
    cluster.run()
    assert a.stats.late_responses == late + 1
    assert call.results == []


def test_a_withdrawn_acked_broadcast_ignores_later_answers(cluster: Cluster):
    a, b, _c = cluster.peers
    b1 = b.connect()
    call = a.emit_with_ack("ask")
    cluster.run()
    a.withdraw(call)
    assert call.outcome == "withdrawn"
    b.ack(b1, "too late")
    cluster.run()
    assert call.results == [] and call.items == []
    assert a.node.pending_deadlines == 0


def test_classic_acked_broadcast_travels_on_the_request_channel():
    cluster = Cluster("classic")
    a, b, _c = cluster.peers
    b.connect("r")
    a.emit_with_ack("ask", to="r")
    assert [m.channel for m in cluster.link.by(a)][-1] == f"{KEY}-request#/#"
