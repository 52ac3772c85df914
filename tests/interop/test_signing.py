"""Signed Python nodes in a cluster with a Node.js server: Node still decodes what they send.

The Python nodes sign everything (``signing_keys``) and cannot require signatures, since Node
cannot sign (``require_signatures=False``), except where a test makes ``py1`` a *witness*:
``py1`` then requires signatures, so whatever ``py1`` accepts from ``py0`` was really signed,
while the Node server decodes the very same bytes. Each payload form is crossed: classic
broadcast arrays (4 elements), JSON requests and responses (``"sig"`` first), msgpack maps
(broadcasts with ack, acks, binary requests and responses, ClusterAdapter binary messages).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from integration.cluster_fixtures import CALL_FAILED
from integration.harness import Cluster, EventLog

import sioadapter
from sioadapter.emitter import AsyncEmitter
from sioadapter.hooks import hookimpl

from .mixed import BOTH_MODES, MixedCluster, Topology

pytestmark = pytest.mark.interop

KEY = b"interop-signing-key-0123456789"
BLOB = b"\x00\x01\xfe\xff"


class DropLog:
    """Records ``sioadapter_message_dropped`` calls into an awaitable log."""

    def __init__(self) -> None:
        self.log = EventLog("drops")

    @hookimpl
    def sioadapter_message_dropped(self, channel: str, reason: str) -> None:
        self.log.record("/", "dropped", (channel, reason))


class SignedMixedCluster(MixedCluster):
    """A MixedCluster whose Python node ``i`` gets ``per_node[i]`` as extra manager options."""

    def __init__(
        self, node: str, topology: Topology, key: str, per_node: list[dict[str, Any]]
    ) -> None:
        super().__init__(node, topology, key)
        self.drops = [DropLog() for _ in per_node]

        def factory(index: int, /, **options: Any) -> Any:
            return sioadapter.AsyncClusterManager(
                topology.python_url,
                key=key,
                requests_timeout=5.0,
                plugins=[self.drops[index]],
                **topology.python_options,
                **per_node[index],
                **options,
            )

        self.cluster = Cluster(factory, nodes=2)


OPTIONAL = {"signing_keys": [KEY], "require_signatures": False}
REQUIRED = {"signing_keys": [KEY]}


async def open_cluster(
    request: pytest.FixtureRequest, node_bin: str, topology: Topology, key: str, per_node: Any
) -> AsyncIterator[SignedMixedCluster]:
    cluster = SignedMixedCluster(node_bin, topology, key, per_node)
    await cluster.open()
    try:
        yield cluster
    finally:
        await cluster.aclose(check=not request.node.stash.get(CALL_FAILED, False))


@pytest.fixture
async def signed(
    request: pytest.FixtureRequest, node_bin: str, topology: Topology, interop_key: str
) -> AsyncIterator[SignedMixedCluster]:
    """Both Python nodes sign and accept unsigned messages (Node's)."""
    async for cluster in open_cluster(request, node_bin, topology, interop_key, [OPTIONAL] * 2):
        yield cluster


@pytest.fixture
async def witnessed(
    request: pytest.FixtureRequest, node_bin: str, topology: Topology, interop_key: str
) -> AsyncIterator[SignedMixedCluster]:
    """py0 signs and accepts unsigned messages; py1 signs and requires signatures."""
    async for cluster in open_cluster(
        request, node_bin, topology, interop_key, [OPTIONAL, REQUIRED]
    ):
        yield cluster


def no_forgeries(mixed: MixedCluster) -> None:
    """No signed message failed to verify. (The witness does drop what Node sends it, e.g.
    Node's answers to py0 on the shared classic response channel: those are unsigned.)"""
    for name in ("py0", "py1"):
        assert mixed.mgr(name).stats.dropped_forged == 0, name


# -- Python sends, Node (and a signature-requiring Python node) decode -------------------------


@BOTH_MODES
async def test_python_broadcasts_reach_node_and_the_witness(witnessed: SignedMixedCluster) -> None:
    mixed = witnessed
    cases: list[tuple[dict[str, Any], dict[str, int]]] = [
        ({}, {"py0": 1, "py1": 1, "node": 1}),
        ({"to": ["room2"]}, {"py1": 1, "node": 1}),  # a room channel (sharded dynamic)
        ({"to": [mixed.sid("node")]}, {"node": 1}),
        ({"to": ["room1"], "except_rooms": ["room3"]}, {"node": 1}),
    ]
    for index, (target, expected) in enumerate(cases):
        event = f"signed-{index}"
        await mixed.emit("py0", event, "text", BLOB, {"nested": [BLOB]}, **target)
        await mixed.assert_received_exactly(event, expected, origin="py0")
        for name in expected:
            assert mixed.clients[name].received(event) == [("text", BLOB, {"nested": [BLOB]})]
    await mixed.emit("py0", "custom-nsp", 1, namespace="/custom")
    await mixed.assert_received_exactly(
        "custom-nsp", {"py0": 1, "py1": 1, "node": 1}, origin="py0", namespace="/custom"
    )
    no_forgeries(mixed)


@BOTH_MODES
async def test_python_requests_are_answered_by_node_and_the_witness(
    witnessed: SignedMixedCluster,
) -> None:
    mixed = witnessed
    found = await mixed.fetch_sockets("py0")
    assert {s["data"]["name"] for s in found.values()} == {"py0", "py1", "node"}

    answers = await mixed.mgr("py0").server_side_call("hello-ack", BLOB, timeout=5.0)
    assert sorted(a["server"] for a in answers) == ["node", "py1"]
    assert all(a["got"] == BLOB for a in answers)
    await mixed.mgr("py0").server_side_emit("hello", "plain", 2)
    assert await mixed.server_events("node").wait_for("hello") == [("plain", 2)]
    assert await mixed.server_events("py1").wait_for("hello") == [("plain", 2)]

    for name, client in mixed.clients.items():
        client.on("ask", lambda *args, name=name: {"client": name, "blob": BLOB})
    acks = await mixed.mgr("py0").emit_with_ack("ask", (BLOB,), to="room2", timeout=5.0)
    assert sorted(a["client"] for a in acks) == ["node", "py1"]
    assert all(a["blob"] == BLOB for a in acks)

    await mixed.mgr("py0").sockets_join(["signed-room"], to=[mixed.sid("node"), mixed.sid("py1")])
    await mixed.barrier("py0")
    joined = await mixed.fetch_sockets("py0", to=["signed-room"])
    assert set(joined) == {mixed.sid("node"), mixed.sid("py1")}
    no_forgeries(mixed)


# -- Node sends to signing Python nodes, and decodes their signed answers ----------------------


@BOTH_MODES
async def test_node_requests_are_answered_by_signing_python_nodes(
    signed: SignedMixedCluster,
) -> None:
    mixed = signed
    await mixed.py("py1").sio.save_session(mixed.sid("py1"), {"name": "py1", "blob": BLOB})
    found = await mixed.fetch_sockets("node")  # py1's answer holds bytes: a signed msgpack map
    assert found[mixed.sid("py1")]["data"] == {"name": "py1", "blob": BLOB}
    assert {s["data"]["name"] for s in found.values()} == {"py0", "py1", "node"}

    answers = await mixed.node.command("serverSideEmitWithAck", event="hello-ack", args=["q"])
    assert sorted(a["server"] for a in answers) == ["py0", "py1"]

    for name, client in mixed.clients.items():
        client.on("ask", lambda *args, name=name: {"client": name, "blob": BLOB})
    acks = await mixed.node.command(
        "emitWithAck", event="ask", args=["q"], to=["room1", "room2"], timeout=5000
    )
    assert sorted(a["client"] for a in acks) == ["node", "py0", "py1"]
    assert all(a["blob"] == BLOB for a in acks)

    await mixed.emit("node", "from-node", BLOB)
    await mixed.assert_received_exactly("from-node", {"py0": 1, "py1": 1, "node": 1}, origin="node")
    no_forgeries(mixed)
    for name in ("py0", "py1"):
        assert mixed.mgr(name).stats.dropped_unsigned == 0, name


@pytest.mark.parametrize("topology", ["classic"], indirect=True)  # emitters are classic only
async def test_a_signed_python_emitter_drives_node_and_the_witness(
    witnessed: SignedMixedCluster,
) -> None:
    mixed = witnessed
    assert mixed.topology.redis_url is not None
    emitter = AsyncEmitter(mixed.topology.redis_url, key=mixed.key, signing_keys=[KEY])
    try:
        await emitter.to("room2").emit("from-emitter", BLOB)
        await emitter.in_(mixed.sid("node")).sockets_join("emitted-room")
        await emitter.server_side_emit("hello", "from emitter")
    finally:
        await emitter.aclose()
    await mixed.clients["node"].wait_for("from-emitter")
    await mixed.clients["py1"].wait_for("from-emitter")
    assert await mixed.server_events("node").wait_for("hello") == [("from emitter",)]
    assert await mixed.server_events("py1").wait_for("hello") == [("from emitter",)]
    # py0 asks (the witness drops Node's requests: they are unsigned); Node applied the
    # emitter's join before it saw this request, published after it on the same channel.
    joined = await mixed.fetch_sockets("py0", to=["emitted-room"])
    assert set(joined) == {mixed.sid("node")}
    no_forgeries(mixed)


# -- what requiring signatures does to Node's messages --------------------------------------


@pytest.mark.parametrize("topology", ["classic", "sharded-standalone"], indirect=True)
async def test_python_nodes_that_require_signatures_drop_nodes_messages(
    request: pytest.FixtureRequest, node_bin: str, topology: Topology, interop_key: str
) -> None:
    """Why a cluster with Node servers cannot require signatures."""
    per_node = [REQUIRED, REQUIRED]
    async for mixed in open_cluster(request, node_bin, topology, interop_key, per_node):
        await mixed.emit("node", "unsigned-news", 1)
        await mixed.clients["node"].wait_for("unsigned-news")
        for drops in mixed.drops:
            await drops.log.wait_for("dropped")
            assert drops.log.received("dropped")[0][1].startswith("unsigned:")
        await mixed.quiet("py0")  # Python to Python still works, and nothing else came
        for name in ("py0", "py1"):
            assert mixed.clients[name].count("unsigned-news") == 0, name
            assert mixed.mgr(name).stats.dropped_unsigned == 1, name
