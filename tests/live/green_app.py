"""A Flask-SocketIO app on sioadapter.ClusterManager, as deployed: the green-thread tests' node.

Configured by the environment: ``GREEN_MODE`` (threading, gevent, eventlet: Flask-SocketIO's
async_mode), ``GREEN_URL`` (Redis), ``GREEN_KEY`` (the cluster's key), ``GREEN_NAME``.

- ``python -m live.green_app PORT`` (from tests/) patches the process for its mode (first
  thing, as an app must) and serves with ``socketio.run``; ``GREEN_NO_PATCH=1`` leaves it unpatched.
- ``gunicorn -k gevent|eventlet green_app:app`` serves ``app``: the worker patches.

``GET /ready`` starts the manager and answers with the node's name. Clients drive the node with
events (each answered through its acknowledgement): every cluster operation of
ClusterManager, bursts of broadcasts from a handler and from a background task, and ``loops``,
which reports what the application's own code sees of asyncio.
"""

from __future__ import annotations

import os
import sys

MODE = os.environ.get("GREEN_MODE", "threading")
if __name__ == "__main__" and not os.environ.get("GREEN_NO_PATCH"):
    if MODE == "gevent":
        from gevent import monkey

        monkey.patch_all()
    elif MODE == "eventlet":
        import eventlet

        eventlet.monkey_patch()

import asyncio  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

import sioadapter  # noqa: E402

NAME = os.environ.get("GREEN_NAME", MODE)
app = Flask(__name__)
mgr = sioadapter.ClusterManager(os.environ["GREEN_URL"], key=os.environ["GREEN_KEY"])
socketio = SocketIO(app, client_manager=mgr, async_mode=MODE, logger=False)


@app.route("/ready")
def ready() -> str:
    mgr.start()
    return NAME


@mgr.on("hello-ack")
def hello_ack(arg: Any) -> dict[str, Any]:  # what the Node test server answers, too
    return {"server": NAME, "got": arg}


@socketio.on("connect")
def on_connect(auth: Any) -> None:
    for room in (auth or {}).get("rooms", []):
        join_room(room)


def burst(room: str, count: int, tag: str) -> None:
    for i in range(count):
        socketio.emit("seq", {"tag": tag, "i": i}, to=room)


@socketio.on("burst")
def on_burst(room: str, count: int, tag: str) -> int:
    burst(room, count, tag)
    return count


@socketio.on("background_burst")
def on_background_burst(room: str, count: int, tag: str) -> str:
    socketio.start_background_task(burst, room, count, tag)
    return "started"


@socketio.on("fetch")
def on_fetch(room: str | None) -> list[list[Any]]:
    return [[s.id, sorted(s.rooms)] for s in mgr.fetch_sockets(room)]


@socketio.on("count")
def on_count() -> int:
    return mgr.server_count()


@socketio.on("ask_servers")
def on_ask_servers(arg: Any) -> list[Any]:
    return sorted(mgr.server_side_call("hello-ack", arg), key=lambda answer: answer["server"])


@socketio.on("ask_clients")
def on_ask_clients(room: str) -> list[Any]:
    return sorted(mgr.emit_with_ack("question", NAME, to=room, timeout=5))


@socketio.on("call_client")
def on_call_client(sid: str) -> Any:
    return socketio.server.call("question", NAME, to=sid, timeout=5)


@socketio.on("pull_into")
def on_pull_into(sid: str, room: str) -> list[str]:
    mgr.sockets_join(room, to=sid)
    (socket,) = mgr.fetch_sockets(sid)
    return sorted(socket.rooms)


@socketio.on("rooms")
def on_rooms() -> list[str]:
    return sorted(str(room) for room in mgr.all_rooms())


@socketio.on("kick")
def on_kick(sid: str) -> bool:
    mgr.disconnect_sockets(to=sid)
    return True


def loops_seen() -> dict[str, Any]:
    """What the app's own code sees: no running loop, and asyncio.run() works."""
    try:
        asyncio.get_running_loop()
        running = "a running loop is visible"
    except RuntimeError:
        running = None

    async def answer() -> str:
        await asyncio.sleep(0)
        return "ran"

    try:
        ran = asyncio.run(answer())
    except RuntimeError as error:
        ran = str(error)
    return {"running": running, "asyncio.run": ran, "sid": request.sid}


@socketio.on("loops")
def on_loops() -> dict[str, Any]:
    return loops_seen()


if __name__ == "__main__":
    port = int(sys.argv[1])
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True)
