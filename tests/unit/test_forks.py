"""A manager built before a real ``os.fork()`` (multiprocessing's ``fork`` context) is a new
node in the child: its own uid everywhere, fresh redis-py clients or reset pools, no asyncio
object of the parent's. One started in the parent refuses use in the child, saying why.

Cross-process traffic over a real redis-server is in tests/live/test_forks.py.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from typing import Any

import fakeredis
import pytest

import sioadapter

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
CTX = multiprocessing.get_context("fork")
CHILD_TIMEOUT = 20.0


def identity(manager: Any) -> dict[str, Any]:
    node = manager._node
    return {
        "uid": manager.uid,
        "host_id": manager.host_id,
        "family": manager.family.uid,
        "node": node.uid,
        "receiver": node.receiver.uid,
        "membership": None if node.membership is None else node.membership.uid,
        "pub_client": id(manager.backend.pub_client),
        "subscriptions": node.subscriptions("/")[0],
    }


def run_in_child(target: Any, *args: Any) -> Any:
    """Run ``target(queue, *args)`` in a forked child; return what it put on the queue."""
    queue = CTX.Queue()
    child = CTX.Process(target=target, args=(queue, *args))
    child.start()
    try:
        result = queue.get(timeout=CHILD_TIMEOUT)
    finally:
        child.join(CHILD_TIMEOUT)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0, f"the child exited with {child.exitcode}"
    return result


def report_identity(queue: Any, manager: Any) -> None:
    queue.put(identity(manager))


@pytest.mark.parametrize("protocol", ["classic", "cluster"])
def test_a_manager_built_before_a_fork_is_a_new_node_in_the_child(protocol: str) -> None:
    manager = sioadapter.AsyncClusterManager(
        "redis://127.0.0.1:1/0", protocol=protocol, heartbeat_interval=1.0
    )
    parent = identity(manager)
    first = run_in_child(report_identity, manager)
    second = run_in_child(report_identity, manager)

    uids = {parent["uid"], first["uid"], second["uid"]}
    assert len(uids) == 3
    for child in (first, second):
        # the one uid everywhere a node keeps it
        assert child["host_id"] == child["family"] == child["node"] == child["uid"]
        assert child["receiver"] == child["uid"]
        assert child["membership"] in (None, child["uid"])
        assert any(child["uid"] in name for name in child["subscriptions"])
        assert not any(parent["uid"] in name for name in child["subscriptions"])
        assert child["pub_client"] != parent["pub_client"]  # built again from the URL
    assert identity(manager) == parent  # the parent keeps its own


def report_pool(queue: Any, manager: Any) -> None:
    pool = manager.backend.pub_client.connection_pool
    queue.put({"uid": manager.uid, "idle": len(pool._available_connections)})


def test_clients_passed_in_keep_their_object_but_their_pool_is_reset() -> None:
    client = fakeredis.FakeAsyncRedis()
    manager = sioadapter.AsyncClusterManager(client=client)
    asyncio.run(client.ping())  # the parent used the client: one pooled connection
    assert len(client.connection_pool._available_connections) == 1
    child = run_in_child(report_pool, manager)
    assert child["uid"] != manager.uid
    assert child["idle"] == 0
    assert manager.backend.pub_client is client


def use_started(queue: Any, manager: Any) -> None:
    async def main() -> str:
        try:
            await manager.emit("event", {"x": 1})
        except sioadapter.ManagerClosedError as error:
            return str(error)
        return "no error"

    queue.put(asyncio.run(main()))


def test_a_manager_started_before_the_fork_refuses_use_in_the_child() -> None:
    manager = sioadapter.AsyncClusterManager(client=fakeredis.FakeAsyncRedis())
    # The parent's loop runs between forks only: the child is forked with none running.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(manager.wait_connected(5.0))
        message = run_in_child(use_started, manager)
        assert "was started in process" in message
        assert "Build the manager before the fork" in message
        loop.run_until_complete(manager.emit("event", {"x": 1}))  # the parent's still works
        assert manager.healthy
    finally:
        loop.run_until_complete(manager.close())
        loop.close()


def report_sync(queue: Any, manager: Any) -> None:
    queue.put({"uid": manager.uid, "host_id": manager.host_id, "alive": manager._loop.alive,
               "served": manager.engine_loop.is_running()})  # fmt: skip


def test_a_sync_manager_gets_a_loop_thread_of_its_own_in_the_child() -> None:
    manager = sioadapter.ClusterManager("redis://127.0.0.1:1/0")
    try:
        child = run_in_child(report_sync, manager)
        assert child["uid"] != manager.uid
        assert child["host_id"] == child["uid"]
        assert child["alive"] and child["served"]
    finally:
        manager.close()


def start_and_report(queue: Any, manager: Any) -> None:
    async def main() -> dict[str, Any]:
        await manager.wait_connected(5.0)
        try:
            return identity(manager)
        finally:
            await manager.close()

    queue.put(asyncio.run(main()))


def test_start_renews_a_manager_whose_fork_hook_did_not_run() -> None:
    from sioadapter._runtime import forks

    manager = sioadapter.AsyncClusterManager(client=fakeredis.FakeAsyncRedis())
    forks._tracked.discard(manager)  # as if forked by code that runs no at-fork hooks
    child = run_in_child(start_and_report, manager)
    assert child["uid"] != manager.uid
    assert child["node"] == child["family"] == child["uid"]
