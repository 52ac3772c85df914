"""Self-test of the harness over python-socketio's own single-process manager.

These pass without sioadapter: they show that the harness observes deliveries, answers acks,
and that its teardown checks can fail.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from .harness import Cluster


def plain_manager(index: int, /, **options: Any) -> socketio.AsyncManager:
    return socketio.AsyncManager(**options)


class LeakyManager(socketio.AsyncManager):
    """A manager with the cluster lifecycle that leaves a request pending."""

    pending_requests = 1

    class stats:  # mimics the attribute
        dropped_malformed = 0

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_each_client_receives_a_broadcast_exactly_once() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:
        first = await cluster.client(0)
        second = await cluster.client(0)

        await cluster.nodes[0].sio.emit("hello", {"to": "all"})

        assert await first.wait_for("hello") == [({"to": "all"},)]
        await cluster.assert_received_exactly("hello", {first: 1, second: 1}, origin=0)
        assert second.received("hello") == [({"to": "all"},)]


async def test_assert_received_exactly_fails_on_a_duplicate() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:
        client = await cluster.client(0)

        await cluster.nodes[0].sio.emit("twice", 1)
        await cluster.nodes[0].sio.emit("twice", 2)

        with pytest.raises(AssertionError, match="received"):
            await cluster.assert_received_exactly("twice", {client: 1}, origin=0)


async def test_client_answers_with_its_handler_value_or_tuple() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:
        client = await cluster.client(0)
        client.on("double", lambda n: n * 2)
        client.on("pair", lambda: ("a", 2))
        sio = cluster.nodes[0].sio

        assert await sio.call("double", 21, to=client.sid, timeout=5) == 42
        assert await sio.call("pair", to=client.sid, timeout=5) == ("a", 2)


async def test_never_answered_ack_times_out_and_is_cleaned_up() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:
        client = await cluster.client(0)
        client.never_answer("ask")

        with pytest.raises(socketio.exceptions.TimeoutError):
            await cluster.nodes[0].sio.call("ask", to=client.sid, timeout=0.2)
        assert client.received("ask") == [()]
    # Leaving the block without an error means the held handler task did not leak.


async def test_node_records_client_events_connects_and_disconnects() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:
        node = cluster.nodes[0]
        client = await cluster.client(0, auth={"user": "ann"})

        await client.sio.emit("note", ["x", b"\x01"])

        assert await node.log.wait_for("note") == [(client.sid, ["x", b"\x01"])]
        assert node.log.received("connect") == [(client.sid, {"user": "ann"})]
        await client.sio.disconnect()
        ((sid, _reason),) = await node.log.wait_for("disconnect")
        assert sid == client.sid


async def test_connect_hook_runs_before_the_client_is_connected() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:

        async def save(node: Any, sid: str, namespace: str, environ: Any, auth: Any) -> None:
            await node.sio.save_session(sid, {"user": auth["user"]}, namespace=namespace)

        cluster.set_connect_hook(save)
        client = await cluster.client(0, auth={"user": "bo"})

        assert await cluster.nodes[0].sio.get_session(client.sid) == {"user": "bo"}


async def test_clients_connect_to_every_node_and_namespace() -> None:
    async with Cluster(plain_manager, nodes=2, cluster_api=False) as cluster:
        clients = await cluster.connect_each(per_node=1, namespace=["/", "/chat"])

        for node, client in zip(cluster.nodes, clients, strict=True):
            await node.sio.emit("hi", node.index, namespace="/chat")
            assert await client.wait_for("hi", namespace="/chat") == [(node.index,)]
            assert client.received("hi") == []
            assert set(client.sids) == {"/", "/chat"}


async def test_server_disconnect_is_recorded_by_the_client() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:
        client = await cluster.client(0)

        await cluster.nodes[0].sio.disconnect(client.sid)

        assert await client.wait_for("disconnect") == [
            (socketio.AsyncClient.reason.SERVER_DISCONNECT,)
        ]
        assert not client.is_connected()


async def test_wait_for_timeout_says_what_arrived() -> None:
    async with Cluster(plain_manager, nodes=1, cluster_api=False) as cluster:
        client = await cluster.client(0)
        await cluster.nodes[0].sio.emit("other", 7)
        await client.wait_for("other")

        with pytest.raises(AssertionError, match=r"other\(7,\)"):
            await client.wait_for("missing", timeout=0.05)


async def test_teardown_reports_a_leaked_task() -> None:
    cluster = Cluster(plain_manager, nodes=1, cluster_api=False, leak_grace=0.1)
    await cluster.start()
    forever = asyncio.get_running_loop().create_future()
    asyncio.create_task(asyncio.wait_for(forever, None), name="leaky")  # noqa: RUF006

    with pytest.raises(AssertionError, match="leaky"):
        await cluster.aclose()


async def test_teardown_reports_pending_requests() -> None:
    cluster = Cluster(lambda index, /, **options: LeakyManager(), nodes=1)
    await cluster.start()

    with pytest.raises(AssertionError, match="1 pending requests"):
        await cluster.aclose()
