"""The MSG reader in front of nats-py's parser (backends/_nats_private): same operations, same
order, whatever the chunking."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("nats")
from nats.aio.client import Client

from sioadapter.backends._nats_private import intercept_messages

STREAM = (
    b"MSG a.b 1 5\r\nhello\r\n"
    b"PING\r\n"
    b"MSG other 9 3\r\nabc\r\n"
    b"MSG a.b 1 inbox.x 2\r\nhi\r\n"
    b"HMSG a.b 1 12 14\r\nNATS/1.0\r\n\r\nxy\r\n"
    b"MSG a.b 1 0\r\n\r\n"
    b"PONG\r\n"
    b"MSG  a.b   1  3\r\nodd\r\n"
    b"MSG a.b 1 4\r\nlast\r\n"
)
EXPECTED = [
    ("ours", b"hello"),
    ("ping",),
    ("theirs", 9, b"abc"),
    ("ours", b"hi"),
    ("ours", b"xy"),
    ("ours", b""),
    ("pong",),
    ("ours", b"odd"),
    ("ours", b"last"),
]


def _client(events: list[Any]) -> Any:
    client = Client()

    async def ping() -> None:
        events.append(("ping",))

    async def pong() -> None:
        events.append(("pong",))

    async def original(sid: int, subject: bytes, reply: bytes, data: bytes, hdr: Any) -> None:
        events.append(("theirs", sid, data))

    client._process_ping = ping  # type: ignore[method-assign]
    client._process_pong = pong  # type: ignore[method-assign]
    client._process_msg = original  # type: ignore[method-assign]

    def taker(sid: int, payload: bytes) -> bool:
        if sid != 1:
            return False
        events.append(("ours", payload))
        return True

    intercept_messages(client, taker)
    return client


@pytest.mark.parametrize("step", [len(STREAM), 1, 2, 3, 7, 13, 32])
def test_every_operation_in_order_whatever_the_chunks(step: int) -> None:
    events: list[Any] = []
    client = _client(events)

    async def feed() -> None:
        for i in range(0, len(STREAM), step):
            await client._ps.parse(STREAM[i : i + step])

    asyncio.run(feed())
    assert events == EXPECTED
    assert not client._ps.buf
    assert client.stats["in_msgs"] == 6  # ours; nats-py's handler counts its own
    assert client.stats["in_bytes"] == 5 + 2 + 2 + 0 + 3 + 4


def test_a_malformed_line_is_nats_pys_to_refuse() -> None:
    import nats.errors

    client = _client([])
    with pytest.raises(nats.errors.ProtocolError):
        asyncio.run(client._ps.parse(b"BOGUS\r\n"))
