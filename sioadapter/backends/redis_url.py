"""Redis URLs, normalized once, in one place.

Accepted forms (``valkey`` may replace ``redis`` in every scheme):

* ``redis://[user:password@]host[:port][/db]`` and ``rediss://`` (TLS);
* ``unix:///path/to/redis.sock[?db=N]``;
* ``redis+sentinel://[user:password@]host:port[,host:port...]/db/service_name``, exactly the
  form python-socketio's Redis managers parse (the service name defaults to ``socketio``, as
  there); ``rediss+sentinel://`` speaks TLS to the master;
* ``redis+cluster://[user:password@]host:port[,host:port...]`` (startup nodes; the rest of the
  cluster is discovered), and ``rediss+cluster://``;
* a bare ``host:port`` means ``redis://host:port``; ``redis://`` (no host) means
  ``redis://localhost:6379/0``, as in python-socketio.

Query options: redis-py's connection options (``socket_timeout``, ``socket_connect_timeout``,
``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs``, ``ssl_check_hostname``,
``client_name`` ...) and sioadapter's own: ``mode`` (``classic`` or ``sharded``) and
``health_check_interval`` (seconds between PINGs on a silent subscriber connection). An unknown
option is an error, not silently ignored.

Errors and reprs never show a secret: a malformed URL raises a ValueError that quotes the URL
with its password and secret options replaced by ``***`` (`sioadapter._redact.redact_url`,
which also says where the credentials of a URL end: a ``/`` or ``@`` in a password needs no
percent-encoding, a ``?``, ``#`` or ``&`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from .._redact import REDACTED, is_secret_option, redact_url, split_userinfo

__all__ = [
    "SCHEMES",
    "RedisSpec",
    "parse_redis_url",
]

Topology = Literal["standalone", "sentinel", "cluster"]

_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False,
         "no": False, "off": False}  # fmt: skip


def _to_bool(value: str) -> bool:
    try:
        return _BOOL[value.lower()]
    except KeyError:
        raise ValueError(f"{value!r} is not a boolean") from None


# Connection options accepted in the query string, with their parsers.
CONNECTION_OPTIONS: dict[str, Any] = {
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "socket_keepalive": _to_bool,
    "retry_on_timeout": _to_bool,
    "max_connections": int,
    "client_name": str,
    "protocol": int,
    "ssl_ca_certs": str,
    "ssl_ca_path": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_password": str,
    "ssl_cert_reqs": str,
    "ssl_check_hostname": _to_bool,
    "ssl_min_version": int,
}
# sioadapter's own options.
BACKEND_OPTIONS: dict[str, Any] = {"mode": str, "health_check_interval": float}

_SCHEMES: dict[str, tuple[Topology, bool]] = {}
for _family in ("redis", "valkey"):
    _SCHEMES[_family] = ("standalone", False)
    _SCHEMES[f"{_family}s"] = ("standalone", True)
    _SCHEMES[f"{_family}+sentinel"] = ("sentinel", False)
    _SCHEMES[f"{_family}s+sentinel"] = ("sentinel", True)
    _SCHEMES[f"{_family}+cluster"] = ("cluster", False)
    _SCHEMES[f"{_family}s+cluster"] = ("cluster", True)
_SCHEMES["unix"] = ("standalone", False)
_SCHEMES["valkey+unix"] = ("standalone", False)

SCHEMES = tuple(_SCHEMES)
"""Every URL scheme the Redis backend handles (its entry points)."""


@dataclass(slots=True, repr=False)
class RedisSpec:
    """Where and how to connect, whatever the URL form.

    Attributes:
        topology: standalone (one server, TLS or unix socket included), sentinel or cluster.
        hosts: (host, port) of the server, the sentinels or the cluster startup nodes; empty
            for a unix socket.
        unix_path: the socket path for ``unix://`` URLs.
        tls: connect with TLS.
        db: the database number (pub/sub ignores it, but redis-py selects it).
        service_name: the Sentinel master name.
        connection: keyword arguments for redis-py connections (credentials, timeouts, TLS
            files).
        backend: sioadapter's own options found in the URL (``mode``,
            ``health_check_interval``).

    Its repr shows ``***`` for the password and every other secret connection option.
    """

    topology: Topology
    hosts: list[tuple[str, int]] = field(default_factory=list)
    unix_path: str | None = None
    tls: bool = False
    db: int = 0
    service_name: str | None = None
    connection: dict[str, Any] = field(default_factory=dict)
    backend: dict[str, Any] = field(default_factory=dict)

    def redacted(self) -> str:
        """A description safe to log (no password)."""
        where = self.unix_path or ",".join(f"{h}:{p}" for h, p in self.hosts)
        return f"{self.topology}{'+tls' if self.tls else ''} {where}"

    def __repr__(self) -> str:
        shown = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "connection":
                value = {k: REDACTED if is_secret_option(k) else v for k, v in value.items()}
            shown.append(f"{item.name}={value!r}")
        return f"RedisSpec({', '.join(shown)})"


def _error(reason: str, url: str) -> ValueError:
    """A parse error naming the URL, its secrets redacted."""
    return ValueError(f"{reason} in Redis URL {redact_url(url)!r}")


def _host_port(text: str, url: str) -> tuple[str, int]:
    text = text.strip()
    if not text:
        raise _error("empty host", url)
    if text.startswith("["):  # [ipv6]:port
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":") or "6379"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, "6379"
    try:
        port = int(port_text)
    except ValueError:
        raise _error(f"bad port {port_text!r}", url) from None
    if not 0 < port < 65536:
        raise _error(f"port {port} out of range", url)
    return host, port


def parse_redis_url(url: str) -> RedisSpec:
    """Parse any accepted Redis URL (see the module docstring).

    Raises:
        ValueError: the URL is malformed; its message quotes the URL, secrets redacted.
    """
    if "://" not in url:
        url = f"redis://{url}"
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"not a Redis URL scheme: {scheme!r} (known: {', '.join(SCHEMES)})")
    topology, tls = _SCHEMES[scheme]
    # Credentials end where the redactor says they do (see sioadapter._redact), so that what
    # is taken for a password is exactly what error messages hide.
    credentials, after = split_userinfo(rest)
    try:
        parts = urlsplit(f"x://{after}")
    except ValueError as error:  # e.g. an unclosed "[" of an IPv6 address
        raise _error(f"malformed ({error})", url) from None
    # urlsplit cannot take "host1:1,host2:2" as a netloc port, so split by hand.
    hosts_text = after.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    spec = RedisSpec(topology, tls=tls)
    if credentials:
        user, has_password, password = credentials.partition(":")
        if user:
            spec.connection["username"] = unquote(user)
        if has_password and password:
            spec.connection["password"] = unquote(password)
    path = parts.path
    if scheme in ("unix", "valkey+unix"):
        if not path:
            raise ValueError(f"unix:// URL without a socket path: {redact_url(url)!r}")
        spec.unix_path = unquote(path)
    else:
        if not hosts_text.strip() and topology == "standalone":
            # "redis://" alone means the local default server, as in python-socketio and
            # redis-py.
            hosts_text = "localhost"
        spec.hosts = [_host_port(h, url) for h in hosts_text.split(",")]
        if topology == "standalone" and len(spec.hosts) != 1:
            count = len(spec.hosts)
            raise ValueError(
                f"a {scheme}:// URL names one server, not {count}: {redact_url(url)!r}"
            )
        segments = [s for s in path.split("/") if s]
        if segments:
            try:
                spec.db = int(segments[0])
            except ValueError:
                raise _error(f"bad database number {segments[0]!r}", url) from None
        if topology == "sentinel":
            spec.service_name = segments[1] if len(segments) > 1 else "socketio"
        elif len(segments) > 1:
            raise _error(f"unexpected path {path!r}", url)
    _apply_query(spec, parts.query, url)
    return spec


def _apply_query(spec: RedisSpec, query: str, url: str) -> None:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "db":
            try:
                spec.db = int(value)
            except ValueError:
                raise _error(f"bad database number {value!r}", url) from None
            continue
        if name in ("password", "username"):
            spec.connection[name] = value
            continue
        parser = CONNECTION_OPTIONS.get(name)
        target = spec.connection
        if parser is None:
            parser, target = BACKEND_OPTIONS.get(name), spec.backend
        if parser is None:
            known = sorted([*CONNECTION_OPTIONS, *BACKEND_OPTIONS, "db"])
            raise ValueError(
                f"unknown option {name!r} in Redis URL {redact_url(url)!r}; "
                f"known: {', '.join(known)}"
            )
        try:
            target[name] = parser(value)
        except ValueError as error:
            # The parser's message quotes the value: not for a secret option.
            why = REDACTED if is_secret_option(name) else str(error)
            raise _error(f"bad value for {name!r} ({why})", url) from None
