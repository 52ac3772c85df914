"""Hostile or broken traffic: dropped, counted, logged once per kind; the node keeps serving.

Messages are injected straight into the backend, on the cluster's own channels, by a raw
backend member that is not a node; then the nodes must still deliver and answer as before.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import msgpack
import pytest

from sioadapter.backends.memory import MemoryBackend
from sioadapter.core.messages import Broadcast, Heartbeat
from sioadapter.errors import RequestTimeoutError

from .harness import Client, Cluster


def garbage() -> list[bytes]:
    """Payloads no node can make sense of, whatever channel they arrive on."""
    rng = random.Random(20261126)
    valid = msgpack.packb(["peer", {"type": 2, "data": ["ev", 1], "nsp": "/"}, {"rooms": []}])
    return [
        *(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) for _ in range(4)),
        valid[: len(valid) // 2],  # truncated msgpack
        b"\xdd\xff\xff\xff\xff",  # an array header claiming 4 billion elements
        msgpack.packb([1, 2, 3]),  # wrong types everywhere
        msgpack.packb(["peer", {"type": 2, "data": "not-a-list", "nsp": "/"}, {}]),
        msgpack.packb(["peer", {"type": 2, "data": ["ev"], "nsp": "/"}, {"rooms": "r"}]),
        b'{"uid":"peer","type":99,"requestId":"x"}',  # unknown type number
        b'{"uid":5,"type":"six","data":"hello"}',  # wrong field types
        b'{"type":99,"uid":"peer","nsp":"/","data":{}}',
        b"{not json",
        b"",
    ]


async def inject(cluster: Cluster, messages: list[tuple[str, bytes]]) -> None:
    """Publish raw messages on the cluster's hub from a member that is not a node."""
    intruder = MemoryBackend(cluster.nodes[0].mgr.backend.name)
    await intruder.connect()
    await intruder.publish(messages)
    await intruder.close()


async def assert_dropped_and_serving(
    cluster: Cluster, clients: list[Client], expected: int, caplog: pytest.LogCaptureFixture
) -> None:
    """After ``expected`` malformed messages reached every node: each counted them all, logged
    once per kind, and the nodes still deliver."""
    # The marker crosses the same channels after the garbage.
    await cluster.quiet(origin=1)
    for node in cluster.nodes:
        assert node.mgr.stats.dropped_malformed == expected
        cluster.expected_malformed[node.index] = expected
    warnings = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert 0 < len(warnings) < 2 * expected  # once per kind, not once per message
    await cluster.nodes[0].sio.emit("still-alive", 1)
    for client in clients:
        assert await client.wait_for("still-alive") == [(1,)]


def channels_of(cluster: Cluster) -> list[str]:
    family = cluster.nodes[0].mgr.family
    channels, _ = family.subscriptions("/")
    # The namespace-wide broadcast channel (classic) is the main channel (ClusterAdapter).
    broadcast = family.encode(Broadcast("/", "x", ["ev"]))[0]
    own = [c for c in channels if not c.endswith(f"#{cluster.nodes[0].mgr.uid}#")]
    return sorted({broadcast, *own})


async def test_malformed_messages_are_dropped_counted_and_logged_once_per_kind(
    make_cluster: Callable[..., Cluster], caplog: pytest.LogCaptureFixture
) -> None:
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        channels = channels_of(cluster)
        payloads = garbage()
        caplog.set_level(logging.WARNING, logger="sioadapter")

        await inject(cluster, [(c, p) for c in channels for p in payloads])

        await assert_dropped_and_serving(cluster, clients, len(channels) * len(payloads), caplog)
        sockets = await cluster.nodes[1].mgr.fetch_sockets()
        assert {s.id for s in sockets} == {c.sid for c in clients}


async def test_broadcasts_for_an_unserved_namespace_are_dropped_not_delivered(
    cluster: Cluster,
) -> None:
    clients = await cluster.connect_each()
    family = cluster.nodes[0].mgr.family
    foreign_channel, foreign = family.encode(Broadcast("/nowhere", "peer", ["ghost"]))
    # The same broadcast claiming another namespace while sent on "/"'s channel.
    channel, _ = family.encode(Broadcast("/", "peer", ["ghost"]))
    _, mislabelled = family.encode(Broadcast("/nowhere", "peer", ["ghost"]))
    before = [n.mgr.stats.dropped_foreign_namespace for n in cluster.nodes]

    await inject(cluster, [(foreign_channel, foreign), (channel, mislabelled)])

    await cluster.quiet(origin=0)
    for node, count in zip(cluster.nodes, before, strict=True):
        assert node.mgr.stats.dropped_foreign_namespace >= count + 1
    for client in clients:
        assert client.count("ghost") == 0


async def test_a_node_that_never_answers_ends_requests_in_timeout_with_partial_results(
    make_cluster: Callable[..., Cluster],
) -> None:
    async with make_cluster(nodes=2, requests_timeout=0.5) as cluster:
        clients = await cluster.connect_each()
        mgr = cluster.nodes[0].mgr
        # A silent member: counted as a node (subscribed to the counted channel, and announced
        # by heartbeat where nodes are counted that way) but never answering anything.
        silent = MemoryBackend(mgr.backend.name)
        await silent.connect()
        await silent.subscribe([mgr.family.count_channel("/")])
        if mgr.heartbeats:
            await silent.publish([mgr.family.encode(Heartbeat("/", "silent-node"))])
        await cluster.quiet(origin=0)

        with pytest.raises(RequestTimeoutError) as raised:
            await mgr.fetch_sockets()
        error = raised.value
        assert (error.received, error.expected) == (1, 2)
        assert [s["id"] for s in error.responses] == [clients[1].sid]
        assert "1 responses received out of 2" in str(error)

        for client in clients:
            client.on("ping", lambda: "pong")
        with pytest.raises(RequestTimeoutError) as raised:
            await mgr.emit_with_ack("ping")
        # Both clients answered; the silent node never reported its client count.
        assert raised.value.responses == ["pong", "pong"]
        await silent.close()
