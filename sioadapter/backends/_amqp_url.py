"""AMQP (RabbitMQ) URLs, normalized once, in one place.

Accepted forms, as RabbitMQ's URI spec reads them:

* ``amqp://host[:port][/vhost]`` (port 5672 by default; ``amqps://`` speaks TLS, port 5671
  by default); ``amqp://`` alone is this host's 5672 and the default virtual host ``/``;
* ``amqp://user:password@host/vhost``; percent-encoded characters of the user, the password
  and the virtual host are decoded (the virtual host ``/`` is spelled ``%2F``:
  ``amqp://h/%2F``; no path, or ``/`` alone, also means ``/``). Without credentials the
  broker's default ``guest``/``guest`` applies (which RabbitMQ accepts on loopback only).

Query options: ``name`` (the connection name the management UI shows), ``heartbeat``
(seconds, the AMQP heartbeat the client proposes), ``connect_timeout`` (seconds) and
``exchange_prefix`` (see the backend). An unknown option is an error. Errors and descriptions
never show a password (`sioadapter._redact`). ``connect_options`` turns the backend's options
into ``aio_pika.connect_robust`` keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .._redact import split_userinfo
from ._url_parts import host_port, parse_query, url_error

__all__ = ["SCHEMES", "AmqpSpec", "connect_options", "parse_amqp_url"]

SCHEMES = ("amqp", "amqps")
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
QUERY_OPTIONS: dict[str, Any] = {
    "name": str,
    "heartbeat": int,
    "connect_timeout": float,
    "exchange_prefix": str,
}


@dataclass(frozen=True)
class AmqpSpec:
    """A parsed AMQP URL: where the broker is, the credentials, and the query ``options``."""

    host: str = "localhost"
    port: int = 5672
    virtualhost: str = "/"
    tls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def redacted(self) -> str:
        """A description safe to log: the broker and virtual host, never the password."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        who = f"{self.user}@" if self.user else ""
        return f"{'amqps' if self.tls else 'amqp'} {who}{host}:{self.port} vhost {self.virtualhost}"


def parse_amqp_url(url: str) -> AmqpSpec:
    """Parse an ``amqp://`` or ``amqps://`` URL (see the module docstring); ValueError with
    the URL redacted when it is malformed."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise url_error("an AMQP URL starts with amqp:// or amqps://", url)
    userinfo, remainder = split_userinfo(rest)
    remainder, _, query = remainder.partition("?")
    remainder = remainder.partition("#")[0]
    where, slash, path = remainder.partition("/")
    if "," in where:
        raise url_error("an AMQP URL names one broker (RabbitMQ clusters sit behind one name)", url)
    host, port = host_port(
        where, DEFAULT_PORTS[scheme], url, family="AMQP", role="broker", default_host="localhost"
    )
    if "/" in path:
        raise url_error("an AMQP virtual host is one path segment (spell '/' as %2F)", url)
    virtualhost = unquote(path) if slash and path else "/"
    user = password = None
    if userinfo is not None:
        name, colon, secret = userinfo.partition(":")
        user = unquote(name)
        password = unquote(secret) if colon else None
    options, _ = parse_query(query, QUERY_OPTIONS, url, family="AMQP")
    return AmqpSpec(host, port, virtualhost, scheme == "amqps", user, password, options)


def connect_options(
    host: str,
    port: int,
    virtualhost: str,
    user: str | None,
    password: str | None,
    tls: bool,
    ssl_context: Any,
    name: str | None,
    heartbeat: int,
    connect_timeout: float,
    reconnect_interval: float,
    more: dict[str, Any] | None,
) -> dict[str, Any]:
    """Keyword arguments for ``aio_pika.connect_robust``; ``more`` wins. Without credentials,
    RabbitMQ's default ``guest``/``guest``."""
    return {
        "host": host,
        "port": port,
        "virtualhost": virtualhost,
        "login": user if user is not None else "guest",
        "password": password if password is not None else "guest",
        "ssl": tls,
        "ssl_context": ssl_context,
        "timeout": connect_timeout,
        "heartbeat": heartbeat,
        "reconnect_interval": reconnect_interval,
        "client_properties": {"connection_name": name or "sioadapter"},
        **(more or {}),
    }
