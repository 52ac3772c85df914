"""Plugins on a live 2-node cluster over real Redis, with real clients.

A veto on the sending side keeps a broadcast from everyone; a rewrite on the receiving side
changes which local clients get it; the audit plugin writes exactly one line per broadcast per
node. And a backend and a plugin from another installed package (tests/plugin_pkg), chosen by
their entry-point names: the test pip-installs that package itself (see `plugin_pkg`).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.harness import Cluster
from kit.plugin_pkg import pip_install

import sioadapter
from sioadapter.hooks import BroadcastEvent, hookimpl
from sioadapter.plugins.audit import AuditPlugin


class NoSpoilers:
    """Vetoes every broadcast of the event "spoiler", on the sending side."""

    @hookimpl
    def sioadapter_broadcast_publish(self, broadcast: BroadcastEvent) -> bool | None:
        return False if broadcast.event == "spoiler" else None


class VipOnlyHere:
    """On the receiving side, narrows remote "news" broadcasts to the room "vip"."""

    @hookimpl
    def sioadapter_broadcast_deliver(self, broadcast: BroadcastEvent) -> None:
        if broadcast.origin == "remote" and broadcast.event == "news":
            broadcast.rooms = ["vip"]


class Broken:
    """A plugin that raises: logged and skipped, delivery goes on."""

    @hookimpl
    def sioadapter_broadcast_deliver(self, broadcast: BroadcastEvent) -> None:
        raise RuntimeError("this plugin is broken")


async def test_veto_on_send_and_room_rewrite_on_receive(
    redis_standalone: Any, cluster_name: str
) -> None:
    plugins = {0: [NoSpoilers(), Broken()], 1: [VipOnlyHere(), Broken()]}

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            redis_standalone.url, key=cluster_name, plugins=plugins[index], **options
        )

    async with Cluster(factory, nodes=2) as cluster:
        sender, plain, vip = await cluster.connect_each(per_node=1) + [await cluster.client(1)]
        await cluster.join_locally(vip, "vip")

        await cluster.nodes[0].sio.emit("spoiler", "the butler did it")
        await cluster.nodes[0].sio.emit("news", "hello")

        await cluster.assert_received_exactly("spoiler", {sender: 0, plain: 0, vip: 0}, origin=0)
        # Node 1's plugin narrowed "news" to its vip member; node 0's own client still gets it.
        await cluster.assert_received_exactly("news", {sender: 1, plain: 0, vip: 1}, origin=0)


async def test_audit_writes_one_line_per_broadcast_per_node(
    redis_standalone: Any, cluster_name: str, tmp_path: Path
) -> None:
    paths = {index: tmp_path / f"node{index}.jsonl" for index in range(2)}

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            redis_standalone.url,
            key=cluster_name,
            plugins=[("audit", {"path": str(paths[index])})],
            **options,
        )

    async with Cluster(factory, nodes=2) as cluster:
        clients = await cluster.connect_each()
        await cluster.join_locally(clients[1], "room-b")
        sio0, sio1 = cluster.nodes[0].sio, cluster.nodes[1].sio
        await sio0.emit("to-all", {"secret": "not recorded"})
        await sio0.emit("to-room", (1, 2), to="room-b", skip_sid=clients[0].sid)
        await sio1.emit("from-one", b"\x00\x01")
        await clients[1].wait_for("from-one")
        await clients[0].wait_for("from-one")
        await clients[1].wait_for("to-room")
        uids = [node.mgr.uid for node in cluster.nodes]
        for plugin in [p for node in cluster.nodes for p in node.mgr.plugins.registered()]:
            plugin.close()

    lines = {index: [json.loads(line) for line in path.read_text().splitlines()]
             for index, path in paths.items()}  # fmt: skip
    sent0 = [(r["direction"], r["event"]) for r in lines[0]]
    sent1 = [(r["direction"], r["event"]) for r in lines[1]]
    assert sorted(sent0) == [("received", "from-one"), ("sent", "to-all"), ("sent", "to-room")]
    # Node 1 has a member in room-b, so it decodes and records the room broadcast.
    assert sorted(sent1) == [("received", "to-all"), ("received", "to-room"), ("sent", "from-one")]
    by_event = {(index, r["event"]): r for index, records in lines.items() for r in records}
    room = by_event[(0, "to-room")]
    assert room["node"] == uids[0]
    assert room["namespace"] == "/"
    assert room["rooms"] == ["room-b"]
    assert room["except"] == [clients[0].sid]
    assert room["args"] == 2
    assert room["bytes"] > 0
    assert by_event[(1, "to-room")]["bytes"] == room["bytes"]  # same message, both ends
    assert by_event[(1, "from-one")]["direction"] == "sent"
    assert by_event[(0, "from-one")]["node"] == uids[0]
    assert all("args_values" not in r for records in lines.values() for r in records)
    assert "not recorded" not in paths[0].read_text()


@pytest.fixture(scope="module")
def plugin_pkg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """tests/plugin_pkg installed as a user installs a package (``pip install``, which writes
    its entry points), into a directory of its own put on ``sys.path`` for this module's
    tests: the suite needs no install step of its own, and this environment stays unchanged."""
    target = tmp_path_factory.mktemp("plugin-pkg")
    pip_install(target)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()  # importlib.metadata then finds its dist-info (entry points)
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [n for n in sys.modules if n.partition(".")[0] == "sioadapter_testpkg"]:
            del sys.modules[name]
        importlib.invalidate_caches()


@pytest.mark.usefixtures("plugin_pkg")
async def test_a_backend_and_a_plugin_from_another_package_chosen_by_name(
    cluster_name: str,
) -> None:
    from sioadapter_testpkg import LoopbackBackend

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            f"loopback://{cluster_name}", plugins=[("stamp", {"label": f"n{index}"})], **options
        )

    async with Cluster(factory, nodes=2) as cluster:
        clients = await cluster.connect_each()
        assert all(isinstance(node.mgr.backend, LoopbackBackend) for node in cluster.nodes)
        await cluster.nodes[0].sio.emit("hello", "world")
        assert await clients[0].wait_for("hello") == [("world", {"stamped_by": "n0"})]
        assert await clients[1].wait_for("hello") == [("world", {"stamped_by": "n1"})]


def test_audit_plugin_refuses_a_bad_sample() -> None:
    with pytest.raises(ValueError, match="sample"):
        AuditPlugin(sample=0)
