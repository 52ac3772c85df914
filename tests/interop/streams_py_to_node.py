"""A manual check (not collected by pytest): Node's @socket.io/redis-streams-adapter 0.3.1 obeys
what sioadapter's streams family and XADD write, and answers its pub/sub requests.

Usage, with socket.io, socket.io-client, @socket.io/redis-streams-adapter 0.3.1 and redis 4
installed in NODE_MODULES (they are not in tests/interop/package.json yet) and a private Redis:

    NODE_PATH=NODE_MODULES python tests/interop/streams_py_to_node.py redis://127.0.0.1:PORT

It starts ``streams_node_side.js`` (one Node server, one client in room1), then as a Python
node (uid ``a1b2c3d4e5f60718``): XADDs broadcasts (JSON, binary to a room, except the room),
fetchSockets, serverSideEmit with ack and a broadcast with ack over pub/sub, socketsJoin and a
broadcast to the joined room; it asserts what the Node client and server got and answered.
Checked on 2026-12-02 against redis-server 7.0.15: every assertion held.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from sioadapter.backends._redis_streams import xadd_entries
from sioadapter.core import messages as m
from sioadapter.wire.streams import StreamsFamily

HERE = Path(__file__).parent


async def main(url: str) -> None:
    node = await asyncio.create_subprocess_exec(
        "node", str(HERE / "streams_node_side.js"), url, stdout=subprocess.PIPE
    )
    lines: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def pump() -> None:
        assert node.stdout is not None
        async for line in node.stdout:
            lines.append(json.loads(line))
            arrived.set()

    pumping = asyncio.create_task(pump())

    async def until(predicate: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not any(predicate(line) for line in lines):
                arrived.clear()
                await arrived.wait()

    def client_events() -> list[Any]:
        return [line["client"] for line in lines if "client" in line]

    await until(lambda line: "ready" in line)
    redis = aioredis.Redis.from_url(url)
    family = StreamsFamily("socket.io", "a1b2c3d4e5f60718")
    sub = redis.pubsub()
    await sub.subscribe(*family.subscriptions("/")[0])

    async def responses(count: int) -> list[Any]:
        got: list[Any] = []
        async with asyncio.timeout(3):
            while len(got) < count:
                message = await sub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message:
                    info = family.parse_channel(message["channel"].decode())
                    decoded = family.decode(info, message["data"])
                    if decoded.uid != family.uid:
                        got.append(decoded)
        return got

    async def xadd(*messages: Any) -> None:
        entries = [family.encode_entry(message) for message in messages]
        await xadd_entries(redis, [(e.stream, e.fields) for e in entries], 10000)

    uid = family.uid
    await xadd(
        m.Broadcast("/", uid, ["py-all", 1, {"x": None}], m.Target()),
        m.Broadcast("/", uid, ["py-bin", b"\x01\x02"], m.Target(rooms=["room1"])),
        m.Broadcast("/", uid, ["py-except"], m.Target(except_rooms=["room1"])),
    )
    await until(lambda line: line.get("client", [None])[0] == "py-bin")
    assert [e[:-1] for e in client_events()] == [
        ["py-all", 1, {"x": None}],
        ["py-bin", {"bin": "0102"}],
    ]
    assert (await redis.pubsub_numsub("socket.io#/#"))[0][1] == 2  # Node counts us

    await redis.publish(*family.encode(m.FetchSockets("/", uid, "r1", m.Target())))
    (fetched,) = await responses(1)
    assert type(fetched) is m.FetchSocketsResponse and fetched.requester == uid
    assert fetched.sockets[0]["data"] == {"who": "node"} and "room1" in fetched.sockets[0]["rooms"]

    await redis.publish(*family.encode(m.ServerSideEmit("/", uid, ["py-event", "hi"], "r2")))
    (answer,) = await responses(1)
    assert type(answer) is m.ServerSideEmitResponse and answer.data == "node-answer"

    target = m.Target(flags={"timeout": 2000})
    await redis.publish(*family.encode(m.Broadcast("/", uid, ["py-ack"], target, "r3")))
    count, ack = await responses(2)
    assert (count.client_count, ack.data) == (1, "client-ack")

    await xadd(
        m.SocketsJoin("/", uid, m.Target(), ["py-room"]),
        m.Broadcast("/", uid, ["py-room-ev"], m.Target(rooms=["py-room"])),
    )
    await until(lambda line: line.get("client", [None])[0] == "py-room-ev")
    node.terminate()
    await node.wait()
    pumping.cancel()
    await sub.aclose()
    await redis.aclose()
    print("ok:", client_events())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
