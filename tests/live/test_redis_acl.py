"""The Redis ACL rules docs/security.md recommends, on a real redis-server 7.

Users are created on the session's standalone server with ``ACL SETUSER`` (names of this test
only) and deleted afterwards. A rule set "works" when a cluster of real nodes does everything
through it and Redis logged no refusal for that user (``ACL LOG``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from integration.harness import Cluster
from redis.exceptions import NoPermissionError

import sioadapter
from sioadapter.emitter import AsyncEmitter

# What a node needs (docs/security.md), per mode: the commands, and the channels under its key.
# PSUBSCRIBE is checked against the allowed patterns literally, so each namespace's broadcast
# pattern is listed as it is (here the default namespace "/").
MODE_COMMANDS = {
    "classic": ["+publish", "+subscribe", "+psubscribe", "+unsubscribe", "+punsubscribe",
                "+pubsub|numsub"],
    "sharded": ["+spublish", "+ssubscribe", "+sunsubscribe", "+pubsub|shardnumsub"],
}  # fmt: skip
# On a Redis Cluster, redis-py's cluster client also learns the slots and the command table.
CLUSTER_COMMANDS = ["+cluster|slots", "+command"]
# Lets a node tell that Redis closed its subscriber for its output buffer limit.
DIAGNOSIS = ["+info", "+config|get"]


def node_rules(key: str, mode: str) -> list[str]:
    channels = ["resetchannels", f"&{key}*"]
    if mode == "classic":
        channels.append(f"&{key}#/#*")
    return ["resetkeys", *channels, "-@all", *MODE_COMMANDS[mode], "+ping", *DIAGNOSIS]


def emitter_rules(key: str) -> list[str]:
    return ["resetkeys", "resetchannels", f"&{key}*", "-@all", "+publish"]


class Users:
    """ACL users of one test on a live server: ``add(rules) -> URL``; all deleted after."""

    def __init__(self, server: Any, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.admin = aioredis.Redis.from_url(server.url)
        self.names: list[str] = []

    async def add(self, role: str, rules: list[str]) -> str:
        name = f"{self.prefix}-{role}"
        password = secrets.token_hex(8)
        await self.admin.execute_command("ACL", "SETUSER", name, "on", f">{password}", *rules)
        self.names.append(name)
        return f"redis://{name}:{password}@127.0.0.1:{self.server.port}/0"

    async def refusals(self) -> list[dict[str, Any]]:
        """What ACL LOG holds about this test's users."""
        entries = await self.admin.acl_log()
        return [e for e in entries if e.get("username") in self.names]

    async def aclose(self) -> None:
        if self.names:
            await self.admin.execute_command("ACL", "DELUSER", *self.names)
        await self.admin.aclose()


@pytest.fixture
async def users(redis_standalone: Any, cluster_name: str) -> AsyncIterator[Users]:
    made = Users(redis_standalone, f"acl-{secrets.token_hex(4)}")
    try:
        yield made
    finally:
        await made.aclose()


async def confirmed(pubsub: Any, command: str, name: str) -> str:
    """Send (P)SUBSCRIBE and return Redis's confirmation type; a refusal raises on reading."""
    await getattr(pubsub, command)(name)
    message = await pubsub.get_message(timeout=5)
    assert message is not None, f"no answer to {command} {name}"
    return str(message["type"])


