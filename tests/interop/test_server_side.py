"""Server-side events across the language boundary (Node's ``serverSideEmit``).

Python sends with ``mgr.server_side_emit`` / ``mgr.server_side_call`` and handles with
``mgr.on``; Node sends with ``io.serverSideEmit`` / ``io.serverSideEmitWithAck`` and handles
with ``io.on``. A server never receives its own server-side events.
"""

from __future__ import annotations

from typing import Any

import pytest

from sioadapter.errors import RequestTimeoutError

from .harness_node import NodeCommandError
from .mixed import BOTH_MODES, REQUEST_PATHS, MixedCluster, Topology

pytestmark = pytest.mark.interop

SERVERS = ("py0", "py1", "node")


async def server_side_emit(
    mixed: MixedCluster, origin: str, event: str, *args: Any, namespace: str = "/"
) -> None:
    if origin == "node":
        await mixed.node.command("serverSideEmit", nsp=namespace, event=event, args=list(args))
    else:
        await mixed.mgr(origin).server_side_emit(event, *args, namespace=namespace)


async def server_side_call(mixed: MixedCluster, origin: str, event: str, *args: Any) -> list[Any]:
    if origin == "node":
        return list(await mixed.node.command("serverSideEmitWithAck", event=event, args=list(args)))
    return await mixed.mgr(origin).server_side_call(event, *args, timeout=5.0)


@BOTH_MODES
@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_server_side_emit_reaches_every_other_server_once(
    mixed: MixedCluster, origin: str
) -> None:
    args = (1, "two", {"three": [3]})
    await server_side_emit(mixed, origin, "hello", *args)
    others = [name for name in SERVERS if name != origin]
    for name in others:
        assert await mixed.server_events(name).wait_for("hello") == [args], name
    # Everything origin published before the barrier was handled everywhere, itself included.
    await mixed.barrier(origin)
    counts = {name: mixed.server_events(name).count("hello") for name in SERVERS}
    assert counts == {name: int(name != origin) for name in SERVERS}


@pytest.mark.parametrize("origin", ["py1", "node"])
async def test_server_side_emit_in_second_namespace(mixed: MixedCluster, origin: str) -> None:
    await server_side_emit(mixed, origin, "hello", "in custom", namespace="/custom")
    for name in SERVERS:
        if name != origin:
            events = mixed.server_events(name)
            assert await events.wait_for("hello", namespace="/custom") == [("in custom",)]
            assert events.count("hello") == 0, f"{name} got it in /"


@REQUEST_PATHS
@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_server_side_emit_with_ack_collects_every_other_server(
    mixed: MixedCluster, origin: str
) -> None:
    answers = await server_side_call(mixed, origin, "hello-ack", "x")
    others = sorted(name for name in SERVERS if name != origin)
    assert sorted(answers, key=lambda a: a["server"]) == [
        {"server": name, "got": "x"} for name in others
    ]
    for name in others:
        # The handler's report to the test can trail its answer through Redis: wait for it.
        assert await mixed.server_events(name).wait_for("hello-ack") == [("x",)], name
    assert mixed.server_events(origin).count("hello-ack") == 0


@pytest.mark.parametrize("origin", ["py0", "node"])
async def test_server_side_call_timeout_keeps_the_answers_that_came(
    node_bin: str, topology: Topology, interop_key: str, origin: str
) -> None:
    """Only py1 handles ``partial``; a server without a handler never answers, in Node as
    in Python: the asker times out with the answers that came, and Node's error message."""
    async with MixedCluster(node_bin, topology, interop_key, requests_timeout=0.5) as mixed:
        mixed.py("py1").listen("partial", {"server": "py1"})
        if origin == "node":
            with pytest.raises(NodeCommandError) as node_error:
                await mixed.node.command("serverSideEmitWithAck", event="partial", args=[1])
            message, responses = node_error.value.message, node_error.value.responses
        else:
            with pytest.raises(RequestTimeoutError) as py_error:
                await mixed.mgr(origin).server_side_call("partial", 1)
            message, responses = str(py_error.value), py_error.value.responses
        assert responses == [{"server": "py1"}]
        assert message.endswith("timeout reached: only 1 responses received out of 2")
