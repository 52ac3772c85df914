"""Channel names to RabbitMQ exchange names and routing keys.

A wire family's channels are ``key#nsp#...`` (``socket.io#/#``, ``socket.io#/#room 1#``). The
backend publishes a channel's messages to a **direct** exchange named after the key
(``exchange_prefix`` + the channel up to its first ``#``: ``sioadapter.socket.io``), with the
whole channel as the routing key. A direct exchange matches routing keys exactly: ``.``, ``*``
and ``#``, which a topic exchange would read as separators and wildcards, mean nothing there,
so a channel needs no escaping.

AMQP limits exchange names and routing keys to 255 bytes of UTF-8. A longer name (a room name
of hundreds of characters) is replaced by its first bytes, ``~`` and the SHA-256 of the whole
in hex (255 bytes in all): distinct names stay distinct, and a node, which receives only
routing keys it bound, maps a shortened key back to its channel through its bindings.
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_NAME", "exchange_name", "routing_key"]

MAX_NAME = 255
"""Bytes of UTF-8 AMQP allows in an exchange name and a routing key (a short string)."""
_DIGEST = 64  # hex characters of a SHA-256


def _fit(name: str) -> str:
    data = name.encode("utf-8", "surrogatepass")
    if len(data) <= MAX_NAME and data.decode("utf-8", "ignore") == name:
        return name
    # Cut at a character boundary; lone surrogates (a JSON room name may hold one) cannot
    # travel as AMQP text, so such a name is always the shortened form.
    head = data[: MAX_NAME - _DIGEST - 1].decode("utf-8", "ignore")
    digest = hashlib.sha256(data).hexdigest()
    return f"{head}~{digest}"


def exchange_name(channel: str, prefix: str) -> str:
    """The exchange ``channel`` is published to: ``prefix`` + its key (up to the first ``#``)."""
    return _fit(prefix + channel.partition("#")[0])


def routing_key(channel: str) -> str:
    """The routing key ``channel`` is published and bound with: the channel itself, shortened
    past 255 bytes (see the module docstring)."""
    return _fit(channel)
