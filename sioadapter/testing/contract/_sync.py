"""Cluster checks, part three: a sync server (``socketio.Server`` with a `ClusterManager`, as
Flask-SocketIO and gunicorn run it) in a cluster of async ones, on the backend under test.

The sync manager runs the backend on an event loop of its own, in a thread: the check proves
the backend works there too, beside the async nodes' loop.
"""

from __future__ import annotations

import asyncio

import socketio

from ...manager import ClusterManager
from ._setup import ContractBase, ContractSetup, scenario

__all__ = ["SyncServerChecks"]


class SyncServerChecks(ContractBase):
    """A sync server's manager broadcasts, answers requests and is counted."""

    @scenario
    async def test_a_sync_server_broadcasts_answers_and_is_counted(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        async with setup.cluster(2) as cluster:
            clients = await cluster.connect_each()
            await cluster.join_locally(clients[1], "blue")
            for node in cluster.nodes:
                node.listen("whoami", f"async node {node.index}")
            options = {"requests_timeout": 5.0, **setup.manager_options}  # as the async nodes'
            mgr = ClusterManager(setup.url, key=setup.key, **setup.options, **options)
            socketio.Server(client_manager=mgr, async_mode="threading", logger=False)
            mgr.on("whoami", lambda: "sync node")
            try:
                await asyncio.to_thread(mgr.start)
                await asyncio.to_thread(mgr.emit, "from-sync", {"n": 1}, namespace="/")
                await asyncio.to_thread(mgr.emit, "sync-room", b"\x01", namespace="/", room="blue")
                for client in clients:
                    assert await client.wait_for("from-sync") == [({"n": 1},)]
                assert await clients[1].wait_for("sync-room") == [(b"\x01",)]
                answers = await asyncio.to_thread(mgr.server_side_call, "whoami")
                assert sorted(answers) == ["async node 0", "async node 1"]
                answers = await cluster.nodes[0].mgr.server_side_call("whoami")
                assert sorted(answers) == ["async node 1", "sync node"]
                assert await cluster.nodes[0].mgr.server_count() == 3
                assert await asyncio.to_thread(mgr.server_count) == 3
            finally:
                await asyncio.to_thread(mgr.close)
            await cluster.quiet(origin=0)
            assert [c.count("sync-room") for c in clients] == [0, 1]
