"""Shared by every suite: when a test is about to hit its timeout, print what every asyncio
task is waiting on, so that a hang says where it is (pytest-timeout itself only shows the
event loop waiting in ``select``)."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
from collections.abc import Iterator

import pytest

DUMP_BEFORE = 10.0
"""Seconds before the test's timeout at which the tasks are dumped."""


def _dump_tasks(name: str) -> None:
    out = io.StringIO()
    out.write(f"\n==== {name}: close to its timeout; asyncio tasks ====\n")
    for task in list(asyncio.tasks._all_tasks):  # read from another thread: best effort
        try:
            task.print_stack(limit=12, file=out)
        except Exception as error:  # the task changed under us; the others still tell
            out.write(f"({error!r})\n")
    sys.__stderr__.write(out.getvalue())


@pytest.fixture(autouse=True)
def _task_dump_near_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("timeout")
    timeout = float(marker.args[0]) if marker and marker.args else request.config.getini("timeout")
    seconds = float(timeout or 0) - DUMP_BEFORE
    timer = None
    if seconds > 0:
        timer = threading.Timer(seconds, _dump_tasks, args=(request.node.nodeid,))
        timer.daemon = True
        timer.start()
    yield
    if timer is not None:
        timer.cancel()


# tests/plugin_pkg is another package with a test suite of its own, run against its installed
# copy by tests/kit/test_plugin_pkg_kit.py; collected here, it would not find that package.
collect_ignore = ["plugin_pkg"]
