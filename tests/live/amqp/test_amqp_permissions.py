"""The permissions docs/backends/amqp.md asks for are enough, and no more is needed: nodes
whose user may configure, write and read ``^sioadapter\\.`` only form a cluster, and an emitter
whose user may configure and write there, and read nothing, emits into it. On a virtual host
and with users of the test's own (``rabbitmqctl``), deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from integration.harness import Cluster

import sioadapter
from sioadapter.emitter import AsyncEmitter

from .broker import HOST, PORT, PrivateVhost, rabbitmqctl, require_aio_pika_module

require_aio_pika_module()

NODE_RULE = ("^sioadapter\\.", "^sioadapter\\.", "^sioadapter\\.")
EMITTER_RULE = ("^sioadapter\\.", "^sioadapter\\.", "")


class User:
    def __init__(self, vhost: PrivateVhost, rule: tuple[str, str, str]) -> None:
        self.name = f"sioadapter-test-{uuid.uuid4().hex[:8]}"
        self.password = uuid.uuid4().hex
        rabbitmqctl("add_user", self.name, self.password)
        rabbitmqctl("set_permissions", "-p", vhost.name, self.name, *rule)
        self.url = f"amqp://{self.name}:{self.password}@{HOST}:{PORT}/{quote(vhost.name, safe='')}"

    def delete(self) -> None:
        rabbitmqctl("delete_user", self.name)


@pytest.fixture
def restricted(amqp_url: str) -> Iterator[tuple[User, User]]:
    vhost = PrivateVhost("perms")
    users: list[User] = []
    try:
        users = [User(vhost, NODE_RULE), User(vhost, EMITTER_RULE)]
        yield users[0], users[1]
    finally:
        for user in users:
            user.delete()
        vhost.delete()


async def test_the_documented_permissions_are_enough(
    restricted: tuple[User, User], cluster_name: str
) -> None:
    node_user, emitter_user = restricted

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(node_user.url, key=cluster_name, **options)

    async with Cluster(factory, nodes=2) as cluster:
        clients = await cluster.connect_each()
        await cluster.join_locally(clients[1], "lobby")
        await cluster.nodes[0].sio.emit("hi", 1, room="lobby")
        assert await clients[1].wait_for("hi") == [(1,)]
        cluster.nodes[1].listen("whoami", 1)
        assert await cluster.nodes[0].mgr.server_side_call("whoami") == [1]

        emitter = AsyncEmitter(emitter_user.url, key=cluster_name)
        try:
            await emitter.emit("from-emitter", 2)
        finally:
            await emitter.aclose()
        for client in clients:
            assert await client.wait_for("from-emitter") == [(2,)]
        for node in cluster.nodes:
            assert node.mgr.stats.backend_errors == 0


async def test_a_user_without_read_permission_cannot_run_a_node(
    restricted: tuple[User, User], cluster_name: str
) -> None:
    """The emitter's user (no read permission) is refused its queue: subscribing fails with
    the broker's reason, which names no password."""
    _, emitter_user = restricted
    backend = sioadapter.backends.backend_from_url(emitter_user.url)
    await backend.connect()
    try:
        with pytest.raises(sioadapter.BackendError, match="ACCESS_REFUSED") as raised:
            await backend.subscribe([f"{cluster_name}#/#"])
        assert emitter_user.password not in str(raised.value)
    finally:
        await backend.close()
