"""A Flask-SocketIO server (WSGI, threads) with the endpoints Kubernetes and Prometheus call.

``/livez``: 200 while the process answers HTTP (liveness). ``/readyz``: 200 while
``mgr.healthy``, else 503 (readiness). ``/metrics``: prometheus_client's default registry,
where ``metrics=True`` put the manager's ``sioadapter_*`` metrics.
"""

import os

from flask import Flask
from flask_socketio import SocketIO
from prometheus_client import make_wsgi_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import sioadapter

mgr = sioadapter.ClusterManager(
    os.environ.get("REDIS_URL", "redis://localhost:6379/0"), metrics=True
)
app = Flask(__name__)
socketio = SocketIO(app, client_manager=mgr, async_mode="threading")
app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": make_wsgi_app()})
mgr.start()  # ready before the first client: the load balancer waits for /readyz


@app.get("/livez")
def livez():
    return "ok\n", 200, {"content-type": "text/plain"}


@app.get("/readyz")
def readyz():
    if mgr.healthy:  # no I/O: cheap enough for every probe
        return "ok\n", 200, {"content-type": "text/plain"}
    return "not part of the cluster\n", 503, {"content-type": "text/plain"}
