"""Self-tests of :mod:`.topology` and :mod:`.fixtures`: each topology starts, carries pub/sub for
a real redis-py asyncio client, survives what the fault tests will do to it, and leaves no
process nor temp dir behind. Run with ``-s`` to see the startup and failover timings."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry
from socketio.redis_manager import parse_redis_sentinel_url

from . import server as server_module
from . import topology
from .fixtures import (
    TLS_ACL_USER,
    fresh_redis_cluster,
    fresh_redis_sentinel,
    fresh_redis_standalone,
    redis_available,
    redis_cluster,
    redis_sentinel,
    redis_standalone,
    redis_tls_acl,
    redis_unix,
)
from .topology import (
    HOST,
    RedisClusterSet,
    RedisInstall,
    RedisServer,
    SentinelSet,
    Topologies,
    TopologyError,
    make_tls_files,
    pid_alive,
    require_openssl,
    require_redis_server,
)

__all__ = [  # the fixtures above are used by name only: re-exported so pytest sees them
    "fresh_redis_cluster",
    "fresh_redis_sentinel",
    "fresh_redis_standalone",
    "redis_available",
    "redis_cluster",
    "redis_sentinel",
    "redis_standalone",
    "redis_tls_acl",
    "redis_unix",
]

pytestmark = pytest.mark.redis

MESSAGE_TIMEOUT = 5.0
NO_RETRY = Retry(NoBackoff(), 0)
NO_ASYNC_RETRY = redis.asyncio.retry.Retry(NoBackoff(), 0)


def channel_name() -> str:
    # Session topologies are shared: every test talks on channels of its own.
    return f"topo-{uuid.uuid4().hex[:12]}"


async def next_message(pubsub: Any, kind: str, *, sharded: bool = False) -> dict[str, Any]:
    """The next pub/sub frame of type ``kind`` (``subscribe``, ``message``, ...)."""
    deadline = time.monotonic() + MESSAGE_TIMEOUT
    while time.monotonic() < deadline:
        if sharded:
            frame = await pubsub.get_sharded_message(timeout=0.2)
        else:
            frame = await pubsub.get_message(timeout=0.2)
        if frame is not None and frame["type"] == kind:
            return dict(frame)
    raise AssertionError(f"no {kind!r} frame within {MESSAGE_TIMEOUT} s")


async def assert_pubsub_roundtrip(client: Any) -> None:
    """SUBSCRIBE on ``client``, PUBLISH on it, and get the message back."""
    channel = channel_name()
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel)
        await next_message(pubsub, "subscribe")
        assert await client.publish(channel, "hello") == 1
        message = await next_message(pubsub, "message")
        assert (message["channel"], message["data"]) == (channel, "hello")
    finally:
        await pubsub.aclose()


def assert_gone(pids: list[int], directory: Path) -> None:
    assert pids
    assert not [pid for pid in pids if pid_alive(pid)]
    assert not directory.exists()


# -- standalone, TLS + ACL, unix socket


async def test_standalone_carries_pubsub(redis_standalone: RedisServer) -> None:
    print(f"\nstandalone started in {redis_standalone.startup_seconds:.3f} s")
    assert redis_standalone.url == f"redis://{HOST}:{redis_standalone.port}/0"
    async with redis.asyncio.from_url(redis_standalone.url, decode_responses=True) as client:
        await assert_pubsub_roundtrip(client)


async def test_session_topology_serves_concurrent_users(redis_standalone: RedisServer) -> None:
    clients = [redis_standalone.async_client() for _ in range(4)]
    try:
        await asyncio.gather(*(assert_pubsub_roundtrip(client) for client in clients))
    finally:
        for client in clients:
            await client.aclose()


async def test_tls_acl_carries_pubsub_for_the_acl_user(redis_tls_acl: RedisServer) -> None:
    print(f"\nTLS+ACL started in {redis_tls_acl.startup_seconds:.3f} s (certificates made before)")
    user, password = TLS_ACL_USER
    assert redis_tls_acl.url == f"rediss://{user}:{password}@{HOST}:{redis_tls_acl.port}/0"
    assert redis_tls_acl.ssl_ca_certs is not None
    # Certificate and hostname (IP SAN) verified against the test CA.
    async with redis.asyncio.Redis(
        host=HOST,
        port=redis_tls_acl.port,
        ssl=True,
        ssl_ca_certs=redis_tls_acl.ssl_ca_certs,
        username=user,
        password=password,
        decode_responses=True,
    ) as client:
        assert await client.acl_whoami() == user
        await assert_pubsub_roundtrip(client)
    async with redis.asyncio.from_url(
        redis_tls_acl.url, ssl_ca_certs=redis_tls_acl.ssl_ca_certs, decode_responses=True
    ) as client:
        await assert_pubsub_roundtrip(client)


async def test_tls_acl_refuses_the_default_user_and_plain_tcp(redis_tls_acl: RedisServer) -> None:
    # No retries: redis-py would otherwise retry the refused handshake with backoff for ~4 s.
    ca = redis_tls_acl.ssl_ca_certs
    user, password = TLS_ACL_USER
    async with redis.asyncio.Redis(
        host=HOST, port=redis_tls_acl.port, ssl=True, ssl_ca_certs=ca, retry=NO_ASYNC_RETRY
    ) as client:
        with pytest.raises(redis.AuthenticationError):
            await client.ping()
    async with redis.asyncio.Redis(
        host=HOST,
        port=redis_tls_acl.port,
        ssl=True,
        ssl_ca_certs=ca,
        password=password,
        retry=NO_ASYNC_RETRY,
    ) as client:
        with pytest.raises(redis.AuthenticationError):
            await client.ping()  # AUTH as ``default``, which is off
    async with redis.asyncio.Redis(
        host=HOST, port=redis_tls_acl.port, username=user, password=password, retry=NO_ASYNC_RETRY
    ) as client:
        with pytest.raises(redis.ConnectionError):
            await client.ping()  # a TLS-only port does not speak plain RESP


async def test_unix_socket_carries_pubsub(redis_unix: RedisServer) -> None:
    assert redis_unix.unix_path.is_socket()
    assert redis_unix.unix_url == f"unix://{redis_unix.unix_path}?db=0"
    async with redis.asyncio.Redis(
        unix_socket_path=str(redis_unix.unix_path), decode_responses=True
    ) as client:
        await assert_pubsub_roundtrip(client)
    async with redis.asyncio.from_url(redis_unix.unix_url, decode_responses=True) as client:
        await assert_pubsub_roundtrip(client)


# -- sentinel


async def test_sentinel_carries_pubsub_through_master_for(redis_sentinel: SentinelSet) -> None:
    print(f"\nsentinel set started in {redis_sentinel.startup_seconds:.3f} s")
    # The URL is the one python-socketio (and so sioadapter) parses.
    sentinels, service, options = parse_redis_sentinel_url(redis_sentinel.url)
    assert sentinels == [(HOST, redis_sentinel.sentinel_port)]
    assert (service, options) == (redis_sentinel.service_name, {"db": 0})
    assert redis_sentinel.current_master() == (HOST, redis_sentinel.master.port)
    assert redis_sentinel.replica.role() == "slave"

    sentinel = redis.asyncio.sentinel.Sentinel(sentinels)  # type: ignore[no-untyped-call]
    master = sentinel.master_for(service, decode_responses=True)
    try:
        await assert_pubsub_roundtrip(master)
    finally:
        await master.aclose()
        for sentinel_client in sentinel.sentinels:
            await sentinel_client.aclose()


async def test_sentinel_fails_over_after_kill_master(fresh_redis_sentinel: SentinelSet) -> None:
    topology = fresh_redis_sentinel
    sentinel = redis.asyncio.sentinel.Sentinel(topology.sentinels)  # type: ignore[no-untyped-call]
    try:
        old_master = await sentinel.discover_master(topology.service_name)
        killed = topology.master
        started = time.monotonic()
        old_port = topology.kill_master()
        assert old_port == old_master[1]
        assert killed.pid is None
        new_master = topology.wait_failover(old_port, timeout=10.0)
        took = time.monotonic() - started
        print(f"\nsentinel failover took {took:.2f} s after SIGKILL")
        assert took < 10.0
        assert new_master[1] != old_port
        assert await sentinel.discover_master(topology.service_name) == new_master
        assert topology.master.port == new_master[1]
        assert topology.master.role() == "master"

        master = sentinel.master_for(topology.service_name, decode_responses=True)
        try:
            await assert_pubsub_roundtrip(master)
        finally:
            await master.aclose()
    finally:
        for sentinel_client in sentinel.sentinels:
            await sentinel_client.aclose()

    assert topology.sentinel is not None
    pids = [p for p in (topology.master.pid, topology.sentinel.pid) if p is not None]
    topology.stop()
    assert_gone(pids, topology.dir)


# -- cluster


async def test_cluster_carries_pubsub_with_numsub_over_all_nodes(
    redis_cluster: RedisClusterSet,
) -> None:
    print(f"\ncluster started in {redis_cluster.startup_seconds:.3f} s")
    ports = redis_cluster.ports
    assert redis_cluster.url == "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in ports)
    channel = channel_name()
    async with redis_cluster.async_client() as client:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel)
            await next_message(pubsub, "subscribe")
            numsub = await client.pubsub_numsub(
                channel, target_nodes=redis.asyncio.cluster.RedisCluster.ALL_NODES
            )
            assert numsub == [(channel, 1)]
            await client.publish(channel, "hello")
            message = await next_message(pubsub, "message")
            assert (message["channel"], message["data"]) == (channel, "hello")
        finally:
            await pubsub.aclose()


async def test_cluster_sharded_pubsub_goes_to_owner_of(redis_cluster: RedisClusterSet) -> None:
    channel = channel_name()
    owner = redis_cluster.owner_of(channel)
    assert owner in redis_cluster.ports
    async with redis_cluster.async_client() as client:
        pubsub = client.pubsub()
        try:
            await pubsub.ssubscribe(channel)
            await next_message(pubsub, "ssubscribe", sharded=True)
            # The owner node counts the shard subscriber; another node redirects.
            for node in redis_cluster.nodes:
                with node.client() as direct:
                    if node.port == owner:
                        assert direct.execute_command("SPUBLISH", channel, "direct") == 1
                    else:
                        with pytest.raises(redis.exceptions.MovedError):
                            direct.execute_command("SPUBLISH", channel, "direct")
            message = await next_message(pubsub, "smessage", sharded=True)
            assert (message["channel"], message["data"]) == (channel, "direct")
        finally:
            await pubsub.aclose()


async def test_cluster_restart_node_rejoins_on_the_same_port(
    fresh_redis_cluster: RedisClusterSet,
) -> None:
    topology = fresh_redis_cluster
    ports, node_ids = topology.ports, []
    for node in topology.nodes:
        with node.client() as client:
            node_ids.append(client.execute_command("CLUSTER", "MYID"))
    old_pids = [node.pid for node in topology.nodes]

    for index, kill in ((0, False), (1, True)):
        started = time.monotonic()
        topology.restart_node(index, kill=kill)
        how = "SIGKILL" if kill else "SIGTERM"
        print(f"\ncluster node restart ({how}) took {time.monotonic() - started:.2f} s")

    assert topology.ports == ports
    assert [node.pid for node in topology.nodes][2] == old_pids[2]
    for index in (0, 1):
        assert topology.nodes[index].pid != old_pids[index]
        assert not pid_alive(old_pids[index] or 0)
    for node, node_id in zip(topology.nodes, node_ids, strict=True):
        with node.client() as client:
            assert "cluster_state:ok" in client.execute_command("CLUSTER", "INFO")
            assert client.execute_command("CLUSTER", "MYID") == node_id
    async with topology.async_client() as client:
        await assert_pubsub_roundtrip(client)

    pids = [node.pid for node in topology.nodes if node.pid is not None]
    topology.stop()
    assert_gone(pids, topology.dir)


# -- process lifecycle


def test_restart_keeps_the_port(fresh_redis_standalone: RedisServer) -> None:
    server = fresh_redis_standalone
    port, pid = server.port, server.pid
    assert pid is not None
    server.restart()
    assert (server.port, server.url) == (port, f"redis://{HOST}:{port}/0")
    assert server.pid not in (None, pid)
    assert not pid_alive(pid)
    with server.client() as client:
        assert client.ping()
        assert client.execute_command("DEBUG", "SLEEP", "0") == "OK"  # --enable-debug-command


def test_kill_then_start_keeps_the_port(fresh_redis_standalone: RedisServer) -> None:
    server = fresh_redis_standalone
    port, pid = server.port, server.pid
    assert pid is not None
    server.kill()
    assert server.pid is None
    assert not pid_alive(pid)
    with (
        server.client(socket_connect_timeout=1, retry=NO_RETRY) as client,
        pytest.raises(redis.ConnectionError),
    ):
        client.ping()
    server.start()
    assert server.port == port
    with server.client() as client:
        assert client.ping()


def test_stop_leaves_no_process_and_no_dir() -> None:
    registry = Topologies()
    server = RedisServer(registry=registry, unix_socket=True).start()
    assert registry.active() == [server]
    pid = server.pid
    assert pid is not None
    server.stop()
    assert_gone([pid], server.dir)
    assert registry.active() == []
    server.stop()  # idempotent
    with pytest.raises(TopologyError, match="stopped for good"):
        server.start()


def test_a_port_taken_before_redis_binds_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    # Between bind(0)+close and redis-server's own bind, something else may take the port.
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        real_free_port = topology.free_port
        offered = iter([taken])
        # Patched where RedisServer looks it up (topology only re-exports it).
        monkeypatch.setattr(
            server_module, "free_port", lambda: next(offered, None) or real_free_port()
        )
        server = RedisServer().start()
        try:
            assert next(offered, None) is None  # the taken port was offered, then replaced
            assert server.port != taken
            with server.client() as client:
                assert client.ping()
        finally:
            server.stop()


def test_registry_stop_all_stops_every_topology() -> None:
    registry = Topologies()
    server = RedisServer(registry=registry).start()
    sentinel = SentinelSet(registry=registry).start()
    assert sentinel.sentinel is not None
    pids = [server.pid, sentinel.master.pid, sentinel.replica.pid, sentinel.sentinel.pid]
    assert registry.stop_all() == []
    assert registry.active() == []
    assert_gone([p for p in pids if p is not None], server.dir)
    assert not sentinel.dir.exists()


def test_make_tls_files_is_fast(tmp_path: Path) -> None:
    started = time.monotonic()
    files = make_tls_files(tmp_path)
    took = time.monotonic() - started
    print(f"\nmake_tls_files took {took:.3f} s")
    assert took < 2.0
    for path in (files.ca_cert, files.ca_key, files.server_cert, files.server_key):
        assert path.stat().st_size > 0


# -- availability


def test_missing_redis_server_skips_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install redis-server"):
        require_redis_server()
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install openssl"):
        require_openssl()


def test_missing_redis_server_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="redis-server is required under CI"):
        require_redis_server()
    with pytest.raises(pytest.fail.Exception, match="openssl is required under CI"):
        require_openssl()


def test_redis_older_than_7_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for tool in ("redis-server", "redis-cli"):
        fake = tmp_path / tool
        fake.write_text("#!/bin/sh\necho 'Redis server v=6.2.14 sha=00000000:0 bits=64'\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"6\.2\.14.*7\.0"):
        require_redis_server()


def test_the_installed_redis_is_usable(redis_available: RedisInstall) -> None:
    assert redis_available.version >= (7, 0, 0)
