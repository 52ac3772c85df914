"""One Python Socket.IO node of a benchmark cluster, run as its own process.

Usage: ``python -m benchmarks.node_python '<json config>'``. Config keys:

* ``contender``: ``sioadapter`` (``sioadapter.AsyncClusterManager(url, key=key)``),
  ``sioadapter-rooms`` (the same with ``subscription_mode="dynamic-private"``),
  ``sioadapter-cluster`` (the same with ``protocol="cluster"``, the ClusterAdapter protocol
  the backends other than Redis use; ``redis`` may be any backend's URL) or
  ``socketio`` (``socketio.AsyncRedisManager(url, channel=key)``), each the client manager of
  a real ``socketio.AsyncServer`` on the real Redis at ``redis``;
* ``role``: ``sender`` | ``receiver`` | ``requester`` | ``responder``; ``key``: the channel
  prefix (fresh per scenario); ``n``, ``k``, ``room``, ``rate``, ``seconds``, ``latency``,
  ``sockets``, ``requests``, ``nodes``, ``expect_subscribers``, ``timeout`` as used below;
  ``payload``: bytes of padding string in each broadcast (``p``; none by default);
  ``max_message_size`` (sioadapter only): the manager's option, ``null`` for no limit;
  ``oversize`` (sender): first try one broadcast with that many bytes of padding and record
  how it is refused (``refused`` in the result) before the ``n`` broadcasts;
  ``warm``: broadcasts of the warm-up before the measured run (:mod:`benchmarks.warm`).

Sockets are python-socketio's own: ``mgr.pre_connect`` / ``connect`` / ``enter_room`` on the
manager, as the server does for a real client; the server's ``_send_eio_packet`` (the write of
an encoded packet to one engine.io socket) and ``_send_packet`` are replaced by a counter. Each
receiver also holds one socket ``ctl`` in room ``ctl``: the sender emits ``start`` and ``end``
there around its broadcasts, which open and close the CPU window, and ``warmed`` after the
warm-up's broadcasts, which it counts apart.

Output, one JSON object per line on stdout: ``{"ready": true}`` once the node takes traffic,
``{"warmed": true}`` after a warm-up, then ``{"result": {...}}`` (receiver, sender, requester)
or ``{"error": "..."}``. Times in the payload are ``time.monotonic()`` (CLOCK_MONOTONIC, the
clock Node's ``process.hrtime`` reads), so emit-to-delivery latency is comparable across
processes and languages.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

import redis.asyncio
import socketio

from .stats import rates, summary
from .warm import Warmup, wait_go

NSP = "/"
ENVIRON = {  # what python-engineio records for a browser connection (fetch_sockets shows it)
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/socket.io/",
    "QUERY_STRING": "EIO=4&transport=websocket",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "127.0.0.1",
    "HTTP_USER_AGENT": "bench",
}


def emit_line(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


STREAM_MAX_LEN = 10_000_000
"""The streams contenders' MAXLEN: more than any run writes (node_js.js uses the same)."""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_manager(cfg: dict[str, Any]) -> Any:
    if cfg["contender"].startswith("sioadapter"):
        import sioadapter

        options: dict[str, Any] = {}
        if cfg["contender"] == "sioadapter-rooms":  # one subscription per room, no pattern
            options["subscription_mode"] = "dynamic-private"
        if cfg["contender"] == "sioadapter-cluster":  # the other backends' wire family
            options["protocol"] = "cluster"
        if cfg["contender"] in ("sioadapter-streams", "sioadapter-csr"):  # streams_suite
            # The stream holds the whole run: a receiver that falls behind must not lose
            # entries to MAXLEN trimming (the default 10,000), for Node too (node_js.js).
            options.update(protocol="streams", stream_name=cfg["key"], max_len=STREAM_MAX_LEN)
        if cfg["contender"] == "sioadapter-csr":
            options["connection_state_recovery"] = {"max_disconnection_duration": 120.0}
        if "max_message_size" in cfg:  # scaling_cluster: what the limit refuses
            options["max_message_size"] = cfg["max_message_size"]
        return sioadapter.AsyncClusterManager(cfg["redis"], key=cfg["key"], **options)
    return socketio.AsyncRedisManager(cfg["redis"], channel=cfg["key"])


