"""Managers built before a real fork, over a real redis-server: each child is its own node.

The parent builds one manager (not started) and forks two children (multiprocessing's
``fork`` context, as ``gunicorn --preload`` forks its workers). Each child uses the inherited
manager: both must count two servers, and each one's ``server_side_call`` must be answered by
the other child, which a shared uid would have made each ignore as its own. Skipped without
redis-server (failed under ``CI``), like the other live tests.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import uuid
from typing import Any

import pytest

import sioadapter

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
CTX = multiprocessing.get_context("fork")
TIMEOUT = 20.0


def child(queue: Any, both_up: Any, release: Any, manager: sioadapter.AsyncClusterManager) -> None:
    async def main() -> dict[str, Any]:
        await manager.wait_connected(TIMEOUT)  # returns once this child serves "/"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        count = 0
        while loop.time() < deadline:
            count = await manager.server_count()
            if count >= 2:
                break
            await asyncio.sleep(0.05)  # pacing between real checks: the other is starting
        # Ask only once the other child serves too: counted by Redis as soon as it subscribed,
        # it may not have marked its namespace served yet (it drops requests until then).
        await asyncio.to_thread(both_up.wait, TIMEOUT)
        answers = await manager.server_side_call("who", timeout=5.0)
        report = {
            "pid": os.getpid(),
            "uid": manager.uid,
            "count": count,
            "answers": answers,
        }
        queue.put(report)
        # Stay in the cluster until the other child has had its answer too.
        await asyncio.to_thread(release.wait, TIMEOUT)
        await manager.close()
        return report

    asyncio.run(main())


@pytest.mark.parametrize("mode", ["classic", "sharded"])
def test_children_of_one_preforked_manager_answer_each_other(
    redis_standalone: Any, mode: str
) -> None:
    manager = sioadapter.AsyncClusterManager(
        redis_standalone.url, key=f"fork-{uuid.uuid4().hex[:8]}", mode=mode
    )
    manager.on("who", lambda: os.getpid())
    queue, both_up, release = CTX.Queue(), CTX.Barrier(2), CTX.Event()
    children = [
        CTX.Process(target=child, args=(queue, both_up, release, manager)) for _ in range(2)
    ]
    for process in children:
        process.start()
    try:
        reports = [queue.get(timeout=TIMEOUT * 2) for _ in children]
    finally:
        release.set()
        for process in children:
            process.join(TIMEOUT)
            if process.is_alive():
                process.kill()
    first, second = reports
    assert len({first["uid"], second["uid"], manager.uid}) == 3
    assert first["count"] == second["count"] == 2
    assert first["answers"] == [second["pid"]]
    assert second["answers"] == [first["pid"]]
    assert [process.exitcode for process in children] == [0, 0]
