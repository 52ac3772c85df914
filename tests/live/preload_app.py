"""An ASGI app whose manager is built at import time, for ``gunicorn --preload``
(tests/live/test_gunicorn_preload.py): the master imports it, then forks the workers.

``GET /probe`` answers, as JSON, this worker's pid and uid, ``server_count()`` and the answers
to ``server_side_call("who")`` (the other workers' pids). Configured by the environment:
``FORK_TEST_URL`` (Redis) and ``FORK_TEST_KEY`` (the channel prefix).
"""

from __future__ import annotations

import json
import os
from typing import Any

import socketio

import sioadapter

manager = sioadapter.AsyncClusterManager(
    os.environ["FORK_TEST_URL"], key=os.environ["FORK_TEST_KEY"], requests_timeout=3.0
)
manager.on("who", lambda: os.getpid())
sio = socketio.AsyncServer(client_manager=manager, async_mode="asgi")


async def probe(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http" or scope["path"] != "/probe":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    report = {
        "pid": os.getpid(),
        "uid": manager.uid,
        "count": await manager.server_count(),
        "answers": await manager.server_side_call("who"),
    }
    body = json.dumps(report).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = socketio.ASGIApp(sio, other_asgi_app=probe, on_shutdown=manager.close)
