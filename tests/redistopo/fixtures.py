"""pytest fixtures over :mod:`.topology`: one per live Redis topology.

Import them into a conftest (or a test module) of any test directory::

    from redistopo.fixtures import *  # tests/ is on sys.path (pytest's rootdir "prepend" import)

(``from ..redistopo.fixtures import *`` needs a ``tests/__init__.py``, which would rename every
test package ``tests.<dir>``.) Import them in one place per scope you want shared: pytest keys
a fixture by where it is defined, so two conftests that each import ``redis_cluster`` get two
clusters per session.

Contract
--------
- Session-scoped (started on first use, stopped at session end, shared by every test of the
  session, so tests must not break them and should use unique channel names; nothing is flushed:
  pub/sub keeps no state): ``redis_standalone``, ``redis_tls_acl``, ``redis_unix``,
  ``redis_sentinel``, ``redis_cluster``.
- Function-scoped, for tests that break things (kill, restart, fail over): ``fresh_redis_
  standalone`` (``DEBUG`` enabled), ``fresh_redis_sentinel``, ``fresh_redis_cluster``.
- Each needs ``redis_available``: without redis-server 7+ (or openssl, for TLS) the test is
  skipped, or fails when the ``CI`` environment variable is set.
- Teardown stops every process by PID and removes the temp dirs; the atexit hook in
  :mod:`.topology` covers a session that dies before teardown.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .topology import (
    RedisClusterSet,
    RedisInstall,
    RedisServer,
    SentinelSet,
    require_openssl,
    require_redis_server,
)

__all__ = [
    "TLS_ACL_USER",
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

TLS_ACL_USER = ("alice", "s3cret")
"""The ACL user of ``redis_tls_acl`` (the ``default`` user is off there)."""


@pytest.fixture(scope="session")
def redis_available() -> RedisInstall:
    """The local redis-server 7+ install; skips (fails under ``CI``) without one."""
    return require_redis_server()


@pytest.fixture(scope="session")
def redis_standalone(redis_available: RedisInstall) -> Iterator[RedisServer]:
    """A plain redis-server on TCP: ``.url`` is ``redis://127.0.0.1:PORT/0``."""
    server = RedisServer(name="standalone")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_tls_acl(redis_available: RedisInstall) -> Iterator[RedisServer]:
    """TLS only (no plain port) and ACL user ``alice``/``s3cret`` (``default`` off).

    ``.url`` is ``rediss://alice:s3cret@127.0.0.1:PORT/0``; clients verify the server with
    ``ssl_ca_certs=server.ssl_ca_certs`` (``.client_kwargs()`` has it all).
    """
    require_openssl()
    server = RedisServer(name="tls-acl", tls=True, acl_user=TLS_ACL_USER)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_unix(redis_available: RedisInstall) -> Iterator[RedisServer]:
    """A redis-server that also listens on a unix socket: ``.unix_path``, ``.unix_url``."""
    server = RedisServer(name="unix", unix_socket=True)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_sentinel(redis_available: RedisInstall) -> Iterator[SentinelSet]:
    """Master + replica + one sentinel; ``.url`` is ``redis+sentinel://127.0.0.1:P/0/mymaster``.
    Do not fail it over: use ``fresh_redis_sentinel`` for that."""
    topology = SentinelSet()
    try:
        yield topology.start()
    finally:
        topology.stop()


@pytest.fixture(scope="session")
def redis_cluster(redis_available: RedisInstall) -> Iterator[RedisClusterSet]:
    """Three cluster masters; ``.url`` is ``redis+cluster://127.0.0.1:P1,...``. Do not restart
    its nodes: use ``fresh_redis_cluster`` for that."""
    topology = RedisClusterSet()
    try:
        yield topology.start()
    finally:
        topology.stop()


@pytest.fixture
def fresh_redis_standalone(redis_available: RedisInstall) -> Iterator[RedisServer]:
    """A redis-server of this test only, with ``DEBUG`` enabled (``DEBUG SLEEP`` to hang it,
    ``restart()`` / ``kill()`` to bounce it)."""
    server = RedisServer(name="fresh", debug=True)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def fresh_redis_sentinel(redis_available: RedisInstall) -> Iterator[SentinelSet]:
    """A sentinel topology of this test only (``kill_master()`` + ``wait_failover()``)."""
    topology = SentinelSet()
    try:
        yield topology.start()
    finally:
        topology.stop()


@pytest.fixture
def fresh_redis_cluster(redis_available: RedisInstall) -> Iterator[RedisClusterSet]:
    """A cluster of this test only (``restart_node()``); ~2 s to start."""
    topology = RedisClusterSet()
    try:
        yield topology.start()
    finally:
        topology.stop()
