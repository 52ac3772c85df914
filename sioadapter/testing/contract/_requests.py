"""Cluster checks, part two: requests between nodes, membership, emitters, hostile traffic.

As in part one (`._delivery`), three real servers with real clients over the backend under
test; each request is made from one node and must be answered by the others through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
import socketio

from ...core.messages import Broadcast
from ...errors import RequestTimeoutError
from .._cluster import Cluster
from .._nodes import Node
from ._setup import ContractBase, ContractSetup, scenario

__all__ = ["RequestChecks"]

SERVER_DISCONNECT = socketio.AsyncClient.reason.SERVER_DISCONNECT


async def _save_session(node: Node, sid: str, namespace: str, environ: Any, auth: Any) -> None:
    await node.sio.save_session(sid, {"user": (auth or {}).get("user")}, namespace=namespace)


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    # A node's room table has no event to wait on: poll it, bounded.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)


class RequestChecks(ContractBase):
    """fetch_sockets, sockets_join/leave, disconnect_sockets, server-side events, queries,
    a node leaving, the emitters, and malformed messages on the cluster's channels."""

    @scenario
    async def test_fetch_sockets_returns_every_client_with_rooms_and_session(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            cluster.set_connect_hook(_save_session)
            clients = [await cluster.client(i, auth={"user": f"u{i}"}) for i in (0, 1, 2)]
            await cluster.join_locally(clients[1], "blue")
            await cluster.join_locally(clients[2], "blue", "muted")
            mgr = cluster.nodes[0].mgr
            by_id = {s.id: s for s in await mgr.fetch_sockets()}
            assert set(by_id) == {c.sid for c in clients}
            for client in clients:
                fetched = by_id[client.sid]
                assert fetched.data == {"user": client.auth["user"]}
                assert fetched.handshake["auth"] == client.auth
            assert by_id[clients[2].sid].rooms == {clients[2].sid, "blue", "muted"}
            blue = await mgr.fetch_sockets(rooms=["blue"], except_rooms=["muted"])
            assert [s.id for s in blue] == [clients[1].sid]

    @scenario
    async def test_a_remote_socket_emits_joins_leaves_and_disconnects(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each()
            target = clients[2]
            (remote,) = [s for s in await cluster.nodes[0].mgr.fetch_sockets()
                         if s.id == target.sid]  # fmt: skip
            await remote.emit("direct", 1, b"\x02")
            await remote.join("vip")
            await cluster.nodes[0].sio.emit("while-in", to="vip")
            await remote.leave("vip")
            await cluster.nodes[0].sio.emit("after-leaving", to="vip")
            only_target = {c: int(c is target) for c in clients}
            await cluster.assert_received_exactly("direct", only_target, origin=0)
            await cluster.assert_received_exactly("while-in", only_target, origin=0)
            await cluster.assert_received_exactly(
                "after-leaving", dict.fromkeys(clients, 0), origin=0
            )
            await remote.disconnect()
            assert await target.wait_for("disconnect") == [(SERVER_DISCONNECT,)]

    @scenario
    async def test_sockets_join_and_leave_on_every_node(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each(per_node=2)
            for client in clients[2:5]:
                await cluster.join_locally(client, "blue")
            mgr, sio = cluster.nodes[0].mgr, cluster.nodes[0].sio
            await mgr.sockets_join(["all"])
            await mgr.sockets_join(["vip"], to="blue")
            await mgr.sockets_join(["solo"], to=clients[5].sid)
            await sio.emit("to-all", to="all")
            await sio.emit("to-vip", to="vip")
            await sio.emit("to-solo", to="solo")
            await cluster.assert_received_exactly("to-all", dict.fromkeys(clients, 1), origin=0)
            blue = {c: int(c in clients[2:5]) for c in clients}
            await cluster.assert_received_exactly("to-vip", blue, origin=0)
            await cluster.assert_received_exactly(
                "to-solo", {c: int(c is clients[5]) for c in clients}, origin=0
            )
            await mgr.sockets_leave(["all"], to="blue")
            await mgr.sockets_leave(["vip"])
            await sio.emit("to-all-again", to="all")
            await sio.emit("to-vip-again", to="vip")
            await cluster.assert_received_exactly(
                "to-all-again", {c: 1 - n for c, n in blue.items()}, origin=0
            )
            await cluster.assert_received_exactly(
                "to-vip-again", dict.fromkeys(clients, 0), origin=0
            )

    @scenario
    async def test_disconnect_sockets_in_a_room_and_everywhere(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            clients = [await cluster.client(i) for i in (0, 1, 2, 2)]
            blue = {clients[1], clients[2]}
            for client in blue:
                await cluster.join_locally(client, "blue")
            mgr = cluster.nodes[0].mgr
            await mgr.disconnect_sockets(to="blue")
            await asyncio.gather(*(c.wait_for("disconnect") for c in blue))
            await cluster.quiet(origin=0)
            assert {c for c in clients if c.count("disconnect")} == blue
            await mgr.disconnect_sockets(close=True)
            rest = [c for c in clients if c not in blue]
            await asyncio.gather(*(c.wait_for("disconnect") for c in rest))
            assert all(c.received("disconnect") == [(SERVER_DISCONNECT,)] for c in clients)

    @scenario
    async def test_server_side_emit_and_call_reach_the_other_nodes(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            for node in cluster.nodes:
                node.listen("config", None)
                node.listen("whoami", lambda q, index=node.index: f"{q}:{index}")
                node.listen("marker")
            await cluster.nodes[0].mgr.server_side_emit("config", 1, {"two": [2]})
            for node in cluster.nodes[1:]:
                assert await node.server_events.wait_for("config") == [(1, {"two": [2]})]
            # Node 1 sends a marker after it got the event; once node 0 has it, node 0 has
            # seen its own event come back, if ever: it must not have handled it.
            await cluster.nodes[1].mgr.server_side_emit("marker")
            await cluster.nodes[0].server_events.wait_for("marker")
            assert cluster.nodes[0].server_events.received("config") == []
            answers = await cluster.nodes[0].mgr.server_side_call("whoami", "q")
            assert sorted(answers) == ["q:1", "q:2"]

    @scenario
    async def test_a_server_side_call_that_times_out_keeps_the_answers(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        never = asyncio.Event()

        async def stuck(*_: object) -> str:
            await never.wait()
            return "too late"

        async with sioadapter_contract.cluster(3, requests_timeout=1.0) as cluster:
            cluster.nodes[1].listen("whoami", "node1")
            cluster.nodes[2].listen("whoami", stuck)
            try:
                with pytest.raises(RequestTimeoutError) as caught:
                    await cluster.nodes[0].mgr.server_side_call("whoami")
                error = caught.value
                assert (error.responses, error.received, error.expected) == (["node1"], 1, 2)
            finally:
                never.set()  # the stuck handler ends before teardown looks for leftover tasks

    @scenario
    async def test_queries_count_servers_rooms_and_sockets(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            plain0, blue1, red2 = [await cluster.client(i) for i in (0, 1, 2)]
            await cluster.join_locally(blue1, "blue")
            await cluster.join_locally(red2, "red")
            assert [await node.mgr.server_count() for node in cluster.nodes] == [3, 3, 3]
            mgr = cluster.nodes[0].mgr
            assert await mgr.all_rooms() == {"blue", "red", plain0.sid, blue1.sid, red2.sid}
            assert await mgr.sockets() == {plain0.sid, blue1.sid, red2.sid}
            assert await mgr.sockets({"blue", "red"}) == {blue1.sid, red2.sid}

    @scenario
    async def test_a_node_leaving_is_no_longer_counted_or_waited_for(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        # A short requests_timeout: were the node still counted, the requests below would fail
        # with a timeout instead of answering.
        async with sioadapter_contract.cluster(3, requests_timeout=2.0) as cluster:
            first, second = await cluster.client(0), await cluster.client(1)
            await cluster.client(2)
            await cluster.join_locally(second, "blue")
            cluster.nodes[1].listen("ping", "pong from 1")
            await cluster.stop_node(2)
            assert [await node.mgr.server_count() for node in cluster.nodes[:2]] == [2, 2]
            await cluster.nodes[0].sio.emit("news", "still here")
            await cluster.nodes[0].sio.emit("paint", to="blue")
            await cluster.assert_received_exactly("news", {first: 1, second: 1}, origin=0)
            await cluster.assert_received_exactly("paint", {first: 0, second: 1}, origin=0)
            fetched = await cluster.nodes[0].mgr.fetch_sockets()
            assert {s.id for s in fetched} == {first.sid, second.sid}
            assert await cluster.nodes[0].mgr.server_side_call("ping") == ["pong from 1"]
            await cluster.nodes[2].mgr.close()  # close() again: allowed

    @scenario
    async def test_the_emitters_reach_clients_rooms_and_servers(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        async with setup.cluster(3) as cluster:
            clients = await cluster.connect_each()
            member, target = clients[2], clients[1]
            await cluster.join_locally(member, "news")
            for node in cluster.nodes:
                node.listen("reload")
            emitter = setup.async_emitter()
            try:
                await emitter.emit("hello", 1, b"\x00\xff")
                await emitter.to("news").emit("scoop", "x" * 10_000)
                await emitter.except_("news").emit("rest", 3)
                await emitter.server_side_emit("reload", {"version": 2})
                await emitter.to(target.sid).sockets_join("picked")
                await _until(lambda: "picked" in target.node.sio.rooms(target.sid),
                             setup.wait_timeout, "the emitter's sockets_join")  # fmt: skip
                await emitter.to(target.sid).disconnect_sockets(close=True)
            finally:
                await emitter.aclose()
            for client in clients:
                assert await client.wait_for("hello") == [(1, b"\x00\xff")]
            assert await member.wait_for("scoop") == [("x" * 10_000,)]
            for node in cluster.nodes:
                assert await node.server_events.wait_for("reload") == [({"version": 2},)]
            await target.wait_for("disconnect")
            await asyncio.to_thread(self._sync_emit, setup)
            for client in (clients[0], member):
                assert await client.wait_for("from-sync") == [("a",)]
            assert await member.wait_for("room-sync") == [(b"\x07",)]
            expected = {clients[0]: 1, target: 1, member: 0}
            await cluster.assert_received_exactly("rest", expected, origin=0)

    @staticmethod
    def _sync_emit(setup: ContractSetup) -> None:
        emitter = setup.sync_emitter()
        try:
            emitter.emit("from-sync", "a")
            emitter.to("news").emit("room-sync", b"\x07")
        finally:
            emitter.close()

    @scenario
    async def test_malformed_messages_on_the_clusters_channels_are_dropped(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        setup = sioadapter_contract
        logging.getLogger("sioadapter").setLevel(logging.WARNING)
        async with setup.cluster(2) as cluster:
            clients = await cluster.connect_each()
            channels = _cluster_channels(cluster)
            payloads = [b"\x00\x01garbage", b"{not json", msgpack.packb([1, 2, 3]), b"\xdd\xff"]
            intruder = setup.backend()  # a member of the broker that is no node
            await intruder.connect()
            try:
                await intruder.publish([(c, p) for c in channels for p in payloads])
            finally:
                await intruder.close()
            expected = len(channels) * len(payloads)
            await cluster.quiet(origin=1)  # the marker crosses the same channels after them
            for node in cluster.nodes:
                assert node.mgr.stats.dropped_malformed == expected
                cluster.expected_malformed[node.index] = expected
            await cluster.nodes[0].sio.emit("still-alive", 1)
            for client in clients:
                assert await client.wait_for("still-alive") == [(1,)]


def _cluster_channels(cluster: Cluster) -> list[str]:
    """The channels every node of ``cluster`` listens on for broadcasts and requests."""
    family = cluster.nodes[0].mgr.family
    channels, _ = family.subscriptions("/")
    broadcast = family.encode(Broadcast("/", "x", ["ev"]))[0]
    own = [c for c in channels if not c.endswith(f"#{cluster.nodes[0].mgr.uid}#")]
    return sorted({broadcast, *own})
