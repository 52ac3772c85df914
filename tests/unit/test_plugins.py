"""The plugin host and the non-broadcast hooks, on in-process managers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import socketio

import sioadapter
from sioadapter.backends.memory import MemoryBackend
from sioadapter.hooks import hookimpl
from sioadapter.plugins import PluginHost, UnknownPluginError, installed_plugins


class Recorder:
    """Records every call of the non-broadcast hooks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.node_left = asyncio.Event()

    @hookimpl
    def sioadapter_request_done(self, operation, received, expected, timed_out, duration):
        self.calls.append(("request_done", locals() | {"self": None}))

    @hookimpl
    def sioadapter_message_dropped(self, channel, reason):
        self.calls.append(("dropped", {"channel": channel, "reason": reason}))

    @hookimpl
    def sioadapter_backend_error(self, error, context):
        self.calls.append(("backend_error", {"error": error, "context": context}))

    @hookimpl
    def sioadapter_node_joined(self, namespace, uid):
        self.calls.append(("joined", {"namespace": namespace, "uid": uid}))

    @hookimpl
    def sioadapter_node_left(self, namespace, uid):
        self.calls.append(("left", {"namespace": namespace, "uid": uid}))
        self.node_left.set()

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


async def started(url: str, count: int, **options: Any) -> list[Any]:
    managers = [sioadapter.AsyncClusterManager(url, **options) for _ in range(count)]
    for mgr in managers:
        socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
        await mgr.start()
    return managers


async def close_all(managers: list[Any]) -> None:
    for mgr in managers:
        await mgr.close()


def test_unknown_plugin_names_list_the_installed_ones():
    with pytest.raises(UnknownPluginError) as raised:
        sioadapter.AsyncClusterManager("memory://p", plugins=["nope"])
    assert "audit" in str(raised.value)
    assert "audit" in installed_plugins()


def test_a_plugin_with_a_misspelled_hook_is_refused():
    class Typo:
        @hookimpl
        def sioadapter_broadcast_publsh(self, broadcast):
            return None

    with pytest.raises(Exception, match="unknown hook"):
        sioadapter.AsyncClusterManager("memory://p", plugins=[Typo()])


def test_each_manager_has_its_own_plugins():
    first = sioadapter.AsyncClusterManager("memory://own", plugins=[Recorder()])
    second = sioadapter.AsyncClusterManager("memory://own")
    assert len(first.plugins.registered()) == 1
    assert second.plugins.registered() == []
    assert second.plugins.active == frozenset()


def test_a_raising_plugin_is_logged_and_the_others_still_run(caplog):
    seen = []

    class Boom:
        @hookimpl
        def sioadapter_node_joined(self, uid):
            raise RuntimeError("boom")

    class Fine:
        @hookimpl
        def sioadapter_node_joined(self, uid):
            seen.append(uid)

    host = PluginHost(manager=None, plugins=[Fine(), Boom()])
    with caplog.at_level(logging.ERROR, logger="sioadapter.plugins"):
        host.call("sioadapter_node_joined", namespace="/", uid="n1")
    assert seen == ["n1"]
    assert any("failed in sioadapter_node_joined" in r.getMessage() for r in caplog.records)


async def test_request_done_reports_completion_and_timeouts():
    recorder = Recorder()
    managers = await started("memory://req", 2, plugins=[recorder], requests_timeout=0.2)
    try:
        await managers[0].fetch_sockets()
        silent = MemoryBackend("req")  # counted as a node, never answers
        await silent.connect()
        await silent.subscribe([managers[0].family.count_channel("/")])
        with pytest.raises(sioadapter.RequestTimeoutError):
            await managers[0].all_rooms()
        await silent.close()
    finally:
        await close_all(managers)
    done = [args for name, args in recorder.calls if name == "request_done"]
    assert [(d["operation"], d["timed_out"]) for d in done] == [
        ("fetch_sockets", False),
        ("all_rooms", True),
    ]
    assert (done[1]["received"], done[1]["expected"]) == (1, 2)
    # Seconds from publishing to the end: the timed-out one waited its requests_timeout.
    assert 0 <= done[0]["duration"] < 0.2 <= done[1]["duration"] < 1


async def test_message_dropped_fires_for_undecodable_payloads():
    recorder = Recorder()
    managers = await started("memory://drop", 1, plugins=[recorder])
    try:
        intruder = MemoryBackend("drop")
        await intruder.connect()
        await intruder.publish([("socket.io-request#/#", b"\xc1 not msgpack")])
        await managers[0].flush()
        await intruder.close()
        # The listener handles messages in order: a request of ours queued after the garbage
        # completes only once the garbage has been handled.
        await managers[0].fetch_sockets()
    finally:
        await close_all(managers)
    assert recorder.names().count("dropped") == 1
    assert managers[0].stats.dropped_malformed == 1


async def test_backend_errors_reach_the_hook():
    recorder = Recorder()
    mgr = sioadapter.AsyncClusterManager("memory://err", plugins=[recorder])
    mgr.backend.report_error(ConnectionError("link down"), "reading")
    assert recorder.calls == [
        ("backend_error", {"error": recorder.calls[0][1]["error"], "context": "reading"})
    ]
    assert str(recorder.calls[0][1]["error"]) == "link down"
    assert mgr.stats.backend_errors == 1


async def test_node_joined_and_left_in_heartbeat_mode():
    recorder = Recorder()
    managers = await started(
        "memory://hb?counts=false", 2, plugins=[recorder], heartbeat_interval=0.05
    )
    other = managers[1].uid
    try:
        assert await managers[0].server_count() == 2
        await managers[1].close()
        # Closing says ADAPTER_CLOSE: node 0 forgets node 1 without waiting for a timeout.
        await asyncio.wait_for(recorder.node_left.wait(), 2)
        assert await managers[0].server_count() == 1
    finally:
        await close_all(managers)
    events = [(name, args["uid"]) for name, args in recorder.calls if name in ("joined", "left")]
    assert ("joined", other) in events
    assert ("left", other) in events
