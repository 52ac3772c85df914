"""Node's broadcast extras on the manager: except-rooms and broadcasts with acknowledgements."""

from __future__ import annotations

import pytest

from sioadapter.errors import RequestTimeoutError

from .harness import Cluster


async def test_emit_except_rooms_skips_their_members_on_every_node(cluster: Cluster) -> None:
    clients = await cluster.connect_each(per_node=2)
    muted = {clients[1], clients[2], clients[5]}  # on nodes 0, 1 and 2
    for client in muted:
        await cluster.join_locally(client, "muted")

    await cluster.nodes[0].mgr.emit("news", "hi", "/", except_rooms=["muted"])

    await cluster.assert_received_exactly(
        "news", {c: int(c not in muted) for c in clients}, origin=0
    )


async def test_emit_to_a_room_except_rooms_reaches_each_selected_client_once(
    cluster: Cluster,
) -> None:
    # Node's "to(room1).to(room2).except(room3)": members of either room, once, minus room3.
    red0, both1, red_and_muted2, outsider2 = [await cluster.client(i) for i in (0, 1, 2, 2)]
    await cluster.join_locally(red0, "red")
    await cluster.join_locally(both1, "red", "green")
    await cluster.join_locally(red_and_muted2, "red", "muted")

    await cluster.nodes[0].mgr.emit(
        "paint", "x", "/", room=["red", "green"], except_rooms=["muted"]
    )

    await cluster.assert_received_exactly(
        "paint", {red0: 1, both1: 1, red_and_muted2: 0, outsider2: 0}, origin=0
    )


async def test_emit_with_ack_collects_one_answer_per_client_across_nodes(
    cluster: Cluster,
) -> None:
    clients = await cluster.connect_each(per_node=2)
    for client in clients:
        client.on("ping", lambda greeting, name=client.name: f"{greeting} from {name}")

    answers = await cluster.nodes[0].mgr.emit_with_ack("ping", "pong", timeout=5.0)

    assert sorted(answers) == sorted(f"pong from {c.name}" for c in clients)


async def test_emit_with_ack_to_a_room_collects_its_members_answers(cluster: Cluster) -> None:
    outsider0, member1, member2, outsider2 = [await cluster.client(i) for i in (0, 1, 2, 2)]
    for client in (outsider0, member1, member2, outsider2):
        client.on("ping", lambda name=client.name: name)
    await cluster.join_locally(member1, "blue")
    await cluster.join_locally(member2, "blue")

    answers = await cluster.nodes[0].mgr.emit_with_ack("ping", None, to="blue", timeout=5.0)

    assert sorted(answers) == sorted([member1.name, member2.name])


async def test_emit_with_ack_to_a_room_without_members_returns_no_answers(
    cluster: Cluster,
) -> None:
    clients = await cluster.connect_each()
    for client in clients:
        client.on("ping", lambda: "wrongly answered")

    answers = await cluster.nodes[0].mgr.emit_with_ack("ping", None, to="empty", timeout=5.0)

    assert answers == []


async def test_emit_with_ack_timeout_keeps_the_answers_that_arrived(cluster: Cluster) -> None:
    answering0, answering1, silent2 = [await cluster.client(i) for i in (0, 1, 2)]
    answering0.on("ping", lambda: "a0")
    answering1.on("ping", lambda: "a1")
    silent2.never_answer("ping")

    with pytest.raises(RequestTimeoutError) as caught:
        await cluster.nodes[0].mgr.emit_with_ack("ping", None, timeout=1.0)

    assert sorted(caught.value.responses) == ["a0", "a1"]
    assert silent2.received("ping") == [()]
