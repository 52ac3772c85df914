"""The contract kit (sioadapter.testing.contract) over real Redis servers: standalone in the
classic protocol, standalone with sharded pub/sub (the ClusterAdapter family), and TLS with an
ACL user (the secret checks have a real password to look for)."""

from __future__ import annotations

import pytest
from redistopo.server import RedisServer

from sioadapter.backends.base import Backend
from sioadapter.backends.redis import RedisBackend
from sioadapter.testing.contract import BackendChecks, BackendContract

BAD_URLS = (
    "redis://127.0.0.1:notaport",
    "redis://kit:s3cret-in-a-bad-url@127.0.0.1:6379/0?no_such_option=1",
    "redis://127.0.0.1:6379/not-a-db",
)


async def kill_subscribers(backend: Backend) -> None:
    """CLIENT KILL every subscriber connection of the (private, per-session) server: the
    backend's own among them; the publishing connection stays."""
    assert isinstance(backend, RedisBackend)
    killed = await backend.pub_client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    assert killed >= 1, "no subscriber connection to kill"


class TestRedisStandalone(BackendContract):
    bad_urls = BAD_URLS
    sever = staticmethod(kill_subscribers)
    secrets = ("s3cret-in-a-bad-url",)
    # Port 1: nothing listens there, the connection is refused at once.
    unreachable_url = "redis://kit:s3cret-in-a-bad-url@127.0.0.1:1/0"

    @pytest.fixture
    def sioadapter_backend_url(self, redis_standalone: RedisServer) -> str:
        return redis_standalone.url


class TestRedisStandaloneSharded(BackendContract):
    options = {"mode": "sharded"}  # noqa: RUF012 (a setting, never mutated)
    sever = staticmethod(kill_subscribers)

    @pytest.fixture
    def sioadapter_backend_url(self, redis_standalone: RedisServer) -> str:
        return redis_standalone.url


class TestRedisTlsAcl(BackendChecks):
    """Backend-level checks only: the cluster scenarios run over TLS in test_suite_over_redis."""

    @pytest.fixture
    def sioadapter_backend_url(self, redis_tls_acl: RedisServer) -> str:
        return f"{redis_tls_acl.url}?ssl_ca_certs={redis_tls_acl.ssl_ca_certs}"
