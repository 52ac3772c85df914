"""PostgreSQL connection failures with a live 2-node cluster broadcasting to real clients.

The pump of tests/live/test_faults.py: node 0 emits a numbered "tick" to every client every
20 ms, node 1's client gets it through PostgreSQL. Then a connection is killed with
``pg_terminate_backend``, as an operator or a failover would: node 1's LISTEN connection (it
must LISTEN again by itself), or every connection of node 0 (its publishing connection is
opened again once the manager probes). Each test checks, within a stated bound, that broadcasts
and server-side calls work again, that no background task died, that ticks arrive in order and
never twice, and reports how many ticks were lost (NOTIFY is at-most-once: what is sent while
nobody LISTENs is gone) and how long recovery took. The last test restarts a private server
(pgserver.py) with both nodes on it.
"""

from __future__ import annotations

import time
from typing import Any

from integration.harness import Cluster

from live.test_faults import factory_for, run_fault

from .conftest import require_psycopg
from .pgserver import PrivateServer

require_psycopg()

import psycopg  # noqa: E402


def terminate(pg_url: str, pids: list[int]) -> None:
    """``pg_terminate_backend`` each pid, from a connection of its own (run in a thread)."""
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for pid in pids:
            (done,) = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
            assert done, f"backend {pid} was terminated"


def listen_pid(node: Any) -> int:
    return int(node.mgr.backend.sub_client.info.backend_pid)


async def test_the_listen_connection_terminated_under_load(
    pg_url: str, pg_key: str, record_property: Any
) -> None:
    async with Cluster(factory_for(pg_url, pg_key), nodes=2) as cluster:
        receiver = cluster.nodes[1]
        before = listen_pid(receiver)
        await run_fault(
            cluster,
            lambda: terminate(pg_url, [before]),
            recovery_bound=5.0,
            record_property=record_property,
        )
        backend = receiver.mgr.backend
        assert backend.listener.restorations == 1
        assert listen_pid(receiver) != before
        assert receiver.mgr.stats.backend_errors >= 1  # reported, not raised


async def test_every_connection_of_the_publishing_node_terminated_under_load(
    pg_url: str, pg_key: str, record_property: Any
) -> None:
    async with Cluster(factory_for(pg_url, pg_key), nodes=2) as cluster:
        sender = cluster.nodes[0]
        backend = sender.mgr.backend
        pids = [listen_pid(sender), int(backend.pub_client.info.backend_pid)]
        await run_fault(
            cluster,
            lambda: terminate(pg_url, pids),
            recovery_bound=5.0,
            record_property=record_property,
        )
        assert int(backend.pub_client.info.backend_pid) != pids[1]
        assert backend.listener.restorations == 1


OUTAGE = 1.5
"""Seconds the private server stays down in the restart test."""


async def test_a_server_restart_under_load(pg_key: str, record_property: Any) -> None:
    server = PrivateServer().start()
    try:

        def restart_after_an_outage() -> None:
            server.stop()
            time.sleep(OUTAGE)  # the outage itself (this runs in a thread, not in the loop)
            server.start()

        async with Cluster(factory_for(server.url, pg_key), nodes=2) as cluster:
            await run_fault(
                cluster,
                restart_after_an_outage,
                recovery_bound=10.0,
                record_property=record_property,
            )
            for node in cluster.nodes:
                assert node.mgr.backend.listener.restorations == 1
    finally:
        server.remove()
