"""Channel names to NATS subjects and back: an injective, reversible mapping.

A wire family's channel names (``socket.io#/#``, ``socket.io#/chat#room 1#``, ...) may hold any
character, a room name's included; a NATS subject is tokens separated by ``.``, where a token
must not be empty nor hold whitespace, and ``*`` and ``>`` are wildcards. The mapping:

* the channel is split on ``#``; each part becomes one subject token, and the tokens are joined
  with ``.`` (so ``#`` maps to ``.``, and the subjects of one key share their first token:
  permissions can grant ``socket_2Eio.>``);
* in a part, ASCII letters, digits and ``-`` stay; every other character, ``_`` included,
  becomes ``_`` and two upper-case hex digits per byte of its UTF-8 form (``.`` -> ``_2E``,
  ``/`` -> ``_2F``, a space -> ``_20``);
* an empty part becomes ``_`` alone (a one-character token no other part maps to).

So ``socket.io#/#`` is ``socket_2Eio._2F._`` and ``socket.io#/#room 1#`` is
``socket_2Eio._2F.room_201._``. Subjects hold only ``[A-Za-z0-9_.-]``: nothing NATS treats
specially, no ``$`` (reserved for the system). Decoding reverses it exactly; lone surrogates
(which JSON can carry in a room name) survive through ``surrogatepass``.
"""

from __future__ import annotations

import string
from typing import Final

__all__ = ["channel_to_subject", "pub_prefix", "subject_to_channel"]

_KEPT = frozenset(string.ascii_letters + string.digits + "-")
_EMPTY = "_"
_HEX = frozenset("0123456789ABCDEFabcdef")


def _encode_part(part: str) -> str:
    if not part:
        return _EMPTY
    if all(char in _KEPT for char in part):  # the common case: nothing to escape
        return part
    out: list[str] = []
    for char in part:
        if char in _KEPT:
            out.append(char)
        else:
            out.extend(f"_{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


# Every publish maps its channel: the few channels a node uses (its namespaces' and rooms')
# are remembered. Bounded, since room names are arbitrary: emptied when full (re-filling costs
# one mapping per channel in use, no eviction bookkeeping per hit).
_CACHE_LIMIT: Final = 4096
_subjects: dict[str, str] = {}


def _map_channel(channel: str) -> str:
    return ".".join(_encode_part(part) for part in channel.split("#"))


def channel_to_subject(channel: str) -> str:
    """The NATS subject ``channel`` is published and subscribed on."""
    subject = _subjects.get(channel)
    if subject is None:
        subject = _map_channel(channel)
        if len(_subjects) >= _CACHE_LIMIT:
            _subjects.clear()
        _subjects[channel] = subject
    return subject


_prefixes: dict[str, bytes] = {}


def pub_prefix(channel: str) -> bytes:
    """``PUB <subject> ``: the start of the protocol command that publishes on ``channel``
    (its payload's size, CRLF, the payload and CRLF follow). Remembered as subjects are."""
    prefix = _prefixes.get(channel)
    if prefix is None:
        prefix = b"PUB " + channel_to_subject(channel).encode("ascii") + b" "
        if len(_prefixes) >= _CACHE_LIMIT:
            _prefixes.clear()
        _prefixes[channel] = prefix
    return prefix


def _decode_part(token: str) -> str:
    if token == _EMPTY:
        return ""
    if "_" not in token:
        if not token or not all(char in _KEPT for char in token):
            raise ValueError(f"not a subject token of ours: {token!r}")
        return token
    data = bytearray()
    i = 0
    while i < len(token):
        char = token[i]
        if char == "_":
            pair = token[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise ValueError(f"bad escape in subject token {token!r}")
            data.append(int(pair, 16))
            i += 3
        elif char in _KEPT:
            data.append(ord(char))
            i += 1
        else:
            raise ValueError(f"not a subject token of ours: {token!r}")
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise ValueError(f"bad UTF-8 in subject token {token!r}") from None


def subject_to_channel(subject: str) -> str:
    """The channel name ``subject`` came from; ValueError for a subject no channel maps to."""
    return "#".join(_decode_part(token) for token in subject.split("."))
