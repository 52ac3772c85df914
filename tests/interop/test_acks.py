"""Broadcasts with acknowledgements across the language boundary.

Python asks with ``mgr.emit_with_ack`` (Node's ``io.timeout(t).emitWithAck``), ``sio.call`` to
a sid and ``RemoteSocket.emit_with_ack``; Node asks with ``io.timeout(t).emitWithAck`` and
``(await io.in(sid).fetchSockets())[0].timeout(t).emitWithAck``. The answers are collected from
clients of both kinds of server, whatever the asker.
"""

from __future__ import annotations

from typing import Any

import pytest

from sioadapter.errors import RequestTimeoutError

from .harness_node import NodeCommandError
from .mixed import BOTH_MODES, REQUEST_PATHS, MixedCluster

pytestmark = pytest.mark.interop


def answer_as(mixed: MixedCluster, event: str, **extra: Any) -> None:
    """Every client answers ``event`` with ``{"client": its name, "got": first arg, **extra}``."""
    for name, client in mixed.clients.items():
        client.on(event, lambda *args, name=name: {"client": name, "got": args[0], **extra})


async def emit_with_ack(
    mixed: MixedCluster, origin: str, event: str, *args: Any, to: list[str] | None = None
) -> list[Any]:
    if origin == "node":
        return list(
            await mixed.node.command(
                "emitWithAck", event=event, args=list(args), to=to or [], timeout=5000
            )
        )
    return await mixed.mgr(origin).emit_with_ack(event, tuple(args), to=to, timeout=5.0)


def by_client(answers: list[Any]) -> list[Any]:
    return sorted(answers, key=lambda a: a["client"])


@REQUEST_PATHS
@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_emit_with_ack_collects_every_client(mixed: MixedCluster, origin: str) -> None:
    answer_as(mixed, "ask")
    answers = await emit_with_ack(mixed, origin, "ask", "q")
    assert by_client(answers) == [
        {"client": "node", "got": "q"},
        {"client": "py0", "got": "q"},
        {"client": "py1", "got": "q"},
    ]
    await mixed.assert_received_exactly("ask", {"py0": 1, "py1": 1, "node": 1}, origin=origin)


@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_emit_with_ack_to_room_with_binary_answers(mixed: MixedCluster, origin: str) -> None:
    """room2 = py1 + node; answers hold bytes (classic BROADCAST_ACK is msgpack)."""
    answer_as(mixed, "ask-bin", blob=b"\x01\x02\xff")
    answers = await emit_with_ack(mixed, origin, "ask-bin", b"\x07", to=["room2"])
    assert by_client(answers) == [
        {"client": "node", "got": b"\x07", "blob": b"\x01\x02\xff"},
        {"client": "py1", "got": b"\x07", "blob": b"\x01\x02\xff"},
    ]


@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_emit_with_ack_to_empty_room_returns_no_answer(
    mixed: MixedCluster, origin: str
) -> None:
    """Every server reports 0 clients: the asker completes at once with []."""
    assert await emit_with_ack(mixed, origin, "ask", "q", to=["nobody-here"]) == []


@BOTH_MODES
@pytest.mark.parametrize(
    ("how", "target"),
    [
        ("sio.call", "node"),  # python-socketio's call() to a sid on the Node server
        ("remote-socket", "node"),  # fetch_sockets()[0].emit_with_ack()
        ("node-remote-socket", "py1"),  # Node's RemoteSocket.timeout().emitWithAck()
    ],
)
async def test_single_socket_acknowledgement(mixed: MixedCluster, how: str, target: str) -> None:
    answer_as(mixed, "one")
    sid = mixed.sid(target)
    if how == "sio.call":
        answer = await mixed.py("py0").sio.call("one", "q", to=sid, timeout=5)
    elif how == "remote-socket":
        [socket] = await mixed.mgr("py0").fetch_sockets([sid])
        answer = await socket.emit_with_ack("one", "q", timeout=5.0)
    else:
        answer = await mixed.node.command(
            "socketEmitWithAck", sid=sid, event="one", args=["q"], timeout=5000
        )
    assert answer == {"client": target, "got": "q"}
    origin = "node" if how.startswith("node") else "py0"
    await mixed.assert_received_exactly("one", {target: 1}, origin=origin)


@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_emit_with_ack_timeout_keeps_the_answers_that_came(
    mixed: MixedCluster, origin: str
) -> None:
    """py1's client never answers: the asker gives up after its timeout, with the others'."""
    answer_as(mixed, "slow")
    mixed.clients["py1"].never_answer("slow")
    if origin == "node":
        with pytest.raises(NodeCommandError) as node_error:
            await mixed.node.command("emitWithAck", event="slow", args=["q"], timeout=500)
        assert node_error.value.message == "operation has timed out"
        responses = node_error.value.responses
    else:
        with pytest.raises(RequestTimeoutError) as py_error:
            await mixed.mgr(origin).emit_with_ack("slow", "q", timeout=0.5)
        responses = py_error.value.responses
    assert by_client(responses) == [
        {"client": "node", "got": "q"},
        {"client": "py0", "got": "q"},
    ]
    await mixed.clients["py1"].wait_for("slow")
