"""python-socketio's ``write_only=`` and ``redis_options=`` on a real redis-server 7.

A write-only manager connects as an ACL user that may only PUBLISH (and PING): if it ever
subscribed or counted subscribers Redis would refuse it and log the refusal. Its credentials
and connection name come through ``redis_options`` alone (the URL has neither), so the
connection Redis shows under that name proves the options reached the redis-py client.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from integration.harness import Cluster

import sioadapter
from live.test_redis_acl import Users, emitter_rules, factory_for, node_rules
from sioadapter.errors import WriteOnlyError


@pytest.fixture
async def users(redis_standalone: Any) -> AsyncIterator[Users]:
    made = Users(redis_standalone, f"dropin-{secrets.token_hex(4)}")
    try:
        yield made
    finally:
        await made.aclose()


async def named_connections(admin: aioredis.Redis, name: str) -> list[dict[str, Any]]:
    return [c for c in await admin.client_list() if c.get("name") == name]


async def test_a_write_only_manager_publishes_through_redis_options_and_never_subscribes(
    users: Users, redis_standalone: Any, cluster_name: str
) -> None:
    node_url = await users.add("node", node_rules(cluster_name, "classic"))
    writer_url = await users.add(
        "writer", [*emitter_rules(cluster_name), "+ping", "+client|setname"]
    )
    user, password = writer_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)
    connection_name = f"dropin-writer-{secrets.token_hex(4)}"
    async with Cluster(factory_for(node_url, cluster_name, {}), nodes=1) as cluster:
        client = await cluster.client(0)
        await cluster.join_locally(client, "r1")
        writer = sioadapter.AsyncClusterManager(
            f"redis://127.0.0.1:{redis_standalone.port}/0",
            channel=cluster_name,
            write_only=True,
            redis_options={"username": user, "password": password,
                           "client_name": connection_name},
        )  # fmt: skip
        try:
            await writer.emit("hello", "everyone")
            await writer.emit("hello", "room", room="r1")
            await writer.enter_room(client.sid, "/", "r2")
            await writer.emit("hello", "joined", room="r2")
            await writer.emit("hello", "skipped", skip_sid=client.sid)
            await writer.emit("hello", "last")
            assert await client.wait_for("hello", 4) == [
                ("everyone",),
                ("room",),
                ("joined",),
                ("last",),
            ]
            # Not a server of the cluster: the node counts itself only.
            assert await cluster.nodes[0].mgr.server_count() == 1
            with pytest.raises(WriteOnlyError):
                await writer.fetch_sockets()
            with pytest.raises(WriteOnlyError):
                await writer.emit_with_ack("hello", "ack?", to=client.sid)
            connections = await named_connections(users.admin, connection_name)
            assert connections, "no connection carries the client_name from redis_options"
            assert {(c["user"], c["sub"], c["psub"]) for c in connections} == {(user, "0", "0")}
            assert writer.stats.backend_errors == 0
        finally:
            await writer.close()
    assert await users.refusals() == []
