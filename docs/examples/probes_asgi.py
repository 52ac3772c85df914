"""An ASGI Socket.IO server with the endpoints Kubernetes and Prometheus call.

``/livez``: 200 while the process answers HTTP (liveness). ``/readyz``: 200 while
``mgr.healthy``, else 503 (readiness). ``/metrics``: prometheus_client's default registry,
where ``metrics=True`` put the manager's ``sioadapter_*`` metrics. Everything else is
Socket.IO. Run it with ``uvicorn probes_asgi:app``.
"""

import os

import socketio
from prometheus_client import make_asgi_app

import sioadapter


def probes(mgr):
    """The ASGI app of /livez, /readyz and /metrics (404 elsewhere)."""
    metrics = make_asgi_app()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/metrics":
            await metrics(scope, receive, send)
            return
        if scope["path"] == "/livez":
            status, body = 200, b"ok\n"
        elif scope["path"] == "/readyz":
            ready = mgr.healthy  # no I/O: cheap enough for every probe
            status, body = (200, b"ok\n") if ready else (503, b"not part of the cluster\n")
        else:
            status, body = 404, b"not found\n"
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
mgr = sioadapter.AsyncClusterManager(URL, metrics=True)
sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
# Start the manager with the server, not at the first client: a pod must be ready before the
# load balancer sends it any. Closing it leaves the cluster cleanly.
app = socketio.ASGIApp(sio, other_asgi_app=probes(mgr), on_startup=mgr.start, on_shutdown=mgr.close)
