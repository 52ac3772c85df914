"""Sync ``ClusterManager`` nodes over PostgreSQL in a monkey-patched gevent or eventlet process:
psycopg's asyncio connections run on the manager's loop greenlet, and the cluster answers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest
from redistopo._process import _unavailable

SCRIPT = """
import sys
mode, url, key = sys.argv[1:4]
if mode == "gevent":
    from gevent import monkey
    monkey.patch_all()
else:
    import eventlet
    eventlet.monkey_patch()
import time

import socketio

import sioadapter

managers = [sioadapter.ClusterManager(url, key=key) for _ in range(2)]
for mgr in managers:
    socketio.Server(client_manager=mgr, async_mode=mode)
    mgr.start()
managers[1].on("ping", lambda: "pong")
deadline = time.monotonic() + 10
while managers[0].server_count() < 2:  # counted by heartbeat: no event to wait on
    assert time.monotonic() < deadline, "the second node was never counted"
    time.sleep(0.05)
managers[0].emit("binary", b"\\x01" * 9000)  # through the attachments table
print(managers[0].server_side_call("ping"))
for mgr in managers:
    mgr.close()
print("closed")
"""


@pytest.mark.parametrize("mode", ["gevent", "eventlet"])
def test_sync_managers_in_a_patched_process(mode: str, pg_url: str, pg_key: str) -> None:
    if importlib.util.find_spec(mode) is None:
        _unavailable(mode, f"{mode} is not installed: pip install {mode}")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(SCRIPT), mode, pg_url, pg_key],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['pong']", "closed"]
