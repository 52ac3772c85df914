"""Turning a manager's options into its parts: the backend, the wire family, the checks.

One place for what ``AsyncClusterManager(...)`` accepts, so that bad options fail in the
constructor with a clear message, before anything connects.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import Any
from urllib.parse import urlsplit

from ..backends import backend_from_url, load_backend_class, normalize_url
from ..backends.base import Backend
from ..wire.base import Family
from ..wire.classic import ClassicFamily
from ..wire.cluster import ClusterFamily
from ..wire.postgres import MAX_PAYLOAD_THRESHOLD, PostgresFamily

__all__ = [
    "PROTOCOLS",
    "STREAMS_OPTIONS",
    "check_limits",
    "make_backend",
    "make_family",
    "make_streams_parts",
    "renamed_unknown_option",
    "resolve_key",
    "resolve_logger",
    "take_streams_options",
    "unknown_option",
]

PROTOCOLS = ("classic", "cluster", "postgres", "streams")
# protocol="streams" options (Node's redis-streams-adapter's, in snake_case) and defaults.
STREAMS_OPTIONS: dict[str, Any] = {
    "stream_name": "socket.io",
    "stream_count": 1,
    "max_len": 10_000,
    "read_count": 100,
    "block_time_in_ms": 5_000,
    "session_key_prefix": "sio:session:",
    "only_plaintext": False,
    "use_sharded_pub_sub": False,
}
# Dialects a backend may dictate (Capabilities.wire); each is a protocol name above.
_DICTATED = ("postgres",)
_CLIENT_OPTIONS = {"client", "pub_client", "sub_client"}
# Set by the backend itself from the URL: not the user's to pass.
_INTERNAL_OPTIONS = {"close_clients", "description"}
# logger=False: errors only, as python-socketio's Server(logger=False) (a logger of our own, so
# that its level changes nobody else's).
_QUIET = logging.getLogger("sioadapter.quiet")
_QUIET.setLevel(logging.ERROR)


_UNKNOWN = "{owner}() got an unexpected keyword argument {option!r}"


def unknown_option(owner: str, option: str) -> TypeError:
    """The TypeError for an option no part of the manager takes: a plain TypeError worded as
    Python's own, naming the class the user called (never a backend class of ours)."""
    error = TypeError(_UNKNOWN.format(owner=owner, option=option))
    error.sioadapter_option = option  # type: ignore[attr-defined]
    return error


def renamed_unknown_option(error: TypeError, owner: str) -> TypeError | None:
    """``error`` from `unknown_option`, reworded for ``owner``; None for any other TypeError."""
    option = getattr(error, "sioadapter_option", None)
    return None if option is None else unknown_option(owner, option)


def resolve_key(key: str | None, channel: str | None) -> str:
    """The channel prefix: ``key`` (Node's name) or ``channel`` (python-socketio's)."""
    if key is not None and channel is not None:
        raise ValueError(
            "pass key= (Node's name) or channel= (python-socketio's name) for the channel "
            "prefix, not both"
        )
    prefix = key if key is not None else channel
    return "socket.io" if prefix is None else prefix


def resolve_logger(logger: logging.Logger | bool | None) -> logging.Logger:
    """python-socketio's ``logger=``: a logger; True: python-socketio's own ``"socketio"``
    logger (which ``Server(logger=True)`` configures); False: errors only; None: the
    ``"sioadapter"`` logger."""
    if logger is True:
        return logging.getLogger("socketio")
    if logger is False:
        return _QUIET
    if logger is None:
        return logging.getLogger("sioadapter")
    if not callable(getattr(logger, "error", None)):
        raise TypeError(f"logger must be a logging.Logger, True, False or None, not {logger!r}")
    return logger


def _accepted_options(cls: type[Backend], from_url: bool) -> set[str] | None:
    """The keyword options a backend class takes (None: it takes any)."""
    names: set[str] = set()
    targets: list[Any] = [cls.from_url, cls.__init__] if from_url else [cls.__init__]
    for target in targets:
        params = list(inspect.signature(target).parameters.values())
        names.update(p.name for p in params if p.kind is p.KEYWORD_ONLY)
        names.update(p.name for p in params[1:] if p.kind is p.POSITIONAL_OR_KEYWORD)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names - _INTERNAL_OPTIONS - {"url", "self"}
    return None  # both take **kwargs: the backend checks for itself


