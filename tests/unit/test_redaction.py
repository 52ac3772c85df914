"""No secret of a URL in any error, repr or message: ``***`` in its place.

A user who reads an error must learn which URL is wrong (its scheme, hosts, options) but never
its password, token or secret options.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import unquote

import pytest

import sioadapter.backends as backends
from sioadapter._redact import REDACTED, redact_url, scrub, url_secrets
from sioadapter.backends import backend_from_url
from sioadapter.backends.base import Backend
from sioadapter.backends.redis import RedisBackend
from sioadapter.backends.redis_url import parse_redis_url
from sioadapter.emitter import AsyncEmitter, Emitter
from sioadapter.errors import BackendError, UnknownBackendError

SECRET = "S3cretPW"


def shown(error: BaseException) -> list[str]:
    """Every text a user or a log can get from an exception."""
    return [str(error), repr(error), *(str(arg) for arg in error.args)]


def assert_hidden(texts: list[str], *secrets: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, text


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://alice:S3cretPW@10.0.0.5:6380/2", "redis://alice:***@10.0.0.5:6380/2"),
        ("redis://:S3cretPW@localhost", "redis://:***@localhost"),
        ("redis://alice:@localhost", "redis://alice:***@localhost"),
        (
            "redis+sentinel://u:S3cretPW@h1:26379,h2:26380/0/mymaster",
            "redis+sentinel://u:***@h1:26379,h2:26380/0/mymaster",
        ),
        ("redis://u:S3cretPW@[::1]:6380/0", "redis://u:***@[::1]:6380/0"),
        ("redis://u:S3cret%3A%40PW@h", "redis://u:***@h"),
        # Not percent-encoded: base64 "/", "@", ":" and even "?" or "#" stay inside it.
        ("redis://u:ab/cd+ef==@h:1/0", "redis://u:***@h:1/0"),
        ("redis://u:p@ss:w@h", "redis://u:***@h"),
        ("redis://u:ab?cd@h/0?mode=sharded", "redis://u:***@h/0?mode=sharded"),
        ("redis://u:ab#cd@h", "redis://u:***@h"),
        # A bare host:port form, as parse_redis_url accepts it.
        ("u:S3cretPW@h:6379", "u:***@h:6379"),
        # A user-only userinfo is a token (NATS): hidden whole, whatever the scheme.
        ("nats://S3cretTOKEN@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
        (
            "rediss://h/0?ssl_password=S3cretPW&ssl_keyfile=/k.pem&password=x%26y",
            "rediss://h/0?ssl_password=***&ssl_keyfile=/k.pem&password=***",
        ),
        (
            "nats://h?auth_token=a&Client_Secret=b&api_key=c&signing_key_file=/f&mode=x",
            "nats://h?auth_token=***&Client_Secret=***&api_key=***&signing_key_file=/f&mode=x",
        ),
        ("redis://h?password=a#b&c", "redis://h?password=***&c"),
    ],
)
def test_redact_url_hides_passwords_tokens_and_secret_options(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
    assert redact_url(redacted) == redacted  # idempotent: redacting twice changes nothing


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://h:6390/0?ssl_ca_certs=/tmp/ca.crt&ssl_keyfile=/tmp/k.pem",
        "unix:///run/me@corp/redis.sock?db=1",
        "redis://h/0?client_name=me@host",
        "localhost:6379",
        "memory://hub",
        "",
        "not a url at all",
    ],
)
def test_redact_url_leaves_urls_without_secrets_alone(url: str) -> None:
    assert redact_url(url) == url


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_redact_url_never_raises_on_garbage() -> None:
    for value in [None, 42, b"redis://u:pw@h", _Unprintable(), "://", "@", "::@@??##==&&"]:
        assert isinstance(redact_url(value), str)
    alphabet = "ab:/@?#&=%[]+, \x00é"
    rng = random.Random(11)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
        for candidate in (text, f"redis://{text}", f"x://u:{text}@h"):
            assert isinstance(redact_url(candidate), str)
            assert isinstance(url_secrets(candidate), list)
            assert isinstance(scrub(candidate, candidate), str)


def test_redact_url_hides_any_password_spelled_without_encoding() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        # Letters absent from the rest of the URL, and the separators a URL parser trips on.
        password = "".join(rng.choice("QXZW/@:!$+=%") for _ in range(rng.randrange(3, 12)))
        redacted = redact_url(f"redis://alice:{password}@127.0.0.1:6379/0?mode=classic")
        assert redacted == "redis://alice:***@127.0.0.1:6379/0?mode=classic", password


def test_scrub_replaces_the_url_secrets_quoted_anywhere() -> None:
    url = "redis://u:S3cret%2FPW@h?ssl_password=K3yPass"
    text = "AUTH S3cret/PW refused; tried S3cret%2FPW, K3yPass; see redis://v:Other99@x"
    assert scrub(text, url) == "AUTH *** refused; tried ***, ***; see redis://v:***@x"
    # Too short to look for in free text (it would match everywhere): still out of URLs.
    assert scrub("a pw here", "redis://:pw@h") == "a pw here"
    assert url_secrets("redis://u:pw@h") == ["pw"]


PARSE_ERRORS = [
    ("redis://u:S3cretPW@h:notaport", "bad port 'notaport'"),
    ("redis://u:S3cretPW@h:99999", "out of range"),
    ("redis://u:S3cretPW@h/notadb", "bad database number"),
    ("redis://u:S3cretPW@h?db=x", "bad database number 'x'"),
    ("redis://u:S3cretPW@h1:1,h2:2", "names one server"),
    ("redis://u:S3cretPW@h?colour=blue", "unknown option 'colour'"),
    ("redis://u:S3cretPW@h?socket_timeout=soon", "bad value for 'socket_timeout'"),
    ("redis://u:S3cretPW@h/0/extra", "unexpected path"),
    ("redis+cluster://u:S3cretPW@", "empty host"),
    ("redis://u:S3cretPW@[::1", "malformed"),
    ("unix://u:S3cretPW@", "without a socket path"),
    ("ftp://u:S3cretPW@h", "not a Redis URL scheme: 'ftp'"),
    ("redis+sentinel://u:S3cretPW@h1:26379,/0/m", "empty host"),
    ("redis+cluster://u:S3cretPW@h1:7000,h2:x", "bad port 'x'"),
    ("rediss+cluster://:S3cretPW@h1:7000?ssl_check_hostname=maybe", "bad value for"),
    ("redis://u:S3cret%2FPW@h:x", "bad port"),
    ("redis://h:x?password=S3cretPW", "bad port"),
    # Not percent-encoded: a "/" once cut the password and echoed its end as a port.
    ("redis://:S3cret/PW@h:x", "bad port 'x'"),
]


@pytest.mark.parametrize(("url", "message"), PARSE_ERRORS)
def test_parse_errors_name_the_url_without_its_secrets(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_redis_url(url)
    assert_hidden(shown(caught.value), SECRET, "S3cret/PW", "S3cret%2FPW", "/PW")
    if not url.startswith("ftp:"):  # that one names the scheme only
        assert REDACTED in str(caught.value)


def test_a_bad_secret_option_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    from sioadapter.backends import redis_url

    def refuse(value: str) -> str:
        raise ValueError(f"{value!r} is not a password")

    monkeypatch.setitem(redis_url.CONNECTION_OPTIONS, "ssl_password", refuse)
    with pytest.raises(ValueError, match="bad value for 'ssl_password'") as caught:
        parse_redis_url(f"rediss://h?ssl_password={SECRET}")
    assert_hidden(shown(caught.value), SECRET)


def test_unknown_scheme_error_hides_the_secret_and_still_lists_backends() -> None:
    with pytest.raises(UnknownBackendError) as caught:
        backend_from_url(f"nosuch://u:{SECRET}@h:1?api_token=T0kenVal")
    error = caught.value
    assert_hidden([*shown(error), error.url], SECRET, "T0kenVal")
    assert error.url == "nosuch://u:***@h:1?api_token=***"
    assert str(error) == (
        "no backend is installed for this URL scheme: 'nosuch://u:***@h:1?api_token=***' "
        f"(installed backends: {', '.join(error.installed)})"
    )
    assert "redis" in error.installed and "memory" in error.installed
    direct = UnknownBackendError(f"x://{SECRET}@h", ["redis"], "empty backend URL")
    assert direct.url == "x://***@h"
    assert_hidden(shown(direct), SECRET)


def test_backend_errors_through_backend_from_url_hide_the_secret() -> None:
    with pytest.raises(ValueError, match="bad port") as caught:
        backend_from_url(f"redis://u:{SECRET}@h:x")
    assert_hidden(shown(caught.value), SECRET)


class _Leaky(Backend):
    """A third-party backend whose errors quote the URL as given."""

    schemes = ("leaky",)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Backend:
        raise ValueError(f"cannot use {url} (password {unquote(url.split(':')[2][:8])})")


def test_a_third_party_backend_error_quoting_the_url_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backends, "installed_backends", lambda: {"leaky": None})
    monkeypatch.setattr(backends, "load_backend_class", lambda scheme: _Leaky)
    with pytest.raises(ValueError, match="cannot use") as caught:
        backend_from_url(f"leaky://u:{SECRET}@h")
    assert str(caught.value) == "cannot use leaky://u:***@h (password ***)"
    assert caught.value.__suppress_context__  # the original is not in the traceback


def test_spec_and_backend_reprs_hide_credentials() -> None:
    url = f"rediss://alice:{SECRET}@127.0.0.1:1/0?ssl_password=K3yPass&ssl_keyfile=/k.pem"
    spec = parse_redis_url(url)
    assert spec.connection["password"] == SECRET  # still there to connect with
    text = repr(spec)
    assert_hidden([text, str(spec), spec.redacted()], SECRET, "K3yPass")
    assert text.startswith("RedisSpec(topology='standalone', hosts=[('127.0.0.1', 1)]")
    assert "'username': 'alice', 'password': '***'" in text
    assert "'ssl_password': '***', 'ssl_keyfile': '/k.pem'" in text
    backend = RedisBackend.from_url(url)
    assert repr(backend) == "<RedisBackend standalone+tls 127.0.0.1:1 mode=classic>"
    assert_hidden([repr(backend.pub_client), backend.description], SECRET, "K3yPass")


async def test_an_unreachable_server_error_names_the_host_not_the_password() -> None:
    backend = RedisBackend.from_url(f"redis://u:{SECRET}@127.0.0.1:1/0?socket_connect_timeout=1")
    with pytest.raises(BackendError, match=r"cannot reach Redis \(standalone 127.0.0.1:1\)") as e:
        await backend.connect()
    assert_hidden(shown(e.value), SECRET)
    await backend.close()


@pytest.mark.parametrize("emitter_class", [Emitter, AsyncEmitter])
def test_emitters_refuse_bad_urls_without_the_secret(emitter_class: Any) -> None:
    with pytest.raises(ValueError, match="unknown option 'bogus'") as caught:
        emitter_class(f"redis://u:{SECRET}@127.0.0.1:6379/0?bogus=1")
    assert_hidden(shown(caught.value), SECRET)
