"""Dead links TCP does not notice, and publishes that outlive ``publish_timeout``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import socketio
from integration.harness import Cluster

import sioadapter


class BlackholeProxy:
    """A loopback TCP proxy to Redis whose open connections can be made silent.

    ``blackhole()`` stops forwarding on every connection open at that moment, without closing
    anything: packets vanish, as on a dead route. Connections opened afterwards work.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: list[dict[str, bool]] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def blackhole(self) -> None:
        for link in self._links:
            link["alive"] = False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        link = {"alive": True}
        self._links.append(link)
        self._writers += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    if link["alive"]:
                        sink.write(data)
                        await sink.drain()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def close(self) -> None:
        """Stop accepting, close every connection and end every forwarding task."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()


async def test_a_silent_dead_subscriber_link_is_detected_and_replaced(
    redis_standalone: Any, cluster_name: str
) -> None:
    proxy = BlackholeProxy(redis_standalone.port)
    await proxy.start()
    through_proxy = f"redis://127.0.0.1:{proxy.port}/0?health_check_interval=0.5&socket_timeout=1"

    def factory(index: int, /, **options: Any) -> Any:
        url = through_proxy if index == 1 else redis_standalone.url
        return sioadapter.AsyncClusterManager(url, key=cluster_name, **options)

    try:
        async with Cluster(factory, nodes=2) as cluster:
            clients = await cluster.connect_each()
            await cluster.nodes[0].sio.emit("before", 1)
            await clients[1].wait_for("before")

            proxy.blackhole()
            started = time.monotonic()
            stop = asyncio.Event()
            ticks = asyncio.create_task(_offer_ticks(cluster, stop))
            try:
                # Node 1 hears nothing now; its health check must notice within about two
                # intervals and reconnect (through the proxy, on a fresh, working connection).
                await clients[1].wait_for("after", timeout=6)
            finally:
                stop.set()
                await ticks
            recovered = time.monotonic() - started
            print(f"\nsilent link replaced; broadcasts back after {recovered:.2f} s")
            assert recovered < 6
            assert cluster.nodes[1].mgr.stats.backend_errors >= 1
            assert cluster.nodes[1].mgr.healthy
            # Node 1 talks through the proxy: stop it first, then the proxy, before the
            # harness checks that no task is left.
            await cluster.stop_node(1)
            await proxy.close()
    finally:
        await proxy.close()


async def _offer_ticks(cluster: Cluster, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await cluster.nodes[0].sio.emit("after", 1)
        await asyncio.sleep(0.05)  # a steady offered rate, not a wait for results


async def test_publishes_are_held_through_an_outage_and_a_full_queue_is_counted(
    fresh_redis_standalone: Any, cluster_name: str, caplog: Any
) -> None:
    server = fresh_redis_standalone
    mgr = sioadapter.AsyncClusterManager(
        f"{server.url}?socket_connect_timeout=0.2",
        key=cluster_name,
        publish_timeout=0.5,
        max_queue=3,
    )
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    await mgr.start()
    try:
        server.kill()
        for n in range(5):
            await mgr.emit("held", n, "/")  # returns at once: nobody waits out an outage
        flushing = asyncio.ensure_future(mgr.flush())
        await mgr.emit("held", 5, "/")
        # The queue holds 3; the others are counted and logged, not silently lost.
        assert mgr.stats.publish_failed == 3
        assert any("publish queue is full" in r.getMessage() for r in caplog.records)
        assert not flushing.done(), "nothing can be published while Redis is down"

        await asyncio.to_thread(server.start)
        await asyncio.wait_for(flushing, 10)  # the held messages went out once Redis was back
        assert mgr.stats.publish_failed == 3
        await mgr.emit("after", 1, "/")
        await asyncio.wait_for(mgr.flush(), 10)
        assert mgr.healthy
    finally:
        await mgr.close()
