"""Server-side events (``server_side_emit`` / ``server_side_call`` and ``mgr.on`` handlers)."""

from __future__ import annotations

from .harness import Cluster


def test_server_side_emit_reaches_every_other_nodes_handler_but_not_its_own(cluster: Cluster):
    a, b, c = cluster.peers
    seen: dict[str, list[tuple]] = {"a": [], "b": [], "c": []}
    for peer, name in [(a, "a"), (b, "b"), (c, "c")]:
        peer.on("reload", lambda *args, name=name: seen[name].append(args))
    a.server_side_emit("reload", "config", 2)
    cluster.run()
    assert seen == {"a": [], "b": [("config", 2)], "c": [("config", 2)]}


def test_server_side_emit_is_not_answered(cluster: Cluster):
    a, b, _c = cluster.peers
    b.on("ping", lambda: "pong")
    before = len(cluster.link.by(b))
    a.server_side_emit("ping")
    cluster.run()
    assert b.handled == [["ping"]]
    assert len(cluster.link.by(b)) == before  # the handler ran; its answer went nowhere


def test_server_side_call_collects_each_other_nodes_answer(cluster: Cluster):
    a, b, c = cluster.peers
    b.on("load", lambda unit: f"b:{unit}")
    c.on("load", lambda unit: f"c:{unit}")
    a.on("load", lambda unit: "a must not answer")
    call = a.server_side_call("load", "%")
    cluster.run()
    assert call.outcome == "completed"
    assert sorted(call.results) == ["b:%", "c:%"]


def test_server_side_call_answers_may_be_structured(cluster: Cluster):
    a, b, c = cluster.peers
    b.on("stats", lambda: {"users": 3, "raw": b"\x01"})
    c.on("stats", lambda: None)
    call = a.server_side_call("stats")
    cluster.run()
    assert call.outcome == "completed"
    assert {"users": 3, "raw": b"\x01"} in call.results and None in call.results


def test_a_node_without_the_handler_does_not_answer_and_the_call_times_out(cluster: Cluster):
    a, b, c = cluster.peers
    b.on("load", lambda: 0.5)
    call = a.server_side_call("load", timeout=2.0)
    cluster.run()
    assert [m.data for m in c.unhandled] == [["load"]]
    assert not call.done
    cluster.advance(2.0)
    assert call.outcome == "timeout"
    assert call.results == [0.5]
    assert call.request is not None and call.request.progress() == (1, 2)
