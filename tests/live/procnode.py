"""One cluster node as its own process, driven over stdin/stdout, for the live fault tests.

Usage: ``python tests/live/procnode.py '<json config>'``; config keys: ``url`` (the backend),
``key``, ``name`` (what ``whoami`` answers), ``port`` (the Socket.IO port on 127.0.0.1) and
``options`` (AsyncClusterManager keyword arguments).

The node is what a user runs: a ``socketio.AsyncServer`` on ``sioadapter.AsyncClusterManager``
served by uvicorn. Its handlers: a client that sends ``join`` joins that room; a server-side
``whoami`` answers the node's name; ``silent`` is a server-side event nobody answers.

Commands are JSON lines ``{"id": n, "op": ..., ...}``; each gets ``{"id": n, "result": ...}``
or ``{"id": n, "error": "..."}``. Logs go to stderr (the driver keeps them in a file).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import json
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio
import uvicorn

import sioadapter


def rss_bytes() -> int:
    """This process's resident set size, from /proc (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096


class Node:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        options = dict(cfg["options"])
        server_options = options.pop("server_options", {})  # socketio.AsyncServer's own
        self.mgr = sioadapter.AsyncClusterManager(cfg["url"], key=cfg["key"], **options)
        self.sio = socketio.AsyncServer(
            client_manager=self.mgr, async_mode="asgi", **server_options
        )
        self.tickers: dict[str, asyncio.Task[int]] = {}
        self.ticks: dict[str, int] = {}
        self.mgr.on("whoami", lambda *args: cfg["name"])

        @self.sio.on("join")
        async def join(sid: str, room: str) -> str:
            await self.sio.enter_room(sid, room)
            return room

        #: (sid, recovered) of each connection the connect handler saw (recovery tests).
        self.connects: list[tuple[str, bool]] = []

        @self.sio.on("connect")
        async def connect(sid: str, environ: Any, auth: Any = None) -> None:
            self.connects.append((sid, self.mgr.recovered(sid)))

        #: (sid, reason) of each disconnection the disconnect handler saw.
        self.disconnects: list[tuple[str, str]] = []
        self.disconnected = asyncio.Event()

        @self.sio.on("disconnect")
        async def disconnect(sid: str, reason: Any = None) -> None:
            self.disconnects.append((sid, str(reason)))
            self.disconnected.set()

        @self.sio.on("remember")
        async def remember(sid: str, data: Any) -> Any:
            await self.sio.save_session(sid, data)
            return data

        @self.sio.on("recall")
        async def recall(sid: str) -> Any:
            return {
                "session": await self.sio.get_session(sid),
                "rooms": sorted(str(r) for r in self.sio.rooms(sid)),
                "recovered": self.mgr.recovered(sid),
            }

    # -- commands ---------------------------------------------------------------------------

    async def op_ping(self) -> str:
        return "pong"

    async def op_stats(self) -> dict[str, Any]:
        return {
            **self.mgr.stats.as_dict(),
            "rss": rss_bytes(),
            "healthy": self.mgr.healthy,
            "in_outage": getattr(self.mgr._bus, "in_outage", None),
            "uid": self.mgr.uid,
        }

    async def op_gc(self) -> int:
        gc.collect()
        return rss_bytes()

    async def op_objects(self, top: int = 15) -> list[tuple[str, int]]:
        """The most numerous kinds of live objects (to find what a leak keeps)."""
        gc.collect()
        counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
        return counts.most_common(top)

    async def op_connects(self) -> list[tuple[str, bool]]:
        return self.connects

    async def op_disconnects(self, count: int = 0, timeout: float = 10.0) -> list[tuple[str, str]]:
        """The disconnections seen, once there are at least ``count`` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while len(self.disconnects) < count and time.monotonic() < deadline:
            self.disconnected.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.disconnected.wait(), deadline - time.monotonic())
        return self.disconnects

    async def op_engineio_connections(self, count: int, timeout: float = 10.0) -> int:
        """The engine.io connections open, once there are ``count`` (bounded wait: they
        end on no event a command can wait on)."""
        deadline = time.monotonic() + timeout
        # engine.io signals no connection's end a command could wait on: a bounded poll.
        while len(self.sio.eio.sockets) != count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return len(self.sio.eio.sockets)

    async def op_recovery_tables(self) -> dict[str, int]:
        """How many entries connection state recovery keeps, per table (a leak shows here)."""
        recovery = self.mgr._recovery
        assert recovery is not None
        tables = {"plans": recovery._plans, "live": recovery._live, "reasons": recovery._reasons}
        return {name: len(table) for name, table in tables.items()} | {"holds": len(recovery.holds)}

    async def op_wait_connected(self, seconds: float) -> bool:
        await self.mgr.wait_connected(seconds)
        return True

    async def op_server_count(self) -> int:
        return await self.mgr.server_count()

    async def op_server_side_call(self, event: str, timeout: float = 10.0) -> list[Any]:
        return await self.mgr.server_side_call(event, timeout=timeout)

    async def op_disconnect_sockets(self, to: Any, close: bool) -> None:
        await self.mgr.disconnect_sockets(close, to=to)

    async def op_emit(self, event: str, args: list[Any], to: Any = None) -> None:
        await self.sio.emit(event, tuple(args) if len(args) != 1 else args[0], to=to)

    async def op_ticker(self, event: str, interval: float, size: int = 0, to: Any = None) -> None:
        async def tick() -> int:
            pad = "x" * size
            self.ticks[event] = 0
            try:
                while True:
                    sent = self.ticks[event] = self.ticks[event] + 1
                    await self.sio.emit(event, (sent, pad) if size else sent, to=to)
                    await asyncio.sleep(interval)  # a steady offered rate
            except asyncio.CancelledError:
                return self.ticks[event]

        self.tickers[event] = asyncio.create_task(tick())

    async def op_burst(self, event: str, count: int, size: int = 0) -> int:
        """``count`` broadcasts as fast as emit allows; returns when all are queued."""
        pad = "x" * size
        for n in range(1, count + 1):
            await self.sio.emit(event, (n, pad) if size else n)
        return count

    async def op_ticks(self, event: str) -> int:
        return self.ticks.get(event, 0)

    async def op_stop_ticker(self, event: str) -> int:
        task = self.tickers.pop(event)
        task.cancel()
        return await task

    async def op_requests(
        self,
        kind: str,
        count: int,
        concurrency: int,
        request_timeout: float = 30.0,
        to: Any = None,
    ) -> dict[str, Any]:
        """``count`` requests of one kind, at most ``concurrency`` at a time; what came of
        them. A request is ok when it got every answer it expects."""
        errors: collections.Counter[str] = collections.Counter()
        ok = 0
        limit = asyncio.Semaphore(concurrency)

        async def one() -> None:
            nonlocal ok
            async with limit:
                try:
                    await self._request(kind, request_timeout, to)
                except Exception as error:
                    errors[f"{type(error).__name__}: {error}"[:120]] += 1
                else:
                    ok += 1

        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(count)))
        return {
            "ok": ok,
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(5)),
            "seconds": time.monotonic() - started,
        }

    async def _request(self, kind: str, timeout: float, to: Any) -> None:
        mgr, sio = self.mgr, self.sio
        if kind == "fetch_sockets":
            await mgr.fetch_sockets(timeout=timeout)
        elif kind == "server_side_call":
            await mgr.server_side_call("whoami", timeout=timeout)
        elif kind == "server_side_call_unanswered":
            await mgr.server_side_call("silent", timeout=timeout)
        elif kind == "emit_with_ack":
            await mgr.emit_with_ack("ack-me", 1, to=to, timeout=timeout)
        elif kind == "call":
            await sio.call("ack-me", 1, to=to, timeout=timeout)
        elif kind == "callback":
            done = asyncio.get_running_loop().create_future()
            await sio.emit(
                "ack-me", 1, to=to, callback=lambda *a: done.done() or done.set_result(a)
            )
            await asyncio.wait_for(done, timeout)
        elif kind == "server_count":
            await mgr.server_count()
        else:
            raise ValueError(f"unknown request kind {kind!r}")

    # -- plumbing ---------------------------------------------------------------------------

    async def serve(self) -> None:
        config = uvicorn.Config(
            socketio.ASGIApp(self.sio),
            host="127.0.0.1",
            port=self.cfg["port"],
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        await self.mgr.start()
        say({"ready": True, "uid": self.mgr.uid})
        running: set[asyncio.Task[None]] = set()
        async for command in read_commands():
            task = asyncio.create_task(self.run(command))
            running.add(task)
            task.add_done_callback(running.discard)
        await self.mgr.close()
        server.should_exit = True
        await serving
        say({"closed": True})

    async def run(self, command: dict[str, Any]) -> None:
        ident = command.pop("id")
        op = command.pop("op")
        try:
            result = await getattr(self, f"op_{op}")(**command)
        except Exception as error:
            logging.getLogger("procnode").exception("command %s failed", op)
            say({"id": ident, "error": f"{type(error).__name__}: {error}"})
        else:
            say({"id": ident, "result": result})


async def read_commands() -> AsyncIterator[dict[str, Any]]:
    """The commands from stdin, until ``close`` or its end."""
    commands: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=read_stdin, args=(loop, commands), daemon=True).start()
    while (command := await commands.get()) is not None and command.get("op") != "close":
        yield command


def read_stdin(loop: asyncio.AbstractEventLoop, commands: asyncio.Queue[Any]) -> None:
    for line in sys.stdin:
        if line.strip():
            loop.call_soon_threadsafe(commands.put_nowait, json.loads(line))
    loop.call_soon_threadsafe(commands.put_nowait, None)


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = json.loads(sys.argv[1])
    if config["options"].get("sync_server"):
        from procnode_sync import SyncServerNode

        asyncio.run(SyncServerNode(config).serve(say, read_commands))
    else:
        asyncio.run(Node(config).serve())
