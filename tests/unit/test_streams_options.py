"""protocol="streams" options on managers and emitters, and StreamsBackend.publish's retry rule.

No network: managers are built on fakeredis clients (construction does not connect), and
publishing runs against a recording inner backend with a recording (or failing) XADD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import fakeredis
import pytest

import sioadapter
from sioadapter.backends import redis_streams
from sioadapter.backends.base import Message
from sioadapter.backends.redis import RedisBackend
from sioadapter.backends.redis_streams import StreamsBackend
from sioadapter.emitter import AsyncEmitter, Emitter
from sioadapter.errors import BackendError
from sioadapter.wire._entries import ENTRY_MARK


def manager(**options: Any) -> sioadapter.AsyncClusterManager:
    return sioadapter.AsyncClusterManager(client=fakeredis.FakeAsyncRedis(), **options)


# -- managers -------------------------------------------------------------------------------


def test_a_streams_manager_has_node_defaults() -> None:
    mgr = manager(protocol="streams")
    assert mgr.protocol == "streams"
    assert mgr.family.stream_name == "socket.io"
    assert mgr.family.stream_count == 1
    backend = mgr.backend
    assert isinstance(backend, StreamsBackend)
    assert isinstance(backend.inner, RedisBackend)
    assert backend.inner.mode == "classic"
    assert (backend.max_len, backend.read_count, backend.block_time_in_ms) == (10_000, 100, 5_000)
    assert mgr.session_key_prefix == "sio:session:"


def test_streams_options_pass_through() -> None:
    mgr = manager(
        protocol="streams",
        stream_name="my-stream",
        stream_count=3,
        max_len=500,
        read_count=7,
        block_time_in_ms=250,
        session_key_prefix="sess:",
    )
    assert mgr.family.stream_name == "my-stream"
    assert mgr.family.stream_count == 3
    backend = mgr.backend
    assert isinstance(backend, StreamsBackend)
    assert (backend.max_len, backend.read_count, backend.block_time_in_ms) == (500, 7, 250)
    assert backend.settings["stream_name"] == "my-stream"
    assert mgr.session_key_prefix == "sess:"


def test_max_len_none_means_no_trimming() -> None:
    backend = manager(protocol="streams", max_len=None).backend
    assert isinstance(backend, StreamsBackend)
    assert backend.max_len is None


@pytest.mark.parametrize("protocol", [None, "classic", "cluster"])
@pytest.mark.parametrize("option", ["stream_name", "max_len", "read_count", "stream_count"])
def test_a_streams_option_without_protocol_streams_is_refused(
    protocol: str | None, option: str
) -> None:
    value = "s" if option == "stream_name" else 5
    with pytest.raises(ValueError, match=f"{option}="):
        manager(protocol=protocol, **{option: value})


def test_signing_keys_do_not_apply_to_streams() -> None:
    with pytest.raises(ValueError, match="signing_keys"):
        manager(protocol="streams", signing_keys=[b"k" * 32])


def test_streams_needs_redis() -> None:
    with pytest.raises(ValueError, match="needs Redis"):
        sioadapter.AsyncClusterManager("memory://x", protocol="streams")


def test_streams_has_static_subscriptions_only() -> None:
    with pytest.raises(ValueError, match="static"):
        manager(protocol="streams", subscription_mode="dynamic")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("read_count", 0),
        ("read_count", -1),
        ("read_count", True),
        ("read_count", 1.5),
        ("max_len", -1),
        ("max_len", 0),
        ("block_time_in_ms", 0),
        ("stream_count", 0),
        ("stream_name", ""),
    ],
)
def test_bad_values_are_refused(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        manager(protocol="streams", **{option: value})


def test_use_sharded_pub_sub_makes_the_inner_backend_sharded() -> None:
    backend = manager(protocol="streams", use_sharded_pub_sub=True).backend
    assert isinstance(backend, StreamsBackend)
    assert backend.inner.mode == "sharded"


def test_use_sharded_pub_sub_and_a_classic_mode_disagree() -> None:
    with pytest.raises(ValueError, match="use_sharded_pub_sub"):
        manager(protocol="streams", use_sharded_pub_sub=True, mode="classic")


# -- emitters -------------------------------------------------------------------------------


@pytest.mark.parametrize("emitter", [Emitter, AsyncEmitter])
def test_a_streams_emitter_needs_redis(emitter: type[Any]) -> None:
    with pytest.raises(ValueError, match="needs a Redis URL"):
        emitter("memory://x", protocol="streams")


@pytest.mark.parametrize("emitter", [Emitter, AsyncEmitter])
def test_a_streams_emitter_refuses_other_options(emitter: type[Any]) -> None:
    with pytest.raises(ValueError, match="bogus"):
        emitter(fakeredis.FakeRedis(), protocol="streams", bogus=1)
    with pytest.raises(ValueError, match="subscription_mode"):
        emitter(fakeredis.FakeRedis(), protocol="streams", subscription_mode="static")


def test_a_streams_emitter_takes_the_streams_options() -> None:
    client = fakeredis.FakeRedis()
    emitter = Emitter(client, protocol="streams", stream_name="my-stream", max_len=50)
    emitter.emit("hello", 1)
    assert client.xlen("my-stream") == 1
    assert client.xlen("socket.io") == 0


def test_a_streams_option_without_protocol_streams_is_refused_by_an_emitter() -> None:
    with pytest.raises(ValueError, match="stream_name="):
        Emitter(fakeredis.FakeRedis(), stream_name="s")


# -- StreamsBackend.publish: a retried batch is not sent twice ---------------------------------


def entry(n: int) -> Message:
    return (f"{ENTRY_MARK}stream-{n}", b"e%d" % n)


def pubsub(n: int) -> Message:
    return (f"channel-{n}", b"p%d" % n)


class Wire:
    """What reached Redis, in order: ("xadd" | "publish", payloads), and "... failed" for
    the calls numbered in ``fail_at`` (1 is the first call), which raise as redis-py does."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[bytes]]] = []
        self.fail_at: set[int] = set()
        self.calls = 0

    def record(self, kind: str, payloads: list[bytes]) -> None:
        self.calls += 1
        if self.calls in self.fail_at:
            self.sent.append((f"{kind} failed", payloads))
            raise ConnectionError("connection reset")
        self.sent.append((kind, payloads))

    async def publish(self, messages: Sequence[Message]) -> None:
        """The inner backend's publish: BackendError when the connection fails, as
        RedisBackend's."""
        try:
            self.record("publish", [payload for _, payload in messages])
        except ConnectionError as error:
            raise BackendError(f"publishing failed: {error}") from error


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    wire = Wire()

    async def xadd_entries(
        client: Any, entries: Sequence[tuple[str, Mapping[str, str]]], max_len: int | None
    ) -> list[str]:
        wire.record("xadd", [bytes(fields["payload"], "latin-1") for _, fields in entries])
        return [f"{i}-0" for i, _ in enumerate(entries, 1)]

    class Adder:
        """The XADD publisher off a Cluster (StreamPublisher), recording what it writes."""

        connected = True

        def __init__(self, *args: Any) -> None:
            pass

        async def send(self, commands: Sequence[tuple[Any, ...]]) -> None:
            wire.record(
                "xadd", [bytes(c[list(c).index("payload") + 1], "latin-1") for c in commands]
            )

        async def close(self) -> None:
            pass

    monkeypatch.setattr(redis_streams, "xadd_entries", xadd_entries)
    monkeypatch.setattr(redis_streams, "StreamPublisher", Adder)
    monkeypatch.setattr(redis_streams, "entry_fields", fake_entry_fields)
    return wire


