"""The URL pieces the NATS, AMQP and PostgreSQL parsers share: one error form that never shows
a secret, one host[:port] reader, one query reader; and the parsers' messages kept as they were."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from sioadapter.backends._amqp_url import parse_amqp_url
from sioadapter.backends._nats_url import parse_nats_url
from sioadapter.backends._pg_url import parse_pg_url
from sioadapter.backends._url_parts import host_port, parse_query, url_error

SECRET = "Pa55-w0rd/S3cret"
URL = f"x://u:{SECRET}@h/?token={SECRET}"


def test_the_error_quotes_the_url_redacted() -> None:
    error = url_error("bad thing", URL)
    assert isinstance(error, ValueError)
    assert str(error) == "bad thing: 'x://u:***@h/?token=***'"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("h", ("h", 10)),
        ("h:20", ("h", 20)),
        ("[::1]", ("::1", 10)),
        ("[::1]:65535", ("::1", 65535)),
        (":20", ("dflt", 20)),
        ("", ("dflt", 10)),
    ],
)
def test_host_port_forms(item: str, expected: tuple[str, int]) -> None:
    assert host_port(item, 10, URL, family="NATS", role="server", default_host="dflt") == expected


@pytest.mark.parametrize(
    ("item", "family", "default_host", "message"),
    [
        ("[::1", "AMQP", "h", "unclosed '[' in an AMQP broker address"),
        ("[::1]x", "NATS", "h", "bad NATS broker address"),
        ("h:0", "NATS", "h", "bad port in a NATS URL"),
        ("h:65536", "AMQP", "h", "bad port in an AMQP URL"),
        ("h:12a", "NATS", "h", "bad port in a NATS URL"),
        (":1", "NATS", None, "a NATS broker address needs a host"),
    ],
)
def test_host_port_errors(item: str, family: str, default_host: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        host_port(item, 10, URL, family=family, role="broker", default_host=default_host)
    assert str(raised.value) == f"{message}: 'x://u:***@h/?token=***'"


def test_query_options_converted_and_unknown_ones_refused_or_kept() -> None:
    known = {"n": int, "s": str}
    assert parse_query("n=3&s=", known, URL, family="NATS") == ({"n": 3, "s": ""}, [])
    with pytest.raises(ValueError, match=r"unknown NATS URL option 'z' \(known: n, s\)"):
        parse_query("n=3&z=1", known, URL, family="NATS")
    kept = parse_query("z=1&n=3&y=a%2Fb", known, URL, family="PostgreSQL", keep_unknown=True)
    assert kept == ({"n": 3}, [("z", "1"), ("y", "a/b")])


def test_a_bad_value_never_shows_the_value() -> None:
    with pytest.raises(ValueError, match="bad value") as raised:
        parse_query(f"n={SECRET}", {"n": int}, URL, family="AMQP")
    assert str(raised.value) == "bad value for AMQP URL option 'n': 'x://u:***@h/?token=***'"
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    ("parse", "url", "message"),
    [
        (parse_nats_url, f"nats://u:{SECRET}@[::1", "unclosed '[' in a NATS server address"),
        (parse_nats_url, f"nats://u:{SECRET}@:4222", "a NATS server address needs a host"),
        (parse_nats_url, f"nats://u:{SECRET}@h:0", "bad port in a NATS URL"),
        (parse_amqp_url, f"amqp://u:{SECRET}@[::1", "unclosed '[' in an AMQP broker address"),
        (parse_amqp_url, f"amqp://u:{SECRET}@[::1]x", "bad AMQP broker address"),
        (parse_amqp_url, f"amqp://u:{SECRET}@h:0", "bad port in an AMQP URL"),
        (parse_amqp_url, f"amqp://u:{SECRET}@h?x=1", "unknown AMQP URL option 'x' (known: "),
        (parse_pg_url, f"postgresql://u:{SECRET}@h?payload_threshold=z",
         "bad value for PostgreSQL URL option 'payload_threshold'"),
    ],
)  # fmt: skip
def test_the_parsers_messages_are_unchanged(
    parse: Callable[[str], object], url: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        parse(url)
    assert str(raised.value).startswith(message)
    assert SECRET not in str(raised.value) and ":***@" in str(raised.value)


def test_an_empty_amqp_host_is_this_host_and_a_nats_server_list_keeps_its_ports() -> None:
    assert (parse_amqp_url("amqp://:5673").host, parse_amqp_url("amqp://:5673").port) == (
        "localhost",
        5673,
    )
    spec = parse_nats_url("nats://h1,[::1]:4333")
    assert spec.servers == ["nats://h1:4222", "nats://[::1]:4333"]
