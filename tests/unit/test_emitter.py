"""The Emitter publishes exactly the bytes @socket.io/redis-emitter 5.1 publishes.

Each case replays one operation of the captured Node emitter run (tests/fixtures/
node-captures.json, family "emitter") through sioadapter's Emitter, on a recording client, and
compares channel and payload byte for byte.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sioadapter.backends.base import Backend, Capabilities
from sioadapter.emitter import AsyncEmitter, Emitter

VECTORS = json.loads((Path(__file__).parent.parent / "fixtures" / "node-captures.json").read_text())
EMITTER = {v["operation"].split("  [run")[0]: v for v in VECTORS if v["family"] == "emitter"}
WHEN = datetime.fromtimestamp(1700000000.123, tz=timezone.utc)


class Recorder:
    """A stand-in Redis client that records what would be published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, channel: str, payload: bytes) -> int:
        self.published.append((channel, payload))
        return 1


def sid_of(operation: str) -> str:
    return EMITTER[operation]["channel"].split("#")[2]


# Node call (as captured) -> the same call through sioadapter's Emitter.
CASES: dict[str, Any] = {
    'emitter.emit("em-all", 1, "2", Buffer.from([1, 2, 3]), { a: [1, { b: null }] }, null, new '
    "Date(1700000000123))": lambda e: e.emit(
        "em-all", 1, "2", b"\x01\x02\x03", {"a": [1, {"b": None}]}, None, WHEN
    ),
    'emitter.to("room1").emit("em-room1", "x")': lambda e: e.to("room1").emit("em-room1", "x"),
    'emitter.to(["room1", "room2"]).emit("em-rooms", 2)': lambda e: e.to(["room1", "room2"]).emit(
        "em-rooms", 2
    ),
    'emitter.except("room1").emit("em-except", 3)': lambda e: e.except_("room1").emit(
        "em-except", 3
    ),
    'emitter.to(ctx.sids.c3).emit("em-sid", 4)': lambda e: e.to(
        sid_of('emitter.to(ctx.sids.c3).emit("em-sid", 4)')
    ).emit("em-sid", 4),
    'emitter.volatile.emit("em-volatile", 5)': lambda e: e.volatile.emit("em-volatile", 5),
    'emitter.compress(false).emit("em-nocompress", 6)': lambda e: e.compress(False).emit(
        "em-nocompress", 6
    ),
    'emitter.of("/custom").emit("em-custom", 7)': lambda e: e.of("/custom").emit("em-custom", 7),
    'emitter.of("custom").to("croom").emit("em-custom-room", 8)': lambda e: (
        e.of("custom").to("croom").emit("em-custom-room", 8)
    ),
    'emitter.to("room2").except("room1").volatile.compress(true).emit("em-combo", 9)': lambda e: (
        e.to("room2").except_("room1").volatile.compress(True).emit("em-combo", 9)
    ),
    # JS undefined has no Python twin: notepack 3 drops undefined keys and writes [undefined]
    # as [null], so the same bytes come from {"n": None} and [None].
    'emitter.emit("em-typed", new Uint8Array([1, 2]), new Uint8Array([3, 4]).buffer, { u: '
    "undefined, n: null }, [undefined], 1.5, 2 ** 40, -1)": lambda e: e.emit(
        "em-typed", b"\x01\x02", b"\x03\x04", {"n": None}, [None], 1.5, 2**40, -1
    ),
    'emitter.socketsJoin("room3")': lambda e: e.sockets_join("room3"),
    'emitter.in("room1").socketsJoin(["room4", "room5"])': lambda e: e.in_("room1").sockets_join(
        ["room4", "room5"]
    ),
    'emitter.except("room2").socketsLeave("room3")': lambda e: e.except_("room2").sockets_leave(
        "room3"
    ),
    'emitter.socketsLeave("room4")': lambda e: e.sockets_leave("room4"),
    'emitter.serverSideEmit("hello", "from-emitter", 1)': lambda e: e.server_side_emit(
        "hello", "from-emitter", 1
    ),
    'emitter.in("room5").disconnectSockets()': lambda e: e.in_("room5").disconnect_sockets(),
    'emitter.except("room1").disconnectSockets(true)': lambda e: e.except_(
        "room1"
    ).disconnect_sockets(True),
    "emitter.disconnectSockets()": lambda e: e.disconnect_sockets(),
    'emitter.of("/custom").disconnectSockets()': lambda e: e.of("/custom").disconnect_sockets(),
}


