"""One node of the soak scenario (:mod:`benchmarks.soak`), run as its own process.

Usage: ``python -m benchmarks.soak_node '<json config>'``. Config keys: ``role`` (``soaker``
or ``responder``), ``redis`` (the URL this node's manager uses; the soaker's names its
connections with ``?client_name=``), ``probe`` (the same server, unnamed: the soaker counts
its own connections through it), ``client_name``, ``key``, ``name``, ``sockets``, ``nodes``,
``requests``, ``warmup``, ``batch``, ``timeouts``, ``timeout``, ``concurrent``.

Every node is a real ``socketio.AsyncServer`` on ``sioadapter.AsyncClusterManager`` holding
``sockets`` sockets registered as the server registers clients (``pre_connect``, ``connect``,
``enter_room``). Their clients acknowledge: the server's ``_send_packet`` is replaced by
:class:`Acker`, which answers each EVENT packet carrying an ack id with an ACK packet fed back
through ``sio._handle_eio_message``, the path a client's ACK takes from engine.io (decode,
``_handle_ack``, ``manager.trigger_callback``), one loop turn later as from a network. A
responder answers the server-side events ``ping`` (``"pong"``) and ``soak-stats`` (its name,
RSS and gauges after ``gc.collect()``); nobody answers ``silent``.

The soaker runs, in order: for each kind of :data:`KINDS`, ``requests`` successful requests in
batches of ``batch`` concurrent ones (each waits up to :data:`WAIT` and checks its answers),
with its own and the responders' RSS and gauges read after the first ``warmup`` and at the
end; ``timeouts`` concurrent ``server_side_call("silent", timeout=timeout)``; ``concurrent``
``fetch_sockets()`` at once, counting its own Redis connections (CLIENT LIST, by name) while
they run and after. A failed request is counted, not raised. Output: JSON lines,
``{"ready": true}``, then ``{"result": {...}}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio
import socketio
from socketio import packet

import sioadapter
from sioadapter.errors import RequestTimeoutError

from .node_python import NSP, add_sockets, emit_line

KINDS = ("fetch_sockets", "server_side_call", "emit_with_ack", "callback")
WAIT = 60.0  # per-request timeout of the successful requests: a failure, never a slow pass
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process (/proc/self/statm, Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def snapshot(mgr: Any) -> dict[str, Any]:
    """RSS and the manager's gauges, after a full collection."""
    gc.collect()
    return {"rss": rss_bytes(), "gauges": mgr.stats.gauges()}


