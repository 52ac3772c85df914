"""A backend and a plugin provided by a package other than sioadapter, through entry points."""

from __future__ import annotations

from typing import Any

from sioadapter.backends.memory import MemoryBackend
from sioadapter.hooks import BroadcastEvent, hookimpl


class LoopbackBackend(MemoryBackend):
    """``loopback://NAME``: an in-process hub, registered by this package's entry point."""

    schemes = ("loopback",)

    def __init__(self, name: str = "default", **options: Any) -> None:
        super().__init__(f"loopback/{name}", **options)


class StampPlugin:
    """Adds ``{"stamped_by": <node uid>}`` as a last argument to every broadcast a node
    delivers to its clients."""

    def __init__(self, label: str = "stamp") -> None:
        self.label = label

    @hookimpl
    def sioadapter_broadcast_deliver(self, manager: Any, broadcast: BroadcastEvent) -> None:
        broadcast.args.append({"stamped_by": self.label})
