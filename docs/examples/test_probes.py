"""The probe recipes of docs/operations.md, served for real and called over HTTP.

Runs as part of sioadapter's CI (``testpaths`` includes docs/examples), over ``memory://``
(one process, no Redis needed) and a Redis URL nothing listens on (not ready).
"""

import asyncio
import contextlib
import importlib
import socket

import aiohttp
import pytest
import uvicorn

pytest.importorskip("prometheus_client", reason="needs pip install 'sioadapter[prometheus]'")

UNREACHABLE = "redis://127.0.0.1:1/0?socket_connect_timeout=0.2"


class Server(uvicorn.Server):
    """uvicorn's server, with an event set once it listens; pytest keeps its Ctrl-C."""

    def __init__(self, config):
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def serve_and_get(app, paths):
    """Serve ``app`` with uvicorn on a loopback port (lifespan included: the manager starts
    with the server), GET each path, stop; returns {path: (status, text)}."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.wait_for(server.listening.wait(), 10)
        answers = {}
        async with aiohttp.ClientSession() as http:
            for path in paths:
                async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                    answers[path] = (response.status, await response.text())
        return answers
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        sock.close()


async def test_the_asgi_recipe(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "memory://probes-asgi")
    recipe = importlib.import_module("probes_asgi")
    answers = await serve_and_get(recipe.app, ["/livez", "/readyz", "/metrics", "/other"])
    assert answers["/livez"][0] == answers["/readyz"][0] == 200
    assert (
        f'sioadapter_healthy{{key="socket.io",node="{recipe.mgr.uid}"}} 1.0'
        in (answers["/metrics"][1])
    )
    assert answers["/other"][0] == 404
    assert not recipe.mgr.healthy, "closed with the server"

    import socketio

    import sioadapter

    mgr = sioadapter.AsyncClusterManager(UNREACHABLE, metrics=True)
    sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    app = socketio.ASGIApp(
        sio, other_asgi_app=recipe.probes(mgr), on_startup=mgr.start, on_shutdown=mgr.close
    )
    answers = await serve_and_get(app, ["/livez", "/readyz"])
    assert answers == {"/livez": (200, "ok\n"), "/readyz": (503, "not part of the cluster\n")}


def test_the_flask_recipe(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "memory://probes-flask")
    recipe = importlib.import_module("probes_flask")
    http = recipe.app.test_client()
    try:
        assert http.get("/livez").status_code == 200
        assert http.get("/readyz").status_code == 200
        metrics = http.get("/metrics").get_data(as_text=True)
        assert f'sioadapter_healthy{{key="socket.io",node="{recipe.mgr.uid}"}} 1.0' in metrics
    finally:
        recipe.mgr.close()
    assert http.get("/readyz").status_code == 503
