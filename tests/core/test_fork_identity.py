"""``ClusterNode.take_uid``: a forked process's node takes a fresh identity (the shells decide
when; the core only takes it). Two nodes with one uid ignore each other as themselves."""

from __future__ import annotations

import pytest

from .harness import Cluster, Peer


def twins(family: str, *, fresh: bool) -> tuple[Cluster, Peer, Peer]:
    cluster = Cluster(family, size=0, namespaces=())
    parent, child = Peer(cluster, "a1f3e9"), Peer(cluster, "a1f3e9")  # a fork's two copies
    if fresh:
        child.node.take_uid("b2f3e9")
        child.uid = "b2f3e9"
    cluster.peers += [parent, child]
    for peer in (parent, child):
        peer.serve()
    cluster.settle()
    return cluster, parent, child


@pytest.mark.parametrize("family", ["classic", "cluster"])
def test_a_node_with_a_fresh_uid_answers_its_twin(family: str) -> None:
    cluster, parent, child = twins(family, fresh=True)
    child.on("who", lambda: "child")
    call = parent.server_side_call("who")
    cluster.run()
    assert call.outcome == "completed"
    assert call.results == ["child"]
    assert child.node.family.uid == child.node.receiver.uid == "b2f3e9"
    assert parent.server_count() == child.server_count() == 2


@pytest.mark.parametrize("family", ["classic", "cluster"])
def test_without_a_fresh_uid_twins_ignore_each_other(family: str) -> None:
    cluster, parent, child = twins(family, fresh=False)
    child.on("who", lambda: "child")
    call = parent.server_side_call("who", timeout=1.0)
    cluster.advance(2.0)
    # classic: NUMSUB counts two nodes and the call times out ("0 responses received out of
    # 1"); heartbeats: the twin is never counted at all. Either way no answer arrives.
    assert call.results == []
    assert call.outcome == ("timeout" if family == "classic" else "completed")
    assert child.stats.ignored_own >= 1


def test_a_serving_node_keeps_its_uid() -> None:
    _, parent, _ = twins("classic", fresh=True)
    with pytest.raises(RuntimeError, match="while it serves"):
        parent.node.take_uid("c3f3e9")
    assert parent.node.uid == parent.node.family.uid == "a1f3e9"
