"""Three python-socketio servers on loopback ports, one cluster, real clients on each.

Needs no Redis: the nodes share the in-process ``memory://`` backend (pass a Redis URL as the
first argument to use Redis instead). It runs broadcasts to everyone and to a room, an emit
with acknowledgements, fetch_sockets and a server-side call, then prints what every node's
clients received against what they should have, and exits 1 if anything was lost.

    python examples/demo.py [URL] [--clients N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from collections import Counter

import socketio
import uvicorn

import sioadapter

NODES = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_node(
    url: str, index: int, tasks: list[asyncio.Task[None]]
) -> tuple[socketio.AsyncServer, uvicorn.Server, int]:
    mgr = sioadapter.AsyncClusterManager(url)
    sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi")

    @sio.event
    async def connect(sid: str, environ: dict, auth: dict) -> None:
        await sio.save_session(sid, {"node": index})
        if auth.get("room"):
            await sio.enter_room(sid, auth["room"])

    mgr.on("whoami", lambda: {"node": index, "uid": mgr.uid})
    port = free_port()
    config = uvicorn.Config(
        socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    started = asyncio.Event()
    original_startup = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original_startup(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    tasks.append(asyncio.create_task(server.serve()))
    await asyncio.wait_for(started.wait(), 10)
    await mgr.start()
    return sio, server, port


async def main(url: str, clients_per_node: int) -> int:
    tasks: list[asyncio.Task[None]] = []
    nodes = [await start_node(url, i, tasks) for i in range(NODES)]
    received: Counter[tuple[int, str]] = Counter()
    all_delivered = asyncio.Event()
    expected: dict[str, int] = {}
    latencies: list[float] = []
    clients = []
    for index, (_, _, port) in enumerate(nodes):
        for n in range(clients_per_node):
            client = socketio.AsyncClient(reconnection=False)

            @client.on("*")
            async def any_event(event: str, sent: float, node: int = index) -> str:
                received[(node, event)] += 1
                latencies.append(time.perf_counter() - sent)
                if expected and all(
                    received[(n, ev)] >= count
                    for n in range(NODES)
                    for ev, count in expected.items()
                ):
                    all_delivered.set()
                return "ok"

            await client.connect(
                f"http://127.0.0.1:{port}",
                transports=["websocket"],
                auth={"room": "even" if n % 2 == 0 else "odd"},
            )
            clients.append(client)
    mgr = nodes[0][0].manager
    total = len(clients)
    print(f"{NODES} nodes, {total} clients, backend {url}")

    rounds = 50
    even_per_node = (clients_per_node + 1) // 2
    expected.update(
        {
            "to-all": rounds * clients_per_node,
            "to-even": rounds * even_per_node,
            "ack-me": clients_per_node,
        }
    )
    for _ in range(rounds):
        await nodes[1][0].emit("to-all", time.perf_counter())
        await nodes[2][0].emit("to-even", time.perf_counter(), to="even")
    answers = await mgr.emit_with_ack("ack-me", time.perf_counter())
    sockets = await mgr.fetch_sockets()
    whoami = await mgr.server_side_call("whoami")
    with contextlib.suppress(asyncio.TimeoutError):  # the table below shows what is missing
        await asyncio.wait_for(all_delivered.wait(), 10)

    lost = 0
    print(f"{'node':>4} {'event':>8} {'delivered':>9} {'expected':>8}")
    for node in range(NODES):
        for event, count in expected.items():
            got = received[(node, event)]
            lost += max(count - got, 0)
            print(f"{node:>4} {event:>8} {got:>9} {count:>8}")
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    print(f"latency p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"emit_with_ack: {len(answers)} answers from {total} clients")
    print(f"fetch_sockets: {len(sockets)} sockets; server_side_call: {len(whoami)} servers")
    ok = lost == 0 and len(answers) == total and len(sockets) == total and len(whoami) == 2
    for client in clients:
        await client.disconnect()
    for sio, server, _ in nodes:
        await sio.manager.close()
        server.should_exit = True
    await asyncio.gather(*tasks)
    print("OK: nothing lost" if ok else f"FAILED: {lost} deliveries lost")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="memory://demo")
    parser.add_argument("--clients", type=int, default=4, help="clients per node")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.url, arguments.clients)))