class Acker:
    """Stands in for the clients of the local sockets: acknowledges what asks for it."""

    def __init__(self, sio: Any) -> None:
        self.sio = sio
        self._tasks: set[asyncio.Future[Any]] = set()

    async def send_packet(self, eio_sid: str, pkt: Any) -> None:
        pkt.encode()  # the server's own cost of a write
        if pkt.packet_type != packet.EVENT or pkt.id is None:
            return
        reply = self.sio.packet_class(packet.ACK, namespace=pkt.namespace, data=["ok"], id=pkt.id)
        task = asyncio.ensure_future(self.sio._handle_eio_message(eio_sid, reply.encode()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_eio_packet(self, eio_sid: str, pkt: Any) -> None:
        pkt.encode()


async def start_node(cfg: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """A started server and manager with ``sockets`` acknowledging sockets; their sids."""
    mgr = sioadapter.AsyncClusterManager(cfg["redis"], key=cfg["key"])
    sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    acker = Acker(sio)
    sio._send_packet = acker.send_packet
    sio._send_eio_packet = acker.send_eio_packet
    await mgr.start()
    await add_sockets(sio, mgr, [f"{cfg['name']}-{i}" for i in range(cfg["sockets"])], "r")
    sids = [sid for sid, _ in mgr.get_participants(NSP, "r")]
    return sio, mgr, sids


async def run_responder(cfg: dict[str, Any]) -> None:
    _sio, mgr, _sids = await start_node(cfg)
    mgr.on("ping", lambda *args: "pong")
    mgr.on("soak-stats", lambda *args: {"name": cfg["name"], **snapshot(mgr)})
    emit_line(ready=True)
    await asyncio.Event().wait()  # until the orchestrator stops this process


class Soaker:
    """The requesting node and its measurements."""

    def __init__(self, cfg: dict[str, Any], sio: Any, mgr: Any, local: list[str]) -> None:
        self.cfg, self.sio, self.mgr = cfg, sio, mgr
        self.total = cfg["nodes"] * cfg["sockets"]
        self.local = set(local)
        self.remote_sid = ""

    async def wait_cluster(self) -> None:
        deadline = time.monotonic() + 20
        while await self.mgr.server_count() < self.cfg["nodes"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {await self.mgr.server_count()} nodes")
            await asyncio.sleep(0.05)
        found = await self.mgr.fetch_sockets()
        remote = sorted(s.id for s in found if s.id not in self.local)
        if len(found) != self.total or not remote:
            raise RuntimeError(f"fetch_sockets found {len(found)} sockets, not {self.total}")
        self.remote_sid = remote[0]

    def op(self, kind: str) -> Callable[[], Awaitable[None]]:
        mgr, sio, total, others = self.mgr, self.sio, self.total, self.cfg["nodes"] - 1

        async def fetch_sockets() -> None:
            found = await mgr.fetch_sockets(timeout=WAIT)
            if len(found) != total:
                raise RuntimeError(f"found {len(found)} sockets, not {total}")

        async def server_side_call() -> None:
            answers = await mgr.server_side_call("ping", 1, timeout=WAIT)
            if answers != ["pong"] * others:
                raise RuntimeError(f"answers {answers!r}")

        async def emit_with_ack() -> None:
            acks = await mgr.emit_with_ack("ack-me", 1, timeout=WAIT)
            if len(acks) != total:
                raise RuntimeError(f"{len(acks)} acknowledgements, not {total}")

        async def callback() -> None:
            done: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

            def acknowledged(*args: Any) -> None:
                if not done.done():
                    done.set_result(args)

            await sio.emit("ack-me", 1, to=self.remote_sid, callback=acknowledged)
            if await asyncio.wait_for(done, WAIT) != ("ok",):
                raise RuntimeError("wrong acknowledgement")

        ops: dict[str, Callable[[], Awaitable[None]]] = {
            "fetch_sockets": fetch_sockets,
            "server_side_call": server_side_call,
            "emit_with_ack": emit_with_ack,
            "callback": callback,
        }
        return ops[kind]

    async def responders(self) -> list[dict[str, Any]]:
        """The responders' RSS and gauges (their ``soak-stats`` answers)."""
        answers: list[dict[str, Any]] = await self.mgr.server_side_call("soak-stats", timeout=30)
        return sorted(answers, key=lambda answer: str(answer.get("name")))

    async def soak(self, kind: str) -> dict[str, Any]:
        """``requests`` of ``kind``, ``batch`` at a time; snapshots after the warm-up and at
        the end."""
        op, batch = self.op(kind), self.cfg["batch"]
        errors: collections.Counter[str] = collections.Counter()
        busy = 0.0

        async def run(count: int) -> None:
            nonlocal busy
            started = time.perf_counter()
            done = 0
            while done < count:
                n = min(batch, count - done)
                outcomes = await asyncio.gather(*(op() for _ in range(n)), return_exceptions=True)
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        errors[f"{type(outcome).__name__}: {outcome}"[:120]] += 1
                done += n
            busy += time.perf_counter() - started

        await run(self.cfg["warmup"])
        warm = snapshot(self.mgr)
        warm_responders = await self.responders()
        await run(self.cfg["requests"] - self.cfg["warmup"])
        await self.mgr.flush()
        end = snapshot(self.mgr)
        return {
            "requests": self.cfg["requests"],
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(3)),
            "req_per_s": self.cfg["requests"] / busy if busy else None,
            "warm": warm,
            "end": end,
            "growth_mb": (end["rss"] - warm["rss"]) / 1e6,
            "responders_warm": warm_responders,
            "responders": await self.responders(),
        }

    async def timeouts(self) -> dict[str, Any]:
        """``timeouts`` unanswered server-side calls at once, each with ``timeout``."""
        before = snapshot(self.mgr)
        n, timeout = self.cfg["timeouts"], self.cfg["timeout"]
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(self.mgr.server_side_call("silent", timeout=timeout) for _ in range(n)),
            return_exceptions=True,
        )
        seconds = time.perf_counter() - started
        await self.mgr.flush()
        after = snapshot(self.mgr)
        return {
            "requests": n,
            "timeout": timeout,
            "timed_out": sum(isinstance(o, RequestTimeoutError) for o in outcomes),
            "seconds": seconds,
            "before": before,
            "after": after,
            "growth_mb": (after["rss"] - before["rss"]) / 1e6,
            "responders": await self.responders(),
        }

    async def concurrent(self) -> dict[str, Any]:
        """``concurrent`` fetch_sockets() at once; this node's Redis connections meanwhile."""
        probe = redis.asyncio.Redis.from_url(self.cfg["probe"])
        name = self.cfg["client_name"]
        peak = 0

        async def count() -> int:
            nonlocal peak
            clients = await probe.client_list()
            held = sum(1 for c in clients if c.get("name") == name)
            peak = max(peak, held)
            return held

        async def watch() -> None:
            while True:
                await count()
                await asyncio.sleep(0.01)

        try:
            idle = await count()
            before = snapshot(self.mgr)
            op, n = self.op("fetch_sockets"), self.cfg["concurrent"]
            watcher = asyncio.ensure_future(watch())
            started = time.perf_counter()
            outcomes = await asyncio.gather(*(op() for _ in range(n)), return_exceptions=True)
            seconds = time.perf_counter() - started
            watcher.cancel()
            # redis-py's pools keep what they opened: the count now covers the whole burst.
            held_after = await count()
            await self.mgr.flush()
            after = snapshot(self.mgr)
        finally:
            await probe.aclose()
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        return {
            "requests": n,
            "ok": n - len(failures),
            "errors": sorted({f"{type(e).__name__}: {e}"[:120] for e in failures})[:3],
            "seconds": seconds,
            "connections_idle": idle,
            "connections_after": held_after,
            "connections_max": peak,
            "before": before,
            "after": after,
            "growth_mb": (after["rss"] - before["rss"]) / 1e6,
            "responders": await self.responders(),
        }


async def run_soaker(cfg: dict[str, Any]) -> None:
    sio, mgr, local = await start_node(cfg)
    soaker = Soaker(cfg, sio, mgr, local)
    await soaker.wait_cluster()
    emit_line(ready=True)
    result: dict[str, Any] = {"start": snapshot(mgr), "kinds": {}}
    for kind in KINDS:
        result["kinds"][kind] = await soaker.soak(kind)
    result["timeouts"] = await soaker.timeouts()
    result["concurrent"] = await soaker.concurrent()
    emit_line(result=result)
    await asyncio.Event().wait()  # a live node until the orchestrator stops this process


ROLES = {"soaker": run_soaker, "responder": run_responder}

if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        asyncio.run(ROLES[config["role"]](config))
    except Exception as error:  # reported to the orchestrator, which stops the run
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
