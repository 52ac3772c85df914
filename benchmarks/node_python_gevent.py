"""A sync Python node under gevent: :mod:`benchmarks.node_python_sync` in a monkey-patched
process, its ``socketio.Server`` in ``async_mode="gevent"`` (Flask-SocketIO under gevent).

Usage: ``python -m benchmarks.node_python_gevent '<json config>'``, the contenders
``sioadapter-gevent`` (ClusterManager) and ``socketio-gevent`` (python-socketio's RedisManager).
"""

from gevent import monkey

monkey.patch_all()  # before anything else is imported, as an app under gevent must

import json  # noqa: E402
import sys  # noqa: E402

from .node_python import emit_line  # noqa: E402
from .node_python_sync import main  # noqa: E402

if __name__ == "__main__":
    config = {**json.loads(sys.argv[1]), "async_mode": "gevent"}
    try:
        main(config)
    except Exception as error:  # reported to the orchestrator, which stops the run
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
