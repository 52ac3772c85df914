"""One sync Python Socket.IO node of a benchmark cluster, run as its own process.

Usage: ``python -m benchmarks.node_python_sync '<json config>'``. The sync twin of
:mod:`benchmarks.node_python`, with the same config keys, roles ``sender`` and ``receiver``,
output lines, counting and warm-up (:mod:`benchmarks.warm`): a real ``socketio.Server``
(``async_mode="threading"``, what Flask-SocketIO runs; ``"gevent"`` in a process
:mod:`benchmarks.node_python_gevent` patched) whose client manager is

* ``sioadapter-sync`` / ``sioadapter-gevent``: ``sioadapter.ClusterManager(url, key=key)``;
* ``socketio-sync`` / ``socketio-gevent``: ``socketio.RedisManager(url, channel=key)``,
  python-socketio's own;
* ``shell-gevent``: :class:`benchmarks.green_shell.GreenShellManager`, the prototype of the
  other green-thread design (the core on sync redis-py).

Sockets are connected through the manager as the server does for a real client, and the
server's packet writes are replaced by the receipt's counter.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import redis
import socketio

from .node_python import ENVIRON, NSP, Receipt, emit_line
from .warm import wait_go


class SyncReceipt(Receipt):
    """A Receipt whose completion is a thread event (deliveries come from one thread: the
    cluster's loop for sioadapter, the listener thread for python-socketio)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.finished = threading.Event()

    def finish_later(self, delay: float) -> None:
        timer = threading.Timer(delay, self.finish)
        timer.daemon = True
        timer.start()

    def finish(self) -> None:
        super().finish()
        self.finished.set()


def ours(cfg: dict[str, Any]) -> bool:
    return str(cfg["contender"]).startswith(("sioadapter", "shell"))


def make_manager(cfg: dict[str, Any]) -> Any:
    if cfg["contender"] == "shell-gevent":
        from .green_shell import GreenShellManager

        return GreenShellManager(cfg["redis"], cfg["key"])
    if ours(cfg):
        import sioadapter

        return sioadapter.ClusterManager(cfg["redis"], key=cfg["key"])
    return socketio.RedisManager(cfg["redis"], channel=cfg["key"])


def add_sockets(sio: Any, mgr: Any, eio_sids: list[str], room: str) -> None:
    for eio_sid in eio_sids:
        sio.environ[eio_sid] = dict(ENVIRON)
        sid = mgr.pre_connect(eio_sid, NSP)
        mgr.connect(sid, NSP)
        mgr.enter_room(sid, NSP, room)


def wait_subscribed(cfg: dict[str, Any]) -> None:
    """python-socketio subscribes in a background thread: wait until Redis counts this node."""
    if ours(cfg):
        return  # sioadapter's pre_connect returns once its subscriptions are active
    client = redis.Redis.from_url(cfg["redis"])
    try:
        deadline = time.monotonic() + 30
        while client.pubsub_numsub(cfg["key"])[0][1] < cfg.get("expect_subscribers", 1):
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver never subscribed")
            time.sleep(0.02)
    finally:
        client.close()


def run_receiver(cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
    receipt = SyncReceipt(cfg)

    def send_eio(eio_sid: str, pkt: Any) -> None:
        receipt.on_packet(eio_sid, pkt.data)

    def send_packet(eio_sid: str, pkt: Any) -> None:
        encoded = pkt.encode()
        receipt.on_packet(eio_sid, encoded if isinstance(encoded, str) else encoded[0])

    sio._send_eio_packet = send_eio
    sio._send_packet = send_packet
    add_sockets(sio, mgr, [f"eio{i}" for i in range(cfg["k"])], cfg["room"])
    add_sockets(sio, mgr, ["ctl"], "ctl")
    wait_subscribed(cfg)
    emit_line(ready=True)
    if not receipt.finished.wait(cfg.get("timeout", 120)):
        receipt.finish()
    emit_line(result=receipt.result())


def run_sender(cfg: dict[str, Any], sio: Any, mgr: Any) -> None:
    n = cfg["n"]
    emit_line(ready=True)
    if cfg.get("warm"):  # flat out, then the marker; the measured run waits for "go"
        for i in range(int(cfg["warm"])):
            sio.emit("ev", {"i": i, "t": time.monotonic()}, to="room1")
        sio.emit("warmed", {"i": -4, "t": time.monotonic()}, to="ctl")
        if ours(cfg):
            mgr.flush()
        emit_line(warmed=True)
        wait_go(cfg.get("timeout", 120))  # select(): a thread's wait, or a greenlet's
    sio.emit("start", {"i": -1, "t": time.monotonic()}, to="ctl")
    t0 = time.monotonic()
    for i in range(n):
        sio.emit("ev", {"i": i, "t": time.monotonic()}, to="room1")
    sio.emit("end", {"i": -2, "t": time.monotonic()}, to="ctl")
    if ours(cfg):
        mgr.flush()
    emit_line(result={"emitted": n, "send_seconds": time.monotonic() - t0})
    threading.Event().wait()  # stay a live node until the orchestrator stops this process


def main(cfg: dict[str, Any]) -> None:
    if float(cfg.get("rate") or 0) > 0 or cfg["role"] not in ("sender", "receiver"):
        raise RuntimeError("the sync nodes run flat-out sender and receiver roles only")
    mgr = make_manager(cfg)
    sio = socketio.Server(client_manager=mgr, async_mode=cfg.get("async_mode", "threading"))
    if ours(cfg):
        mgr.start()
    else:
        mgr.initialize()  # what the server does on its first connection
    if cfg["role"] == "sender":
        run_sender(cfg, sio, mgr)
    else:
        run_receiver(cfg, sio, mgr)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        main(config)
    except Exception as error:  # reported to the orchestrator, which stops the run
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