def _check_options(cls: type[Backend], from_url: bool, options: dict[str, Any], owner: str) -> None:
    accepted = _accepted_options(cls, from_url)
    if accepted is None:
        return
    for name in options:
        if name not in accepted:
            if name == "redis_options":
                raise ValueError(
                    f"redis_options= applies to Redis URLs only, not to {cls.__name__}"
                )
            raise unknown_option(owner, name)


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


def _is_nats_client(client: Any) -> bool:
    """True for a nats-py client (told by its class's module: nats-py may not be installed)."""
    return client is not None and type(client).__module__.split(".")[0] == "nats"


def _is_psycopg_client(client: Any) -> bool:
    """True for a psycopg 3 connection (told by its class's module, as for nats-py)."""
    return client is not None and type(client).__module__.split(".")[0] == "psycopg"


def _is_amqp_client(client: Any) -> bool:
    """True for an aio-pika connection (told by its class's module: aio-pika may not be
    installed)."""
    return client is not None and type(client).__module__.split(".")[0] == "aio_pika"


def make_backend(
    url: str | None,
    backend: Backend | None,
    host: str | None,
    port: int | None,
    options: dict[str, Any],
    owner: str = "AsyncClusterManager",
) -> Backend:
    """The backend: a ready one, ready redis-py clients (Node's pubClient/subClient,
    fakeredis included), a ready nats-py client, psycopg connection or aio-pika connection
    (``client=``), a URL (its scheme picks the entry point), or ``host``/``port``.

    ``options`` go to the backend; one it does not take raises TypeError naming
    ``owner`` (the manager class the user called) and the option. ``redis_options`` (a dict,
    python-socketio's option) goes to the redis-py client(s) built from a Redis URL.
    """
    options = {k: v for k, v in options.items() if not (k == "redis_options" and v is None)}
    if backend is not None:
        if url is not None or options:
            raise ValueError("pass either a URL (with backend options) or a backend, not both")
        return backend
    if url is None and _is_nats_client(options.get("client")):
        from ..backends.nats import NatsBackend

        _check_options(NatsBackend, False, options, owner)
        return NatsBackend(**options)
    if url is None and _is_psycopg_client(options.get("client")):
        from ..backends.postgres import PostgresBackend

        _check_options(PostgresBackend, False, options, owner)
        return PostgresBackend(**options)
    if url is None and _is_amqp_client(options.get("client")):
        from ..backends.amqp import AmqpBackend

        _check_options(AmqpBackend, False, options, owner)
        return AmqpBackend(**options)
    if url is None and options.keys() & _CLIENT_OPTIONS:
        from ..backends.redis import RedisBackend

        if "redis_options" in options:
            raise ValueError("redis_options= applies to a URL; configure ready clients yourself")
        _check_options(RedisBackend, False, options, owner)
        return RedisBackend(**options)
    if url is None:
        url = f"redis://{host or 'localhost'}:{port or 6379}/0"
    if options:
        cls = None
        # An unknown or empty scheme: backend_from_url raises the proper error below.
        with contextlib.suppress(Exception):
            cls = load_backend_class(urlsplit(normalize_url(url)).scheme.lower())
        if cls is not None:
            _check_options(cls, True, options, owner)
    return backend_from_url(url, **options)


def make_family(
    backend: Backend,
    key: str,
    uid: str,
    protocol: str | None,
    publish_on_specific_response_channel: bool,
    subscription_mode: str | None,
    json_module: Any = None,
) -> Family:
    """The wire family: the backend's own dialect when it dictates one (``capabilities.wire``,
    PostgreSQL's), else classic where the backend has patterns, counts and no sharding (as
    Node's redis-adapter), else the ClusterAdapter protocol; ValueError for a protocol the
    backend cannot carry."""
    caps = backend.capabilities
    if caps.wire is not None or protocol in _DICTATED:
        return _dictated_family(backend, key, uid, protocol, subscription_mode, json_module)
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
            json_module=json_module,
        )
    return ClusterFamily(
        key, uid, subscription_mode=subscription_mode or "dynamic", json_module=json_module
    )


