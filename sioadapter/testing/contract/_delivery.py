"""Cluster checks, part one: what ``sio.emit`` delivers across nodes, and acknowledgements.

Every check runs three real python-socketio servers (uvicorn, loopback ports) whose managers
use the backend under test, with real ``socketio.AsyncClient`` clients, and emits from node 0:
"received" means "crossed the backend" for clients of nodes 1 and 2. Counts are asserted once
node 0's later messages reached everyone (a marker, `Cluster.quiet`), so a duplicate still in
flight is counted, not missed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ...errors import RequestTimeoutError
from ._setup import ContractBase, ContractSetup, scenario

__all__ = ["DeliveryChecks"]


class DeliveryChecks(ContractBase):
    """Broadcasts to everyone, to rooms, except rooms; payloads; acknowledgements."""

    @scenario
    async def test_broadcast_reaches_every_client_of_every_node_once(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each(per_node=2)
            await cluster.nodes[0].sio.emit("news", {"headline": "hello"})
            await cluster.assert_received_exactly("news", dict.fromkeys(clients, 1), origin=0)
            assert all(c.received("news") == [({"headline": "hello"},)] for c in clients)

    @scenario
    async def test_room_broadcast_reaches_only_its_members(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            outsider0, outsider1, member1, outsider2, member2 = [
                await cluster.client(i) for i in (0, 1, 1, 2, 2)
            ]
            await cluster.join_locally(member1, "blue")
            await cluster.join_locally(member2, "blue", "red")
            # Node 0 has no member: delivery happens on the other nodes only.
            await cluster.nodes[0].sio.emit("paint", "blue", to="blue")
            await cluster.nodes[0].sio.emit("both", to=["blue", "red"])
            expected = {outsider0: 0, outsider1: 0, member1: 1, outsider2: 0, member2: 1}
            await cluster.assert_received_exactly("paint", expected, origin=0)
            await cluster.assert_received_exactly("both", expected, origin=0)

    @scenario
    async def test_except_rooms_and_skip_sid_leave_out_clients_on_every_node(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each(per_node=2)
            muted = {clients[1], clients[2], clients[5]}  # on nodes 0, 1 and 2
            for client in muted:
                await cluster.join_locally(client, "muted")
            await cluster.join_locally(clients[3], "red")
            mgr = cluster.nodes[0].mgr
            await mgr.emit("news", "hi", "/", except_rooms=["muted"])
            await mgr.emit("paint", "x", "/", room=["red", "muted"], except_rooms=["muted"])
            skipped = clients[4]
            await cluster.nodes[0].sio.emit("all-but-one", skip_sid=skipped.sid)
            await cluster.assert_received_exactly(
                "news", {c: int(c not in muted) for c in clients}, origin=0
            )
            await cluster.assert_received_exactly(
                "paint", {c: int(c is clients[3]) for c in clients}, origin=0
            )
            await cluster.assert_received_exactly(
                "all-but-one", {c: int(c is not skipped) for c in clients}, origin=0
            )

    @scenario
    async def test_emit_to_a_sid_on_another_node_and_namespaces_stay_apart(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each(per_node=1)
            chat = await cluster.client(2, namespace="/chat")
            target = clients[1]
            sio = cluster.nodes[0].sio
            await sio.emit("direct", "for you", to=target.sid)
            await sio.emit("said", "in chat", namespace="/chat")
            await cluster.assert_received_exactly(
                "direct", {c: int(c is target) for c in clients}, origin=0
            )
            await cluster.assert_received_exactly("said", dict.fromkeys(clients, 0), origin=0)
            assert chat.received("said", "/chat") == [("in chat",)]

    @scenario
    async def test_binary_payloads_arrive_as_bytes(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        payload = (b"\x00\x01\xfe\xff", {"nested": b"\x10\x20", "text": "t", "n": [1, b"\x30"]})
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each()
            await cluster.nodes[0].sio.emit("blob", payload)
            for client in clients:
                assert await client.wait_for("blob") == [payload]
                ((raw, mapping),) = client.received("blob")
                assert type(raw) is bytes
                assert type(mapping["nested"]) is bytes

    @scenario
    async def test_a_large_payload_crosses_the_cluster(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        size = self.large_payload_size
        text = "x" * (size // 2)
        blob = bytes(i % 256 for i in range(size // 2))
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each()
            await cluster.join_locally(clients[2], "big")
            await cluster.nodes[0].sio.emit("large", {"text": text, "blob": blob})
            await cluster.nodes[0].sio.emit("large-room", blob, to="big")
            for client in clients:
                assert await client.wait_for("large", timeout=self.wait_timeout * 2) == [
                    ({"text": text, "blob": blob},)
                ]
            assert await clients[2].wait_for("large-room") == [(blob,)]

    @scenario
    async def test_acks_of_a_client_on_another_node(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            await cluster.client(0)
            remote = await cluster.client(2)
            remote.on("double", lambda n: n * 2)
            remote.on("pair", lambda prefix: (f"{prefix}-a", b"\x01\x02"))
            answered: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
            sio = cluster.nodes[0].sio
            await sio.emit("double", 21, to=remote.sid,
                           callback=lambda *args: answered.set_result(args))  # fmt: skip
            assert await asyncio.wait_for(answered, self.wait_timeout) == (42,)
            answer = await sio.call("pair", "p", to=remote.sid, timeout=self.wait_timeout)
            assert answer == ("p-a", b"\x01\x02")

    @scenario
    async def test_emit_with_ack_collects_one_answer_per_client_across_nodes(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            clients = await cluster.connect_each(per_node=2)
            for client in clients:
                client.on("ping", lambda greeting, name=client.name: f"{greeting} from {name}")
            await cluster.join_locally(clients[3], "blue")
            mgr = cluster.nodes[0].mgr
            answers = await mgr.emit_with_ack("ping", "pong", timeout=self.wait_timeout)
            assert sorted(answers) == sorted(f"pong from {c.name}" for c in clients)
            answers = await mgr.emit_with_ack("ping", "r", to="blue", timeout=self.wait_timeout)
            assert answers == [f"r from {clients[3].name}"]
            assert await mgr.emit_with_ack("ping", "e", to="empty", timeout=1.0) == []

    @scenario
    async def test_emit_with_ack_timeout_keeps_the_answers_that_arrived(
        self, sioadapter_contract: ContractSetup
    ) -> None:
        async with sioadapter_contract.cluster(3) as cluster:
            answering0, answering1, silent2 = [await cluster.client(i) for i in (0, 1, 2)]
            answering0.on("ping", lambda: "a0")
            answering1.on("ping", lambda: "a1")
            silent2.never_answer("ping")
            with pytest.raises(RequestTimeoutError) as caught:
                await cluster.nodes[0].mgr.emit_with_ack("ping", None, timeout=1.0)
            assert sorted(caught.value.responses) == ["a0", "a1"]
