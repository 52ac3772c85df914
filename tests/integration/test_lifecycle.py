"""A node leaving the cluster: the others keep working; ``close()`` can be called again."""

from __future__ import annotations

from collections.abc import Callable

from .harness import Cluster


async def test_other_nodes_keep_working_after_one_manager_closes(
    make_cluster: Callable[..., Cluster],
) -> None:
    # A short requests_timeout: if the closed node were still counted, the requests below
    # would wait for it and fail with a timeout instead of hanging the suite.
    async with make_cluster(nodes=3, requests_timeout=2.0) as cluster:
        first, second = await cluster.client(0), await cluster.client(1)
        await cluster.join_locally(second, "blue")
        cluster.nodes[1].listen("ping", "pong from 1")

        await cluster.nodes[2].mgr.close()

        await cluster.nodes[0].sio.emit("news", "still here")
        await cluster.nodes[0].sio.emit("paint", to="blue")
        await cluster.assert_received_exactly("news", {first: 1, second: 1}, origin=0)
        await cluster.assert_received_exactly("paint", {first: 0, second: 1}, origin=0)
        fetched = await cluster.nodes[0].mgr.fetch_sockets()
        assert {s.id for s in fetched} == {first.sid, second.sid}
        assert await cluster.nodes[0].mgr.server_side_call("ping") == ["pong from 1"]
        assert await cluster.nodes[1].mgr.server_count() == 2


async def test_close_can_be_called_again(cluster: Cluster) -> None:
    await cluster.client(0)
    node = cluster.nodes[2]

    await node.mgr.close()
    await node.mgr.close()

    # The cluster fixture closes every manager once more at teardown.
    assert await cluster.nodes[0].mgr.server_count() == 2
