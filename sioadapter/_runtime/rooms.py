"""Per-room channel subscriptions, for the ClusterAdapter protocol's dynamic modes.

With per-room channels a node hears a room's broadcasts only while it subscribes to that room's
channel, which it does while the room has a local member. python-socketio changes rooms in
synchronous calls (``basic_enter_room``), so the (un)subscriptions are queued and applied in
order by one task. Two things keep messages from falling into the gap before a subscription is
active:

* ``await ready(nsp, rooms)``: the async room operations (``sio.enter_room``, ``sockets_join``
  on local sockets) wait for their room channels before they return, so a broadcast sent after
  them, from any node, is heard;
* the sender's grace (:class:`~sioadapter.core.grace.RecentRoomChanges`, kept by the node):
  right after a node makes sockets of *other* nodes join or leave a room, its broadcasts to
  that room go on the namespace channel, which those nodes read in order with the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from .bus import AsyncBus

__all__ = ["RoomChannels"]

Report = Callable[[BaseException, str], None]
BATCH = 1000
"""The most channels one (un)subscribe call carries."""
ChannelOf = Callable[[str, Any], "str | None"]


class RoomChannels:
    """Keeps one subscription per local room (as the family's subscription mode says)."""

    def __init__(self, bus: AsyncBus, channel_of: ChannelOf, report: Report) -> None:
        self._bus = bus
        self.channel = channel_of
        self._report = report
        self._ops: asyncio.Queue[tuple[bool, str, asyncio.Future[None]]] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[None]] = {}

    def created(self, nsp: str, room: Any) -> None:
        """A room got its first local member: subscribe to its channel."""
        self._queue(True, self.channel(nsp, room))

    def deleted(self, nsp: str, room: Any) -> None:
        """A room lost its last local member: unsubscribe."""
        self._queue(False, self.channel(nsp, room))

    def _queue(self, subscribe: bool, channel: str | None) -> None:
        if channel is None:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[channel] = done
        self._ops.put_nowait((subscribe, channel, done))

    async def ready(self, nsp: str, rooms: Iterable[Any]) -> None:
        """Return once the queued subscriptions of these rooms' channels are applied."""
        for room in rooms:
            channel = self.channel(nsp, room)
            pending = self._pending.get(channel) if channel is not None else None
            if pending is not None:
                await asyncio.shield(pending)

    async def run(self) -> None:
        """Apply (un)subscriptions in order, forever (the manager runs and cancels it).

        The operations queued meanwhile go in one call while they are of the same kind (up to
        `BATCH` channels): rooms created together, as by a node taking its clients back after
        a restart, then cost one round trip to the broker, not one each (0.3-0.6 ms each on
        Redis). A change of kind ends the batch, so the order of a channel's operations holds.
        """
        carry: tuple[bool, str, asyncio.Future[None]] | None = None
        while True:
            batch = [carry if carry is not None else await self._ops.get()]
            carry = None
            subscribe = batch[0][0]
            while len(batch) < BATCH and not self._ops.empty():
                op = self._ops.get_nowait()
                if op[0] != subscribe:
                    carry = op  # the other kind: the next call's first, in order
                    break
                batch.append(op)
            channels = [channel for _, channel, _ in batch]
            try:
                if subscribe:
                    await self._bus.subscribe(channels)
                else:
                    await self._bus.unsubscribe(channels)
            except Exception as error:
                what = repr(channels[0]) + (f" and {len(channels) - 1} more" if batch[1:] else "")
                self._report(error, f"updating the subscription to {what}")
            finally:
                for _, channel, done in batch:
                    done.set_result(None)
                    if self._pending.get(channel) is done:
                        del self._pending[channel]
