"""The request tracker: counting answers, partial results, timeouts, nothing left behind."""

import pytest

from sioadapter.core.messages import (
    BroadcastAck,
    BroadcastClientCount,
    FetchSocketsResponse,
    RequestReply,
    ServerSideEmitResponse,
)
from sioadapter.core.requests import RequestKind, RequestTracker


def fetch_answer(request_id: str, *sids: str, uid: str | None = None) -> FetchSocketsResponse:
    return FetchSocketsResponse("/", uid, request_id, [{"id": sid} for sid in sids])


def test_fetch_completes_when_every_counted_node_answered():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.FETCH_SOCKETS, expected=2, deadline=10.0)
    first = tracker.feed(fetch_answer("r1", "a", "b"))
    assert first is not None and not first.done
    second = tracker.feed(fetch_answer("r1", "c"))
    assert second is not None and second.done
    assert [(node, s["id"]) for node, s in second.request.results] == [
        ("node-1", "a"),
        ("node-1", "b"),
        ("node-2", "c"),
    ]
    assert len(tracker) == 0
    assert tracker.next_deadline() is None


def test_request_expecting_no_node_is_done_at_once_and_not_tracked():
    tracker = RequestTracker()
    request = tracker.open("r1", RequestKind.FETCH_SOCKETS, expected=0, deadline=1.0)
    assert request.done
    assert len(tracker) == 0
    empty_set = tracker.open("r2", RequestKind.SERVER_SIDE_EMIT, expected=set(), deadline=1.0)
    assert empty_set.done and len(tracker) == 0


def test_answers_to_unknown_or_finished_requests_are_ignored():
    tracker = RequestTracker()
    assert tracker.feed(fetch_answer("nobody")) is None
    tracker.open("r1", RequestKind.FETCH_SOCKETS, expected=1, deadline=1.0)
    assert tracker.feed(fetch_answer("r1", "a")).done
    assert tracker.feed(fetch_answer("r1", "late")) is None


def test_timeout_returns_partial_results_and_forgets_the_request():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.SERVER_SIDE_EMIT, expected=2, deadline=5.0)
    tracker.feed(ServerSideEmitResponse("/", "n1", "r1", {"answer": 42}))
    assert tracker.expire(4.999) == []
    expired = tracker.expire(5.0)
    assert [r.request_id for r in expired] == ["r1"]
    assert expired[0].results == [{"answer": 42}]
    assert expired[0].progress() == (1, 2)
    assert len(tracker) == 0
    assert tracker.next_deadline() is None


def test_expire_takes_requests_in_deadline_order_and_keeps_later_ones():
    tracker = RequestTracker()
    tracker.open("late", RequestKind.ALL_ROOMS, expected=1, deadline=9.0)
    tracker.open("early", RequestKind.ALL_ROOMS, expected=1, deadline=3.0)
    assert tracker.next_deadline() == 3.0
    assert [r.request_id for r in tracker.expire(5.0)] == ["early"]
    assert "late" in tracker
    assert tracker.next_deadline() == 9.0


def test_uid_set_mode_completes_when_each_node_answered_once():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.FETCH_SOCKETS, expected={"n1", "n2"}, deadline=1.0)
    assert not tracker.feed(fetch_answer("r1", "a", uid="n1")).done
    # A repeated answer from the same node does not count twice.
    assert not tracker.feed(fetch_answer("r1", "b", uid="n1")).done
    assert tracker.feed(fetch_answer("r1", "c", uid="n2")).done


def test_uid_set_mode_stops_waiting_for_a_node_that_left():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.SERVER_SIDE_EMIT, expected={"n1", "n2"}, deadline=1.0)
    tracker.feed(ServerSideEmitResponse("/", "n1", "r1", "from n1"))
    updates = tracker.node_left("n2")
    assert [u.request.results for u in updates] == [["from n1"]]
    assert updates[0].done and len(tracker) == 0
    assert tracker.node_left("n3") == []


def test_acked_broadcast_waits_for_counts_then_for_each_ack():
    tracker = RequestTracker()
    tracker.open("b1", RequestKind.BROADCAST_ACK, expected=2, deadline=1.0)
    assert not tracker.feed(BroadcastClientCount("/", "me", "b1", 1)).done
    assert not tracker.feed(BroadcastAck("/", None, "b1", data="x")).done
    # Node 2 reports 2 clients: now 3 acknowledgements are expected in all.
    assert not tracker.feed(BroadcastClientCount("/", None, "b1", 2)).done
    assert not tracker.feed(BroadcastAck("/", None, "b1", data="y")).done
    last = tracker.feed(BroadcastAck("/", None, "b1", args=["z", 1]))
    assert last.done
    assert last.request.results == [["x"], ["y"], ["z", 1]]


def test_acked_broadcast_with_no_recipient_anywhere_completes_empty():
    tracker = RequestTracker()
    tracker.open("b1", RequestKind.BROADCAST_ACK, expected=2, deadline=1.0)
    tracker.feed(BroadcastClientCount("/", "me", "b1", 0))
    update = tracker.feed(BroadcastClientCount("/", None, "b1", 0))
    assert update.done and update.request.results == []


def test_acked_broadcast_timeout_reports_acks_received_and_expected():
    tracker = RequestTracker()
    tracker.open("b1", RequestKind.BROADCAST_ACK, expected=1, deadline=1.0)
    tracker.feed(BroadcastClientCount("/", "me", "b1", 2))
    tracker.feed(BroadcastAck("/", None, "b1", data="only one"))
    (expired,) = tracker.expire(2.0)
    assert expired.progress() == (1, 2)
    assert expired.results == [["only one"]]


