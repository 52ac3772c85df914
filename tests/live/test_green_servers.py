"""Flask-SocketIO under threading, gevent and eventlet, in one cluster with an AsyncServer and a
Node.js server, over a real redis-server, driven by real clients.

The green node (tests/live/green_app.py) runs in its own process as deployed: ``socketio.run``
in a monkey-patched process, or gunicorn's ``-k gevent`` / ``-k eventlet`` worker, with and
without ``--preload``. From its handlers (which run in greenlets, or threads) it uses every
cluster operation, broadcasts bursts from a handler and from a background task, answers many
concurrent blocking calls, and reports that the app's own code sees no asyncio loop of the
adapter's (``asyncio.run()`` works in a handler). An unpatched gevent server gets a clear error
and does not hang.

gunicorn 26 removed its eventlet worker: ``-k eventlet`` runs on gunicorn 25.3, installed
into a temporary directory by the test. Skipped without gevent/eventlet, Node.js or
redis-server (failed under ``CI``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from integration.harness import Client, Node
from interop.harness_node import NodeServer, prepare_node
from redistopo._process import _unavailable

import sioadapter

from .procs import free_port

HERE = Path(__file__).parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
BURST = 300
EVENTLET_GUNICORN = "gunicorn==25.3.0"  # the last gunicorn with an eventlet worker

# (async_mode, how it is served)
DEPLOYMENTS = [
    ("threading", "socketio.run"),
    ("gevent", "socketio.run"),
    ("eventlet", "socketio.run"),
    ("gevent", "gunicorn"),
    ("gevent", "gunicorn --preload"),
    ("eventlet", "gunicorn"),
    ("eventlet", "gunicorn --preload"),
]


@pytest.fixture(scope="session")
def eventlet_gunicorn() -> Iterator[Path]:
    """A directory holding gunicorn 25.3 (for ``PYTHONPATH``), installed once per session."""
    with tempfile.TemporaryDirectory(prefix="sioadapter-gunicorn25-") as target:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
             target, EVENTLET_GUNICORN],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            _unavailable("gunicorn", f"pip could not install {EVENTLET_GUNICORN}: {done.stderr}")
        yield Path(target)


def require(mode: str) -> None:
    modules = ["flask_socketio"] + ([] if mode == "threading" else [mode])
    for module in modules:
        if importlib.util.find_spec(module) is None:
            _unavailable(module, f"{module} is needed (pip install -e '.[dev]')")


@dataclass
class GreenNode:
    """The green_app process; ``url`` is where clients connect (the harness's Client)."""

    process: subprocess.Popen[bytes]
    url: str
    log: Any

    def output(self) -> str:
        self.log.seek(0)
        return str(self.log.read().decode(errors="replace"))

    def stop(self) -> float:
        """SIGTERM, and the seconds the process (gunicorn's master: and its workers) took."""
        loop_time = asyncio.get_event_loop_policy().get_event_loop().time
        begun = loop_time()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5.0)
            raise AssertionError(
                f"not stopped {STOP_TIMEOUT} s after SIGTERM:\n{self.output()}"
            ) from None
        return loop_time() - begun


def green_command(mode: str, served: str, port: int, gunicorn25: Path | None) -> list[str]:
    if served == "socketio.run":
        # As a module from tests/ (the process's cwd): run as a script, its directory would
        # come first on sys.path, and tests/live/nats would shadow nats-py.
        return [sys.executable, "-m", "live.green_app", str(port)]
    command = [
        sys.executable, "-m", "gunicorn", "-k", mode, "-w", "1", "-b", f"127.0.0.1:{port}",
        "--chdir", str(HERE), "--graceful-timeout", "3",
    ]  # fmt: skip
    if served.endswith("--preload"):
        command.append("--preload")
    return [*command, "green_app:app"]


async def wait_listening(node: GreenNode, port: int) -> None:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    while asyncio.get_running_loop().time() < deadline and node.process.poll() is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)  # not listening yet
            continue
        writer.close()
        return
    raise AssertionError(f"not listening within {START_TIMEOUT} s:\n{node.output()}")


