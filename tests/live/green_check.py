"""One check for any backend: a Flask-SocketIO node on ``ClusterManager`` under gevent or
eventlet (``socketio.run`` in a monkey-patched process, tests/live/green_app.py) and an
``AsyncClusterManager`` node, over the backend ``url``, driven by real clients.

The backends' suites call `check_green_cluster` with their own URL; the Redis deployments
(gunicorn, ``--preload``, a Node.js peer) are tests/live/test_green_servers.py's.
"""

from __future__ import annotations

import uuid
from typing import Any

from integration.harness import Client, Node

import sioadapter

from .test_green_servers import call, green_node, require, sequence, wait_ready

BURST = 200


async def check_green_cluster(mode: str, url: str, **options: Any) -> None:
    """Every cluster operation between a green node and an asyncio node over ``url``."""
    require(mode)
    key = f"green-{uuid.uuid4().hex[:8]}"
    with green_node(mode, "socketio.run", url, key, None) as green:
        assert await wait_ready(green) == mode
        node = Node(1, sioadapter.AsyncClusterManager(url, key=key, **options))
        node.mgr.on("hello-ack", lambda arg: {"server": "async", "got": arg})

        async def join_rooms(node: Node, sid: str, namespace: str, environ: Any, auth: Any) -> None:
            for room in auth["rooms"]:
                await node.sio.enter_room(sid, room, namespace=namespace)

        node.connect_hook = join_rooms
        on_green = Client("on-green", green, ["/"], {"rooms": ["lobby"]})  # type: ignore[arg-type]
        on_async = Client("on-async", node, ["/"], {"rooms": ["lobby"]})
        on_async.on("question", lambda who: f"on-async answers {who}")
        try:
            await node.start(cluster_api=True)
            await on_green.connect()
            await on_async.connect()
            # Nodes count each other by heartbeat here: wait until the green node sees two.
            await node.mgr.server_count()  # the async node is up and heard
            count = 0
            for _ in range(50):
                count = await call(on_green, "count")
                if count == 2:
                    break
                await on_green.sio.sleep(0.1)  # heartbeats: the next one is due shortly
            assert count == 2
            found = await call(on_green, "fetch", "lobby")
            assert {sid for sid, _ in found} == {on_green.sid, on_async.sid}
            assert await call(on_green, "ask_servers", 7) == [{"server": "async", "got": 7}]
            assert await call(on_green, "call_client", on_async.sid) == f"on-async answers {mode}"
            assert await call(on_green, "burst", "lobby", BURST, "handler") == BURST
            await on_async.wait_for("seq", BURST)
            assert sequence(on_async, "handler") == list(range(BURST))
            await node.sio.emit("news", "from async", to="lobby")
            assert await on_green.wait_for("news") == [("from async",)]
            assert "vip" in await call(on_green, "pull_into", on_async.sid, "vip")
            assert await call(on_green, "kick", on_async.sid) is True
            await on_async.wait_for("disconnect")
        finally:
            for client in (on_green, on_async):
                await client.close()
            await node.stop_server()
            await node.mgr.close()
        green.stop()
        output = green.output()
    assert "Traceback" not in output, output
