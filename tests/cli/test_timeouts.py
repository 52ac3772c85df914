"""A command that times out says what timed out: which server, waiting for what.

``describe`` and ``as_cli_error`` are the one place the commands turn errors into their
error line; the monitor's subscriber waits for Redis to confirm its subscriptions, here
against a real TCP server that answers everything but never confirms a subscription.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError

from sioadapter.cli import _subscriber
from sioadapter.cli._common import as_cli_error
from sioadapter.errors import RequestTimeoutError

pytestmark = pytest.mark.timeout(30)

URL = "redis://alice:S3cretPW@127.0.0.1:6390/0"


@pytest.mark.parametrize(
    "error", [asyncio.TimeoutError(), RedisTimeoutError("Timeout reading from socket")]
)
def test_a_timeout_names_the_server_it_waited_for(error: Exception) -> None:
    message = as_cli_error(error, URL).message
    assert message.startswith("no answer from the server at redis://alice:***@127.0.0.1:6390/0")
    assert "S3cretPW" not in message
    assert message != "timed out"


def test_a_request_timeout_keeps_its_own_account() -> None:
    error = RequestTimeoutError("fetch_sockets", 1, 2)
    message = as_cli_error(error, URL).message
    assert message == (
        "the cluster did not answer in time: fetch_sockets: timeout reached: only 1 responses "
        "received out of 2"
    )


async def _never_confirms(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """RESP: +PONG to PING, nothing to (P)SUBSCRIBE, +OK to anything else."""
    try:
        while header := await reader.readline():
            count = int(header[1:])
            words = []
            for _ in range(count):
                size = int((await reader.readline())[1:])
                words.append((await reader.readexactly(size + 2))[:-2].upper())
            if words[0] == b"PING":
                writer.write(b"+PONG\r\n")
            elif words[0] not in (b"SUBSCRIBE", b"PSUBSCRIBE"):
                writer.write(b"+OK\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    server = await asyncio.start_server(_never_confirms, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.close()
        await server.wait_closed()


async def test_the_monitor_says_which_subscriptions_were_not_confirmed(
    silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_subscriber, "SUBSCRIBE_TIMEOUT", 0.3)
    listener = _subscriber.Listener(silent_server, sharded=False)
    try:
        await listener.connect()
        with pytest.raises(RedisTimeoutError) as caught:
            await listener.subscribe(["key#*", "key-request#*"], patterns=True)
    finally:
        await listener.close()
    assert str(caught.value) == (
        "Redis did not confirm the subscriptions to key#* key-request#* within 0.3 s"
    )
    message = as_cli_error(caught.value, silent_server).message
    assert message == (
        f"no answer from the server at {silent_server} in time (Redis did not confirm the "
        "subscriptions to key#* key-request#* within 0.3 s)"
    )
