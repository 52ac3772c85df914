"""A backend that dictates its wire dialect (``Capabilities.wire``) gets that family, and only
that one, in managers and emitters alike."""

from __future__ import annotations

import pytest

import sioadapter
from sioadapter.backends.base import Capabilities
from sioadapter.backends.memory import MemoryBackend
from sioadapter.emitter import AsyncEmitter
from sioadapter.wire.postgres import PostgresFamily

POSTGRES_LIKE = Capabilities(patterns=False, counts_subscribers=False, wire="postgres")


def dictating(name: str, threshold: int | None = None) -> MemoryBackend:
    backend = MemoryBackend(name)
    backend.capabilities = POSTGRES_LIKE
    if threshold is not None:
        backend.payload_threshold = threshold  # type: ignore[attr-defined]
    return backend


def test_the_dictated_dialect_is_the_managers_protocol():
    mgr = sioadapter.AsyncClusterManager(backend=dictating("d1"), key="k")
    assert mgr.protocol == "postgres"
    assert isinstance(mgr._family, PostgresFamily)
    assert mgr.heartbeats  # the backend counts no subscribers
    forced = sioadapter.AsyncClusterManager(backend=dictating("d2"), protocol="postgres")
    assert forced.protocol == "postgres"


def test_the_family_reads_the_backends_payload_threshold():
    mgr = sioadapter.AsyncClusterManager(backend=dictating("d3", threshold=1000))
    assert mgr._family.payload_threshold == 1000


@pytest.mark.parametrize("protocol", ["classic", "cluster"])
def test_another_protocol_on_a_dictating_backend_is_refused(protocol):
    with pytest.raises(ValueError, match=r"speaks the 'postgres' protocol only"):
        sioadapter.AsyncClusterManager(backend=dictating("d4"), protocol=protocol)


def test_the_dialect_on_a_backend_that_does_not_dictate_it_is_refused():
    with pytest.raises(ValueError, match=r"dialect of its own backend \(postgresql:// URLs\)"):
        sioadapter.AsyncClusterManager("memory://d5", protocol="postgres")


def test_subscription_modes_do_not_apply_to_the_dialect():
    with pytest.raises(ValueError, match="one channel per namespace"):
        sioadapter.AsyncClusterManager(backend=dictating("d6"), subscription_mode="dynamic")
    sioadapter.AsyncClusterManager(backend=dictating("d7"), subscription_mode="static")


def test_an_unknown_dictated_dialect_is_refused():
    backend = MemoryBackend("d8")
    backend.capabilities = Capabilities(patterns=False, counts_subscribers=False, wire="smoke")
    with pytest.raises(ValueError, match="unknown wire dialect 'smoke'"):
        sioadapter.AsyncClusterManager(backend=backend)


async def test_an_emitter_on_a_dictating_backend_speaks_its_dialect():
    listener = MemoryBackend("d9")
    await listener.connect()
    await listener.subscribe(["k#/"])
    backend = dictating("d9")
    emitter = AsyncEmitter(backend, key="k")
    try:
        await emitter.to("room").emit("hi", 1)
        batches = listener.message_batches()
        (channel, payload), *_ = await anext_batch(batches)
    finally:
        await emitter.aclose()
        await backend.close()  # a ready backend is the caller's
        await listener.close()
    assert channel == "k#/"
    # Unlike Node's emitter, ours sends the top-level nsp, so Node's adapter 0.5 hears it.
    assert payload == (
        b'{"type":3,"data":{"packet":{"type":2,"data":["hi",1]},'
        b'"opts":{"rooms":["room"],"except":[],"flags":{}}},"uid":"emitter","nsp":"/"}'
    )


async def anext_batch(batches):
    async for batch in batches:
        return batch
    raise AssertionError("the listener closed")
