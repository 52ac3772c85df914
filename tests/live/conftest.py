"""The integration suite, unchanged, over every Redis deployment sioadapter supports.

Each test of ``tests/integration`` (re-exported by ``test_suite_over_redis.py``) runs once per
configuration below: fakeredis, a standalone redis-server, TLS with an ACL user, a unix socket,
Sentinel, a 3-master Cluster in classic and sharded modes, sharded pub/sub on a standalone
server, and the classic protocol subscribing per room on a standalone server. The servers are
real ``redis-server`` processes on free loopback ports, started once per session and stopped by
PID (``tests/redistopo``). Each test uses its own channel prefix
(``key``), so tests sharing a server never see each other's traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from integration.cluster_fixtures import (
    cluster,
    cluster_name,
    make_cluster,
    pytest_runtest_makereport,
)
from integration.harness import ManagerFactory
from redistopo.fixtures import (
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

import sioadapter

__all__ = [
    "cluster",
    "cluster_name",
    "fresh_redis_cluster",
    "fresh_redis_sentinel",
    "fresh_redis_standalone",
    "make_cluster",
    "manager_factory",
    "pytest_runtest_makereport",
    "redis_available",
    "redis_cluster",
    "redis_sentinel",
    "redis_standalone",
    "redis_tls_acl",
    "redis_unix",
]

HERE = Path(__file__).parent

# configuration -> (fixture giving the topology, URL built from it, backend options)
CONFIGURATIONS: dict[str, tuple[str | None, Callable[[Any], str], dict[str, Any]]] = {
    "fakeredis": (None, lambda _: "", {}),
    "standalone": ("redis_standalone", lambda server: server.url, {}),
    "tls-acl": (
        "redis_tls_acl",
        lambda server: f"{server.url}?ssl_ca_certs={server.ssl_ca_certs}",
        {},
    ),
    "unix": ("redis_unix", lambda server: server.unix_url, {}),
    "sentinel": ("redis_sentinel", lambda topology: topology.url, {}),
    "cluster-classic": ("redis_cluster", lambda topology: topology.url, {}),
    "cluster-sharded": ("redis_cluster", lambda topology: f"{topology.url}?mode=sharded", {}),
    "standalone-sharded": ("redis_standalone", lambda server: server.url, {"mode": "sharded"}),
    "streams-standalone": ("redis_standalone", lambda server: server.url, {"protocol": "streams"}),
    "streams-sentinel": ("redis_sentinel", lambda topology: topology.url, {"protocol": "streams"}),
    "streams-cluster": ("redis_cluster", lambda topology: topology.url, {"protocol": "streams"}),
    "standalone-rooms": (
        "redis_standalone",
        lambda server: server.url,
        {"subscription_mode": "dynamic-private"},
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # tests/live/nats has its own servers and markers (its conftest).
        if item.path.is_relative_to(HERE) and not item.path.is_relative_to(HERE / "nats"):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.redis)


@pytest.fixture(params=list(CONFIGURATIONS))
def manager_factory(request: pytest.FixtureRequest, cluster_name: str) -> ManagerFactory:
    """Managers of one cluster on the configuration's Redis, with this test's own key."""
    fixture, make_url, options = CONFIGURATIONS[request.param]
    if fixture is None:
        server = fakeredis.FakeServer()

        def fake_factory(index: int, /, **manager_options: Any) -> Any:
            manager_options.setdefault("requests_timeout", 5.0)
            client = fakeredis.FakeAsyncRedis(server=server)
            return sioadapter.AsyncClusterManager(
                client=client, key=cluster_name, **options, **manager_options
            )

        return fake_factory
    url = make_url(request.getfixturevalue(fixture))
    if options.get("protocol") == "streams":  # the stream is not under the key: its own name
        options = {**options, "stream_name": f"{cluster_name}:stream"}

    def factory(index: int, /, **manager_options: Any) -> Any:
        manager_options.setdefault("requests_timeout", 5.0)
        return sioadapter.AsyncClusterManager(url, key=cluster_name, **options, **manager_options)

    return factory
