"""AMQP URLs and names: every accepted URL form, the options, errors that never show a
password, and the exchange names and routing keys channels map to."""

from __future__ import annotations

import pytest

from sioadapter.backends._amqp_names import MAX_NAME, exchange_name, routing_key
from sioadapter.backends._amqp_url import parse_amqp_url

SECRET = "Pa55-w0rd/S3cret"


@pytest.mark.parametrize(
    ("url", "host", "port", "vhost", "tls"),
    [
        ("amqp://", "localhost", 5672, "/", False),
        ("amqp://h", "h", 5672, "/", False),
        ("amqp://h:5673/", "h", 5673, "/", False),
        ("amqp://h/%2F", "h", 5672, "/", False),
        ("amqp://h/prod", "h", 5672, "prod", False),
        ("amqp://h/a%2Fb", "h", 5672, "a/b", False),
        ("amqps://h", "h", 5671, "/", True),
        ("AMQPS://[::1]:5000/v", "::1", 5000, "v", True),
    ],
)
def test_url_forms(url: str, host: str, port: int, vhost: str, tls: bool) -> None:
    spec = parse_amqp_url(url)
    assert (spec.host, spec.port, spec.virtualhost, spec.tls) == (host, port, vhost, tls)


def test_credentials_and_query_options_in_the_url() -> None:
    spec = parse_amqp_url(
        "amqp://al%40ice:p%40ss:word@h/v?name=n1&heartbeat=5&connect_timeout=1.5&exchange_prefix=x."
    )
    assert (spec.user, spec.password) == ("al@ice", "p@ss:word")
    assert spec.options == {
        "name": "n1",
        "heartbeat": 5,
        "connect_timeout": 1.5,
        "exchange_prefix": "x.",
    }
    assert "p@ss" not in repr(spec) and "p@ss" not in spec.redacted()
    assert "al@ice" in spec.redacted()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("redis://h", "amqp://"),
        (f"amqp://u:{SECRET}@h:99999", "bad port"),
        (f"amqp://u:{SECRET}@h1,h2", "one broker"),
        (f"amqp://u:{SECRET}@h/a/b", "one path segment"),
        (f"amqp://u:{SECRET}@h?nope=1", "unknown AMQP URL option 'nope'"),
        (f"amqp://u:{SECRET}@h?heartbeat=x", "bad value"),
    ],
)
def test_bad_urls_are_refused_without_showing_the_password(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as raised:
        parse_amqp_url(url)
    assert SECRET not in str(raised.value)


def test_channels_map_to_the_keys_exchange_and_to_themselves_as_routing_keys() -> None:
    assert exchange_name("socket.io#/#lobby#", "sioadapter.") == "sioadapter.socket.io"
    assert exchange_name("socket.io#/#", "x.") == "x.socket.io"
    for channel in ("socket.io#/#", "socket.io#/#room.*.#x#", "k#/chat#é#"):
        assert routing_key(channel) == channel


def test_names_past_255_bytes_are_shortened_distinctly() -> None:
    long_a, long_b = "k#/#" + "é" * 300 + "#", "k#/#" + "é" * 300 + "x#"
    keys = {routing_key(long_a), routing_key(long_b), routing_key("k#/#\ud800#")}
    assert len(keys) == 3
    for key in keys:
        assert len(key.encode("utf-8")) <= MAX_NAME
    assert routing_key(long_a) == routing_key(long_a)  # the same on every node
    assert len(exchange_name("x" * 300 + "#/#", "sioadapter.").encode()) <= MAX_NAME
