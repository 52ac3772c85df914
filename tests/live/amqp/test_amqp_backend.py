"""The RabbitMQ backend on the machine's broker: what the integration suite does not show.

URL forms and bad options (errors that never show a password), order across channels, room
traffic bound only where a node has a member, names past AMQP's 255 bytes, large payloads and
the size limit, publisher confirms, a ready aio-pika connection, wrong credentials and an
unreachable broker, and ``amqps://`` on a private TLS broker.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import socketio
from integration.harness import Cluster
from redistopo._process import free_port, require_openssl

import sioadapter
from live.receiving import take
from sioadapter.backends import backend_from_url
from sioadapter.errors import BackendError, MessageTooLargeError

from .broker import PrivateBroker, require_aio_pika_module, unique_key

require_aio_pika_module()

import aio_pika  # noqa: E402

from sioadapter.backends.amqp import AmqpBackend  # noqa: E402

TIMEOUT = 10.0
SECRET = "Pa55-w0rd/S3cret"


def unique(label: str) -> str:
    return unique_key(label)  # deleted after the test by the conftest


@pytest.fixture
async def pair(amqp_url: str) -> AsyncIterator[tuple[AmqpBackend, AmqpBackend]]:
    backends = [AmqpBackend.from_url(amqp_url) for _ in range(2)]
    for backend in backends:
        await backend.connect()
    yield backends[0], backends[1]
    for backend in backends:
        await backend.close()


# -- URLs and options ----------------------------------------------------------------------


def test_the_url_schemes_pick_the_amqp_backend() -> None:
    for url in ("amqp://127.0.0.1:5672", "amqps://127.0.0.1"):
        backend = backend_from_url(url)
        assert isinstance(backend, AmqpBackend)
        assert not backend.capabilities.counts_subscribers
        assert not backend.capabilities.patterns
        assert backend.confirms_publishes


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        AmqpBackend(timeout=0)
    with pytest.raises(ValueError, match="max_payload"):
        AmqpBackend(max_payload=0)
    with pytest.raises(ValueError, match="heartbeat"):
        AmqpBackend(heartbeat=-1)
    with pytest.raises(ValueError, match="ready client"):
        AmqpBackend(client=object(), password="x")
    with pytest.raises(TypeError, match="no_such_option"):
        sioadapter.AsyncClusterManager("amqp://127.0.0.1", no_such_option=1)


# -- traffic -------------------------------------------------------------------------------


async def test_messages_of_two_channels_arrive_in_publish_order(
    pair: tuple[AmqpBackend, AmqpBackend],
) -> None:
    sender, receiver = pair
    key = unique("order")
    channels = [f"{key}#/#", f"{key}#/#room.*#"]  # '.' and '*' mean nothing to a direct exchange
    await receiver.subscribe(channels)
    sent = [(random.choice(channels), str(i).encode()) for i in range(3000)]
    for start in range(0, len(sent), 100):
        await sender.publish(sent[start : start + 100])
    assert await take(receiver, len(sent)) == sent


async def test_publishes_are_confirmed(pair: tuple[AmqpBackend, AmqpBackend]) -> None:
    sender, receiver = pair
    accepted: list[int] = []
    lost: list[tuple[int, str, bool]] = []
    sender.set_publish_handlers(
        accepted.append, lambda n, why, failed: lost.append((n, why, failed))
    )
    channel = f"{unique('confirm')}#/#"
    await receiver.subscribe([channel])
    await sender.publish([(channel, b"%d" % i) for i in range(200)])
    await take(receiver, 200)
    await sender.close()  # waits for the last confirms
    assert (sum(accepted), lost) == (200, [])


async def test_names_past_255_bytes_are_shortened_and_still_delivered(
    pair: tuple[AmqpBackend, AmqpBackend],
) -> None:
    sender, receiver = pair
    key = unique("long")
    long_rooms = [f"{key}#/#{'é' * 300}#", f"{key}#/#{'é' * 300}x#", f"{key}#/#\ud800#"]
    await receiver.subscribe(long_rooms)
    await sender.publish([(room, room.encode("utf-8", "surrogatepass")) for room in long_rooms])
    got = await take(receiver, len(long_rooms))
    assert got == [(room, room.encode("utf-8", "surrogatepass")) for room in long_rooms]


async def test_large_payloads_cross_and_the_size_limit_refuses_before_sending(
    pair: tuple[AmqpBackend, AmqpBackend],
) -> None:
    sender, receiver = pair
    channel = f"{unique('large')}#/#"
    await receiver.subscribe([channel])
    big = random.randbytes(12 * 1024 * 1024)  # under RabbitMQ 4's 16 MiB default limit
    await sender.publish([(channel, big), (channel, b"small")])
    assert await take(receiver, 2) == [(channel, big), (channel, b"small")]

    sender.max_payload = 1000
    with pytest.raises(MessageTooLargeError):
        await sender.publish([(channel, b"ok"), (channel, b"x" * 1001)])
    await sender.publish([(channel, b"after")])  # nothing of the refused batch was sent
    assert await take(receiver, 1) == [(channel, b"after")]


async def test_a_large_binary_emit_reaches_a_client_on_another_node(
    make_cluster: Callable[..., Cluster],
) -> None:
    async with make_cluster(nodes=2, max_message_size=8 * 1024 * 1024) as cluster:
        clients = await cluster.connect_each()
        blob = random.randbytes(3 * 1024 * 1024)  # under aiohttp's 4 MiB websocket frame limit
        await cluster.nodes[0].sio.emit("blob", blob)
        assert await clients[1].wait_for("blob") == [(blob,)]


async def test_room_traffic_is_bound_only_where_a_room_has_a_member(
    make_cluster: Callable[..., Cluster], amqp_url: str
) -> None:
    """Node 0 has a member in "lobby", node 1 none: node 1's queue is bound to no lobby routing
    key, so the broker never routes lobby traffic to it (checked by what node 1's backend
    takes from its queue while node 0 broadcasts to the room)."""
    async with make_cluster(nodes=2) as cluster:
        clients = await cluster.connect_each()
        await cluster.nodes[0].sio.enter_room(clients[0].sid, "lobby")
        mgr0, mgr1 = cluster.nodes[0].mgr, cluster.nodes[1].mgr
        lobby = mgr0.family.room_channel("/", "lobby", False)
        assert lobby is not None
        backend0, backend1 = mgr0.backend, mgr1.backend
        assert isinstance(backend1, AmqpBackend) and isinstance(backend0, AmqpBackend)

        async def bound() -> None:  # the join's subscription is made by node 0's writer task
            while lobby not in backend0._bound:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.01)

        await asyncio.wait_for(bound(), TIMEOUT)
        assert lobby not in backend1._bound
        seen_by_1: list[str] = []
        original = backend1._queue.put_nowait

        def record(batch: object) -> None:
            if batch is not None:
                seen_by_1.extend(channel for channel, _ in batch)  # type: ignore[attr-defined]
            original(batch)  # type: ignore[arg-type]

        backend1._queue.put_nowait = record  # type: ignore[method-assign]
        for n in range(20):
            await cluster.nodes[1].sio.emit("news", n, room="lobby")  # from the member-less node
            await cluster.nodes[0].sio.emit("news", n, room="lobby")
        await cluster.nodes[0].sio.emit("done", 1)
        assert await clients[1].wait_for("done") == [(1,)]
        await clients[0].log.wait_until(
            lambda: clients[0].count("news") == 40, what="40 lobby broadcasts", timeout=TIMEOUT
        )
        assert clients[1].count("news") == 0
        assert lobby not in seen_by_1
        assert seen_by_1, "node 1 did receive the main channel's traffic"


# -- connections ---------------------------------------------------------------------------


async def test_a_ready_connection_is_used_and_left_open(amqp_url: str) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    backend = AmqpBackend(client=connection)
    other = AmqpBackend.from_url(amqp_url)
    await backend.connect()
    await other.connect()
    channel = f"{unique('ready')}#/#"
    try:
        await backend.subscribe([channel])
        await other.publish([(channel, b"x")])
        assert await take(backend, 1) == [(channel, b"x")]
        assert backend.pub_client is connection
        assert "aio-pika connection amqp://guest:***@127.0.0.1" in repr(backend)
    finally:
        await backend.close()
        await other.close()
    assert not connection.is_closed
    # The node's exclusive queue is deleted by close(), not left to the caller's connection.
    probe_channel = await connection.channel()
    with pytest.raises(aio_pika.exceptions.ChannelClosed):
        await probe_channel.declare_queue(backend.queue_name, passive=True)
    await connection.close()


async def test_a_ready_connection_makes_an_amqp_manager(amqp_url: str, cluster_name: str) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    mine = sioadapter.AsyncClusterManager(client=connection, key=cluster_name)
    other = sioadapter.AsyncClusterManager(amqp_url, key=cluster_name)
    try:
        assert isinstance(mine.backend, AmqpBackend)
        assert mine.backend.pub_client is connection
        for mgr in (mine, other):
            socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
            await mgr.start()
        other.on("ping", lambda: "pong")

        async def counted() -> None:
            # server_count() answers from heartbeats: ask until the other node is counted.
            while await mine.server_count() < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        await asyncio.wait_for(counted(), TIMEOUT)
        assert await mine.server_side_call("ping") == ["pong"]
    finally:
        await mine.close()
        await other.close()
    assert not connection.is_closed  # the caller's, left open
    await connection.close()


async def test_wrong_credentials_fail_without_showing_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # aio-pika's and aiormq's own logs too
    for url in (
        f"amqp://guest:{SECRET}@127.0.0.1:5672/",
        f"amqp://guest:{SECRET}@127.0.0.1:{free_port()}/",
    ):
        backend = AmqpBackend.from_url(url, connect_timeout=2.0)
        with pytest.raises(BackendError, match="cannot reach RabbitMQ") as raised:
            await asyncio.wait_for(backend.connect(), TIMEOUT)
        await backend.close()
        assert SECRET not in str(raised.value)
        assert SECRET not in repr(backend)
    assert caplog.records
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


async def test_an_unreachable_broker_fails_connect_in_bounded_time() -> None:
    backend = AmqpBackend.from_url(f"amqp://127.0.0.1:{free_port()}", connect_timeout=0.5)
    with pytest.raises(BackendError, match="cannot reach RabbitMQ"):
        await asyncio.wait_for(backend.connect(), TIMEOUT)
    await backend.close()


async def test_closed_and_unconnected_backends_refuse_work(amqp_url: str) -> None:
    backend = AmqpBackend.from_url(amqp_url)
    with pytest.raises(BackendError, match="not connected"):
        await backend.publish([("x#/#", b"1")])
    await backend.connect()
    await backend.probe()
    await backend.close()
    with pytest.raises(BackendError, match="closed"):
        await backend.probe()
    with pytest.raises(BackendError, match="closed"):
        await backend.connect()


@pytest.fixture(scope="module")
def tls_broker(amqp_url: str) -> Iterator[PrivateBroker]:
    require_openssl()
    broker = PrivateBroker("tls", tls=True)
    try:
        yield broker.start()
    finally:
        broker.stop()


async def test_amqps_with_a_private_ca_carries_the_traffic(tls_broker: PrivateBroker) -> None:
    assert tls_broker.tls_port is not None
    context = ssl.create_default_context(cafile=str(tls_broker.ca_cert))
    url = f"amqps://guest:guest@127.0.0.1:{tls_broker.tls_port}/"
    sender = AmqpBackend.from_url(url, ssl_context=context)
    receiver = AmqpBackend.from_url(url, ssl_context=context)
    channel = f"{unique('tls')}#/#"
    try:
        for backend in (sender, receiver):
            await backend.connect()
        await receiver.subscribe([channel])
        await sender.publish([(channel, b"over tls")])
        assert await take(receiver, 1) == [(channel, b"over tls")]
    finally:
        for backend in (sender, receiver):
            await backend.close()


async def test_amqps_refuses_a_certificate_it_cannot_verify(tls_broker: PrivateBroker) -> None:
    backend = AmqpBackend.from_url(
        f"amqps://guest:guest@127.0.0.1:{tls_broker.tls_port}/", connect_timeout=2.0
    )  # the system's CAs: the throwaway CA is not among them
    with pytest.raises(BackendError, match=r"(?i)certificate"):
        await asyncio.wait_for(backend.connect(), TIMEOUT)
    await backend.close()


def test_a_forked_child_gets_a_queue_name_of_its_own() -> None:
    backend = AmqpBackend(queue_prefix="myq-")
    parents = backend.queue_name
    backend.after_fork()
    assert backend.queue_name.startswith("myq-") and backend.queue_name != parents
    assert len(backend.queue_name) == len(parents)
