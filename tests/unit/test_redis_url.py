"""Redis URLs: every accepted form, normalized in one place; bad ones refused clearly."""

import pytest

from sioadapter.backends import backend_from_url, installed_backends
from sioadapter.backends.redis import RedisBackend
from sioadapter.backends.redis_url import SCHEMES, parse_redis_url


def test_standalone_with_credentials_db_and_timeouts():
    spec = parse_redis_url("redis://alice:s%3Acret@10.0.0.5:6380/2?socket_timeout=1.5")
    assert spec.topology == "standalone"
    assert spec.hosts == [("10.0.0.5", 6380)]
    assert spec.db == 2
    assert spec.connection == {"username": "alice", "password": "s:cret", "socket_timeout": 1.5}
    assert not spec.tls


def test_password_only_like_redis_py():
    spec = parse_redis_url("redis://:secret@localhost")
    assert spec.connection == {"password": "secret"}
    assert spec.hosts == [("localhost", 6379)]


def test_password_with_unencoded_slash_at_or_colon_is_read_whole():
    # Base64 passwords hold "/"; the credentials end at the last "@" before the query, which
    # is also where the redactor stops hiding them.
    spec = parse_redis_url("redis://alice:ab/c@d:e==@10.0.0.5:6380/2?mode=sharded")
    assert spec.connection == {"username": "alice", "password": "ab/c@d:e=="}
    assert (spec.hosts, spec.db, spec.backend) == ([("10.0.0.5", 6380)], 2, {"mode": "sharded"})
    assert parse_redis_url("unix:///run/me@corp/redis.sock").unix_path == "/run/me@corp/redis.sock"
    assert parse_redis_url("redis://h?client_name=me@host").connection == {"client_name": "me@host"}


def test_tls_with_certificate_files():
    spec = parse_redis_url(
        "rediss://127.0.0.1:6390/0?ssl_ca_certs=/tmp/ca.crt&ssl_cert_reqs=required"
        "&ssl_check_hostname=false"
    )
    assert spec.tls
    assert spec.connection["ssl_ca_certs"] == "/tmp/ca.crt"
    assert spec.connection["ssl_check_hostname"] is False


def test_unix_socket():
    spec = parse_redis_url("unix:///run/redis/redis.sock?db=3")
    assert spec.unix_path == "/run/redis/redis.sock"
    assert spec.db == 3
    assert spec.hosts == []


def test_sentinel_in_python_socketio_form():
    spec = parse_redis_url("redis+sentinel://user:pw@h1:26379,h2:26380/0/mymaster")
    assert spec.topology == "sentinel"
    assert spec.hosts == [("h1", 26379), ("h2", 26380)]
    assert spec.service_name == "mymaster"
    assert spec.connection == {"username": "user", "password": "pw"}


def test_sentinel_service_name_defaults_like_python_socketio():
    assert parse_redis_url("redis+sentinel://h1:26379").service_name == "socketio"


def test_cluster_startup_nodes_and_backend_options():
    spec = parse_redis_url("redis+cluster://127.0.0.1:7000,127.0.0.1:7001?mode=sharded")
    assert spec.topology == "cluster"
    assert spec.hosts == [("127.0.0.1", 7000), ("127.0.0.1", 7001)]
    assert spec.backend == {"mode": "sharded"}


def test_ipv6_hosts_and_bare_host_port():
    assert parse_redis_url("redis://[::1]:6380").hosts == [("::1", 6380)]
    assert parse_redis_url("localhost:6390").hosts == [("localhost", 6390)]


@pytest.mark.parametrize(
    ("scheme", "topology", "tls"),
    [
        ("valkey", "standalone", False),
        ("valkeys", "standalone", True),
        ("valkey+sentinel", "sentinel", False),
        ("valkey+cluster", "cluster", False),
        ("rediss+cluster", "cluster", True),
    ],
)
def test_valkey_twins_and_tls_variants(scheme, topology, tls):
    spec = parse_redis_url(f"{scheme}://h:1234")
    assert (spec.topology, spec.tls) == (topology, tls)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h:notaport", "bad port"),
        ("redis://h:99999", "out of range"),
        ("redis://h/notadb", "bad database number"),
        ("redis://h1:1,h2:2", "names one server"),
        ("redis://h?colour=blue", "unknown option 'colour'"),
        ("redis://h?socket_timeout=soon", "bad value for 'socket_timeout'"),
        ("unix://", "without a socket path"),
        ("redis+cluster://", "empty host"),  # "redis://" alone is localhost:6379
        ("ftp://h", "not a Redis URL scheme"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url, message):
    with pytest.raises(ValueError, match=message):
        parse_redis_url(url)


def test_every_scheme_is_installed_as_an_entry_point():
    installed = installed_backends()
    for scheme in SCHEMES:
        assert installed[scheme].value == "sioadapter.backends.redis:RedisBackend"


def test_url_builds_a_backend_in_the_requested_mode():
    backend = backend_from_url("redis://127.0.0.1:1/0", mode="sharded")
    assert isinstance(backend, RedisBackend)
    assert backend.capabilities.sharded and not backend.capabilities.patterns
    with pytest.raises(ValueError, match="mode must be one of"):
        backend_from_url("redis://127.0.0.1:1/0?mode=turbo")


def test_backend_needs_a_client_and_refuses_ambiguous_ones():
    with pytest.raises(ValueError, match="needs a URL or a redis-py client"):
        RedisBackend()
    with pytest.raises(ValueError, match="not both"):
        RedisBackend(client=object(), pub_client=object())


async def test_unreachable_redis_at_start_is_one_clear_error_for_who_waits():
    import sioadapter
    from sioadapter.errors import BackendError

    mgr = sioadapter.AsyncClusterManager("redis://127.0.0.1:1/0?socket_connect_timeout=1")
    await mgr.start()  # the node starts anyway, serving its own clients
    with pytest.raises(BackendError, match=r"cannot reach Redis \(standalone 127.0.0.1:1\)"):
        await mgr.wait_connected(timeout=0.5)
    with pytest.raises(BackendError, match=r"not connected"):
        await mgr.fetch_sockets()
    await mgr.close()
