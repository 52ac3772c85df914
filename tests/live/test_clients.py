"""Ready redis-py clients (Node's pubClient/subClient), subscriber connections and server counts,
against real Redis servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
import socketio
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

import sioadapter


async def start_cluster(make_manager: Callable[[], Any], count: int = 3) -> list[Any]:
    managers = [make_manager() for _ in range(count)]
    for index, mgr in enumerate(managers):
        socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
        mgr.on("whoami", lambda index=index: index)
        await mgr.start()
    return managers


async def check_and_close(managers: list[Any]) -> None:
    try:
        assert [await mgr.server_count() for mgr in managers] == [len(managers)] * len(managers)
        assert sorted(await managers[0].server_side_call("whoami")) == list(range(1, len(managers)))
    finally:
        for mgr in managers:
            await mgr.close()


@pytest.fixture
async def owned_clients() -> AsyncIterator[list[Any]]:
    """Clients a test creates; closed after it (clients passed in are the caller's to close)."""
    clients: list[Any] = []
    yield clients
    for client in clients:
        await client.aclose()


async def test_one_client_serves_publishing_and_subscribing(
    redis_standalone: Any, cluster_name: str, owned_clients: list[Any]
) -> None:
    def make() -> Any:
        client = aioredis.Redis.from_url(redis_standalone.url)
        owned_clients.append(client)
        return sioadapter.AsyncClusterManager(client=client, key=cluster_name)

    await check_and_close(await start_cluster(make))


async def test_separate_pub_and_sub_clients(
    redis_standalone: Any, cluster_name: str, owned_clients: list[Any]
) -> None:
    def make() -> Any:
        pub = aioredis.Redis.from_url(redis_standalone.url)
        sub = aioredis.Redis.from_url(redis_standalone.url)
        owned_clients.extend([pub, sub])
        return sioadapter.AsyncClusterManager(pub_client=pub, sub_client=sub, key=cluster_name)

    await check_and_close(await start_cluster(make))


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_a_ready_redis_cluster_client(
    redis_cluster: Any, cluster_name: str, owned_clients: list[Any], mode: str
) -> None:
    def make() -> Any:
        nodes = [ClusterNode("127.0.0.1", port) for port in redis_cluster.ports]
        client = RedisCluster(startup_nodes=nodes)
        owned_clients.append(client)
        return sioadapter.AsyncClusterManager(client=client, key=cluster_name, mode=mode)

    await check_and_close(await start_cluster(make))


async def test_a_sentinel_master_for_client(
    redis_sentinel: Any, cluster_name: str, owned_clients: list[Any]
) -> None:
    sentinel = Sentinel([("127.0.0.1", redis_sentinel.sentinel_port)])

    def make() -> Any:
        client = sentinel.master_for(redis_sentinel.service_name)
        owned_clients.append(client)
        return sioadapter.AsyncClusterManager(client=client, key=cluster_name)

    await check_and_close(await start_cluster(make))


async def test_clients_passed_in_stay_open_after_close(
    redis_standalone: Any, cluster_name: str, owned_clients: list[Any]
) -> None:
    client = aioredis.Redis.from_url(redis_standalone.url)
    owned_clients.append(client)
    (mgr,) = await start_cluster(
        lambda: sioadapter.AsyncClusterManager(client=client, key=cluster_name), count=1
    )
    await mgr.close()
    assert await client.ping()


@pytest.mark.parametrize("mode", ["classic", "sharded"])
async def test_each_manager_holds_exactly_one_subscriber_connection(
    redis_standalone: Any, cluster_name: str, mode: str
) -> None:
    name = f"sub-{cluster_name}"[:60]
    url = f"{redis_standalone.url}?client_name={name}"
    managers = await start_cluster(
        lambda: sioadapter.AsyncClusterManager(url, key=cluster_name, mode=mode), count=3
    )
    try:
        # Serve a second namespace and join rooms: still one connection each.
        for mgr in managers:
            await mgr.server_count(namespace="/chat")
        with redis_standalone.client() as admin:
            listing = admin.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
        ours = [line for line in str(listing).splitlines() if f"name={name}" in line]
        assert len(ours) == 3
    finally:
        for mgr in managers:
            await mgr.close()


async def test_server_count_sums_every_cluster_node(redis_cluster: Any, cluster_name: str) -> None:
    # Classic mode on a Cluster: each manager subscribes on one node (random); NUMSUB is
    # asked of every node and summed, so the count is right wherever they landed.
    managers = await start_cluster(
        lambda: sioadapter.AsyncClusterManager(redis_cluster.url, key=cluster_name), count=4
    )
    await check_and_close(managers)
