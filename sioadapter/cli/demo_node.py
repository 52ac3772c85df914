"""One node of ``sioadapter demo``: a python-socketio server in its own process.

``python -m sioadapter.cli.demo_node --port P --url URL --index I --key K`` serves an
``AsyncServer`` with an :class:`~sioadapter.AsyncClusterManager` on ``URL`` under uvicorn on
127.0.0.1:P (0 picks a free port). It is an internal program of the demo; its contract with
the orchestrator (:mod:`sioadapter.cli.demo`):

* stdout carries exactly one JSON line: ``{"ready": true, "index", "port", "uid", "pid"}``
  once the manager has joined the cluster and the port accepts connections, or
  ``{"ready": false, "error": "..."}`` when it could not start (exit status 2);
* clients of namespace ``/`` pass ``auth={"room": NAME}`` and are put in that room; their
  session records the node's index;
* namespace ``/control`` takes requests, each answered through the Socket.IO acknowledgement:
  ``broadcast {event, seq, room?}`` emits ``{"sent": time.time(), "seq", "node"}`` to every
  client of ``/`` (or of the room) and returns True. The cluster requests return
  ``{"result", "error"}`` (``error`` is None, or says how a request timed out, ``result``
  then holding the answers that arrived): ``emit_with_ack {event}``, the clients'
  acknowledgements; ``fetch_sockets``, ``[RemoteSocket.node, node index in the session]`` for
  each socket of the cluster; ``server_side_call``, the other nodes' answers to ``whoami``;
* it stops on SIGTERM or SIGINT, and, with ``--exit-on-stdin-eof``, when its stdin closes, so
  that nodes never outlive an orchestrator killed without a chance to clean up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Iterator
from typing import Any

import socketio
import uvicorn

from .._redact import scrub
from ..async_manager import AsyncClusterManager
from ..cli._common import EXPECTED_ERRORS, describe
from ..errors import RequestTimeoutError

CONTROL = "/control"


class _Server(uvicorn.Server):
    """uvicorn's server with a startup event, and signals left to the node (uvicorn would
    re-raise SIGTERM after shutting down, killing the process before the manager closes)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build(index: int, url: str, key: str, timeout: float) -> tuple[Any, AsyncClusterManager]:
    """The node's AsyncServer and manager, with the demo's handlers."""
    mgr = AsyncClusterManager(url, key=key, requests_timeout=timeout)
    sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi", namespaces=["/", CONTROL])

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.save_session(sid, {"node": index})
        room = auth.get("room") if isinstance(auth, dict) else None
        if isinstance(room, str):
            await sio.enter_room(sid, room)

    async def broadcast(sid: str, spec: dict[str, Any]) -> bool:
        payload = {"sent": time.time(), "seq": spec["seq"], "node": index}
        await sio.emit(spec["event"], payload, to=spec.get("room"))
        return True

    async def emit_with_ack(sid: str, spec: dict[str, Any]) -> dict[str, Any]:
        payload = {"sent": time.time(), "seq": 0, "node": index}
        return await _answer(mgr.emit_with_ack(spec["event"], payload))

    async def fetch_sockets(sid: str, *_: Any) -> dict[str, Any]:
        answer = await _answer(mgr.fetch_sockets())
        if answer["error"] is None:
            sockets = answer["result"]
            answer["result"] = [[s.node or "?", _node_index(s.data)] for s in sockets]
        else:  # the partial answers are the sockets' details, without their node
            answer["result"] = [["?", _node_index(d.get("data"))] for d in answer["result"]]
        return answer

    async def server_side_call(sid: str, *_: Any) -> dict[str, Any]:
        return await _answer(mgr.server_side_call("whoami"))

    sio.on("connect", connect)
    for handler in (broadcast, emit_with_ack, fetch_sockets, server_side_call):
        sio.on(handler.__name__, handler, namespace=CONTROL)
    mgr.on("whoami", lambda: {"index": index, "uid": mgr.uid})
    return sio, mgr


async def _answer(request: Awaitable[Any]) -> dict[str, Any]:
    """``{"result", "error"}``: a request that timed out still reports what did arrive."""
    try:
        return {"result": await request, "error": None}
    except RequestTimeoutError as error:
        return {"result": error.responses, "error": str(error)}


def _node_index(data: Any) -> int | None:
    """The node index the demo saves in each socket's session."""
    return data.get("node") if isinstance(data, dict) else None


async def serve(args: argparse.Namespace) -> int:
    sio, mgr = build(args.index, args.url, args.key, args.timeout)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Bound here, so that port 0 works and the port we report is the one we listen on.
    listener.bind(("127.0.0.1", args.port))
    config = uvicorn.Config(
        socketio.ASGIApp(sio), log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, setattr, server, "should_exit", True)
    try:
        try:
            await mgr.wait_connected(timeout=5.0)
        except EXPECTED_ERRORS as error:
            _say({"ready": False, "error": scrub(describe(error), args.url)})
            return 2
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait([serving, listening], return_when=asyncio.FIRST_COMPLETED)
        if not server.listening.is_set():
            listening.cancel()
            serving.result()  # why uvicorn stopped
            _say({"ready": False, "error": "the server stopped before listening"})
            return 2
        port = listener.getsockname()[1]
        _say({"ready": True, "index": args.index, "port": port, "uid": mgr.uid, "pid": os.getpid()})
        if args.exit_on_stdin_eof:
            watcher = asyncio.create_task(_stdin_closed(server))
        await serving
        if args.exit_on_stdin_eof:
            watcher.cancel()
        await sio.shutdown()
        return 0
    finally:
        await mgr.close()
        listener.close()


async def _stdin_closed(server: _Server) -> None:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # returns at EOF: the orchestrator is gone
    server.should_exit = True


def _say(fields: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One node of `sioadapter demo`.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--url", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--key", default="socket.io")
    parser.add_argument("--timeout", type=float, default=5.0, help="requests timeout (s)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args(argv)
    try:
        sys.exit(asyncio.run(serve(args)))
    except EXPECTED_ERRORS as error:  # e.g. the port is taken, the URL is malformed
        _say({"ready": False, "error": scrub(describe(error), args.url)})
        sys.exit(2)


if __name__ == "__main__":
    main()
