"""RoomChannels applies the (un)subscriptions queued together in one broker call per run of
one kind, in order, and every waiter of `ready` returns once its room's channel is applied."""

from __future__ import annotations

import asyncio
from typing import Any

from sioadapter._runtime.rooms import BATCH, RoomChannels


class Bus:
    """The bus's two calls, recorded; each takes a turn of the loop, as a broker round trip."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.fail = fail

    async def subscribe(self, channels: list[str]) -> None:
        self.calls.append(("subscribe", list(channels)))
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("broker gone")

    async def unsubscribe(self, channels: list[str]) -> None:
        self.calls.append(("unsubscribe", list(channels)))
        await asyncio.sleep(0)


def channels(bus: Any, reports: list[str] | None = None) -> RoomChannels:
    def report(error: BaseException, what: str) -> None:
        if reports is not None:
            reports.append(f"{what}: {error}")

    return RoomChannels(bus, lambda nsp, room: f"k#{nsp}#{room}#", report)


async def _run(rooms: RoomChannels, work: Any) -> None:
    task = asyncio.create_task(rooms.run())
    try:
        await asyncio.wait_for(work(), 5)
    finally:
        task.cancel()


def test_rooms_created_together_cost_one_call_and_each_waiter_returns() -> None:
    bus = Bus()
    rooms = channels(bus)

    async def work() -> None:
        for i in range(300):
            rooms.created("/", f"r{i}")
        await rooms.ready("/", ["r0", "r299"])

    asyncio.run(_run(rooms, work))
    assert bus.calls == [("subscribe", [f"k#/#r{i}#" for i in range(300)])]


def test_a_change_of_kind_keeps_the_order_of_a_channels_operations() -> None:
    bus = Bus()
    rooms = channels(bus)

    async def work() -> None:
        rooms.created("/", "a")
        rooms.created("/", "b")
        rooms.deleted("/", "a")
        rooms.created("/", "a")
        await rooms.ready("/", ["a", "b"])

    asyncio.run(_run(rooms, work))
    assert bus.calls == [
        ("subscribe", ["k#/#a#", "k#/#b#"]),
        ("unsubscribe", ["k#/#a#"]),
        ("subscribe", ["k#/#a#"]),
    ]


def test_a_batch_is_bounded() -> None:
    bus = Bus()
    rooms = channels(bus)

    async def work() -> None:
        for i in range(BATCH + 5):
            rooms.created("/", i)
        await rooms.ready("/", [BATCH + 4])

    asyncio.run(_run(rooms, work))
    assert [len(c) for _, c in bus.calls] == [BATCH, 5]


def test_a_failed_call_is_reported_once_and_releases_its_waiters() -> None:
    reports: list[str] = []
    rooms = channels(Bus(fail=True), reports)

    async def work() -> None:
        for room in ("a", "b", "c"):
            rooms.created("/", room)
        await rooms.ready("/", ["a", "c"])

    asyncio.run(_run(rooms, work))
    assert reports == ["updating the subscription to 'k#/#a#' and 2 more: broker gone"]
