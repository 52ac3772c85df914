"""One long-lived Python Socket.IO node of the rooms-and-sockets scaling family
(:mod:`benchmarks.scaling_rooms`), driven by commands on stdin.

Usage: ``python -m benchmarks.scale_node '<json config>'``. Config keys: ``contender``
(``sioadapter``, ``sioadapter-rooms``: ``subscription_mode="dynamic-private"``, or
``socketio``: AsyncRedisManager, as :mod:`benchmarks.node_python`), ``redis``, ``key``,
``expect_subscribers`` (python-socketio: wait until Redis counts that many subscribers) and,
for sioadapter, ``requests_timeout`` and ``max_message_size`` (the manager's options).

Unlike node_python's one-shot roles, one process serves every size of a dimension: the
orchestrator makes it grow (sockets, rooms), then measures, then grows it again, so that a
dimension of four sizes costs one process start and not four. Sockets are python-socketio's
own, registered on the manager as the server does for a client (node_python.add_sockets), with
the packet writes replaced by a counter. Every node holds a socket ``ctl`` in room ``ctl``: a
sender's ``start`` and ``end`` markers there open and close a CPU window.

Commands, one JSON object per line on stdin; each answers one line on stdout:

* ``{"op": "rooms", "rooms": R, "sockets": S}``: grow to R rooms ``r0..`` over S sockets (room
  i joined by socket i mod S) -> ``{"grown": {"seconds", "rss_mb", ...}}``;
* ``{"op": "sockets", "count": K, "room": "room1"}``: grow to K sockets in that room ->
  ``{"grown": ...}``;
* ``{"op": "send", "n": N, "rate": r, "room": "room1"}``: N broadcasts (flat out when ``rate`` is
  0) between ``start`` and ``end`` -> ``{"sent": {"n", "seconds", "cpu_s"}}``;
* ``{"op": "fetch", "calls": c, "warmup": w, "total": T, "nodes": m, "budget": s}``: wait
  for m servers, then time fetch_sockets() (which must find T sockets) and server_count(),
  w untimed calls and then c timed ones, fewer once s seconds have passed (one at least) ->
  ``{"fetched": {"fetch_sockets": summary_ms, "server_count": summary_ms}}``.

Unprompted, each ``end`` marker makes the node print ``{"window": {"cpu_s", "delivered",
"expected", "seconds", "complete"}}`` (seconds: from the sender's first emit to the last
delivery). ``{"ready": true}`` once the node takes traffic; ``{"error": "..."}`` on failure.
The node exits when stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from typing import Any

import socketio

from .node_python import ENVIRON, NSP, cpu_seconds, emit_line, make_manager, wait_subscribed
from .stats import summary


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Node:
    """The node's sockets, rooms and the CPU window of the markers."""

    def __init__(self, cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
        self.cfg, self.sio, self.mgr = cfg, sio, mgr
        self.sids: dict[str, str] = {}  # eio sid -> socket id
        self.rooms = 0
        self.members: dict[str, int] = {}  # room -> local sockets
        self.count = 0
        self.expected = 0
        self.window: dict[str, float] = {}
        self.last = 0.0
        self.caught_up: asyncio.Event | None = None  # set once the expected count arrived
        sio._send_eio_packet = self._send_eio
        sio._send_packet = self._send_packet

    async def _send_eio(self, eio_sid: str, pkt: Any) -> None:
        self.on_packet(eio_sid, pkt.data)

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        encoded = pkt.encode()
        self.on_packet(eio_sid, encoded if isinstance(encoded, str) else encoded[0])

    def on_packet(self, eio_sid: str, data: str) -> None:
        if eio_sid != "ctl":
            self.count += 1
            self.last = time.monotonic()
            if self.caught_up is not None and self.count >= self.expected:
                self.caught_up.set()
            return
        if data.startswith('2["start"'):
            marker = json.loads(data[1:])[1]
            self.count, self.last = 0, 0.0
            self.expected = marker["n"] * self.members.get(marker["room"], 0)
            self.window = {"t": marker["t"], "cpu": cpu_seconds()}
        elif data.startswith('2["end"') and self.window:
            asyncio.get_running_loop().create_task(self._close_window())

    async def _close_window(self) -> None:
        # Deliveries ride the same connection as the marker, but some may still be queued
        # behind it in this loop: wait for the expected count, a bounded while.
        if self.count < self.expected:
            self.caught_up = asyncio.Event()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.caught_up.wait(), 5.0)
            self.caught_up = None
        cpu = cpu_seconds() - self.window["cpu"]
        end = self.last if self.count else time.monotonic()
        emit_line(window={"cpu_s": cpu, "delivered": self.count, "expected": self.expected,
                          "complete": self.count >= self.expected,
                          "seconds": end - self.window["t"]})  # fmt: skip
        self.window = {}

    async def add_socket(self, eio_sid: str) -> str:
        self.sio.environ[eio_sid] = dict(ENVIRON)
        sid = await self.mgr.pre_connect(eio_sid, NSP)
        await self.mgr.connect(sid, NSP)
        self.sids[eio_sid] = sid
        return str(sid)

    async def join(self, sid: str, room: str) -> None:
        await self.mgr.enter_room(sid, NSP, room)
        self.members[room] = self.members.get(room, 0) + 1

    async def grow_rooms(self, rooms: int, sockets: int) -> dict[str, Any]:
        t0 = time.monotonic()
        names = [f"x{j}" for j in range(sockets)]
        for name in names:
            if name not in self.sids:
                await self.add_socket(name)
        for i in range(self.rooms, rooms):
            await self.join(self.sids[names[i % sockets]], f"r{i}")
        self.rooms = max(self.rooms, rooms)
        return {"seconds": time.monotonic() - t0, "rss_mb": rss_mb(), "rooms": self.rooms,
                "sockets": len(self.sids) - 1}  # fmt: skip

    async def grow_sockets(self, count: int, room: str) -> dict[str, Any]:
        t0 = time.monotonic()
        for j in range(self.members.get(room, 0), count):
            await self.join(await self.add_socket(f"{room}-{j}"), room)
        return {"seconds": time.monotonic() - t0, "rss_mb": rss_mb(),
                "sockets": self.members.get(room, 0)}  # fmt: skip

    async def send(self, n: int, rate: float, room: str) -> dict[str, Any]:
        cpu0, t0 = cpu_seconds(), time.monotonic()
        await self.sio.emit("start", {"t": t0, "n": n, "room": room}, to="ctl")
        for i in range(n):
            if rate > 0:  # a fixed offered rate: sleep until the next one is due
                due = t0 + i / rate
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
            await self.sio.emit("ev", {"i": i, "t": time.monotonic()}, to=room)
        await self.sio.emit("end", {"t": time.monotonic()}, to="ctl")
        if hasattr(self.mgr, "flush"):
            await self.mgr.flush()
        return {"n": n, "seconds": time.monotonic() - t0, "cpu_s": cpu_seconds() - cpu0}

    async def fetch(
        self, calls: int, warmup: int, total: int, nodes: int, budget: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while await self.mgr.server_count() < nodes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {await self.mgr.server_count()} of {nodes} nodes")
            await asyncio.sleep(0.05)

        async def fetch_sockets() -> None:
            found = await self.mgr.fetch_sockets()
            if len(found) != total:
                raise RuntimeError(f"fetch_sockets found {len(found)} sockets, not {total}")

        async def server_count() -> None:
            if await self.mgr.server_count() != nodes:
                raise RuntimeError("server_count changed")

        out: dict[str, Any] = {}
        for name, op in (("fetch_sockets", fetch_sockets), ("server_count", server_count)):
            started = time.perf_counter()
            for _ in range(warmup):
                await op()
            samples: list[float] = []
            # the budget ends the timed calls early when one takes longer than projected
            while len(samples) < calls and (not samples or time.perf_counter() - started < budget):
                t0 = time.perf_counter()
                await op()
                samples.append((time.perf_counter() - t0) * 1000)
            out[name] = summary(samples)
        return out


def read_stdin(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """A thread: stdin's lines into the loop's queue (None at EOF: the orchestrator is done)."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def main(cfg: dict[str, Any]) -> None:
    if cfg["contender"].startswith("sioadapter"):
        import sioadapter

        options: dict[str, Any] = {
            k: cfg[k] for k in ("requests_timeout", "max_message_size") if k in cfg
        }
        if cfg["contender"] == "sioadapter-rooms":
            options["subscription_mode"] = "dynamic-private"
        mgr = sioadapter.AsyncClusterManager(cfg["redis"], key=cfg["key"], **options)
    else:
        mgr = make_manager(cfg)
    sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    if cfg["contender"].startswith("sioadapter"):
        await mgr.start()
    else:
        mgr.initialize()  # what the server does on its first connection
    node = Node(cfg, sio, mgr)
    await node.join(await node.add_socket("ctl"), "ctl")
    await wait_subscribed(cfg)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=read_stdin, args=(loop, queue), daemon=True).start()
    emit_line(ready=True, rss_mb=rss_mb())
    while (line := await queue.get()) is not None:
        cmd = json.loads(line)
        if cmd["op"] == "rooms":
            emit_line(grown=await node.grow_rooms(cmd["rooms"], cmd["sockets"]))
        elif cmd["op"] == "sockets":
            emit_line(grown=await node.grow_sockets(cmd["count"], cmd["room"]))
        elif cmd["op"] == "send":
            emit_line(sent=await node.send(cmd["n"], float(cmd.get("rate") or 0), cmd["room"]))
        elif cmd["op"] == "fetch":
            args = (cmd["calls"], cmd["warmup"], cmd["total"], cmd["nodes"], cmd["budget"])
            emit_line(fetched=await node.fetch(*args))
        else:
            raise RuntimeError(f"unknown op {cmd['op']!r}")


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        asyncio.run(main(config))
    except Exception as error:  # reported to the orchestrator, which stops the run
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
