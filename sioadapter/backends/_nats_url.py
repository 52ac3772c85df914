"""NATS URLs, normalized once, in one place.

Accepted forms:

* ``nats://host[:port]`` (port 4222 by default; ``nats://`` alone is this host's 4222);
  ``tls://host[:port]`` speaks TLS;
* several servers, comma-separated: ``nats://h1:4222,h2:4223`` (each may repeat the scheme:
  ``nats://h1:4222,nats://h2:4223``); the client picks one and moves to another when it fails;
* ``nats://user:password@host`` (user and password) and ``nats://token@host`` (a token), as
  NATS clients read them; percent-encoded characters are decoded. The credentials apply to
  every server of the URL.

Query options: ``name`` (the connection name the server shows), ``connect_timeout`` (seconds),
``credentials`` (a ``.creds`` file path) and ``nkeys_seed`` (an NKey seed file path). An
unknown option is an error. Errors and descriptions never show a password or a token
(`sioadapter._redact`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .._redact import split_userinfo
from ._url_parts import host_port, parse_query, url_error

__all__ = ["DEFAULT_PORT", "SCHEMES", "NatsSpec", "parse_nats_url"]

SCHEMES = ("nats", "tls")
DEFAULT_PORT = 4222
QUERY_OPTIONS: dict[str, Any] = {
    "name": str,
    "connect_timeout": float,
    "credentials": str,
    "nkeys_seed": str,
}


@dataclass(frozen=True)
class NatsSpec:
    """A parsed NATS URL: ``servers`` (``nats://host:port`` or ``tls://host:port``, without
    credentials), the credentials, and the query ``options``."""

    servers: list[str]
    tls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def redacted(self) -> str:
        """A description safe to log: the servers, never a credential."""
        auth = " (user)" if self.user else " (token)" if self.token else ""
        return f"nats{'+tls' if self.tls else ''} {','.join(self.servers)}{auth}"


def parse_nats_url(url: str) -> NatsSpec:
    """Parse a ``nats://`` or ``tls://`` URL (see the module docstring); ValueError with the
    URL redacted when it is malformed."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise url_error(f"a NATS URL starts with {' or '.join(s + '://' for s in SCHEMES)}", url)
    userinfo, remainder = split_userinfo(rest)
    where, _, query = remainder.partition("?")
    where = where.partition("#")[0].rstrip("/") or "localhost"  # nats:// alone: this host
    user = password = token = None
    if userinfo is not None:
        name, colon, secret = userinfo.partition(":")
        if colon:
            user, password = unquote(name), unquote(secret)
        else:
            token = unquote(name)
    tls = scheme == "tls"
    addresses: list[str] = []
    for raw in where.split(","):
        item = raw.strip()
        prefix, has_scheme, tail = item.partition("://")
        if has_scheme:
            if prefix.lower() not in SCHEMES:
                raise url_error("every server of a NATS URL is nats:// or tls://", url)
            tls = tls or prefix.lower() == "tls"  # one TLS server: TLS for all
            item = tail
        if "@" in item or "/" in item:
            raise url_error("credentials go before the first server only, and no path", url)
        host, port = host_port(
            item, DEFAULT_PORT, url, family="NATS", role="server", default_host=None
        )
        addresses.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    servers = [f"{'tls' if tls else 'nats'}://{address}" for address in addresses]
    options, _ = parse_query(query, QUERY_OPTIONS, url, family="NATS")
    return NatsSpec(servers, tls, user, password, token, options)