def test_every_captured_emitter_operation_has_a_case():
    assert set(CASES) == set(EMITTER)


@pytest.mark.parametrize("operation", sorted(CASES))
def test_emitter_publishes_what_the_node_emitter_publishes(operation):
    recorder = Recorder()
    CASES[operation](Emitter(recorder))
    vector = EMITTER[operation]
    assert recorder.published == [(vector["channel"], bytes.fromhex(vector["hex"]))]


def test_operators_return_new_emitters_and_leave_the_original_unchanged():
    recorder = Recorder()
    base = Emitter(recorder)
    room = base.to("room1")
    room.volatile.emit("a")
    base.emit("b")
    room.emit("c")
    channels = [channel for channel, _ in recorder.published]
    assert channels == ["socket.io#/#room1#", "socket.io#/#", "socket.io#/#room1#"]


@pytest.mark.parametrize("event", ["connect", "connect_error", "disconnect", "newListener"])
def test_reserved_event_names_are_refused(event):
    recorder = Recorder()
    with pytest.raises(ValueError, match="reserved event name"):
        Emitter(recorder).emit(event)
    assert recorder.published == []


def test_acknowledgements_are_refused_like_node():
    with pytest.raises(ValueError, match="acknowledgements are not supported"):
        Emitter(Recorder()).emit("ev", lambda: None)
    with pytest.raises(ValueError, match="acknowledgements are not supported"):
        Emitter(Recorder()).server_side_emit("ev", lambda: None)


def test_custom_key_and_namespace():
    recorder = Recorder()
    Emitter(recorder, key="chat", namespace="admin").emit("ev")
    assert recorder.published[0][0] == "chat#/admin#"


async def test_async_emitter_publishes_the_same_bytes():
    class AsyncRecorder(Recorder):
        async def publish(self, channel: str, payload: bytes) -> int:  # type: ignore[override]
            return super().publish(channel, payload)

    recorder = AsyncRecorder()
    await AsyncEmitter(recorder).to("room1").emit("em-room1", "x")
    vector = EMITTER['emitter.to("room1").emit("em-room1", "x")']
    assert recorder.published == [(vector["channel"], bytes.fromhex(vector["hex"]))]


class RecordingBackend(Backend):
    """A backend without patterns or counts (so: the ClusterAdapter protocol) that records."""

    capabilities = Capabilities(patterns=False, counts_subscribers=False)

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, bytes]] = []

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish(self, messages: Any) -> None:
        self.published.extend(messages)

    async def subscribe(self, channels: Any = (), patterns: Any = ()) -> None:
        pass

    async def unsubscribe(self, channels: Any = (), patterns: Any = ()) -> None:
        pass

    async def message_batches(self) -> Any:  # pragma: no cover (never read here)
        yield []


async def test_a_room_just_joined_through_the_emitter_is_reached_on_the_main_channel():
    # Room channels are subscribed by the member's node once it applied the join; a broadcast
    # sent there at once could beat the subscription, the main channel is read in order.
    backend = RecordingBackend()
    emitter = AsyncEmitter(backend)
    await emitter.to("r").emit("before")
    await emitter.to("sid-of-someone-else-x").sockets_join("r")
    await emitter.to("r").emit("after")
    await emitter.to("other").emit("elsewhere")
    channels = [channel for channel, _ in backend.published]
    assert channels == ["socket.io#/#r#", "socket.io#/#", "socket.io#/#", "socket.io#/#other#"]
