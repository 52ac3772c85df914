"""Secrets out of text: the one place that decides what of a URL may be shown.

Every exception message, log line, repr and CLI line that names a backend URL shows
:func:`redact_url` of it, never the URL itself. What is hidden (replaced with ``***``):

* the userinfo's password: ``redis://alice:pw@h`` -> ``redis://alice:***@h``, and
  ``redis://:pw@h`` -> ``redis://:***@h``. The user name before the first ``:`` stays, as the
  URL spells it (percent-encoded or not).
* a userinfo without ``:`` as a whole: ``nats://tok@h`` -> ``nats://***@h``. NATS reads it as
  a token; Redis as a user name, which costs little to hide, so every scheme gets the same
  rule.
* the value of every query option whose name (case-insensitive) contains ``password``,
  ``passwd``, ``pwd``, ``token``, ``secret``, ``key``, ``credential`` or ``auth``, except names
  ending in ``file``, ``path`` or ``dir``, which name files, not secrets (``ssl_keyfile``
  stays, ``ssl_password`` goes). See :func:`is_secret_option`.

Where the userinfo ends: at the last ``@`` before the first ``?`` or ``#``, so that ``/``, ``@``
and ``:`` in a password that was not percent-encoded (base64 passwords have ``/``) stay inside
it; and when there is no ``@`` there, at an ``@`` after the first ``?`` or ``#`` if no ``=`` or
``&`` comes before it (the ``?`` or ``#`` was then part of a password, not a query). A URL whose
authority is empty (``unix:///path``) has no userinfo. The Redis URL parser splits URLs with
the same function (:func:`split_userinfo`), so what it takes for credentials is exactly what
is hidden here. A password holding ``?`` or ``#`` followed by ``=`` or ``&`` before its ``@``
cannot be told from a query: percent-encode those characters, as URLs require.

The functions here never raise, whatever they are given: a redactor that failed would hide the
error being reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

REDACTED = "***"
"""What replaces a secret."""

_SECRET_WORDS = ("password", "passwd", "pwd", "token", "secret", "key", "credential", "auth")
_FILE_SUFFIXES = ("file", "path", "dir")
# name=value in a query, split as urllib's parse_qsl splits it (on "&" only); a value runs
# to the next "&", past a "#", so that no part of a secret is left out of the mask.
_OPTION = re.compile(r"(^|[?&#])([^=&#?]*)=([^&]*)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")
MIN_SCRUBBED = 3
"""Secrets shorter than this are not searched for in free text by :func:`scrub` (they would
match everywhere and garble the message); URLs still have them hidden by :func:`redact_url`."""


def is_secret_option(name: str) -> bool:
    """True if a URL query option named ``name`` holds a secret (see the module docstring)."""
    lowered = unquote(name).strip().lower()
    if lowered.endswith(_FILE_SUFFIXES):
        return False
    return any(word in lowered for word in _SECRET_WORDS)


def split_userinfo(rest: str) -> tuple[str | None, str]:
    """``(userinfo, remainder)`` of what follows ``scheme://``; userinfo ``None`` if absent.

    ``remainder`` is the text after the userinfo's ``@`` (hosts, path, query), or all of
    ``rest`` when there is no userinfo. See the module docstring for where the userinfo ends.
    """
    if rest.startswith("/"):
        return None, rest
    end = _query_start(rest, 0)
    at = rest.rfind("@", 0, end)
    if at < 0 and end < len(rest):
        first = rest.find("@", end)
        if first >= 0 and not set(rest[end + 1 : first]) & {"=", "&"}:
            at = rest.rfind("@", 0, _query_start(rest, first))
    if at < 0:
        return None, rest
    return rest[:at], rest[at + 1 :]


def _query_start(text: str, start: int) -> int:
    """Index of the first ``?`` or ``#`` at or after ``start``; ``len(text)`` if none."""
    found = [i for i in (text.find("?", start), text.find("#", start)) if i >= 0]
    return min(found, default=len(text))


def _parts(url: object) -> tuple[str, str | None, str, str]:
    """(``scheme://`` or ``""``, userinfo, hosts and path, ``?query#fragment``)."""
    text = url if isinstance(url, str) else str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:  # a bare "host:port" (or "user:pw@host:port") form
        scheme, rest = "", text
    userinfo, remainder = split_userinfo(rest)
    tail = _query_start(remainder, 0)
    return scheme + sep, userinfo, remainder[:tail], remainder[tail:]


def redact_url(url: object) -> str:
    """``url`` with its password, token and secret query values replaced by ``***``.

    Accepts anything (non-strings are converted with ``str``) and never raises; text that is
    not a URL comes back unchanged, or as ``***`` if even that cannot be done safely.
    """
    try:
        prefix, userinfo, where, query = _parts(url)
        if userinfo is not None:
            user, colon, _ = userinfo.partition(":")
            prefix += f"{user}:{REDACTED}@" if colon else f"{REDACTED}@"
        return prefix + where + _OPTION.sub(_mask_option, query)
    except Exception:  # never raise (see the docstring)
        return REDACTED


def _mask_option(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    if is_secret_option(name) and value:
        value = REDACTED
    return f"{separator}{name}={value}"


def url_secrets(url: object) -> list[str]:
    """The secret strings of ``url`` (as written and percent-decoded), longest first.

    For :func:`scrub`: text from elsewhere (a client library's error) may quote them.
    """
    try:
        _, userinfo, _, query = _parts(url)
        found = set(_secret_values(userinfo, query))
    except Exception:  # never raise
        return []
    found |= {unquote(value) for value in found}
    return sorted((value for value in found if value), key=len, reverse=True)


def _secret_values(userinfo: str | None, query: str) -> Iterator[str]:
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        yield password if colon else user
    for _, name, value in _OPTION.findall(query):
        if is_secret_option(name):
            yield value


def redact_text(text: str) -> str:
    """``text`` with every ``scheme://...`` in it passed through :func:`redact_url`."""
    try:
        return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    except Exception:  # never raise
        return REDACTED


def scrub(text: str, url: object = None) -> str:
    """``text`` safe to show: URLs in it redacted, and every secret of ``url`` (see
    :func:`url_secrets`) at least :data:`MIN_SCRUBBED` characters long replaced by ``***``.

    The last line of defence for messages sioadapter did not write (client libraries,
    third-party backends); sioadapter's own messages hold redacted URLs already.
    """
    cleaned = redact_text(text)
    if url is not None:
        for secret in url_secrets(url):
            if len(secret) >= MIN_SCRUBBED:
                cleaned = cleaned.replace(secret, REDACTED)
    return cleaned
