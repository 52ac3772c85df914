"""The NATS backend on real nats-server processes: what the integration suite does not show.

Order across subjects, room traffic on its own subjects, credentials (and errors that never
show them), a ready client, an unreachable server, and a node whose server dies in a cluster.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import socketio
from redistopo._process import free_port

import sioadapter
from live.receiving import take
from sioadapter.backends import backend_from_url
from sioadapter.backends._nats_subjects import channel_to_subject
from sioadapter.errors import BackendError

from .natsservers import NatsCluster, NatsServer, require_nats_py_module

require_nats_py_module()

import nats  # noqa: E402

from sioadapter.backends.nats import NatsBackend  # noqa: E402

TIMEOUT = 10.0
TOKEN = "t0ken-S3cret"


@pytest.fixture
async def pair(nats_server: NatsServer) -> AsyncIterator[tuple[NatsBackend, NatsBackend]]:
    backends = [NatsBackend.from_url(nats_server.url) for _ in range(2)]
    for backend in backends:
        await backend.connect()
    yield backends[0], backends[1]
    for backend in backends:
        await backend.close()


@pytest.fixture(scope="module")
def token_server(nats_available: str) -> Iterator[NatsServer]:
    server = NatsServer("token", token=TOKEN)
    try:
        yield server.start()
    finally:
        server.stop()


def test_the_url_schemes_pick_the_nats_backend() -> None:
    for url in ("nats://127.0.0.1:4222", "tls://127.0.0.1:4222"):
        backend = backend_from_url(url)
        assert isinstance(backend, NatsBackend)
        assert not backend.capabilities.counts_subscribers
        assert not backend.capabilities.patterns


async def test_messages_of_two_subjects_arrive_in_publish_order(
    pair: tuple[NatsBackend, NatsBackend],
) -> None:
    sender, receiver = pair
    channels = ["order#/#", "order#/#room#"]
    await receiver.subscribe(channels)
    sent = [(random.choice(channels), str(i).encode()) for i in range(3000)]
    for start in range(0, len(sent), 100):
        await sender.publish(sent[start : start + 100])
    assert await take(receiver, len(sent)) == sent


async def test_a_batch_reaches_a_plain_nats_subscriber_byte_for_byte(
    nats_server: NatsServer, pair: tuple[NatsBackend, NatsBackend]
) -> None:
    # A batch is written as PUB commands of its own (not nats-py's publish): what any NATS
    # client receives must be each payload exactly, CRLF and empty payloads included.
    sender, _ = pair
    client = await nats.connect(nats_server.url)
    try:
        got: list[tuple[str, bytes]] = []
        done = asyncio.Event()
        channels = ["plain#/#", "plain#/#room 1#"]

        async def on_message(msg: Any) -> None:
            got.append((msg.subject, msg.data))
            if len(got) == len(sent):
                done.set()

        for channel in channels:
            await client.subscribe(channel_to_subject(channel), cb=on_message)
        await client.flush()
        payloads = [b"", b"\r\n", b"PUB x 1\r\n", bytes(range(256)), b"z" * 70_000]
        sent = [(channels[i % 2], payload) for i, payload in enumerate(payloads * 20)]
        await sender.publish(sent)
        await asyncio.wait_for(done.wait(), TIMEOUT)
        # One subscription's callback task per subject: compare each subject's sequence.
        for channel in channels:
            subject = channel_to_subject(channel)
            assert [d for s, d in got if s == subject] == [p for c, p in sent if c == channel]
        assert sender.pub_client.stats["out_msgs"] >= len(sent)
    finally:
        await client.close()


async def test_publishing_on_a_closed_backend_raises_backend_error(nats_server: NatsServer) -> None:
    backend = NatsBackend.from_url(nats_server.url)
    await backend.connect()
    await backend.pub_client.close()  # closed under it, as by a fatal error
    with pytest.raises(BackendError):
        await backend.publish([("closed#/#", b"x")])
    await backend.close()


async def test_room_traffic_goes_on_the_room_subject_only(nats_server: NatsServer) -> None:
    """A room broadcast is published on the room's subject, never on the namespace's: a node
    with no member in the room (no subscription to that subject) never receives it."""
    key = f"rooms{random.randrange(10**9)}"
    watcher = await nats.connect(nats_server.url)
    main: list[bytes] = []
    room: list[bytes] = []
    main_news, room_news = asyncio.Event(), asyncio.Event()

    def recorder(box: list[bytes], news: asyncio.Event) -> Any:
        async def record(msg: Any) -> None:
            box.append(msg.data)
            if b"news" in msg.data:
                news.set()

        return record

    await watcher.subscribe(channel_to_subject(f"{key}#/#"), cb=recorder(main, main_news))
    await watcher.subscribe(channel_to_subject(f"{key}#/#lobby#"), cb=recorder(room, room_news))
    await watcher.flush()
    mgr = sioadapter.AsyncClusterManager(nats_server.url, key=key)
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    await mgr.start()
    try:
        await mgr.emit("news", {"n": 1}, namespace="/", room="lobby")
        await mgr.emit("news", {"n": 2}, namespace="/")
        await asyncio.wait_for(asyncio.gather(main_news.wait(), room_news.wait()), TIMEOUT)
        assert len(room) == 1 and b"lobby" in room[0]
        # Published after the room's broadcast, on one connection: had the room's gone on the
        # namespace's subject, it would be here already.
        assert [payload for payload in main if b"lobby" in payload] == []
    finally:
        await mgr.close()
        await watcher.close()


async def test_a_token_in_the_url_authenticates(token_server: NatsServer) -> None:
    sender = NatsBackend.from_url(f"nats://{TOKEN}@127.0.0.1:{token_server.port}")
    receiver = NatsBackend.from_url(f"nats://{TOKEN}@127.0.0.1:{token_server.port}")
    for backend in (sender, receiver):
        await backend.connect()
    try:
        await receiver.subscribe(["tok#/#"])
        await sender.publish([("tok#/#", b"hello")])
        assert await take(receiver, 1) == [("tok#/#", b"hello")]
        assert TOKEN not in repr(sender)
    finally:
        for backend in (sender, receiver):
            await backend.close()


async def test_wrong_credentials_fail_without_showing_them(
    token_server: NatsServer, nats_server: NatsServer
) -> None:
    for url in (
        f"nats://Wr0ngT0ken@127.0.0.1:{token_server.port}",
        f"nats://sio:Wr0ngT0ken@127.0.0.1:{nats_server.port}",
    ):
        backend = NatsBackend.from_url(url, connect_timeout=1.0)
        with pytest.raises(BackendError) as raised:
            await backend.connect()
        await backend.close()
        assert "Wr0ngT0ken" not in str(raised.value)
        assert "Wr0ngT0ken" not in repr(backend)


async def test_an_unreachable_server_fails_connect_in_bounded_time() -> None:
    backend = NatsBackend.from_url(f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5)
    with pytest.raises(BackendError, match="cannot reach NATS"):
        await asyncio.wait_for(backend.connect(), TIMEOUT)
    await backend.close()


async def test_a_ready_client_is_used_and_left_open(nats_server: NatsServer) -> None:
    client = await nats.connect(nats_server.url)
    backend = NatsBackend(client=client)
    other = NatsBackend.from_url(nats_server.url)
    await backend.connect()
    await other.connect()
    try:
        await backend.subscribe(["ready#/#"])
        await other.publish([("ready#/#", b"x")])
        assert await take(backend, 1) == [("ready#/#", b"x")]
        assert backend.pub_client is client
    finally:
        await backend.close()
        await other.close()
    assert client.is_connected
    await client.close()


async def test_a_node_keeps_receiving_when_its_server_dies(nats_available: str) -> None:
    topology = NatsCluster("failover").start()
    options = {"nats_options": {"dont_randomize": True, "reconnect_time_wait": 0.1}}
    receiver = NatsBackend.from_url(topology.url(0), **options)  # on server 0
    sender = NatsBackend.from_url(topology.url(2), **options)  # on server 2
    try:
        await receiver.connect()
        await sender.connect()
        await receiver.subscribe(["fail#/#"])
        await asyncio.wait_for(_until_routed(sender, receiver, b"before"), TIMEOUT)

        dead = topology.servers[0].port
        topology.servers[0].kill()

        def moved() -> bool:
            client = receiver.pub_client
            return bool(receiver.receiving and client.is_connected
                        and client.connected_url.port != dead)  # fmt: skip

        await asyncio.wait_for(_until(moved), TIMEOUT)
        await asyncio.wait_for(_until_routed(sender, receiver, b"after"), TIMEOUT)
    finally:
        await receiver.close()
        await sender.close()
        topology.stop()


async def _until_routed(sender: NatsBackend, receiver: NatsBackend, payload: bytes) -> None:
    """Publish ``payload`` until the receiver gets it: a subscription reaches the other
    members of a NATS cluster through the routes a moment after ``subscribe`` returns (and
    again after a reconnection), and what is published before is not delivered (pub/sub)."""
    while True:
        await sender.publish([("fail#/#", payload)])
        try:
            got = await asyncio.wait_for(take(receiver, 1), 0.2)
        except asyncio.TimeoutError:
            continue
        assert set(got) == {("fail#/#", payload)}
        return


async def _until(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds (callers bound the wait)."""
    # A poll: the backend's connection state has no event to wait on from outside.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
