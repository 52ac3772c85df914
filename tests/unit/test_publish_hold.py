"""A node whose subscriptions are being restored holds its publishing (at most
``publish_timeout``), so that what it sends right after an outage is not lost to nodes that are
resubscribing too. Real managers over the memory backend, one of them made deaf."""

from __future__ import annotations

import asyncio
import uuid

import socketio

import sioadapter
from sioadapter.backends.memory import MemoryBackend


class DeafMemory(MemoryBackend):
    """A memory backend whose subscriptions a test can take down and restore."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.listening = asyncio.Event()
        self.listening.set()

    @property
    def receiving(self) -> bool:
        return self.listening.is_set()

    async def wait_receiving(self) -> None:
        await self.listening.wait()


async def _pair(**options: object) -> tuple[sioadapter.AsyncClusterManager, MemoryBackend]:
    name = f"hold-{uuid.uuid4().hex[:8]}"
    deaf = DeafMemory(name)
    sender = sioadapter.AsyncClusterManager(backend=deaf, **options)  # type: ignore[arg-type]
    listener = MemoryBackend(name)
    await listener.connect()
    await listener.subscribe(patterns=["socket.io#*"])
    socketio.AsyncServer(client_manager=sender, async_mode="asgi")
    await sender.start()
    return sender, listener


async def test_publishing_waits_for_the_subscriptions_to_come_back() -> None:
    sender, listener = await _pair(publish_timeout=30.0)
    try:
        sender.backend.listening.clear()  # type: ignore[attr-defined]
        await sender.emit("news", 1)
        flushing = asyncio.ensure_future(sender.flush())
        done, _ = await asyncio.wait({flushing}, timeout=0.2)
        assert not done, "published while the node's subscriptions were down"
        assert listener.queue.empty()
        sender.backend.listening.set()  # type: ignore[attr-defined]
        await asyncio.wait_for(flushing, 5)
        batch = await asyncio.wait_for(listener.queue.get(), 5)
        assert batch is not None and b"news" in batch[0][1]
    finally:
        await sender.close()
        await listener.close()


async def test_the_hold_lasts_at_most_publish_timeout_per_outage() -> None:
    sender, listener = await _pair(publish_timeout=0.3)
    try:
        sender.backend.listening.clear()  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        started = loop.time()
        await sender.emit("news", 1)
        await asyncio.wait_for(sender.flush(), 5)  # published once the bound ran out
        assert loop.time() - started >= 0.3
        await sender.emit("news", 2)  # same outage: no second wait
        await asyncio.wait_for(sender.flush(), 0.25)
        received = [await asyncio.wait_for(listener.queue.get(), 5) for _ in range(2)]
        assert all(batch is not None for batch in received)
    finally:
        await sender.close()
        await listener.close()