async def add_sockets(sio: Any, mgr: Any, eio_sids: list[str], room: str) -> None:
    """Connect sockets as the server does for real clients, then make them join ``room``."""
    for eio_sid in eio_sids:
        sio.environ[eio_sid] = dict(ENVIRON)
        sid = await mgr.pre_connect(eio_sid, NSP)
        await mgr.connect(sid, NSP)
        await mgr.enter_room(sid, NSP, room)


async def wait_subscribed(cfg: dict[str, Any]) -> None:
    """python-socketio subscribes in a background task: wait until Redis counts this node."""
    if cfg["contender"] != "socketio":
        return  # sioadapter's pre_connect returns once its subscriptions are active
    client = redis.asyncio.Redis.from_url(cfg["redis"])
    try:
        while True:
            [(_, count)] = await client.pubsub_numsub(cfg["key"])
            if count >= cfg.get("expect_subscribers", 1):
                return
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()


class Receipt:
    """What a receiver counts: deliveries to room sockets, markers, latency, CPU window."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.n, self.k, self.latency = cfg["n"], cfg["k"], bool(cfg.get("latency"))
        self.expected = self.n * self.k if cfg["room"] == "room1" else 0
        self.grace = float(cfg.get("grace", 2.0))
        self.count = 0
        self.first = self.last = 0.0
        self.samples: list[float] = []
        self.cpu_start = self.cpu_end = 0.0
        self.t_start = self.t_end = self.emitted = 0.0
        self.started = self.ended = False
        self.done = asyncio.Event()
        self.warmup = Warmup(int(cfg.get("warm") or 0), self.k, cfg["room"] == "room1")

    def on_packet(self, eio_sid: str, data: Any) -> None:
        now = time.monotonic()
        if eio_sid == "ctl":
            if data.startswith('2["start"'):
                self.started, self.t_start, self.cpu_start = True, now, cpu_seconds()
                self.emitted = json.loads(data[1:])[1]["t"]
            elif data.startswith('2["end"'):
                self.ended = True
                self.check()
                if not self.done.is_set():  # stragglers: give them a moment, then stop
                    self.finish_later(self.grace)
            elif data.startswith('2["warmed"'):
                self.warmup.mark()
            return
        if self.warmup.active:  # a warm-up delivery: not one of the measured run's
            self.warmup.delivery()
            return
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now
        if self.latency:
            self.samples.append(now - json.loads(data[1:])[1]["t"])
        if self.ended:
            self.check()

    def finish_later(self, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.finish)

    def check(self) -> None:
        if self.ended and self.count >= self.expected:
            self.finish()

    def finish(self) -> None:
        if not self.done.is_set():
            self.t_end, self.cpu_end = time.monotonic(), cpu_seconds()
            self.done.set()

    def result(self) -> dict[str, Any]:
        cpu = self.cpu_end - self.cpu_start if self.started else float("nan")
        out: dict[str, Any] = {
            "received": self.count,
            "expected": self.expected,
            "complete": self.ended and self.count >= self.expected,
            **rates(self.count, self.k, self.emitted, self.first, self.last),
            "cpu_s": cpu,
            "window_s": self.t_end - self.t_start,
            "cpu_per_10k": cpu / self.n * 10_000 if self.n else float("nan"),
        }
        if self.latency:
            out["latency_ms"] = summary([s * 1000 for s in self.samples])
        return out


async def run_receiver(cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
    receipt = Receipt(cfg)

    async def send_eio(eio_sid: str, pkt: Any) -> None:
        receipt.on_packet(eio_sid, pkt.data)

    async def send_packet(eio_sid: str, pkt: Any) -> None:
        encoded = pkt.encode()
        receipt.on_packet(eio_sid, encoded if isinstance(encoded, str) else encoded[0])

    sio._send_eio_packet = send_eio
    sio._send_packet = send_packet
    await add_sockets(sio, mgr, [f"eio{i}" for i in range(cfg["k"])], cfg["room"])
    await add_sockets(sio, mgr, ["ctl"], "ctl")
    await wait_subscribed(cfg)
    emit_line(ready=True)
    try:
        await asyncio.wait_for(receipt.done.wait(), cfg.get("timeout", 120))
    except asyncio.TimeoutError:
        receipt.finish()
    emit_line(result=receipt.result())


async def try_oversize(cfg: dict[str, Any], sio: Any, mgr: Any) -> dict[str, Any]:
    """One broadcast of ``oversize`` bytes of padding to room1: how it is refused, and how
    many messages the manager published meanwhile (``stats.published``, 0 when refused)."""
    before = mgr.stats.published if hasattr(mgr, "stats") else None
    out: dict[str, Any] = {"payload": cfg["oversize"], "limit": cfg.get("max_message_size")}
    try:
        await sio.emit("ev", {"i": -3, "t": time.monotonic(), "p": "x" * cfg["oversize"]},
                       to="room1")  # fmt: skip
        out["error"] = None
    except Exception as error:  # the documented one is MessageTooLargeError
        out["error"], out["message"] = type(error).__name__, str(error)
    if hasattr(mgr, "flush"):
        await mgr.flush()
    if before is not None:
        out["published"] = mgr.stats.published - before
    return out


async def warm_up(cfg: dict[str, Any], sio: Any, mgr: Any, pad: dict[str, str]) -> None:
    """The warm-up's broadcasts (flat out, whatever the run's rate), its marker, then wait
    for the orchestrator's ``go`` (:mod:`benchmarks.warm`); nothing without ``warm``."""
    if not cfg.get("warm"):
        return
    for i in range(int(cfg["warm"])):
        await sio.emit("ev", {"i": i, "t": time.monotonic(), **pad}, to="room1")
    await sio.emit("warmed", {"i": -4, "t": time.monotonic()}, to="ctl")
    if cfg["contender"].startswith("sioadapter"):
        await mgr.flush()
    emit_line(warmed=True)
    await asyncio.to_thread(wait_go, cfg.get("timeout", 120))


