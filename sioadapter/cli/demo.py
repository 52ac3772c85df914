"""``sioadapter demo``: a real cluster on this machine, exercised, then a delivery report.

What it does, in order: without ``--redis`` it starts an embedded Redis-protocol server
(fakeredis, in a thread of this process); it starts N node processes
(:mod:`sioadapter.cli.demo_node`) and waits for each one's ready line; it connects M
``socketio.AsyncClient`` clients round-robin over the nodes (websocket transport), half of
each node's clients in room ``even``, half in ``odd``; it runs R rounds, each a broadcast to
everyone from one node and a broadcast to one room from the next (rotating), then one
``emit_with_ack`` to everyone, one ``fetch_sockets`` and one ``server_side_call``. It waits
for the deliveries on events (bounded by ``--timeout``), then for one marker broadcast from
every node, which a node's subscribers receive after everything it sent before: a duplicate
still in flight would be counted too.

Exit status: 0 when every client received exactly what it should and every cluster request
got every answer; 1 otherwise; 2 for configuration errors (a bad or unreachable ``--redis``,
a node that cannot start). The node processes are stopped by PID in every case, Ctrl-C
included.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from .._redact import redact_url
from ..backends import backend_from_url
from ._census import servers_using
from ._common import FAILED, CliError, console, run
from ._demo_parts import Deliveries, DemoClient, EmbeddedRedis, NodeProcess, percentile

ROOMS = ("even", "odd")
COUNTED = ("to-all", "to-room")
CONNECT_TIMEOUT = 10.0
CENSUS_WAIT = 1.0
"""Seconds the key check waits for servers to answer its heartbeat, on backends that cannot
count subscribers (Redis answers a count at once)."""


@click.command()
@click.option(
    "--redis", "url", metavar="URL",
    help="Use this backend: a Redis URL (any form sioadapter accepts), or postgresql://, "
    "nats://, amqp://...",
)  # fmt: skip
@click.option("--nodes", type=click.IntRange(1, 64), default=3, show_default=True)
@click.option("--clients", type=click.IntRange(1, 10_000), default=12, show_default=True)
@click.option("--rounds", type=click.IntRange(0, 100_000), default=50, show_default=True)
@click.option(
    "--key", default="socket.io", show_default=True,
    help="Channel prefix of the cluster (the default of the library, monitor and status).",
)  # fmt: skip
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), default=15.0, show_default=True,
    help="Seconds to wait for a node to start, and for the deliveries.",
)  # fmt: skip
def demo(url: str | None, nodes: int, clients: int, rounds: int, key: str, timeout: float) -> int:
    """Run a local cluster of server processes and clients; report deliveries.

    \b
    sioadapter demo                                  # no Redis needed
    sioadapter demo --redis redis://localhost:6379   # your Redis, Sentinel or Cluster
    sioadapter demo --redis postgresql://user@localhost:5432/db   # or another backend

    Prints a table per node (clients, messages delivered and expected, latency p50/p99)
    and the answers of emit_with_ack, fetch_sockets and server_side_call. Exits 0 when
    nothing was lost, 1 otherwise.
    """
    if url is not None and urlsplit(url).scheme == "memory":
        raise CliError("memory:// lives in one process and the demo's nodes are processes")
    return run(_demo(url, nodes, clients, rounds, key, timeout), url)


async def _demo(
    url: str | None, node_count: int, client_count: int, rounds: int, key: str, timeout: float
) -> int:
    out = console()
    embedded: EmbeddedRedis | None = None
    nodes: list[NodeProcess] = []
    clients: list[DemoClient] = []
    try:
        if url is None:
            embedded = EmbeddedRedis()
            url = embedded.url
            out.print(f"embedded Redis-protocol server (fakeredis) on {url}")
        else:
            await _check_reachable(url, key)
        with tempfile.TemporaryDirectory(prefix="sioadapter-demo-") as logs:
            nodes = [
                NodeProcess(i, url, key, Path(logs) / f"node{i}.log") for i in range(node_count)
            ]
            await asyncio.gather(*(node.start(timeout) for node in nodes))
            await asyncio.gather(*(node.connect_control() for node in nodes))
            pids = ", ".join(f"node {n.index} pid {n.pid} port {n.port}" for n in nodes)
            out.print(f"{node_count} nodes ready (key {key!r}): {pids}")
            deliveries = Deliveries()
            for i in range(client_count):
                node = i % node_count
                room = ROOMS[(i // node_count) % 2]  # each node gets members of both rooms
                clients.append(DemoClient(f"c{i}", node, room, deliveries, COUNTED))
            results = await _exercise(out, nodes, clients, deliveries, rounds, timeout)
            return _report(out, nodes, clients, results)
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(*(node.stop() for node in nodes), return_exceptions=True)
        if embedded is not None:
            embedded.stop()


async def _check_reachable(url: str, key: str) -> None:
    """Fail fast, in one line, on a bad or unreachable URL, before starting any node; and on
    a ``key`` that servers already use there: the demo's broadcasts, acknowledged emits and
    fetch_sockets would reach their clients (and count them). Servers are counted in the
    family they use on that backend (`sioadapter.cli._census`)."""
    backend = backend_from_url(url)
    try:
        await asyncio.wait_for(backend.connect(), CONNECT_TIMEOUT)
        servers = await asyncio.wait_for(servers_using(backend, key, CENSUS_WAIT), CONNECT_TIMEOUT)
    except asyncio.TimeoutError:
        raise CliError(f"no answer from {redact_url(url)} within {CONNECT_TIMEOUT:g} s") from None
    finally:
        with contextlib.suppress(Exception):
            await backend.close()
    if servers:
        who = "1 server already uses" if servers == 1 else f"{servers} servers already use"
        raise CliError(
            f"{who} key {key!r} at {redact_url(url)}: the demo would reach their clients; "
            "pass another --key"
        )


async def _exercise(
    out: Console,
    nodes: list[NodeProcess],
    clients: list[DemoClient],
    deliveries: Deliveries,
    rounds: int,
    timeout: float,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    # A live progress display on a terminal only: piped output gets the stage lines alone.
    with Progress(console=out, transient=True, disable=not out.is_terminal) as progress:
        task = progress.add_task("connecting clients", total=len(clients))
        for client in clients:
            await client.connect(nodes[client.node].address)
            progress.advance(task)
        out.print(f"{len(clients)} clients connected")
        progress.reset(task, description="broadcast rounds", total=rounds)
        for seq in range(rounds):
            room = ROOMS[seq % 2]
            for client in clients:
                client.expected += 1 + (client.room == room)
            deliveries.expect(len(clients) + sum(c.room == room for c in clients))
            sender, room_sender = nodes[seq % len(nodes)], nodes[(seq + 1) % len(nodes)]
            await sender.call("broadcast", {"event": "to-all", "seq": seq})
            await room_sender.call("broadcast", {"event": "to-room", "seq": seq, "room": room})
            progress.advance(task)
        out.print(f"{rounds} rounds sent: to everyone, and to room even or odd")
        progress.reset(task, description="cluster requests", total=None)
        results["acks"] = await _ask(nodes[0], "emit_with_ack", {"event": "ack-me"})
        results["fetch"] = await _ask(nodes[1 % len(nodes)], "fetch_sockets")
        results["whoami"] = await _ask(nodes[0], "server_side_call")
        progress.reset(task, description="waiting for deliveries", total=None)
        with contextlib.suppress(asyncio.TimeoutError):  # the report says what is missing
            await asyncio.wait_for(deliveries.done.wait(), timeout)
        results["settled"] = await _settle(nodes, clients, timeout)
    return results


async def _ask(node: NodeProcess, request: str, data: Any = None) -> dict[str, Any]:
    """A cluster request through ``node``: ``{"result": [...], "error": None or why}``."""
    try:
        answer: dict[str, Any] = await node.call(request, data)
    except CliError as error:
        return {"result": [], "error": error.message}
    return answer


async def _settle(nodes: list[NodeProcess], clients: list[DemoClient], timeout: float) -> bool:
    """One marker from every node to everyone; True once every client has them all."""
    done = asyncio.Event()
    waiting = {client.name for client in clients}

    def arrived(client: DemoClient) -> None:
        if client.received["marker"] >= len(nodes):
            waiting.discard(client.name)
            if not waiting:
                done.set()

    for client in clients:
        client.sio.on("marker", _marker_handler(client, arrived))
    for node in nodes:
        await node.call("broadcast", {"event": "marker", "seq": -1})
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


def _marker_handler(client: DemoClient, arrived: Any) -> Any:
    async def handle(payload: dict[str, Any]) -> None:
        client.received["marker"] += 1
        arrived(client)

    return handle


def _report(
    out: Console, nodes: list[NodeProcess], clients: list[DemoClient], results: dict[str, Any]
) -> int:
    fetched = Counter(index for _, index in results["fetch"]["result"])
    table = Table(title="deliveries per node (latency: receive time - send time)")
    for column in ("node", "port", "clients", "delivered", "expected", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "node" else "right")
    table.add_column("fetched", justify="right")  # by fetch_sockets, per the sockets' sessions
    problems: list[str] = []
    for node in nodes:
        mine = [c for c in clients if c.node == node.index]
        delivered = sum(c.delivered for c in mine)
        expected = sum(c.expected for c in mine)
        latencies = [value for c in mine for value in c.latencies]
        table.add_row(
            f"node {node.index}", str(node.port), str(len(mine)), str(delivered), str(expected),
            f"{percentile(latencies, 0.5):.1f}", f"{percentile(latencies, 0.99):.1f}",
            f"{fetched[node.index]}/{len(mine)}",
        )  # fmt: skip
        wrong = [c.name for c in mine if c.delivered != c.expected]
        if wrong:
            problems.append(f"node {node.index}: clients {', '.join(wrong)} got wrong counts")
    out.print(table)
    for name, text, ok in _request_lines(nodes, clients, results):
        out.print(f"{name}: {text}")
        if not ok:
            problems.append(name)
    if not results["settled"]:
        problems.append("some final markers did not arrive")
    if problems:
        out.print("FAILED: " + "; ".join(problems))
        return FAILED
    out.print("OK: nothing lost")
    return 0


def _request_lines(
    nodes: list[NodeProcess], clients: list[DemoClient], results: dict[str, Any]
) -> list[tuple[str, str, bool]]:
    """(request, what it got, complete?) for emit_with_ack, fetch_sockets, server_side_call."""
    acks, fetch, whoami = results["acks"], results["fetch"], results["whoami"]
    per_node = Counter(index for _, index in fetch["result"])
    wanted = Counter(client.node for client in clients)
    labels = Counter(label for label, _ in fetch["result"])
    others = sorted(int(a["index"]) for a in whoami["result"] if isinstance(a, dict))
    expected_others = [node.index for node in nodes[1:]]
    lines = [
        ("emit_with_ack", f"{len(acks['result'])}/{len(clients)} acknowledgements",
         acks["error"] is None and len(acks["result"]) == len(clients)),
        ("fetch_sockets", f"{len(fetch['result'])}/{len(clients)} sockets; by RemoteSocket.node: "
         + ", ".join(f"{label}={count}" for label, count in sorted(labels.items())),
         fetch["error"] is None and per_node == wanted),
        ("server_side_call", f"{len(others)}/{len(expected_others)} answers (nodes {others})",
         whoami["error"] is None and others == expected_others),
    ]  # fmt: skip
    return [
        (name, text + (f" ({answer['error']})" if answer["error"] else ""), ok)
        for (name, text, ok), answer in zip(lines, (acks, fetch, whoami), strict=True)
    ]