def fake_entry_fields(channel: str, payload: bytes) -> tuple[str, dict[str, str]]:
    return channel[len(ENTRY_MARK) :], {"payload": payload.decode("latin-1")}


def streams_backend(wire: Wire) -> StreamsBackend:
    inner = RedisBackend(client=fakeredis.FakeAsyncRedis())
    inner.publish = wire.publish  # type: ignore[method-assign]
    return StreamsBackend(inner, lambda channel: None)


async def test_a_retry_after_a_failed_xadd_does_not_resend_what_went_out(wire: Wire) -> None:
    backend = streams_backend(wire)
    batch = [entry(1), entry(2), pubsub(3), entry(4), pubsub(5)]
    wire.fail_at = {3}  # the two entries and the pub/sub message go out; then E4 fails
    with pytest.raises(BackendError, match="adding to a Redis stream"):
        await backend.publish(batch)
    await backend.publish(batch)  # the bus retries the same message objects
    assert wire.sent == [
        ("xadd", [b"e1", b"e2"]),
        ("publish", [b"p3"]),
        ("xadd failed", [b"e4"]),
        ("xadd", [b"e4"]),
        ("publish", [b"p5"]),
    ]


async def test_a_retry_after_a_failed_publish_resends_from_that_run(wire: Wire) -> None:
    backend = streams_backend(wire)
    batch = [entry(1), pubsub(2), pubsub(3), entry(4)]
    wire.fail_at = {2}
    with pytest.raises(BackendError):
        await backend.publish(batch)
    # The bus may add what was queued meanwhile after the held batch: same head, skipped.
    await backend.publish([*batch, pubsub(5)])
    assert wire.sent == [
        ("xadd", [b"e1"]),
        ("publish failed", [b"p2", b"p3"]),
        ("publish", [b"p2", b"p3"]),
        ("xadd", [b"e4"]),
        ("publish", [b"p5"]),
    ]


async def test_a_retry_that_fails_again_still_skips_the_first_run(wire: Wire) -> None:
    backend = streams_backend(wire)
    batch = [entry(1), pubsub(2)]
    wire.fail_at = {2, 3}
    for _ in range(2):
        with pytest.raises(BackendError):
            await backend.publish(batch)
    await backend.publish(batch)
    assert wire.sent == [
        ("xadd", [b"e1"]),
        ("publish failed", [b"p2"]),
        ("publish failed", [b"p2"]),
        ("publish", [b"p2"]),
    ]


async def test_another_batch_after_a_failure_is_sent_whole(wire: Wire) -> None:
    """The skip is for the same messages only: a batch of equal but other message objects
    (the failed one was dropped) goes out whole."""
    backend = streams_backend(wire)
    wire.fail_at = {2}
    with pytest.raises(BackendError):
        await backend.publish([entry(1), pubsub(2)])
    await backend.publish([entry(1), pubsub(2)])
    assert wire.sent == [
        ("xadd", [b"e1"]),
        ("publish failed", [b"p2"]),
        ("xadd", [b"e1"]),
        ("publish", [b"p2"]),
    ]
