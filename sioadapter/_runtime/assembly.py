"""Turning a manager's options into its parts: the backend, the wire family, the checks.

One place for what ``AsyncClusterManager(...)`` accepts, so that bad options fail in the
constructor with a clear message, before anything connects.
"""

from __future__ import annotations

from typing import Any

from ..backends import backend_from_url
from ..backends.base import Backend
from ..wire.base import Family
from ..wire.classic import ClassicFamily
from ..wire.cluster import ClusterFamily

__all__ = ["PROTOCOLS", "check_limits", "make_backend", "make_family"]

PROTOCOLS = ("classic", "cluster")
_CLIENT_OPTIONS = {"client", "pub_client", "sub_client"}


def check_limits(requests_timeout: float, ack_timeout: float, max_message_size: Any) -> None:
    """ValueError for timeouts that are not positive or a size that is not a positive int."""
    if requests_timeout <= 0 or ack_timeout <= 0:
        raise ValueError("timeouts must be positive")
    if max_message_size is not None and (
        isinstance(max_message_size, bool)
        or not isinstance(max_message_size, int)
        or max_message_size <= 0
    ):
        raise ValueError(
            f"max_message_size must be a positive number of bytes or None, not {max_message_size!r}"
        )


def make_backend(
    url: str | None,
    backend: Backend | None,
    host: str | None,
    port: int | None,
    options: dict[str, Any],
) -> Backend:
    """The backend: a ready one, ready redis-py clients (Node's pubClient/subClient,
    fakeredis included), a URL (its scheme picks the entry point), or ``host``/``port``."""
    if backend is not None:
        if url is not None or options:
            raise ValueError("pass either a URL (with backend options) or a backend, not both")
        return backend
    if url is None and options.keys() & _CLIENT_OPTIONS:
        from ..backends.redis import RedisBackend

        return RedisBackend(**options)
    if url is None:
        url = f"redis://{host or 'localhost'}:{port or 6379}/0"
    return backend_from_url(url, **options)


def make_family(
    backend: Backend,
    key: str,
    uid: str,
    protocol: str | None,
    publish_on_specific_response_channel: bool,
    subscription_mode: str | None,
) -> Family:
    """The wire family: classic where the backend has patterns, counts and no sharding (as
    Node's redis-adapter), else the ClusterAdapter protocol; ValueError for a protocol the
    backend cannot carry."""
    caps = backend.capabilities
    classic_fits = caps.patterns and not caps.sharded and caps.counts_subscribers
    if protocol is None:
        protocol = "classic" if classic_fits else "cluster"
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    if protocol == "classic" and not classic_fits:
        raise ValueError(
            "the classic protocol needs pattern subscriptions and subscriber counts, "
            "which this backend does not offer"
        )
    if protocol == "classic":
        return ClassicFamily(
            key,
            uid,
            publish_on_specific_response_channel=publish_on_specific_response_channel,
            subscription_mode=subscription_mode or "pattern",
        )
    return ClusterFamily(key, uid, subscription_mode=subscription_mode or "dynamic")
