"""``gunicorn --preload -w 2 -k uvicorn.workers.UvicornWorker`` with a manager built at import
time (tests/live/preload_app.py): the two workers are two nodes that see each other.

A worker's ``/probe`` counts the servers and asks the others (``server_side_call``) for their
pid: the answer must come from the other worker. Before forks were handled, both workers had
the master's uid and the call timed out with "0 responses received out of 1". Skipped without
redis-server or gunicorn (failed under ``CI``), like the other live tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from redistopo._process import _unavailable

from .procs import free_port

HERE = Path(__file__).parent
START_TIMEOUT = 30.0


def probe(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/probe", timeout=5.0) as answer:
            report: dict[str, Any] = json.load(answer)
            return report
    except (OSError, urllib.error.URLError):
        return None  # not listening yet


def test_preloaded_workers_are_two_nodes(redis_standalone: Any) -> None:
    for module in ("gunicorn", "uvicorn"):  # found, not imported (uvicorn.workers warns)
        if importlib.util.find_spec(module) is None:
            _unavailable(module, f"{module} is needed (pip install -e '.[dev]')")
    port = free_port()
    env = {
        **os.environ,
        "FORK_TEST_URL": redis_standalone.url,
        "FORK_TEST_KEY": f"preload-{uuid.uuid4().hex[:8]}",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "gunicorn", "--preload", "-w", "2",
        "-k", "uvicorn.workers.UvicornWorker", "-b", f"127.0.0.1:{port}",
        "--chdir", str(HERE), "--graceful-timeout", "5", "preload_app:app",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            seen: dict[int, dict[str, Any]] = {}
            deadline = time.monotonic() + START_TIMEOUT
            # Each probe is a new connection, taken by whichever worker accepts it: probe
            # until one worker (ideally each) reports the other, or the deadline passes.
            while len(seen) < 2 and time.monotonic() < deadline and master.poll() is None:
                report = probe(port)
                if report is not None and report["count"] == 2 and report["answers"]:
                    seen[report["pid"]] = report
                else:
                    time.sleep(0.1)  # the workers are still starting and subscribing
            log.seek(0)
            output = log.read().decode(errors="replace")
            assert seen, f"no worker saw the other within {START_TIMEOUT} s:\n{output}"
            for pid, report in seen.items():
                assert report["count"] == 2
                assert len(report["answers"]) == 1
                other = report["answers"][0]
                assert other != pid  # answered by the other worker, not by itself
                assert other != master.pid  # nor by the master, which serves nobody
                if other in seen:
                    assert seen[other]["uid"] != report["uid"]
            assert "Traceback" not in output, output
        finally:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(15.0)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait(5.0)