async def run_sender(cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
    n, rate = cfg["n"], float(cfg.get("rate") or 0)
    # scaling_cluster's padding; without it, the payload is the suite's usual {"i", "t"}
    pad = {"p": "x" * cfg["payload"]} if cfg.get("payload") else {}
    emit_line(ready=True)
    await warm_up(cfg, sio, mgr, pad)
    cpu0 = cpu_seconds()
    await sio.emit("start", {"i": -1, "t": time.monotonic()}, to="ctl")
    refused = await try_oversize(cfg, sio, mgr) if cfg.get("oversize") else None
    t0 = time.monotonic()
    if rate <= 0:  # as fast as the API allows
        for i in range(n):
            await sio.emit("ev", {"i": i, "t": time.monotonic(), **pad}, to="room1")
    else:  # a fixed offered rate: emit whatever is due, then sleep until the next one
        i = 0
        while i < n:
            now = time.monotonic()
            while i < n and t0 + i / rate <= now:
                await sio.emit("ev", {"i": i, "t": time.monotonic(), **pad}, to="room1")
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    await sio.emit("end", {"i": -2, "t": time.monotonic()}, to="ctl")
    if cfg["contender"].startswith("sioadapter"):
        await mgr.flush()
    cpu = cpu_seconds() - cpu0
    result = {"emitted": n, "send_seconds": time.monotonic() - t0, "cpu_s": cpu,
              "cpu_per_10k": cpu / n * 10_000 if n else float("nan")}  # fmt: skip
    if refused is not None:
        result["refused"] = refused
    emit_line(result=result)
    await asyncio.Event().wait()  # stay a live node until the orchestrator stops this process


async def run_responder(cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
    mgr.on("ping", lambda *args: "pong")
    await add_sockets(sio, mgr, [f"{cfg['name']}-{i}" for i in range(cfg["sockets"])], "r")
    emit_line(ready=True)
    await asyncio.Event().wait()  # until the orchestrator stops this process


async def run_requester(cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
    await add_sockets(sio, mgr, [f"req-{i}" for i in range(cfg["sockets"])], "r")
    nodes, total = cfg["nodes"], cfg["nodes"] * cfg["sockets"]
    deadline = time.monotonic() + 10
    while await mgr.server_count() < nodes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {await mgr.server_count()} of {nodes} nodes")
        await asyncio.sleep(0.05)
    emit_line(ready=True)

    async def fetch() -> None:
        found = await mgr.fetch_sockets()
        if len(found) != total:
            raise RuntimeError(f"fetch_sockets found {len(found)} sockets, not {total}")

    async def call() -> None:
        answers = await mgr.server_side_call("ping", 1)
        if answers != ["pong"] * (nodes - 1):
            raise RuntimeError(f"server_side_call answered {answers!r}")

    result: dict[str, Any] = {}
    for name, op in (("fetch_sockets", fetch), ("server_side_call", call)):
        for _ in range(10):  # warm-up
            await op()
        samples = []
        for _ in range(cfg["requests"]):
            t0 = time.perf_counter()
            await op()
            samples.append((time.perf_counter() - t0) * 1000)
        result[name] = summary(samples)
    emit_line(result=result)


async def run_roomer(cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
    """``changes`` room joins and leaves at ``rate`` a second over ``sockets`` local sockets
    (streams_suite: the cost of connection state recovery's session writes). The sockets are
    registered as the server registers a client's CONNECT, recovery's part included."""
    recovery = getattr(mgr, "_recovery", None)  # private: a benchmark's view of the writes
    sids = []
    for i in range(cfg["sockets"]):
        eio_sid = f"s{i}"
        sio.environ[eio_sid] = dict(ENVIRON)
        if recovery is not None:
            await recovery.plan(eio_sid, NSP, None)
        sid = await mgr.pre_connect(eio_sid, NSP)
        await mgr.connect(sid, NSP)
        if recovery is not None:
            recovery.done(eio_sid, NSP)
        sids.append(sid)
    client = redis.asyncio.Redis.from_url(cfg["redis"])

    async def writes() -> int:
        stats = await client.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("set", "pexpire"))

    if recovery is not None:
        await recovery.flush()
    before, cpu0, t0 = await writes(), cpu_seconds(), time.monotonic()
    changes, rate = cfg["changes"], float(cfg["rate"])
    for i in range(changes):
        due = t0 + i / rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        sid = sids[i % len(sids)]
        if i % 2 == 0:
            await mgr.enter_room(sid, NSP, "room-x")
        else:
            await mgr.leave_room(sid, NSP, "room-x")
    if recovery is not None:
        await recovery.flush()
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - t0
    sets = await writes() - before
    await client.aclose()
    emit_line(
        result={
            "changes": changes,
            "cpu_s": cpu,
            "wall_s": wall,
            "redis_writes": sets,
            "cpu_us_per_change": cpu / changes * 1e6,
        }
    )


ROLES = {
    "roomer": run_roomer,
    "receiver": run_receiver,
    "sender": run_sender,
    "responder": run_responder,
    "requester": run_requester,
}


async def main(cfg: dict[str, Any]) -> None:
    mgr = make_manager(cfg)
    sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    if cfg["contender"].startswith("sioadapter"):
        await mgr.start()
    else:
        mgr.initialize()  # what the server does on its first connection
    if cfg["role"] in ("requester", "responder") and not cfg["contender"].startswith("sioadapter"):
        raise RuntimeError(f"{cfg['contender']} has no cluster requests")
    await ROLES[cfg["role"]](cfg, sio, mgr)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        asyncio.run(main(config))
    except Exception as error:  # reported to the orchestrator, which stops the run
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
