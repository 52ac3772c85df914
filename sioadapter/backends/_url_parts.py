"""The pieces every backend URL parser shares: the error, a ``host[:port]`` item, the query.

Contract, for the NATS, AMQP and PostgreSQL parsers (``_nats_url``, ``_amqp_url``,
``_pg_url``):

* :func:`url_error` is the one way a parser reports a malformed URL: a ``ValueError`` reading
  ``"<reason>: '<url>'"`` where the URL is `sioadapter._redact.redact_url` of it, so no password,
  token or secret option can reach the message. ``reason`` must hold no part of the URL that
  could be a secret (a port, an option name, a fixed text are fine).
* :func:`host_port` reads one ``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` item (the
  hosts part of a URL, split on ``,`` by the caller): a port is 1 to 65535 in decimal
  digits; an empty host is ``default_host``, or an error when that is ``None``.
* :func:`parse_query` reads the query with `urllib.parse.parse_qsl` (blank values kept),
  converts each option named in ``known`` with its converter (a converter's ``ValueError``
  becomes "bad value for <family> URL option '<name>'", the value never shown) and, in
  order, either refuses the first unknown name (``keep_unknown=False``, the message lists the
  known ones) or hands the unknown pairs back untouched for the caller's client library.

The messages name the family (``"NATS"``, ``"AMQP"``, ``"PostgreSQL"``) and what a host is
called there (``"server"``, ``"broker"``), as the parsers always did. The Redis parser
(``redis_url``) keeps its own: its messages read "... in Redis URL ..." and it reads a bare
``::1`` as a host, as python-socketio's Redis managers do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .._redact import redact_url

__all__ = ["host_port", "parse_query", "url_error"]


def url_error(reason: str, url: str) -> ValueError:
    """A ``ValueError`` for a malformed ``url``: ``reason``, then the URL redacted."""
    return ValueError(f"{reason}: {redact_url(url)!r}")


def host_port(
    item: str,
    default_port: int,
    url: str,
    *,
    family: str,
    role: str,
    default_host: str | None,
) -> tuple[str, int]:
    """``(host, port)`` of one address ``item`` of ``url`` (see the module docstring)."""
    article = "an" if family[:1] in "AEIOU" else "a"
    if item.startswith("["):  # [::1]:port
        end = item.find("]")
        if end < 0:
            raise url_error(f"unclosed '[' in {article} {family} {role} address", url)
        host, rest = item[1:end], item[end + 1 :]
        if rest and not rest.startswith(":"):
            raise url_error(f"bad {family} {role} address", url)
        port_text = rest[1:]
    else:
        host, _, port_text = item.partition(":")
    if not host:
        if default_host is None:
            raise url_error(f"{article} {family} {role} address needs a host", url)
        host = default_host
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise url_error(f"bad port in {article} {family} URL", url)
    return host, int(port_text)


def parse_query(
    query: str,
    known: Mapping[str, Callable[[str], Any]],
    url: str,
    *,
    family: str,
    keep_unknown: bool = False,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """``(options, unknown pairs)`` of ``query`` (see the module docstring); the second is
    always empty unless ``keep_unknown``."""
    options: dict[str, Any] = {}
    unknown: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        parse = known.get(key)
        if parse is None:
            if keep_unknown:
                unknown.append((key, value))
                continue
            names = ", ".join(sorted(known))
            raise url_error(f"unknown {family} URL option {key!r} (known: {names})", url)
        try:
            options[key] = parse(value)
        except ValueError:
            raise url_error(f"bad value for {family} URL option {key!r}", url) from None
    return options, unknown