async def wait_ready(node: GreenNode) -> str:
    """Poll ``/ready`` (which starts the manager) until it answers with the node's name."""

    def probe() -> str | None:
        try:
            with urllib.request.urlopen(f"{node.url}/ready", timeout=5.0) as answer:
                return str(answer.read().decode())
        except (OSError, urllib.error.URLError):
            return None

    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    while asyncio.get_running_loop().time() < deadline and node.process.poll() is None:
        name = await asyncio.to_thread(probe)
        if name is not None:
            return name
        await asyncio.sleep(0.1)  # not listening yet
    raise AssertionError(f"not ready within {START_TIMEOUT} s:\n{node.output()}")


@contextlib.contextmanager
def green_node(
    mode: str, served: str, url: str, key: str, gunicorn25: Path | None, patch: bool = True
) -> Iterator[GreenNode]:
    port = free_port()
    env = {**os.environ, "GREEN_MODE": mode, "GREEN_URL": url, "GREEN_KEY": key,
           "GREEN_NAME": mode, "PYTHONUNBUFFERED": "1"}  # fmt: skip
    if not patch:
        env["GREEN_NO_PATCH"] = "1"
    if gunicorn25 is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(gunicorn25), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryFile() as log:
        command = green_command(mode, served, port, gunicorn25)
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent
        )
        node = GreenNode(process, f"http://127.0.0.1:{port}", log)
        try:
            yield node
        finally:
            if process.poll() is None:
                node.stop()


@dataclass
class Cluster:
    name: str  # the green node's (its async mode)
    green: GreenNode
    node: Node
    js: NodeServer
    on_green: Client
    on_async: Client
    on_node: Client


@pytest.fixture
async def cluster(request: pytest.FixtureRequest, redis_standalone: Any) -> AsyncIterator[Cluster]:
    mode, served = request.param
    require(mode)
    node_binary = prepare_node()
    gunicorn25 = None
    if mode == "eventlet" and served.startswith("gunicorn"):
        gunicorn25 = request.getfixturevalue("eventlet_gunicorn")
    key = f"green-{uuid.uuid4().hex[:8]}"
    url = redis_standalone.url
    with green_node(mode, served, url, key, gunicorn25) as green:
        assert await wait_ready(green) == mode
        node = Node(1, sioadapter.AsyncClusterManager(url, key=key))
        node.mgr.on("hello-ack", lambda arg: {"server": "async", "got": arg})

        async def join_rooms(node: Node, sid: str, namespace: str, environ: Any, auth: Any) -> None:
            for room in auth["rooms"]:  # what the other two servers do with their clients' auth
                await node.sio.enter_room(sid, room, namespace=namespace)

        node.connect_hook = join_rooms
        js = NodeServer(node_binary, {"mode": "classic", "redis": url, "key": key})
        clients: list[Client] = []
        try:
            await node.start(cluster_api=True)
            await js.start()
            for name, server in (("on-green", green), ("on-async", node), ("on-node", js)):
                client = Client(name, server, ["/"], {"rooms": ["lobby"], "name": name})  # type: ignore[arg-type]
                client.on("question", lambda who, name=name: f"{name} answers {who}")
                await client.connect()
                clients.append(client)
            yield Cluster(mode, green, node, js, *clients)
        finally:
            for client in clients:
                await client.close()
            await js.stop()
            await node.stop_server()
            await node.mgr.close()
        assert green.stop() < STOP_TIMEOUT
        output = green.output()
    assert "Traceback" not in output, output


async def call(client: Client, event: str, *args: Any, timeout: float = 10.0) -> Any:
    """The green node's answer to ``event`` (its handler's return value)."""
    return await client.sio.call(event, args if len(args) != 1 else args[0], timeout=timeout)


def sequence(client: Client, tag: str) -> list[int]:
    return [data["i"] for (data,) in client.received("seq") if data["tag"] == tag]


