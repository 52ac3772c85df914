"""PostgreSQL URLs and the backend's options, checked once, in one place.

Accepted forms: ``postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]`` and
the same with ``postgres://``, as libpq reads them (several hosts ``h1:5432,h2:5432``, a Unix
socket directory as ``?host=/run/postgresql`` or a percent-encoded host, ``sslmode=`` and the
other libpq parameters). libpq's defaults and environment variables (``PGHOST``,
``PGPASSWORD``...) fill in what the URL leaves out.

Query options that are the backend's own, not libpq's, are taken out before libpq sees the URL:
``table_name``, ``payload_threshold``, ``cleanup_interval``, ``create_table``,
``attachment_timeout`` (seconds) and ``connect_timeout`` (seconds; libpq's own whole-second
``connect_timeout`` is replaced by it).
Errors and descriptions never show a password (`sioadapter._redact`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .._redact import redact_url, scrub, split_userinfo
from ..wire.postgres import MAX_PAYLOAD_THRESHOLD
from ._url_parts import parse_query, url_error

__all__ = [
    "DEFAULT_TABLE",
    "SCHEMES",
    "PgSpec",
    "check_options",
    "check_table_name",
    "parse_pg_url",
]

SCHEMES = ("postgresql", "postgres")
DEFAULT_TABLE = "socket_io_attachments"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# An unquoted SQL name, or schema.name: interpolated as Node's adapter does (lower-cased by the
# server), so the same tableName names the same table from Node and from here.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


QUERY_OPTIONS: dict[str, Any] = {
    "table_name": str,
    "payload_threshold": int,
    "cleanup_interval": float,
    "create_table": _boolean,
    "connect_timeout": float,
    "attachment_timeout": float,
}


@dataclass(frozen=True)
class PgSpec:
    """A parsed URL: ``conninfo`` for libpq (the URL without the backend's own options,
    password included: never show it) and the backend ``options`` from the query."""

    conninfo: str = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def redacted(self) -> str:
        """A description safe to log: the URL with its password hidden."""
        return f"postgresql {redact_url(self.conninfo)}"


def check_table_name(name: Any) -> str:
    """``name`` if it is a plain SQL name or ``schema.name``; ValueError otherwise."""
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise ValueError(
            f"table_name must be an SQL name or schema.name (letters, digits, '_'), not {name!r}"
        )
    return name


def check_options(
    payload_threshold: Any,
    cleanup_interval: Any,
    connect_timeout: Any,
    timeout: Any,
    attachment_timeout: Any = 5.0,
) -> None:
    """ValueError for a threshold outside 1..8000 or a duration that is not positive."""
    if (
        isinstance(payload_threshold, bool)
        or not isinstance(payload_threshold, int)
        or not 0 < payload_threshold <= MAX_PAYLOAD_THRESHOLD
    ):
        raise ValueError(
            f"payload_threshold must be an int from 1 to {MAX_PAYLOAD_THRESHOLD} (PostgreSQL "
            f"refuses NOTIFY payloads of {MAX_PAYLOAD_THRESHOLD} bytes or more), "
            f"not {payload_threshold!r}"
        )
    for name, value in (("cleanup_interval", cleanup_interval),
                        ("connect_timeout", connect_timeout), ("timeout", timeout),
                        ("attachment_timeout", attachment_timeout)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


def parse_pg_url(url: str) -> PgSpec:
    """Split ``url`` (see the module docstring) into libpq's conninfo and the backend's options;
    ValueError, with the URL redacted, when it is malformed."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise url_error("a PostgreSQL URL starts with postgresql:// or postgres://", url)
    # The query starts at the first "?" after the userinfo (split as the redactor splits it).
    _, remainder = split_userinfo(url[len(scheme) + 3 :])
    where, _, query_text = remainder.partition("?")
    query_text = query_text.partition("#")[0]
    # libpq knows the schemes in lower case only.
    head = scheme.lower() + url[len(scheme) : len(url) - len(remainder)] + where.partition("#")[0]
    options, libpq = parse_query(
        query_text, QUERY_OPTIONS, url, family="PostgreSQL", keep_unknown=True
    )
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='/')}" for k, v in libpq)
    conninfo = f"{head}?{query}" if query else head
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # pragma: no cover (the [postgres] extra is installed in the tests)
        pass
    else:
        try:
            conninfo_to_dict(conninfo)  # libpq's own parser: unknown parameters, bad syntax
        except Exception as error:
            why = scrub(str(error).strip(), url)
            raise url_error(f"libpq refuses the URL ({why})", url) from None
    return PgSpec(conninfo, options)
