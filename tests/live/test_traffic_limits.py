"""Bursts, message sizes and a Redis that is down at start, on node processes.

Regressions (issue 11):

* defect 4: after 20,000 x 1 KB broadcasts the publisher believed ~3,744 replies were still due
  (counted after the write drained, while replies were already coming back), and
  ``socket_timeout`` later it logged "Timeout reading", counted a backend error and dropped
  its connection. Now reply accounting is exact: the burst ends with ``backend_errors == 0``;
* defect 7: a 50 MB emit returned without error and made Redis disconnect every subscriber.
  Now ``max_message_size`` refuses it before anything is published, drops oversized received
  messages undecoded, and a subscriber Redis closes for its output buffer is logged and counted;
* defect 9: with Redis down, every client connection spent ~4 s in redis-py retries and
  failed. Now the node serves its clients at once and joins the cluster when Redis is up.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import redis

from live.procs import Nodes, TestClient
from live.test_request_hygiene import until
from live.test_request_load import wait_for_servers

BURST = 20_000


async def test_a_burst_ends_with_no_backend_error(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    # A short socket_timeout: a reply the publisher wrongly believes due fails fast.
    nodes = Nodes(f"{server.url}?socket_timeout=1", cluster_name)
    try:
        a = await nodes.start("a")
        await nodes.start("b")
        await a.call("burst", timeout=120, event="bulk", count=BURST, size=1000)
        stats = await until(a.stats, lambda s: s["published"] >= BURST, "every reply", 30)
        # Longer than socket_timeout with nothing due: a wrong count would time out by now.
        await asyncio.sleep(1.5)
        after = await a.stats()
        log = a.log()
    finally:
        await nodes.close()
    assert stats["published"] == BURST and stats["publish_failed"] == 0
    assert after["backend_errors"] == 0, log[-2000:]
    assert after["healthy"]
    assert "Timeout reading" not in log


async def test_an_emit_over_max_message_size_raises_before_anything_is_published(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    nodes = Nodes(fresh_redis_standalone.url, cluster_name)
    remote, local = TestClient(), TestClient()
    try:
        a = await nodes.start("a", max_message_size=100_000)
        b = await nodes.start("b", max_message_size=100_000)
        await remote.connect(b)
        await local.connect(a)
        await wait_for_servers(a, 2)
        try:
            await a.call("emit", event="big", args=["x" * 200_000])
        except Exception as error:  # the node reports what the emit raised
            message = str(error)
        else:
            raise AssertionError("the oversized emit raised nothing")
        await a.call("emit", event="small", args=[1])
        await remote.wait_until(lambda: bool(remote.received("small")), "the small emit")
        await local.wait_until(lambda: bool(local.received("small")), "the small emit")
        stats = await a.stats()
    finally:
        await remote.close()
        await local.close()
        await nodes.close()
    assert message.startswith("MessageTooLargeError")
    assert "over max_message_size (100000 bytes)" in message
    assert [event for event, _ in remote.events] == ["small"], "nothing of it left the node"
    assert [event for event, _ in local.events] == ["small"]
    assert stats["published"] == 1


async def test_an_oversized_received_message_is_dropped_undecoded(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    nodes = Nodes(server.url, cluster_name)
    client = TestClient()
    publisher = redis.Redis(host="127.0.0.1", port=server.port)
    try:
        b = await nodes.start("b", max_message_size=100_000)
        a = await nodes.start("a")
        await client.connect(b)
        publisher.publish(f"{cluster_name}#/#", b"\x93" + b"\xc0" * 200_000)
        await a.call("emit", event="after", args=[1])
        await client.wait_until(lambda: bool(client.received("after")), "the next broadcast")
        stats = await b.stats()
        log = b.log()
    finally:
        await client.close()
        await nodes.close()
        publisher.close()
    assert stats["dropped_oversized"] == 1
    assert stats["dropped_malformed"] == 0, "it was never decoded"
    assert "over max_message_size" in log


async def test_redis_closing_a_slow_subscriber_is_logged_and_counted(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    with server.client() as admin:
        admin.config_set("client-output-buffer-limit", "pubsub 262144 131072 60")
    nodes = Nodes(server.url, cluster_name)
    try:
        a = await nodes.start("a")
        b = await nodes.start("b")
        await wait_for_servers(a, 2)
        b.signal(signal.SIGSTOP)  # b stops reading: Redis buffers what it publishes to b
        # 20 MB: more than the kernel's socket buffers absorb, then Redis's own buffer fills.
        await a.call("burst", timeout=60, event="bulk", count=400, size=50_000)
        await until(a.stats, lambda s: s["published"] >= 400, "the burst published")
        b.signal(signal.SIGCONT)
        stats = await until(
            b.stats, lambda s: s["buffer_limit_disconnects"] >= 1, "the close reported", 15
        )
        await wait_for_servers(a, 2)  # b resubscribed
        log = b.log()
    finally:
        await nodes.close()
    assert stats["buffer_limit_disconnects"] == 1
    assert "client-output-buffer-limit pubsub 262144 131072 60" in log
    assert "were lost" in log


async def test_a_node_serves_its_clients_while_redis_is_down_and_joins_when_it_is_up(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    server.kill()
    nodes = Nodes(server.url, cluster_name)
    local, remote = TestClient(), TestClient()
    try:
        a = await nodes.start("a")
        b = await nodes.start("b")
        started = time.monotonic()
        await local.connect(a)  # no Redis: the node serves its own clients at once
        connect_seconds = time.monotonic() - started
        await a.call("emit", event="local", args=[1])
        await local.wait_until(lambda: bool(local.received("local")), "a local broadcast")
        await asyncio.to_thread(server.start)
        await a.call("wait_connected", seconds=20.0)
        await b.call("wait_connected", seconds=20.0)
        await remote.connect(b)
        await wait_for_servers(a, 2, timeout=15)
        await a.call("emit", event="across", args=[2])
        await remote.wait_until(lambda: bool(remote.received("across")), "a cluster broadcast")
        log = a.log()
    finally:
        await local.close()
        await remote.close()
        await nodes.close()
    assert connect_seconds < 3.0, f"a client waited {connect_seconds:.1f} s to connect"
    assert "Traceback" not in log
    assert "connecting in the background" in log