def _dictated_family(
    backend: Backend,
    key: str,
    uid: str,
    protocol: str | None,
    subscription_mode: str | None,
    json_module: Any,
) -> Family:
    """The family of a backend that dictates its wire dialect (only those carry it)."""
    wire = backend.capabilities.wire
    if wire is None:
        raise ValueError(
            f"protocol {protocol!r} is the wire dialect of its own backend "
            f"(postgresql:// URLs), not of {type(backend).__name__}"
        )
    if wire not in _DICTATED:
        raise ValueError(f"{type(backend).__name__} dictates an unknown wire dialect {wire!r}")
    if protocol not in (None, wire):
        raise ValueError(
            f"{type(backend).__name__} speaks the {wire!r} protocol only (Node's adapter for "
            f"that broker), not {protocol!r}"
        )
    if subscription_mode not in (None, "static"):
        raise ValueError(
            f"the {wire!r} protocol has one channel per namespace and no subscription modes, "
            f"not {subscription_mode!r}"
        )
    threshold = getattr(backend, "payload_threshold", MAX_PAYLOAD_THRESHOLD)
    return PostgresFamily(key, uid, json_module=json_module, payload_threshold=threshold)


def take_streams_options(
    protocol: str | None, options: dict[str, Any], signed: bool = False
) -> dict[str, Any] | None:
    """Take the streams protocol's options out of ``options`` (the backend's), with their
    defaults; None for another protocol. ValueError for a streams option given without
    ``protocol="streams"``, or for ``signed`` (signing keys) with it.
    ``use_sharded_pub_sub`` (Node's ``useShardedPubSub``) becomes the Redis backend's
    ``mode="sharded"``."""
    given = {name: options.pop(name) for name in list(options) if name in STREAMS_OPTIONS}
    if protocol != "streams":
        if given:
            names = ", ".join(f"{name}=" for name in sorted(given))
            raise ValueError(f"{names} applies to protocol='streams' only")
        return None
    if signed:
        raise ValueError(
            "signing_keys= does not apply to protocol='streams': its stream entries are Node's "
            "plain fields, which carry no signature"
        )
    chosen = {**STREAMS_OPTIONS, **given}
    if chosen.pop("use_sharded_pub_sub"):
        if options.get("mode", "sharded") != "sharded":
            raise ValueError("use_sharded_pub_sub=True and mode= disagree: pass one of them")
        options["mode"] = "sharded"
    return chosen


def make_streams_parts(
    backend: Backend, key: str, uid: str, options: dict[str, Any], json_module: Any = None
) -> tuple[Backend, Family]:
    """The streams protocol's backend and family (``options`` from `take_streams_options`):
    the Redis backend wrapped to carry stream entries, and `StreamsFamily`. ValueError for a
    backend that is not Redis, or bad option values."""
    from ..backends.redis import RedisBackend
    from ..backends.redis_streams import StreamsBackend
    from ..wire.streams import StreamsFamily

    if not isinstance(backend, RedisBackend):
        raise ValueError(
            "protocol='streams' needs Redis (Redis streams carry it): a redis://, rediss://, "
            f"redis+sentinel:// or redis+cluster:// URL or redis-py clients, not "
            f"{type(backend).__name__}"
        )
    family = StreamsFamily(
        key, uid, stream_name=options["stream_name"], stream_count=options["stream_count"],
        only_plaintext=bool(options["only_plaintext"]), json_module=json_module,
    )  # fmt: skip
    wrapped = StreamsBackend(
        backend, family.stream_of_channel, max_len=options["max_len"],
        read_count=options["read_count"], block_time_in_ms=options["block_time_in_ms"],
        settings=options,
    )  # fmt: skip
    return wrapped, family
