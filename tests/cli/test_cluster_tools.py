"""``sioadapter monitor``, ``emit`` and ``status`` against a live cluster.

The cluster is two python-socketio nodes of ``tests/integration/harness.py`` (uvicorn on
loopback ports, real clients) on a real redis-server, with a channel prefix of this test's
own. The commands run as subprocesses started with asyncio, so that the nodes, in this
process's event loop, keep serving (and answering the status probe) while they run.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
import redis.asyncio
import socketio
from integration.harness import Cluster

import sioadapter
from sioadapter.wire.base import ChannelInfo, Role
from sioadapter.wire.classic import ClassicFamily

from .conftest import command_env, sioadapter_command

pytestmark = pytest.mark.timeout(90)

COMMAND_TIMEOUT = 30.0


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *sioadapter_command(*args), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=command_env(),
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    """Wait for the command to exit (killing it past the bound); (status, stdout, stderr)."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        out, err = await process.communicate()
        raise AssertionError(f"command did not exit: {out.decode()} {err.decode()}") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def started_monitor(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    """A monitor, once it says its subscriptions are active; and its stderr until then."""
    process = await start("monitor", *args)
    assert process.stderr is not None
    said = ""
    while True:
        line = await asyncio.wait_for(process.stderr.readline(), COMMAND_TIMEOUT)
        assert line, f"monitor exited: {await finish(process)}"
        said += line.decode()
        if line.startswith(b"monitor: listening"):
            return process, said


def cells(text: str) -> list[list[str]]:
    """The rows of rich tables in ``text``, as lists of stripped cells."""
    return [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def fields(line: str) -> dict[str, str]:
    """``key=value`` tokens of a monitor line, plus ``kind`` and ``type``."""
    words = line.split()
    found = {"kind": words[1], "type": words[2]}
    found.update(word.split("=", 1) for word in words[3:] if "=" in word)
    return found


def unique_key() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


async def test_monitor_emit_and_status_on_a_live_cluster(redis_standalone: Any) -> None:
    url, key = redis_standalone.url, unique_key()

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(url, key=key, **options)

    async with Cluster(factory, nodes=2) as cluster:
        red = await cluster.client(0)
        blue = [await cluster.client(1), await cluster.client(1)]
        await cluster.join_locally(red, "red")
        for client in blue:
            await cluster.join_locally(client, "blue")
        node0 = cluster.nodes[0]
        everything, _ = await started_monitor(url, "--key", key, "--count", "11")
        filtered, _ = await started_monitor(
            url, "--key", key, "--room", "blue", "--type", "broadcast", "--count", "2"
        )
        # The monitors' pattern subscriptions do not count: the nodes still see 2 servers.
        async with redis.asyncio.Redis.from_url(url) as client:
            assert await client.pubsub_numsub(f"{key}-request#/#") == [
                (f"{key}-request#/#".encode(), 2)
            ]
        assert await node0.mgr.server_count() == 2

        await node0.sio.emit("paint", "blue!", to="blue")  # 1 message
        for client in blue:
            await client.wait_for("paint")
        assert len(await node0.mgr.fetch_sockets()) == 3  # request + 1 answer
        code, out, err = await finish(
            await start("emit", url, "news", '{"title": "hi"}', "42", "hello", "--to", "blue",
                        "--key", key)
        )  # fmt: skip
        assert (code, err) == (0, "")
        assert out == (
            f"emitted 'news' with 3 arguments to rooms blue in namespace / (key {key!r})\n"
        )
        for client in blue:
            assert await client.wait_for("news") == [({"title": "hi"}, 42, "hello")]
        # 1 message (the harness's marker), after which no "news" can still be on its way.
        await cluster.assert_received_exactly("news", {red: 0, blue[0]: 1, blue[1]: 1}, origin=0)

        # status: all_rooms (request + 2 answers) and fetch_sockets (request + 2 answers).
        code, out, err = await finish(await start("status", url, "--key", key))
        assert (code, err) == (0, "")
        assert "2 servers (+ this status probe)" in out
        rows = cells(out)
        assert ["blue", "2"] in rows
        assert ["red", "1"] in rows
        per_node = sorted(int(row[1]) for row in rows if row[0].startswith("node-") or
                          re.fullmatch(r"[0-9a-f]{16}", row[0]))  # fmt: skip
        assert per_node == [1, 2]

        code, out, err = await finish(everything)
        assert code == 0, err
        lines = [fields(line) for line in out.splitlines()]
        assert [(f["kind"], f["type"]) for f in lines] == [
            ("broadcast", "Broadcast"),
            ("request", "FetchSockets"),
            ("response", "RequestReply"),
            ("broadcast", "Broadcast"),
            ("broadcast", "Broadcast"),
            ("request", "AllRooms"),
            ("response", "RequestReply"),
            ("response", "RequestReply"),
            ("request", "FetchSockets"),
            ("response", "RequestReply"),
            ("response", "RequestReply"),
        ], out
        paint, fetch, answer, news = lines[:4]
        assert (paint["rooms"], paint["event"], paint["from"]) == ("blue", "paint", node0.mgr.uid)
        assert (fetch["from"], answer["sockets"]) == (node0.mgr.uid, "2")
        assert fetch["request"] == answer["request"]
        assert (news["rooms"], news["event"], news["from"]) == ("blue", "news", "emitter")
        assert all(f["nsp"] == "/" for f in lines)

        code, out, err = await finish(filtered)
        assert code == 0, err
        assert [fields(line)["event"] for line in out.splitlines()] == ["paint", "news"]


async def test_emit_parses_each_argument_as_json_or_a_string(redis_standalone: Any) -> None:
    url, key = redis_standalone.url, unique_key()
    monitor, _ = await started_monitor(url, "--key", key, "--count", "2")
    async with redis.asyncio.Redis.from_url(url) as client, client.pubsub() as pubsub:
        await pubsub.psubscribe(f"{key}#*")
        assert (await pubsub.get_message(timeout=COMMAND_TIMEOUT))["type"] == "psubscribe"
        await client.publish(f"{key}#/#", b"\xc1 not msgpack")
        args = ["ev", '{"a": [1, 2]}', "42", "hello", '"quoted"', "null", "--except", "muted"]
        code, out, err = await finish(await start("emit", url, *args, "--key", key))
        assert (code, err) == (0, "")
        assert "to every client except rooms muted" in out
        received = []
        while len(received) < 2:
            message = await pubsub.get_message(timeout=COMMAND_TIMEOUT)
            assert message is not None
            received.append(message)
    broadcast = ClassicFamily(key, "test").decode(
        ChannelInfo("/", Role.BROADCAST), received[1]["data"]
    )
    assert broadcast.uid == "emitter"
    assert broadcast.data == ["ev", {"a": [1, 2]}, 42, "hello", "quoted", None]
    assert (broadcast.target.rooms, broadcast.target.except_rooms) == ([], ["muted"])
    code, out, err = await finish(monitor)
    assert code == 0, err
    malformed, emitted = out.splitlines()
    assert " broadcast malformed (" in malformed
    assert fields(emitted)["except"] == "muted"
    assert fields(emitted)["event"] == "ev"


async def test_a_sharded_monitor_warns_that_it_counts_as_a_server(redis_standalone: Any) -> None:
    url, key = f"{redis_standalone.url}?mode=sharded", unique_key()
    mgr = sioadapter.AsyncClusterManager(url, key=key)
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    await mgr.start()
    try:
        monitor, said = await started_monitor(url, "--key", key, "--count", "1")
        # SHARDNUMSUB counts the monitor's SSUBSCRIBE: the node now sees 2 servers.
        assert await mgr.server_count() == 2
        await mgr.server_side_emit("hello", 1)
        code, out, err = await finish(monitor)
    finally:
        await mgr.close()
    assert code == 0, err
    assert "warning: sharded mode: the nodes count this monitor as one more server" in said
    line = fields(out)
    assert (line["kind"], line["type"], line["event"]) == ("main", "ServerSideEmit", "hello")
    assert line["from"] == mgr.uid


async def test_the_monitor_decodes_signed_traffic(redis_standalone: Any) -> None:
    url, key = redis_standalone.url, unique_key()

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(
            url, key=key, signing_keys=[b"cli-monitor-signing-key-0123"], **options
        )

    async with Cluster(factory, nodes=2) as cluster:
        client = await cluster.client(1)
        await cluster.join_locally(client, "blue")
        monitor, _ = await started_monitor(url, "--key", key, "--count", "3")
        await cluster.nodes[0].sio.emit("paint", b"\x00\xff", to="blue")  # 1 message
        await client.wait_for("paint")
        assert len(await cluster.nodes[0].mgr.fetch_sockets()) == 1  # request + 1 answer
        code, out, err = await finish(monitor)
    assert code == 0, err
    lines = out.splitlines()
    assert [(fields(line)["type"], line.split()[-1]) for line in lines] == [
        ("Broadcast", "signed"),
        ("FetchSockets", "signed"),
        ("RequestReply", "signed"),
    ], out
    assert fields(lines[0])["event"] == "paint"
    assert "cli-monitor-signing-key" not in out + err


async def test_status_says_when_no_server_uses_its_key(redis_standalone: Any) -> None:
    url, key = redis_standalone.url, unique_key()

    def factory(index: int, /, **options: Any) -> Any:
        return sioadapter.AsyncClusterManager(url, key=key, **options)

    async with Cluster(factory, nodes=1):
        wrong = unique_key()
        code, out, err = await finish(await start("status", url, "--key", wrong))
        assert (code, err) == (0, "")
        assert "0 servers (+ this status probe)" in out
        assert f"no server uses key {wrong!r} in namespace / here" in out
        assert f"servers here use: key {key!r} namespace /" in out  # the key that is in use
        assert f"key {wrong!r} namespace" not in out.split("servers here use:")[1]
        assert cells(out) == []  # no empty tables for a cluster that is not there

        code, out, err = await finish(await start("status", url, "--key", key, "-n", "/chat"))
        assert (code, err) == (0, "")
        assert f"no server uses key {key!r} in namespace /chat here" in out


async def test_the_demo_refuses_a_key_that_servers_already_use(redis_standalone: Any) -> None:
    # The demo's default key is the library's: its broadcasts would reach an application's
    # clients on the same Redis, and their sockets would spoil its counts.
    url, key = redis_standalone.url, unique_key()
    mgr = sioadapter.AsyncClusterManager(url, key=key)
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    await mgr.start()
    try:
        code, out, err = await finish(await start("demo", "--redis", url, "--key", key))
    finally:
        await mgr.close()
    assert (code, out) == (2, "")
    assert err == (
        f"sioadapter demo: error: 1 server already uses key {key!r} at {url}: the demo would "
        "reach their clients; pass another --key\n"
    )


async def test_status_says_which_request_timed_out_and_how_many_answered(
    redis_standalone: Any,
) -> None:
    # A subscriber on the request channel that is no node: counted as a server, never answers.
    url, key = redis_standalone.url, unique_key()
    async with redis.asyncio.Redis.from_url(url) as client, client.pubsub() as silent:
        await silent.subscribe(f"{key}-request#/#")
        assert (await silent.get_message(timeout=COMMAND_TIMEOUT))["type"] == "subscribe"
        code, out, err = await finish(await start("status", url, "--key", key, "--timeout", "0.5"))
    assert (code, out) == (1, "")
    assert err == (
        "sioadapter status: error: all_rooms timed out: 0 of 1 servers answered within 0.5 s "
        "(--timeout)\n"
    )
