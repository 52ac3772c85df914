"""What requests leave behind, on node processes and a private redis-server.

Regressions (issue 11):

* defect 3: the request tracker kept a deadline-heap entry per request until a timeout ran
  ``expire()``, so 50,000 successful ``server_side_call``s grew a node from 54 to 120 MB. Now
  completed requests leave nothing, and ``mgr.stats`` shows what is pending;
* defect 8: a peer's acknowledgement timeout of NaN, inf or 1e300 made timers that never fire,
  and a 400-digit integer raised OverflowError with a traceback per message. Now every such
  number is replaced by this node's own timeout, counted in ``stats.bad_numbers`` and logged once;
* defect 10: ``sio.call(..., timeout=t)`` to a sid on another node left its cluster-side entry
  pending for ``ack_timeout`` (60 s) after the caller gave up; now it ends with the call.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis

from live.procs import Nodes, TestClient
from live.test_request_load import wait_for_servers
from sioadapter.core.messages import Broadcast, Target
from sioadapter.wire.classic import ClassicFamily

KINDS = [("server_side_call", 20_000), ("fetch_sockets", 5_000), ("emit_with_ack", 5_000),
         ("callback", 5_000)]  # fmt: skip
ROUNDS = 3
BATCH = 5_000
MAX_GROWTH = 6_000_000  # bytes; the leak grew a node by 2 to 13 MB per 10,000 requests


async def until(
    read: Callable[[], Awaitable[dict[str, Any]]],
    condition: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Re-read a node's stats until ``condition`` holds; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await read()
        if condition(stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s; stats: {stats}")
        await asyncio.sleep(0.05)  # pacing between real reads of the node's counters


async def test_successful_requests_leave_nothing_behind(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    """Memory stays flat: a first round of every kind of request sets the process's high-water
    mark; two more rounds must not grow it (the leak grew it ~1.3 KB per request)."""
    nodes = Nodes(fresh_redis_standalone.url, cluster_name)
    client = TestClient()
    try:
        a = await nodes.start("a")
        b = await nodes.start("b")
        await client.connect(b)
        await wait_for_servers(a, 2)
        rss = []
        for _ in range(ROUNDS):
            for kind, count in KINDS:
                to = client.sid if kind == "callback" else None
                for _ in range(count // BATCH):  # batches: what is in flight stays the same
                    done = await a.call(
                        "requests", timeout=300, kind=kind, count=BATCH, concurrency=500, to=to
                    )
                    assert done["failed"] == 0, (kind, done["errors"])
            rss.append(await a.call("gc"))
        stats = await a.stats()
        owner = await b.stats()
    finally:
        await client.close()
        await nodes.close()
    grown = rss[-1] - rss[0]
    print(f"RSS after each round: {[round(r / 1e6, 1) for r in rss]} MB")
    assert grown < MAX_GROWTH, f"grew by {grown / 1e6:.1f} MB after the first round ({rss})"
    for gauge in ("pending_requests", "pending_ack_callbacks", "pending_timers"):
        assert stats[gauge] == 0, (gauge, stats[gauge])
        # The node that delivered and got every acknowledgement holds nothing either (it kept
        # a 60 s timer per answered callback).
        assert owner[gauge] == 0, (gauge, owner[gauge])


def bad_acked_broadcasts(key: str, silent_room: str) -> list[tuple[str, bytes]]:
    """Acknowledged broadcasts from a peer, with acknowledgement timeouts no node should
    trust: NaN, inf and 1e300 as msgpack floats, a 400-digit integer as JSON."""
    family = ClassicFamily(key, "peer")
    messages = []
    for index, value in enumerate([math.nan, math.inf, 1e300]):
        target = Target([silent_room], [], {"timeout": value})
        broadcast = Broadcast("/", "peer", ["ack-me", index], target, f"bad-{index}")
        messages.append(family.encode(broadcast))
    huge = {
        "uid": "peer",
        "requestId": "bad-huge",
        "type": 7,
        "packet": {"type": 2, "data": ["ack-me", 3], "nsp": "/"},
        "opts": {"rooms": [silent_room], "except": [], "flags": {"timeout": 10**400}},
    }
    messages.append((family.request_channel("/"), json.dumps(huge).encode()))
    return messages


async def test_peer_ack_timeouts_are_checked(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    server = fresh_redis_standalone
    nodes = Nodes(server.url, cluster_name)
    client = TestClient(silent=True)  # holds every acknowledgement: callbacks stay registered
    publisher = redis.Redis(host="127.0.0.1", port=server.port)
    try:
        b = await nodes.start("b", ack_timeout=1.0)
        await client.connect(b, rooms=("silent",))
        for channel, payload in bad_acked_broadcasts(cluster_name, "silent"):
            publisher.publish(channel, payload)
        await client.wait_until(lambda: len(client.received("ack-me")) == 4, "4 broadcasts")
        held = await b.stats()
        # Each callback is forgotten after this node's own ack_timeout (1 s): nothing is
        # held forever by a timer that never fires.
        stats = await until(
            b.stats, lambda s: s["pending_ack_callbacks"] == 0, "callbacks forgotten", 5.0
        )
        log = b.log()
    finally:
        await client.close()
        await nodes.close()
        publisher.close()
    assert held["bad_numbers"] == 4
    assert stats["pending_timers"] == 0
    assert "Traceback" not in log and "OverflowError" not in log
    assert log.count("acknowledgement timeout that is not") == 1, "logged once per kind"


async def test_sio_call_timeout_ends_the_cluster_side_wait(
    fresh_redis_standalone: Any, cluster_name: str
) -> None:
    nodes = Nodes(fresh_redis_standalone.url, cluster_name)
    client = TestClient(silent=True)  # never answers: the call times out
    try:
        a = await nodes.start("a", ack_timeout=60.0)
        b = await nodes.start("b", ack_timeout=60.0)
        await client.connect(b)
        await wait_for_servers(a, 2)
        result = await a.call(
            "requests", kind="call", count=1, concurrency=1, request_timeout=0.5, to=client.sid
        )
        assert result["failed"] == 1 and "TimeoutError" in next(iter(result["errors"]))
        started = time.monotonic()
        await until(a.stats, lambda s: s["pending_requests"] == 0, "the caller's request ended")
        await until(b.stats, lambda s: s["pending_ack_callbacks"] == 0, "the owner's callback")
        assert time.monotonic() - started < 5.0, "ended with the call, not after ack_timeout"
        assert (await a.stats())["pending_timers"] == 0
    finally:
        await client.close()
        await nodes.close()
