"""The page's first words on how the cost grows follow the scaling families' figures."""

from __future__ import annotations

from benchmarks.scaling_summary import summary

from .test_scaling_report import results as cluster_results
from .test_scaling_rooms_report import results as rooms_results


def test_one_sentence_a_dimension_with_the_trend_the_figures_show() -> None:
    data = {"results": {**cluster_results()["results"], **rooms_results()["results"]}}
    lines = summary(data)
    assert lines[:3] == ["", "### How the cost grows", ""]
    bullets = lines[3:]
    assert [b.split("**")[1] for b in bullets] == [
        "Nodes", "Payload size", "Rooms on a node", "Sockets in a room", "Sockets in the cluster",
    ]  # fmt: skip
    nodes, _, rooms, _, fetch = bullets
    assert "CPU per broadcast stays flat" in nodes
    assert "no member in stays flat" in rooms and "dynamic-private" in rooms
    assert "100,000 rooms in that mode were past" in rooms  # the skipped size is said
    assert "max_message_size" in fetch


def test_nothing_when_no_scaling_family_ran() -> None:
    assert summary({"results": {}}) == []
    assert summary({"results": {"scaling": {}, "scaling_rooms": {}}}) == []
