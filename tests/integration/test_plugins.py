"""Plugins on a real cluster: wrappers of both pluggy kinds, a veto, a rewrite and broken plugins.

Node 0 vetoes with a new-style wrapper and watches with an old-style one; node 1 rewrites what
its clients get with an implementation taking only ``broadcast``. Both carry plugins that raise
(in a plain implementation and in a wrapper): the broadcasts go on, the failures are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import pytest

from sioadapter.hooks import BROADCAST_DELIVER, BROADCAST_PUBLISH, BroadcastEvent, hookimpl

from .harness import Cluster, ManagerFactory


class VetoSpoilers:
    """A new-style wrapper that adds a veto to whatever the implementations said."""

    @hookimpl(wrapper=True)
    def sioadapter_broadcast_publish(self, broadcast: BroadcastEvent) -> Generator[None, Any, Any]:
        result = yield
        return [*result, False] if broadcast.event == "spoiler" else result


class WatchPublish:
    """An old-style hookwrapper that records each publish decision it sees."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[Any]]] = []

    @hookimpl(hookwrapper=True)
    def sioadapter_broadcast_publish(
        self, manager: Any, broadcast: BroadcastEvent
    ) -> Generator[None, Any, None]:
        outcome = yield
        self.seen.append((broadcast.event, outcome.get_result()))


class TagRemote:
    """Takes only ``broadcast``: tags the news this node's clients get from other nodes."""

    @hookimpl
    def sioadapter_broadcast_deliver(self, broadcast: BroadcastEvent) -> None:
        if broadcast.origin == "remote" and broadcast.event == "news":
            broadcast.args.append("tagged")


class BrokenPublish:
    @hookimpl
    def sioadapter_broadcast_publish(self, broadcast: BroadcastEvent) -> None:
        raise RuntimeError("broken publish")


class BrokenDeliverWrapper:
    @hookimpl(wrapper=True)
    def sioadapter_broadcast_deliver(self) -> Generator[None, Any, Any]:
        raise RuntimeError("broken deliver wrapper")
        yield


async def test_wrappers_vetoes_rewrites_and_broken_plugins_on_a_cluster(
    manager_factory: ManagerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    watch = WatchPublish()
    plugins = {
        0: [BrokenPublish(), watch, VetoSpoilers()],
        1: [TagRemote(), BrokenDeliverWrapper()],
    }

    def factory(index: int, /, **options: Any) -> Any:
        return manager_factory(index, plugins=plugins[index], **options)

    with caplog.at_level(logging.ERROR, logger="sioadapter.plugins"):
        async with Cluster(factory, nodes=2) as cluster:
            here, there = await cluster.connect_each()
            await cluster.nodes[0].sio.emit("spoiler", "the butler did it")
            await cluster.nodes[0].sio.emit("news", "hello")
            await cluster.assert_received_exactly("spoiler", {here: 0, there: 0}, origin=0)
            await cluster.assert_received_exactly("news", {here: 1, there: 1}, origin=0)
            assert here.received("news") == [("hello",)]
            assert there.received("news") == [("hello", "tagged")]

    # The old-style wrapper ran inside the new-style one: it saw the plain results only.
    assert ("spoiler", []) in watch.seen
    assert ("news", []) in watch.seen
    logged = [r.getMessage() for r in caplog.records if r.name == "sioadapter.plugins"]
    assert any(f"failed in {BROADCAST_PUBLISH}" in m for m in logged)
    assert any(f"failed in {BROADCAST_DELIVER}" in m for m in logged)
