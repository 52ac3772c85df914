"""Managers and emitters over PostgreSQL beyond the integration suite: what Node's adapter and
emitter put on the wire reaches Python nodes, sync ``ClusterManager`` nodes form a cluster, and
``Emitter(url)`` / ``AsyncEmitter(url)`` emit into it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import socketio
from integration.harness import Cluster

import sioadapter
from sioadapter.core import messages as m
from sioadapter.emitter import AsyncEmitter, Emitter
from sioadapter.wire import notepack

from .conftest import require_psycopg

require_psycopg()

import psycopg  # noqa: E402

TIMEOUT = 10.0
CAPTURES = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "postgres-node-captures.json").read_text()
)["captures"]


def capture(name: str) -> dict[str, Any]:
    (found,) = [c for c in CAPTURES if c["name"].startswith(name)]
    return found


def buffers(value: Any) -> Any:
    if isinstance(value, list):
        return [buffers(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {key: buffers(item) for key, item in value.items()}
    return value


async def test_what_nodes_emitter_and_adapter_send_reaches_python_nodes(
    make_cluster: Callable[..., Cluster], pg_url: str, pg_key: str
) -> None:
    """The Node emitter's messages (no top-level nsp: Node's own adapter 0.5 ignores them, we
    take the namespace from the channel), its binary emit through the table, and a Node
    adapter's server-side emit, as captured, sent on this test's channel."""
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        member = clients[1]
        await cluster.join_locally(member, "er")
        for node in cluster.nodes:
            node.listen("from-emitter")
            node.listen("note")
        channel = f"{pg_key}#/"
        row = notepack.packb(buffers(capture("emitter binary broadcast row")["decoded"]))
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as raw:
            for name in ("emitter broadcast", "emitter server-side", "SERVER_SIDE_EMIT, no ack"):
                await raw.execute("SELECT pg_notify(%s, %s)", (channel, capture(name)["payload"]))
            cursor = await raw.execute(
                "INSERT INTO socket_io_attachments (payload) VALUES (%s) RETURNING id", (row,)
            )
            (attachment_id,) = await cursor.fetchone()
            header = {"uid": "emitter", "type": 3, "attachmentId": str(attachment_id)}
            await raw.execute("SELECT pg_notify(%s, %s)", (channel, json.dumps(header)))

        assert await member.wait_for("em-plain") == [("hi",)]
        assert await member.wait_for("em") == [("hi", b"\x07\x08")]
        for node in cluster.nodes:
            assert await node.server_events.wait_for("from-emitter") == [("hi",)]
            assert await node.server_events.wait_for("note") == [(5,)]
        assert clients[0].count("em-plain") == clients[0].count("em") == 0


async def test_our_emitters_send_the_namespace_and_reach_the_nodes(
    make_cluster: Callable[..., Cluster], pg_url: str, pg_key: str
) -> None:
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        emitter = AsyncEmitter(pg_url, key=pg_key)
        try:
            await emitter.emit("async-hi", 1, b"\x00\xff")
            await emitter.emit("async-big", "x" * 10_000)
        finally:
            await emitter.aclose()
        sync_emitter = Emitter(pg_url, key=pg_key)
        try:
            await asyncio.to_thread(sync_emitter.emit, "sync-hi", 2)
        finally:
            await asyncio.to_thread(sync_emitter.close)
        for client in clients:
            assert await client.wait_for("async-hi") == [(1, b"\x00\xff")]
            assert await client.wait_for("async-big") == [("x" * 10_000,)]
            assert await client.wait_for("sync-hi") == [(2,)]


async def test_an_emitter_opens_no_listen_connection(pg_url: str, pg_key: str) -> None:
    emitter = AsyncEmitter(pg_url, key=pg_key)
    try:
        await emitter.emit("nobody-listens", 1)
        assert emitter.client.sub_client is None
        assert emitter.client.pub_client is not None
    finally:
        await emitter.aclose()


def test_sync_cluster_managers_form_a_cluster(pg_url: str, pg_key: str) -> None:
    managers = [sioadapter.ClusterManager(pg_url, key=pg_key) for _ in range(2)]
    try:
        for mgr in managers:
            socketio.Server(client_manager=mgr, async_mode="threading")
            mgr.start()
        managers[1].on("ping", lambda: "pong")
        # Nodes are counted by heartbeat: each announces itself when it starts serving.
        deadline = time.monotonic() + TIMEOUT
        while managers[0].server_count() < 2:
            assert time.monotonic() < deadline, "the second node was never counted"
            time.sleep(0.05)
        assert managers[0].server_side_call("ping") == ["pong"]
        assert managers[0].protocol == "postgres"
    finally:
        for mgr in managers:
            mgr.close()


async def test_a_signature_that_pushes_a_message_past_8000_bytes_sends_it_by_the_table(
    make_cluster: Callable[..., Cluster],
) -> None:
    text = "x" * 7850
    async with make_cluster(nodes=2, signing_keys=[b"k" * 32]) as cluster:
        clients = await cluster.connect_each()
        sender = cluster.nodes[0].mgr
        message = m.Broadcast("/", sender.uid, ["near", text], m.Target())
        unsigned = sender.family.encode(message)[1]
        signed = sender._node.codec.encode(message).payload
        assert unsigned.startswith(b"{") and len(unsigned) < 8000 <= len(signed)
        await cluster.nodes[0].sio.emit("near", text)
        for client in clients:
            assert await client.wait_for("near") == [(text,)]
        assert cluster.nodes[1].mgr.backend._attachments.fetched == 1
