"""Acknowledgements from a client on another node: ``callback=`` and ``sio.call()``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from .harness import WAIT_TIMEOUT, Cluster


async def test_callback_gets_the_answer_of_a_client_on_another_node(cluster: Cluster) -> None:
    await cluster.client(0)
    remote = await cluster.client(2)
    remote.on("double", lambda n: n * 2)
    answered: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    await cluster.nodes[0].sio.emit(
        "double", 21, to=remote.sid, callback=lambda *args: answered.set_result(args)
    )

    assert await asyncio.wait_for(answered, WAIT_TIMEOUT) == (42,)
    assert remote.received("double") == [(21,)]


async def test_call_returns_the_value_a_client_on_another_node_answers(cluster: Cluster) -> None:
    remote = await cluster.client(1)
    remote.on("whoami", lambda: {"name": remote.name})

    answer = await cluster.nodes[0].sio.call("whoami", to=remote.sid, timeout=WAIT_TIMEOUT)

    assert answer == {"name": remote.name}


async def test_call_returns_a_tuple_when_the_client_answers_two_values(cluster: Cluster) -> None:
    remote = await cluster.client(2)
    remote.on("pair", lambda prefix: (f"{prefix}-a", b"\x01\x02"))

    answer = await cluster.nodes[0].sio.call("pair", "p", to=remote.sid, timeout=WAIT_TIMEOUT)

    assert answer == ("p-a", b"\x01\x02")


async def test_call_to_a_sid_nobody_has_times_out(cluster: Cluster) -> None:
    clients = await cluster.connect_each()
    for client in clients:
        client.on("ask", lambda: "wrongly answered")

    with pytest.raises(socketio.exceptions.TimeoutError):
        await cluster.nodes[0].sio.call("ask", to="no-such-sid", timeout=0.5)
    await cluster.assert_received_exactly("ask", dict.fromkeys(clients, 0), origin=0)
