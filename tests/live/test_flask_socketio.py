"""A Flask-SocketIO app (``client_manager=ClusterManager``) and an AsyncServer in one cluster,
over a real redis-server, checked from real clients: Flask-SocketIO's own request-context
helpers (``join_room``, ``emit(..., to=)``, ``disconnect``) act across nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIO, emit, join_room
from integration.harness import Client, Node

import sioadapter

from .sync_nodes import ThreadedServer, blocking


class FlaskNode:
    """A Flask app with Flask-SocketIO on werkzeug's threaded server, in a thread."""

    def __init__(self, url: str, key: str) -> None:
        self.app = Flask(__name__)
        self.mgr = sioadapter.ClusterManager(url, key=key)
        self.socketio = SocketIO(
            self.app, client_manager=self.mgr, async_mode="threading", logger=False
        )

        @self.socketio.on("join")
        def on_join(room: str) -> str:
            join_room(room)
            emit("joined", room, to=room)
            return f"in {room}"

        self._http = ThreadedServer(self.app, "flask")
        self.url = self._http.url

    def stop(self) -> None:
        self._http.stop()
        self.mgr.close()


@pytest.fixture
async def flask_and_async(
    redis_standalone: Any, cluster_name: str
) -> AsyncIterator[tuple[FlaskNode, Node, Client, Client]]:
    flask_node = FlaskNode(redis_standalone.url, cluster_name)
    node = Node(1, sioadapter.AsyncClusterManager(redis_standalone.url, key=cluster_name))
    clients = [Client("on-flask", flask_node, ["/"], None)]
    try:
        await node.start(cluster_api=True)
        clients.append(Client("on-async", node, ["/"], None))
        for client in clients:
            await client.connect()
        yield flask_node, node, clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()
        await node.stop_server()
        await node.mgr.close()
        await blocking(flask_node.stop)


async def test_flask_handlers_act_across_the_cluster(
    flask_and_async: tuple[FlaskNode, Node, Client, Client],
) -> None:
    _, node, on_flask, on_async = flask_and_async
    await node.sio.enter_room(on_async.sid, "lobby")
    answer = await on_flask.sio.call("join", "lobby", timeout=5)
    assert answer == "in lobby"
    for client in (on_flask, on_async):
        assert await client.wait_for("joined") == [("lobby",)]
    (remote,) = await node.mgr.fetch_sockets(on_flask.sid)
    assert remote.rooms == {on_flask.sid, "lobby"}
    await node.sio.emit("news", "from async", to="lobby", skip_sid=on_async.sid)
    assert await on_flask.wait_for("news") == [("from async",)]


async def test_flask_socketio_emits_and_disconnects_remote_clients(
    flask_and_async: tuple[FlaskNode, Node, Client, Client],
) -> None:
    flask_node, _, on_flask, on_async = flask_and_async
    on_async.on("question", lambda x: x * 2)
    socketio = flask_node.socketio
    assert await blocking(socketio.call, "question", 21, to=on_async.sid, timeout=5) == 42
    await blocking(socketio.emit, "broadcast", {"all": True})
    for client in (on_flask, on_async):
        assert await client.wait_for("broadcast") == [({"all": True},)]
    assert await blocking(flask_node.mgr.server_count) == 2
    await blocking(socketio.server.disconnect, on_async.sid)
    await on_async.wait_for("disconnect")
