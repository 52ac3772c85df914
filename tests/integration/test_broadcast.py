"""``sio.emit`` across the cluster: who receives a broadcast, and exactly once.

Every test emits from node 0, so "received" means "crossed the cluster" for clients on nodes
1 and 2, and counts are checked once node 0's later messages have arrived everywhere.
"""

from __future__ import annotations

from .harness import Cluster


async def test_emit_to_everyone_reaches_every_client_once(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)

    await cluster.nodes[0].sio.emit("news", {"headline": "hello"})

    await cluster.assert_received_exactly("news", dict.fromkeys(clients, 1), origin=0)
    assert all(c.received("news") == [({"headline": "hello"},)] for c in clients)


async def test_emit_to_room_reaches_only_its_members_on_two_nodes(cluster: Cluster) -> None:
    outsider0, outsider1, member1, outsider2, member2 = [
        await cluster.client(i) for i in (0, 1, 1, 2, 2)
    ]
    await cluster.join_locally(member1, "blue")
    await cluster.join_locally(member2, "blue")

    # Node 0 has no member of the room: delivery happens only on the other nodes.
    await cluster.nodes[0].sio.emit("paint", "blue", to="blue")

    await cluster.assert_received_exactly(
        "paint",
        {outsider0: 0, outsider1: 0, member1: 1, outsider2: 0, member2: 1},
        origin=0,
    )


async def test_emit_to_several_rooms_reaches_a_member_of_both_once(cluster: Cluster) -> None:
    green0, red1, both2, neither2 = [await cluster.client(i) for i in (0, 1, 2, 2)]
    await cluster.join_locally(green0, "green")
    await cluster.join_locally(red1, "red")
    await cluster.join_locally(both2, "red", "green")

    await cluster.nodes[0].sio.emit("paint", "any", to=["red", "green"])

    await cluster.assert_received_exactly(
        "paint", {green0: 1, red1: 1, both2: 1, neither2: 0}, origin=0
    )


async def test_emit_to_a_sid_on_another_node_reaches_only_that_client(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    target = clients[3]  # on node 1

    await cluster.nodes[0].sio.emit("direct", "for you", to=target.sid)

    await cluster.assert_received_exactly(
        "direct", {c: int(c is target) for c in clients}, origin=0
    )
    assert target.received("direct") == [("for you",)]


async def test_skip_sid_leaves_out_a_client_on_another_node(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    skipped = clients[5]  # on node 2

    await cluster.nodes[0].sio.emit("news", "not for all", skip_sid=skipped.sid)

    await cluster.assert_received_exactly(
        "news", {c: int(c is not skipped) for c in clients}, origin=0
    )


async def test_bytes_arrive_as_bytes_even_nested_in_a_dict(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    payload = (b"\x00\x01\xfe\xff", {"nested": b"\x10\x20", "text": "t", "n": [1, b"\x30"]})

    await cluster.nodes[0].sio.emit("blob", payload)

    for client in clients:
        assert await client.wait_for("blob") == [payload]
        ((raw, mapping),) = client.received("blob")
        assert type(raw) is bytes
        assert type(mapping["nested"]) is bytes
        assert type(mapping["n"][1]) is bytes


async def test_tuple_data_arrives_as_several_arguments(cluster: Cluster) -> None:
    clients = await cluster.connect_each()

    await cluster.nodes[0].sio.emit("multi", (1, "two", [3], {"four": 4}))

    for client in clients:
        assert await client.wait_for("multi") == [(1, "two", [3], {"four": 4})]
    # A list stays one argument.
    await cluster.nodes[0].sio.emit("single", [1, "two"])
    for client in clients:
        assert await client.wait_for("single") == [([1, "two"],)]


async def test_second_namespace_is_isolated_from_the_default_one(cluster: Cluster) -> None:
    default = await cluster.connect_each(namespace="/")
    chat = await cluster.connect_each(namespace="/chat")
    both = await cluster.client(1, namespace=["/", "/chat"])

    await cluster.nodes[0].sio.emit("said", "in chat", namespace="/chat")
    await cluster.nodes[0].sio.emit("said", "in default", namespace="/")

    # The client in both namespaces shows a leak either way: it would count 2 in one of them.
    await cluster.assert_received_exactly(
        "said", dict.fromkeys([*chat, both], 1), origin=0, namespace="/chat"
    )
    await cluster.assert_received_exactly(
        "said", dict.fromkeys([*default, both], 1), origin=0, namespace="/"
    )
    assert all(c.received("said", "/chat") == [("in chat",)] for c in [*chat, both])
    assert all(c.received("said", "/") == [("in default",)] for c in [*default, both])
