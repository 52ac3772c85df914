"""Server-to-server events: ``mgr.server_side_emit`` / ``server_side_call`` and ``mgr.on``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from sioadapter.errors import RequestTimeoutError

from .harness import Cluster


async def test_server_side_emit_reaches_the_other_nodes_but_not_the_sender(
    cluster: Cluster,
) -> None:
    for node in cluster.nodes:
        node.listen("config-changed")
        node.listen("marker")

    await cluster.nodes[0].mgr.server_side_emit("config-changed", 1, "two", {"three": [3]})

    for node in cluster.nodes[1:]:
        assert await node.server_events.wait_for("config-changed") == [(1, "two", {"three": [3]})]
    # Node 1 answers only after it got the event, so by the time node 0 has node 1's marker,
    # node 0 has also seen its own event come back (one bus, delivered in order), if it ever
    # does: it must not have handled it.
    await cluster.nodes[1].mgr.server_side_emit("marker")
    await cluster.nodes[0].server_events.wait_for("marker")
    assert cluster.nodes[0].server_events.received("config-changed") == []


async def test_server_side_call_collects_one_answer_from_each_other_node(
    cluster: Cluster,
) -> None:
    for node in cluster.nodes:
        node.listen("whoami", lambda question, index=node.index: f"{question}:{index}")

    answers = await cluster.nodes[0].mgr.server_side_call("whoami", "q")

    assert sorted(answers) == ["q:1", "q:2"]
    assert [n.server_events.received("whoami") for n in cluster.nodes[1:]] == [[("q",)]] * 2


async def test_server_side_call_with_a_handler_registered_by_decorator(cluster: Cluster) -> None:
    for node in cluster.nodes[1:]:

        @node.mgr.on("sum")
        def add(*numbers: int) -> int:
            return sum(numbers)

    assert await cluster.nodes[0].mgr.server_side_call("sum", 1, 2, 3) == [6, 6]


async def test_server_side_call_timeout_reports_the_answers_that_arrived(
    make_cluster: Callable[..., Cluster],
) -> None:
    never = asyncio.Event()
    async with make_cluster(nodes=3, requests_timeout=1.0) as cluster:
        cluster.nodes[1].listen("whoami", "node1")

        async def stuck(*_: object) -> str:
            await never.wait()
            return "too late"

        cluster.nodes[2].listen("whoami", stuck)
        try:
            with pytest.raises(RequestTimeoutError) as caught:
                await cluster.nodes[0].mgr.server_side_call("whoami")
        finally:
            # Let the stuck handler finish before teardown checks for leftover tasks.
            never.set()

        assert caught.value.responses == ["node1"]
        assert (caught.value.received, caught.value.expected) == (1, 2)
        assert cluster.nodes[2].server_events.received("whoami") == [()]