def factory_for(url: str, key: str, options: dict[str, Any]) -> Callable[..., Any]:
    def factory(index: int, /, **manager_options: Any) -> Any:
        return sioadapter.AsyncClusterManager(url, key=key, **options, **manager_options)

    return factory


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_a_node_user_with_the_documented_rules_runs_a_cluster(
    users: Users, cluster_name: str, mode: str
) -> None:
    url = await users.add("node", node_rules(cluster_name, mode))
    options = {"mode": mode, "signing_keys": [b"acl-test-signing-key-0123"]}
    async with Cluster(factory_for(url, cluster_name, options), nodes=2) as cluster:
        for node in cluster.nodes:
            node.listen("whoami", node.index)
        on0, on1 = await cluster.client(0), await cluster.client(1)
        await cluster.join_locally(on1, "room1")
        await cluster.nodes[0].sio.emit("hi", "all", skip_sid=on0.sid)
        await cluster.nodes[0].sio.emit("hi", "room", to="room1")
        assert await on1.wait_for("hi", 2) == [("all",), ("room",)]
        assert await cluster.nodes[0].mgr.server_count() == 2
        assert await cluster.nodes[0].mgr.server_side_call("whoami") == [1]
        assert {s.id for s in await cluster.nodes[1].mgr.fetch_sockets()} == {on0.sid, on1.sid}
        for node in cluster.nodes:
            assert node.mgr.stats.backend_errors == 0
    assert await users.refusals() == []  # closing (the UNSUBSCRIBE forms) included


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_the_node_rules_on_a_redis_cluster(
    redis_cluster: Any, cluster_name: str, mode: str
) -> None:
    name, password = f"acl-{secrets.token_hex(4)}", secrets.token_hex(8)
    rules = ["on", f">{password}", *node_rules(cluster_name, mode), *CLUSTER_COMMANDS]
    admins = [aioredis.Redis(host="127.0.0.1", port=port) for port in redis_cluster.ports]
    try:
        for admin in admins:  # ACL rules are per node
            await admin.execute_command("ACL", "SETUSER", name, *rules)
        url = redis_cluster.url.replace("://", f"://{name}:{password}@", 1)
        factory = factory_for(url, cluster_name, {"mode": mode})
        async with Cluster(factory, nodes=2) as cluster:
            for node in cluster.nodes:
                node.listen("whoami", node.index)
            await cluster.client(0)
            on1 = await cluster.client(1)
            await cluster.nodes[0].sio.emit("hi", "all")
            assert await on1.wait_for("hi") == [("all",)]
            assert await cluster.nodes[0].mgr.server_side_call("whoami") == [1]
            for node in cluster.nodes:
                assert node.mgr.stats.backend_errors == 0
        for admin in admins:
            assert [e for e in await admin.acl_log() if e.get("username") == name] == []
    finally:
        for admin in admins:
            await admin.execute_command("ACL", "DELUSER", name)
            await admin.aclose()


async def test_an_emitter_user_may_publish_and_nothing_else(
    users: Users, redis_standalone: Any, cluster_name: str
) -> None:
    node_url = await users.add("node", node_rules(cluster_name, "classic"))
    emitter_url = await users.add("emitter", emitter_rules(cluster_name))
    async with Cluster(factory_for(node_url, cluster_name, {}), nodes=1) as cluster:
        client = await cluster.client(0)
        emitter = AsyncEmitter(emitter_url, key=cluster_name)
        try:
            await emitter.emit("from-emitter", 1)
            await emitter.server_side_emit("nobody-listens")
            assert await client.wait_for("from-emitter") == [(1,)]
            pubsub = emitter.client.pubsub()
            with pytest.raises(NoPermissionError):
                await confirmed(pubsub, "subscribe", f"{cluster_name}#/#")
            await pubsub.aclose()
            with pytest.raises(NoPermissionError):
                await emitter.client.publish("another-prefix#/#", b"x")
        finally:
            await emitter.aclose()
    refused = {(e["reason"], e["object"]) for e in await users.refusals()}
    assert refused == {("command", "subscribe"), ("channel", "another-prefix#/#")}


async def test_psubscribe_needs_the_pattern_itself_in_the_rules(
    users: Users, cluster_name: str
) -> None:
    """``&key*`` allows every channel under the key, but PSUBSCRIBE ``key#/#*`` only when that
    very pattern is allowed: Redis compares patterns literally."""
    rules = ["resetkeys", "resetchannels", f"&{cluster_name}*", "-@all", "+subscribe",
             "+psubscribe"]  # fmt: skip
    url = await users.add("broad", rules)
    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    try:
        assert await confirmed(pubsub, "subscribe", f"{cluster_name}-request#/#") == "subscribe"
        with pytest.raises(NoPermissionError):
            await confirmed(pubsub, "psubscribe", f"{cluster_name}#/#*")
    finally:
        await pubsub.aclose()
        await client.aclose()