def test_single_socket_acked_broadcast_completes_on_first_ack():
    tracker = RequestTracker()
    tracker.open("b1", RequestKind.BROADCAST_ACK, expected=3, deadline=1.0, single=True)
    update = tracker.feed(BroadcastAck("/", None, "b1", has_data=False))
    assert update.done and update.request.results == [[]]


def test_streamed_items_are_returned_with_each_update():
    tracker = RequestTracker()
    tracker.open("b1", RequestKind.BROADCAST_ACK, expected=1, deadline=1.0)
    tracker.feed(BroadcastClientCount("/", "me", "b1", 2))
    assert tracker.feed(BroadcastAck("/", None, "b1", data=1)).items == [[1]]


def test_classic_typeless_replies_are_read_by_the_pending_request_kind():
    tracker = RequestTracker()
    tracker.open("rooms", RequestKind.ALL_ROOMS, expected=1, deadline=1.0)
    tracker.open("ids", RequestKind.SOCKET_IDS, expected=1, deadline=1.0)
    rooms = tracker.feed(RequestReply("/", "rooms", rooms=["r1", "sid1"]))
    ids = tracker.feed(RequestReply("/", "ids", sockets=["sid1"]))
    assert rooms.request.results == ["r1", "sid1"]
    assert ids.request.results == ["sid1"]


def test_a_reply_without_its_list_still_counts_as_an_answer():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.FETCH_SOCKETS, expected=1, deadline=1.0)
    update = tracker.feed(RequestReply("/", "r1"))
    assert update.done and update.request.results == []


def test_remote_operation_completes_on_the_owners_answer_whatever_the_count():
    tracker = RequestTracker()
    tracker.open("op", RequestKind.REMOTE_OP, expected=5, deadline=1.0)
    assert tracker.feed(RequestReply("/", "op")).done


def test_wrong_answer_type_for_the_request_is_ignored():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.SERVER_SIDE_EMIT, expected=1, deadline=1.0)
    assert tracker.feed(fetch_answer("r1", "a")) is None
    assert "r1" in tracker


def test_duplicate_request_ids_are_refused():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.FETCH_SOCKETS, expected=1, deadline=1.0)
    with pytest.raises(ValueError, match="already pending"):
        tracker.open("r1", RequestKind.FETCH_SOCKETS, expected=1, deadline=1.0)


def test_cancel_and_cancel_all_leave_nothing_behind():
    tracker = RequestTracker()
    tracker.open("r1", RequestKind.FETCH_SOCKETS, expected=1, deadline=1.0)
    tracker.open("r2", RequestKind.FETCH_SOCKETS, expected=1, deadline=2.0)
    assert tracker.cancel("r1").request_id == "r1"
    assert tracker.cancel("r1") is None
    assert [r.request_id for r in tracker.cancel_all()] == ["r2"]
    assert len(tracker) == 0 and tracker.next_deadline() is None
    assert tracker.expire(100.0) == []


def test_socket_ids_and_room_names_from_a_confused_peer_are_kept_usable():
    # A peer answering SOCKETS with socket details (maps) must not put them in the caller's
    # set of ids: the caller would get a TypeError (maps are unhashable).
    tracker = RequestTracker()
    tracker.open("s", RequestKind.SOCKET_IDS, expected=1, deadline=10.0)
    update = tracker.feed(RequestReply("/", "s", sockets=["a", {"id": "b"}, ["c"], True]))
    assert update is not None and update.done
    assert update.request.results == ["a"]
    tracker.open("r", RequestKind.ALL_ROOMS, expected=1, deadline=10.0)
    update = tracker.feed(RequestReply("/", "r", rooms=["room", 7, {"x": 1}]))
    assert update is not None and update.request.results == ["room", 7]


def test_the_deadline_heap_stays_small_when_requests_complete():
    tracker = RequestTracker()
    for n in range(10_000):
        tracker.open(f"q{n}", RequestKind.SERVER_SIDE_EMIT, expected=1, deadline=100.0 + n)
        tracker.feed(ServerSideEmitResponse("/", "peer", f"q{n}", "ok"))
    assert len(tracker) == 0
    assert tracker.heap_size <= 16, "completed requests left entries behind"


def test_finished_requests_are_remembered_within_a_bounded_window():
    from sioadapter.core.requests import FINISHED_WINDOW

    tracker = RequestTracker()
    tracker.open("done", RequestKind.FETCH_SOCKETS, expected=1, deadline=1.0)
    tracker.feed(fetch_answer("done", "a"))
    tracker.open("timed-out", RequestKind.FETCH_SOCKETS, expected=1, deadline=1.0)
    tracker.expire(1.0)
    tracker.open("cancelled", RequestKind.FETCH_SOCKETS, expected=1, deadline=9.0)
    tracker.cancel("cancelled")
    assert all(tracker.finished_recently(r) for r in ("done", "timed-out", "cancelled"))
    assert not tracker.finished_recently("someone-else's")
    for n in range(FINISHED_WINDOW):
        tracker.open(f"r{n}", RequestKind.FETCH_SOCKETS, expected=1, deadline=9.0)
        tracker.cancel(f"r{n}")
    assert not tracker.finished_recently("done")
    assert tracker.finished_recently(f"r{FINISHED_WINDOW - 1}")
