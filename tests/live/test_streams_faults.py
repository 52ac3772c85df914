"""protocol="streams" through Redis faults, with real python-socketio servers and clients.

Two nodes on a private redis-server; node 0 broadcasts a numbered "tick" every 20 ms, and a
client of node 1 gets it only through the stream. Broadcasts are stream entries, which a reader
resumes reading from its last id after any failure: with every Redis connection killed (twice)
the client gets every tick exactly once, in order, which pub/sub cannot promise. A restart
without persistence resets the stream: the reader then reports a gap (lost unknown), and
delivery resumes. Fault actions run in a thread, so the event loop keeps running through them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from integration.harness import Client, Cluster

import sioadapter
from sioadapter.backends.redis_streams import StreamsBackend

TICK_INTERVAL = 0.02
OUTAGE = 1.5
"""Seconds Redis stays down in the restart test (longer than redis-py's own retries hide)."""
IN_FLIGHT = 5
"""At most this many ticks may be lost in a restart: those XADDed just before Redis died,
which the receiving node had not read yet (the stream went with the process)."""


class Pump:
    """Numbered broadcasts from node 0, and what one client received of them."""

    def __init__(self, cluster: Cluster, receiver: Client) -> None:
        self.sio = cluster.nodes[0].sio
        self.receiver = receiver
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.sent += 1
            await self.sio.emit("tick", self.sent)
            await asyncio.sleep(TICK_INTERVAL)  # a steady offered rate, not a wait for results

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def received(self) -> list[int]:
        return [args[0] for args in self.receiver.received("tick")]

    async def wait_for_tick_after(self, number: int, timeout: float = 10.0) -> None:
        await self.receiver.log.wait_until(
            lambda: any(n > number for n in self.received()),
            what=f"a tick numbered above {number}",
            timeout=timeout,
        )


def factory_for(url: str, key: str) -> Callable[..., Any]:
    def factory(index: int, /, **manager_options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            url,
            key=key,
            protocol="streams",
            stream_name=f"{key}:stream",
            requests_timeout=2.0,
            **manager_options,
        )

    return factory


def streams_backend(mgr: Any) -> StreamsBackend:
    backend = mgr.backend
    assert isinstance(backend, StreamsBackend)
    return backend


async def pump_through(cluster: Cluster, faults: list[Callable[[], Any]]) -> tuple[Pump, list[int]]:
    """Pump ticks to a client of node 1 through each fault in turn (each run in a thread,
    and followed by a tick sent after it arriving); returns the pump and what arrived, once
    everything node 0 sent has been delivered."""
    receiver = await cluster.client(1)
    pump = Pump(cluster, receiver)
    pump.start()
    try:
        await pump.wait_for_tick_after(5)
        for fault in faults:
            await asyncio.to_thread(fault)
            await pump.wait_for_tick_after(pump.sent)
        await pump.wait_for_tick_after(pump.sent)
    finally:
        await pump.stop()
    await cluster.nodes[0].mgr.flush()
    await cluster.quiet(origin=0)  # a broadcast too: it comes after every tick in the stream
    return pump, pump.received()


def assert_every_tick_once(received: list[int], sent: int) -> None:
    missing = sorted(set(range(1, sent + 1)) - set(received))
    duplicated = sorted({n for n in received if received.count(n) > 1})
    assert received == list(range(1, sent + 1)), (
        f"{sent} ticks sent, {len(received)} received; missing {missing}; duplicated {duplicated}"
    )


def wait_readers_blocked(admin: Any, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The connections blocked in XREAD, once there are ``count`` of them (CLIENT LIST, read
    every 10 ms for at most ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = admin.client_list(_type="normal")
        blocked = [c for c in listed if c["cmd"] == "xread" and "b" in c["flags"]]
        if len(blocked) >= count:
            return blocked
        assert time.monotonic() < deadline, f"{len(blocked)} of {count} readers blocked: {listed}"
        time.sleep(0.01)  # pacing between real reads of the server's client list (a thread)


async def wait_healthy(mgr: Any, timeout: float = 10.0) -> None:
    """Until ``mgr.healthy`` (its subscriber back, no background task dead), read every
    20 ms as a readiness probe would: with streams, ticks may arrive before the pub/sub
    subscriber is back."""
    deadline = time.monotonic() + timeout
    while not mgr.healthy:
        assert time.monotonic() < deadline, "a node is not healthy again after the fault"
        await asyncio.sleep(0.02)  # pacing between reads of a flag (no I/O)


def kill_connections(server: Any, *types: str) -> Callable[[], None]:
    """``CLIENT KILL TYPE t`` for each type: every such connection but the admin's own, once
    both nodes' stream readers are blocked in XREAD (killed mid-read)."""

    def kill() -> None:
        with server.client() as admin:
            readers = wait_readers_blocked(admin, 2)
            killed = sum(int(admin.execute_command("CLIENT", "KILL", "TYPE", t)) for t in types)
        assert killed >= len(readers) + 1, f"only {killed} connections killed"

    return kill


async def test_every_tick_arrives_once_in_order_through_killed_connections(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    async with Cluster(factory_for(server.url, cluster_name), nodes=2) as cluster:
        pump, received = await pump_through(
            cluster,
            [
                kill_connections(server, "normal"),
                kill_connections(server, "normal", "pubsub"),
            ],
        )
        for node in cluster.nodes:
            await wait_healthy(node.mgr)
            assert node.mgr.stats.publish_failed == 0
        gaps = [streams_backend(n.mgr).gaps for n in cluster.nodes]
    assert_every_tick_once(received, pump.sent)
    assert gaps == [0, 0], "nothing was trimmed or reset"


REFUSAL = 1.0
"""Seconds new connections are refused after the kill: longer than redis-py's own retries of
a command (which would otherwise resend the XREAD and hide the reader's resuming)."""


def kill_and_refuse(server: Any) -> None:
    """Kill every connection but the admin's, and refuse new ones for ``REFUSAL`` seconds
    (``maxclients 1``: only the admin's connection fits)."""
    with server.client() as admin:
        wait_readers_blocked(admin, 2)
        limit = admin.config_get("maxclients")["maxclients"]
        admin.config_set("maxclients", 1)
        try:
            killed = sum(
                int(admin.execute_command("CLIENT", "KILL", "TYPE", t))
                for t in ("normal", "pubsub")
            )
            time.sleep(REFUSAL)  # the refusal itself (this runs in a thread, not in the loop)
        finally:
            admin.config_set("maxclients", limit)
    assert killed >= 3, f"only {killed} connections killed"


async def test_every_tick_arrives_once_in_order_when_reconnecting_fails_for_a_while(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    async with Cluster(factory_for(server.url, cluster_name), nodes=2) as cluster:
        pump, received = await pump_through(cluster, [lambda: kill_and_refuse(server)])
        for node in cluster.nodes:
            await wait_healthy(node.mgr)
        backends = [streams_backend(n.mgr) for n in cluster.nodes]
        # The readers' own resuming ran (redis-py's retries gave up), not only redis-py's.
        failures = [r.failures for b in backends for r in b._readers.values()]
        gaps = [b.gaps for b in backends]
        failed = cluster.nodes[0].mgr.stats.publish_failed
    assert_every_tick_once(received, pump.sent)
    assert all(f >= 1 for f in failures) and len(failures) == 2, failures
    assert gaps == [0, 0], "nothing was trimmed or reset"
    assert failed == 0


async def test_delivery_resumes_after_a_restart_and_the_reset_is_counted(
    fresh_redis_standalone: Any, cluster_name: str, record_property: Any
) -> None:
    server = fresh_redis_standalone

    def restart_after_an_outage() -> None:
        server.kill()
        time.sleep(OUTAGE)  # the outage itself (this runs in a thread, not in the loop)
        server.start()

    async with Cluster(factory_for(server.url, cluster_name), nodes=2) as cluster:
        pump, received = await pump_through(cluster, [restart_after_an_outage])
        failed = cluster.nodes[0].mgr.stats.publish_failed
        backend = streams_backend(cluster.nodes[1].mgr)
        gaps, lost_entries = backend.gaps, backend.lost_entries
        counted = cluster.nodes[1].mgr.stats.stream_gaps  # what the stats and metrics show
        for node in cluster.nodes:
            await wait_healthy(node.mgr)
    assert received == sorted(set(received)), "ticks arrive in order and never twice"
    lost = pump.sent - len(received)
    record_property("ticks_sent", pump.sent)
    record_property("ticks_lost", lost)
    print(f"\n{lost} of {pump.sent} ticks lost ({failed} publishes failed); {gaps} gaps")
    assert gaps >= 1, "the reset stream was reported as a gap"
    assert counted == gaps, "each gap is in the manager's stats"
    assert lost_entries == 0, "a reset stream's loss is unknown, not counted as a number"
    assert lost <= IN_FLIGHT + failed, f"{lost} of {pump.sent} ticks lost"


async def test_an_idle_reader_blocks_in_xread_instead_of_polling(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    """Regression: after a checked read that found nothing, the reader did another checked
    read, and another: an idle node ran ~1,300 non-blocking MULTI/EXEC a second, forever."""
    server = fresh_redis_standalone
    async with Cluster(factory_for(server.url, cluster_name), nodes=2) as cluster:
        receiver = await cluster.client(1)
        with server.client() as admin:
            await cluster.nodes[0].sio.emit("tick", 1)
            await receiver.log.wait_for("tick")
            admin.config_resetstat()
            # Each reader does at most one checked read after its batch, then blocks.
            await asyncio.to_thread(wait_readers_blocked, admin, 2)
            stats = admin.info("commandstats")
    exec_calls = stats.get("cmdstat_exec", {}).get("calls", 0)
    assert exec_calls <= 4, f"{exec_calls} MULTI/EXEC on an idle stream"
