"""Raw sync redis-py pub/sub under gevent: the ceiling of a green-thread shell on sync redis-py.

Usage: ``python -m benchmarks.raw_redis_gevent '<json config>'``, the contender
``raw-gevent``: :mod:`benchmarks.raw_redis`'s roles, payloads and figures, in a process
``gevent.monkey.patch_all()`` patched, with redis-py's sync client (what python-socketio's
RedisManager and a ClusterManager shell on sync redis-py would use): the publisher sends
pipelines of 1,000 PUBLISH commands, the subscriber loops on ``pubsub.get_message``. No
Socket.IO work at all: whatever such a shell adds to a broadcast comes on top of this.
"""

from gevent import monkey

monkey.patch_all()  # before anything else is imported

import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402

from .node_python import cpu_seconds, emit_line  # noqa: E402
from .raw_redis import BATCH, emit_result  # noqa: E402
from .warm import MARKER, Warmup, wait_go  # noqa: E402


def publisher(cfg: dict[str, Any], client: Any) -> None:
    channel, n = cfg["key"], cfg["n"]

    def send(n: int) -> None:
        for start in range(0, n, BATCH):
            pipe = client.pipeline(transaction=False)
            for i in range(start, min(start + BATCH, n)):
                pipe.publish(channel, json.dumps({"i": i, "t": time.monotonic()}))
            pipe.execute()

    emit_line(ready=True)
    if cfg.get("warm"):  # benchmarks.warm: the same sends, the marker, then wait for "go"
        send(int(cfg["warm"]))
        client.publish(channel, MARKER)
        emit_line(warmed=True)
        wait_go(cfg.get("timeout", 120))
    client.publish(channel, json.dumps({"start": time.monotonic()}))
    t0 = time.monotonic()
    send(n)
    client.publish(channel, b"end")
    emit_line(result={"emitted": n, "send_seconds": time.monotonic() - t0})
    threading.Event().wait()  # until the orchestrator stops this process


def subscriber(cfg: dict[str, Any], client: Any) -> None:
    channel, n = cfg["key"], cfg["n"]
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    while client.pubsub_numsub(channel)[0][1] < 1:  # subscribed once Redis counts it
        time.sleep(0.02)
    emit_line(ready=True)
    warmup = Warmup(int(cfg.get("warm") or 0), 1)
    marker = MARKER.encode()
    count = 0
    first = last = cpu_start = emitted = 0.0
    deadline = time.monotonic() + cfg.get("timeout", 120)
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if message is None or message["type"] != "message":
            continue
        data = message["data"]
        if data.startswith(b'{"start"'):
            cpu_start = cpu_seconds()
            emitted = json.loads(data)["start"]
        elif data == b"end":
            break
        elif data == marker:
            warmup.mark()
        elif warmup.active:  # a warm-up message: not one of the measured run's
            warmup.delivery()
        else:
            now = time.monotonic()
            if not count:
                first = now
            count += 1
            last = now
    emit_result(count, n, emitted, first, last, cpu_seconds() - cpu_start)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    try:
        client = redis.Redis.from_url(config["redis"])
        (publisher if config["role"] == "publisher" else subscriber)(config, client)
    except Exception as error:
        emit_line(error=f"{type(error).__name__}: {error}")
        raise
