"""NATS URLs: every accepted form, the options, and errors that never show a secret."""

from __future__ import annotations

import pytest

from sioadapter.backends._nats_url import parse_nats_url


@pytest.mark.parametrize(
    ("url", "servers", "tls"),
    [
        ("nats://h:4223", ["nats://h:4223"], False),
        ("nats://h", ["nats://h:4222"], False),
        ("nats://", ["nats://localhost:4222"], False),
        ("nats://h1:4222,h2:4223", ["nats://h1:4222", "nats://h2:4223"], False),
        ("nats://h1:4222,nats://h2:4223", ["nats://h1:4222", "nats://h2:4223"], False),
        ("tls://h:4443", ["tls://h:4443"], True),
        ("nats://h1,tls://h2", ["tls://h1:4222", "tls://h2:4222"], True),
        ("nats://[::1]:4222", ["nats://[::1]:4222"], False),
        ("NATS://h/", ["nats://h:4222"], False),
    ],
)
def test_server_forms(url: str, servers: list[str], tls: bool) -> None:
    spec = parse_nats_url(url)
    assert (spec.servers, spec.tls) == (servers, tls)
    assert (spec.user, spec.password, spec.token) == (None, None, None)


def test_user_and_password_apply_to_every_server_and_stay_out_of_the_addresses() -> None:
    spec = parse_nats_url("nats://alice:p%40ss/w@h1:4222,h2:4223")
    assert (spec.user, spec.password, spec.token) == ("alice", "p@ss/w", None)
    assert spec.servers == ["nats://h1:4222", "nats://h2:4223"]
    assert "p@ss" not in repr(spec) and "p@ss" not in spec.redacted()


def test_a_lone_userinfo_is_a_token() -> None:
    spec = parse_nats_url("nats://S3cretTOKEN@h:4222")
    assert (spec.user, spec.password, spec.token) == (None, None, "S3cretTOKEN")
    assert "S3cretTOKEN" not in repr(spec) and "S3cretTOKEN" not in spec.redacted()


def test_query_options() -> None:
    spec = parse_nats_url("nats://h?name=web-1&connect_timeout=0.5&credentials=/a.creds")
    assert spec.options == {"name": "web-1", "connect_timeout": 0.5, "credentials": "/a.creds"}


@pytest.mark.parametrize(
    "url",
    [
        "redis://h",
        "nats://u:S3cretPW@h?colour=blue",
        "nats://u:S3cretPW@h:99999",
        "nats://u:S3cretPW@h:4222?connect_timeout=soon",
        "nats://u:S3cretPW@h1,,h2",
        "nats://u:S3cretPW@h/path",
        "nats://u:S3cretPW@h,amqp://h2",
        "nats://u:S3cretPW@[::1",
        "nats://u:S3cretPW@:4222",
    ],
)
def test_bad_urls_raise_without_the_secret(url: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)nats") as raised:
        parse_nats_url(url)
    assert "S3cretPW" not in str(raised.value)