@pytest.mark.parametrize(
    "cluster", DEPLOYMENTS, indirect=True, ids=[" ".join(d) for d in DEPLOYMENTS]
)
async def test_a_green_node_does_everything_a_cluster_node_does(cluster: Cluster) -> None:
    c = cluster
    everyone = {c.on_green.sid, c.on_async.sid, c.on_node.sid}
    assert await call(c.on_green, "count") == 3
    # The app's own code sees no loop of the adapter's, and may run one of its own.
    seen = await call(c.on_green, "loops")
    assert seen["running"] is None and seen["asyncio.run"] == "ran"

    found = await call(c.on_green, "fetch", "lobby")
    assert {sid for sid, _ in found} == everyone
    assert [sorted([sid, "lobby"]) for sid in sorted(everyone)] == sorted(r for _, r in found)
    assert await call(c.on_green, "ask_servers", 7) == [
        {"server": "async", "got": 7}, {"server": "node", "got": 7},
    ]  # fmt: skip
    assert await call(c.on_green, "ask_clients", "lobby") == [
        f"{name} answers {c.name}" for name in ("on-async", "on-green", "on-node")
    ]
    for client in (c.on_async, c.on_node):  # sio.call() to a client of another node
        answer = await call(c.on_green, "call_client", client.sid)
        assert answer == f"{client.name} answers {c.name}"

    # Bursts from a handler and from a background task reach every node, in order.
    assert await call(c.on_green, "burst", "lobby", BURST, "handler") == BURST
    assert await call(c.on_green, "background_burst", "lobby", BURST, "background") == "started"
    for client in (c.on_green, c.on_async, c.on_node):
        await client.wait_for("seq", 2 * BURST)
        assert sequence(client, "handler") == list(range(BURST)), client
        assert sequence(client, "background") == list(range(BURST)), client

    # Broadcasts from the other nodes reach the green node's client.
    await c.node.sio.emit("news", "from async", to="lobby")
    await c.js.command("emit", to=["lobby"], event="news", args=["from node"])
    assert sorted(a for (a,) in await c.on_green.wait_for("news", 2)) == ["from async", "from node"]

    # Many handlers blocked on the cluster at once.
    answers = await asyncio.gather(
        *(call(c.on_green, "ask_servers", i, timeout=20.0) for i in range(30))
    )
    assert [[a["got"] for a in answer] for answer in answers] == [[i, i] for i in range(30)]

    # Room and connection operations, both ways.
    assert "vip" in await call(c.on_green, "pull_into", c.on_node.sid, "vip")
    (remote,) = await c.node.mgr.fetch_sockets(c.on_green.sid)
    assert remote.rooms == {c.on_green.sid, "lobby"}
    assert {"lobby", "vip"} <= set(await call(c.on_green, "rooms"))
    assert await call(c.on_green, "kick", c.on_async.sid) is True
    await c.on_async.wait_for("disconnect")
    await c.node.mgr.disconnect_sockets(to=c.on_green.sid)
    await c.on_green.wait_for("disconnect")


async def test_an_unpatched_gevent_server_gets_a_clear_error(redis_standalone: Any) -> None:
    require("gevent")
    key = f"green-{uuid.uuid4().hex[:8]}"
    with green_node(
        "gevent", "socketio.run", redis_standalone.url, key, None, patch=False
    ) as green:
        await wait_listening(green, int(green.url.rsplit(":", 1)[1]))
        client = Client("on-unpatched", green, ["/"], {"rooms": []})  # type: ignore[arg-type]
        # The first connection starts the manager, which refuses: the connection fails at
        # once (no hang), and the server's log says what to do.
        with pytest.raises(Exception, match=r"(?i)connect"):
            await asyncio.wait_for(client.connect(), START_TIMEOUT)
        await client.close()
        with pytest.raises(urllib.error.HTTPError, match="500"):
            await asyncio.to_thread(urllib.request.urlopen, f"{green.url}/ready", timeout=10.0)
        output = green.output()
    assert "needs a monkey-patched process: call gevent.monkey.patch_all()" in output, output
