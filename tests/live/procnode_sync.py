"""A sync node for :mod:`procnode` (``options["sync_server"]``): a ``socketio.Server`` on
``sioadapter.ClusterManager``, in threading mode, served by werkzeug's threaded server (what
a Flask-SocketIO deployment runs), with the async node's handlers (``join``, ``remember``,
``recall``, the connect and disconnect records) and the commands the recovery tests use
(``emit``, ``connects``, ``disconnects``, ``ping``). Commands run in threads, off the driver's
loop, since every call they make blocks.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import socketio
from werkzeug.serving import make_server

import sioadapter


class SyncServerNode:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        options = dict(cfg["options"])
        options.pop("sync_server")
        server_options = options.pop("server_options", {})
        self.mgr = sioadapter.ClusterManager(cfg["url"], key=cfg["key"], **options)
        self.sio = socketio.Server(
            client_manager=self.mgr, async_mode="threading", logger=False, **server_options
        )
        #: (sid, recovered) of each connection the connect handler saw.
        self.connects: list[tuple[str, bool]] = []
        #: (sid, reason) of each disconnection the disconnect handler saw.
        self.disconnects: list[tuple[str, str]] = []
        self._changed = threading.Condition()
        self._install()

    def _install(self) -> None:
        sio, mgr = self.sio, self.mgr

        @sio.on("join")
        def join(sid: str, room: str) -> str:
            sio.enter_room(sid, room)
            return room

        @sio.on("connect")
        def connect(sid: str, environ: Any, auth: Any = None) -> None:
            self.connects.append((sid, mgr.recovered(sid)))

        @sio.on("disconnect")
        def disconnect(sid: str, reason: Any = None) -> None:
            with self._changed:
                self.disconnects.append((sid, str(reason)))
                self._changed.notify_all()

        @sio.on("remember")
        def remember(sid: str, data: Any) -> Any:
            sio.save_session(sid, data)
            return data

        @sio.on("recall")
        def recall(sid: str) -> Any:
            return {
                "session": sio.get_session(sid),
                "rooms": sorted(str(r) for r in sio.rooms(sid)),
                "recovered": mgr.recovered(sid),
            }

    # -- commands (each runs in a thread of its own) ------------------------------------------

    def op_ping(self) -> str:
        return "pong"

    def op_connects(self) -> list[tuple[str, bool]]:
        return self.connects

    def op_disconnects(self, count: int = 0, timeout: float = 10.0) -> list[tuple[str, str]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.disconnects) >= count, timeout)
            return list(self.disconnects)

    def op_emit(self, event: str, args: list[Any], to: Any = None) -> None:
        self.sio.emit(event, tuple(args) if len(args) != 1 else args[0], to=to)
        self.mgr.flush()

    # -- plumbing -----------------------------------------------------------------------------

    async def serve(self, say: Any, read_commands: Any) -> None:
        http = make_server("127.0.0.1", self.cfg["port"], socketio.WSGIApp(self.sio), threaded=True)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        await asyncio.to_thread(self.mgr.start)
        say({"ready": True, "uid": self.mgr.uid})
        running: set[asyncio.Task[None]] = set()
        async for command in read_commands():
            task = asyncio.create_task(self._run(command, say))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.to_thread(self.mgr.close)
        http.shutdown()
        say({"closed": True})

    async def _run(self, command: dict[str, Any], say: Any) -> None:
        ident, op = command.pop("id"), command.pop("op")
        try:
            result = await asyncio.to_thread(getattr(self, f"op_{op}"), **command)
        except Exception as error:
            say({"id": ident, "error": f"{type(error).__name__}: {error}"})
        else:
            say({"id": ident, "result": result})
