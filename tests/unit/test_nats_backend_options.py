"""NatsBackend built from URLs and options, without a server: what reaches nats-py's
``connect()``, and descriptions that never hold a secret."""

from __future__ import annotations

import pytest

pytest.importorskip("nats", reason="nats-py is not installed: pip install 'sioadapter[nats]'")

import sioadapter
from sioadapter.backends import backend_from_url
from sioadapter.backends.nats import NatsBackend


def test_url_credentials_and_options_reach_connect_and_stay_out_of_the_repr() -> None:
    backend = backend_from_url(
        "nats://alice:S3cretPW@h1:4222,h2:4223?name=web-1&credentials=/etc/a.creds",
        connect_timeout=0.5,
    )
    assert isinstance(backend, NatsBackend)
    options = backend._connect_options
    assert options["servers"] == ["nats://h1:4222", "nats://h2:4223"]
    assert (options["user"], options["password"], options["token"]) == ("alice", "S3cretPW", None)
    assert (options["name"], options["user_credentials"]) == ("web-1", "/etc/a.creds")
    assert options["connect_timeout"] == 0.5
    assert "S3cretPW" not in repr(backend) and "S3cretPW" not in backend.description


def test_a_token_url() -> None:
    backend = backend_from_url("tls://T0kenS3cret@h")
    options = backend._connect_options  # type: ignore[attr-defined]
    assert (options["token"], options["servers"]) == ("T0kenS3cret", ["tls://h:4222"])
    assert "T0kenS3cret" not in repr(backend)


def test_nats_options_win_and_a_ready_client_takes_no_connection_options() -> None:
    backend = NatsBackend.from_url("nats://h", nats_options={"max_reconnect_attempts": 5})
    assert backend._connect_options["max_reconnect_attempts"] == 5
    with pytest.raises(ValueError, match="ready client"):
        NatsBackend(client=object(), user="u")


def test_the_manager_refuses_an_option_the_backend_does_not_take() -> None:
    with pytest.raises(TypeError, match="colour"):
        sioadapter.AsyncClusterManager("nats://h", colour="blue")


def test_a_bad_url_names_no_secret() -> None:
    with pytest.raises(ValueError, match="colour") as raised:
        backend_from_url("nats://u:S3cretPW@h?colour=blue")
    assert "S3cretPW" not in str(raised.value)
