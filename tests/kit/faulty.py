"""Backends that break one guarantee each, to show the contract kit notices.

Each is the in-process memory backend with one fault, under a URL scheme of its own that
:func:`register` adds to the installed backends for one test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from importlib.metadata import EntryPoint
from typing import Any

import pytest

import sioadapter.backends
from sioadapter.backends.base import Message
from sioadapter.backends.memory import MemoryBackend


class _Faulty(MemoryBackend):
    scheme = ""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryBackend:
        return super().from_url("memory" + url[len(cls.scheme) :], **options)


class Reordering(_Faulty):
    """Publishes each batch backwards."""

    scheme = "faulty-reorder"

    async def publish(self, messages: Sequence[Message]) -> None:
        await super().publish(list(reversed(messages)))


class LateSubscribe(_Faulty):
    """Returns from ``subscribe`` before the subscription is active."""

    scheme = "faulty-late"

    async def subscribe(
        self, channels: Collection[str] = (), patterns: Collection[str] = ()
    ) -> None:
        activation = super().subscribe(channels, patterns)
        asyncio.get_running_loop().call_later(0.05, asyncio.ensure_future, activation)


class EndlessBatches(_Faulty):
    """``close`` leaves ``message_batches()`` waiting forever."""

    scheme = "faulty-endless"

    async def close(self) -> None:
        if self._hub is not None:  # leaves the hub, but never queues the None that ends
            self._hub.members.discard(self)
            self._hub = None
        self._closed = True


class ShowsItsUrl(_Faulty):
    """A repr with the URL, password included."""

    scheme = "faulty-repr"

    def __init__(self, name: str = "default", **options: Any) -> None:
        super().__init__(name, **options)
        self.url = name

    def __repr__(self) -> str:
        return f"<ShowsItsUrl {self.url}>"


class DropsLarge(_Faulty):
    """Drops messages over 64 KiB, silently."""

    scheme = "faulty-large"

    async def publish(self, messages: Sequence[Message]) -> None:
        await super().publish([m for m in messages if len(m[1]) <= 65536])


FAULTY = [Reordering, LateSubscribe, EndlessBatches, ShowsItsUrl, DropsLarge]


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every faulty backend's scheme an installed backend, for this test only."""
    real = sioadapter.backends.installed_backends

    def installed() -> dict[str, EntryPoint]:
        extra = {
            cls.scheme: EntryPoint(cls.scheme, f"{__name__}:{cls.__name__}", "sioadapter.backends")
            for cls in FAULTY
        }
        return {**real(), **extra}

    monkeypatch.setattr(sioadapter.backends, "installed_backends", installed)
