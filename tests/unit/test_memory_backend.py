"""The in-process memory backend and backend discovery by URL scheme."""

import pytest

import sioadapter
from sioadapter.backends import backend_from_url, installed_backends
from sioadapter.backends.memory import MemoryBackend
from sioadapter.errors import BackendError, UnknownBackendError


def drain(backend: MemoryBackend) -> list[tuple[str, bytes]]:
    items = []
    while not backend.queue.empty():
        items.extend(backend.queue.get_nowait() or [])
    return items


async def test_backends_with_the_same_name_share_a_hub_and_others_do_not():
    a, b, other = (MemoryBackend.from_url(u) for u in ("memory://x", "memory://x", "memory://y"))
    for backend in (a, b, other):
        await backend.connect()
        await backend.subscribe(["news"])
    await a.publish([("news", b"1")])
    assert drain(a) == [("news", b"1")]  # like Redis, a publisher subscribed receives too
    assert drain(b) == [("news", b"1")]
    assert drain(other) == []
    for backend in (a, b, other):
        await backend.close()


async def test_patterns_match_like_redis_globs_and_order_is_kept():
    a = MemoryBackend("p")
    await a.connect()
    await a.subscribe(patterns=["socket.io#/#*"])
    await a.publish(
        [("socket.io#/#", b"1"), ("socket.io#/chat#", b"x"), ("socket.io#/#room#", b"2")]
    )
    assert drain(a) == [("socket.io#/#", b"1"), ("socket.io#/#room#", b"2")]
    await a.unsubscribe(patterns=["socket.io#/#*"])
    await a.publish([("socket.io#/#", b"3")])
    assert drain(a) == []
    await a.close()


async def test_subscriber_count_counts_backends_on_the_exact_channel():
    a, b = MemoryBackend("c"), MemoryBackend("c")
    for backend in (a, b):
        await backend.connect()
    await a.subscribe(["req"])
    await b.subscribe(patterns=["re*"])  # NUMSUB does not count pattern subscribers
    assert await a.subscriber_count("req") == 1
    await b.subscribe(["req"])
    assert await a.subscriber_count("req") == 2
    await b.close()
    assert await a.subscriber_count("req") == 1
    await a.close()


async def test_close_ends_the_message_iterator():
    a = MemoryBackend("end")
    await a.connect()
    await a.subscribe(["x"])
    await a.publish([("x", b"before close")])
    await a.close()
    received = [item async for item in a.messages()]
    assert received == [("x", b"before close")]
    with pytest.raises(BackendError, match="not connected"):
        await a.publish([("x", b"after close")])


async def test_url_options_select_capabilities():
    backend = MemoryBackend.from_url("memory://opts?patterns=false&counts=0")
    assert not backend.capabilities.patterns
    assert not backend.capabilities.counts_subscribers
    await backend.connect()
    assert await backend.subscriber_count("x") is None
    with pytest.raises(BackendError, match="pattern"):
        await backend.subscribe(patterns=["*"])
    await backend.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memory://", "hub name"),
        ("memory://x?patterns=maybe", "not a boolean"),
        ("memory://x?colour=red", "unknown memory:// option"),
    ],
)
def test_bad_memory_urls_are_refused_clearly(url, message):
    with pytest.raises(ValueError, match=message):
        MemoryBackend.from_url(url)


def test_memory_is_installed_through_its_entry_point():
    assert installed_backends()["memory"].value == "sioadapter.backends.memory:MemoryBackend"
    assert isinstance(backend_from_url("memory://ep"), MemoryBackend)


@pytest.mark.parametrize("url", ["nosuch://host", "mqtt://broker:1883/x"])
def test_unknown_scheme_names_the_installed_backends(url):
    with pytest.raises(UnknownBackendError) as raised:
        sioadapter.AsyncClusterManager(url)
    assert "memory" in str(raised.value)
    assert url in str(raised.value)
    assert "memory" in raised.value.installed


@pytest.mark.parametrize("url", ["", "   "])
def test_empty_url_is_a_clear_error(url):
    with pytest.raises(UnknownBackendError, match="empty backend URL"):
        sioadapter.AsyncClusterManager(url)


def test_url_and_backend_together_are_refused():
    with pytest.raises(ValueError, match="either a URL"):
        sioadapter.AsyncClusterManager("memory://a", backend=MemoryBackend("a"))


def test_protocol_is_chosen_from_capabilities_or_forced():
    assert sioadapter.AsyncClusterManager("memory://pick").protocol == "classic"
    assert sioadapter.AsyncClusterManager("memory://pick?patterns=0").protocol == "cluster"
    forced = sioadapter.AsyncClusterManager("memory://pick", protocol="cluster")
    assert forced.protocol == "cluster"
    with pytest.raises(ValueError, match="protocol"):
        sioadapter.AsyncClusterManager("memory://pick", protocol="smoke-signals")
