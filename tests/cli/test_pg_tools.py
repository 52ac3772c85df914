"""``sioadapter monitor`` and ``sioadapter demo`` on PostgreSQL.

python-socketio nodes of ``tests/integration/harness.py`` (or the demo's own) on the real
PostgreSQL of tests/live/postgres (127.0.0.1:5432, trust, database ``test``), with a channel
prefix of each test's own; the commands run as subprocesses, as in test_cluster_tools.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from typing import Any

import pytest
import socketio
from integration.harness import Cluster
from live.postgres.conftest import pg_url, short_key

import sioadapter
from sioadapter._redact import redact_url

from .conftest import command_env, sioadapter_command
from .test_cluster_tools import fields, finish, start, started_monitor
from .test_demo import DEMO_TIMEOUT, check_report

__all__ = ["pg_url"]  # the fixture, imported for the tests below

pytestmark = [pytest.mark.timeout(90), pytest.mark.postgres]


async def test_the_monitor_decodes_a_postgres_clusters_traffic(pg_url: str) -> None:
    key = short_key(uuid.uuid4().hex)

    def factory(index: int, /, **options: Any) -> Any:
        options.setdefault("requests_timeout", 5.0)
        return sioadapter.AsyncClusterManager(pg_url, key=key, **options)

    async with Cluster(factory, nodes=2) as cluster:
        red = await cluster.client(0)
        blue = await cluster.client(1)
        await cluster.join_locally(red, "red")
        await cluster.join_locally(blue, "blue")
        node0 = cluster.nodes[0]
        types = ["--type", "Broadcast", "--type", "FetchSockets", "--type", "FetchSocketsResponse"]
        everything, said = await started_monitor(pg_url, "--key", key, *types, "--count", "4")
        in_blue, _ = await started_monitor(pg_url, "--key", key, "--room", "blue", "--count", "2")
        assert f"on {key}#/" in said

        await node0.sio.emit("paint", "blue!", to="blue")  # NOTIFY
        assert await blue.wait_for("paint") == [("blue!",)]
        big = "x" * 9000  # past the 8000-byte threshold: through socket_io_attachments
        await node0.sio.emit("poster", {"text": big, "raw": b"\x00\xff"}, to="blue")
        assert (await blue.wait_for("poster"))[0][0]["text"] == big
        # The monitors publish nothing: the nodes count each other only, and their requests
        # do not wait for a monitor.
        assert await node0.mgr.server_count() == 2
        assert len(await node0.mgr.fetch_sockets()) == 2  # request + 1 answer

        code, out, err = await finish(everything)
        assert code == 0, err
        lines = [fields(line) for line in out.splitlines()]
        sizes = [size(line) for line in out.splitlines()]
        assert [(f["kind"], f["type"]) for f in lines] == [
            ("main", "Broadcast"),
            ("main", "Broadcast"),
            ("main", "FetchSockets"),
            ("main", "FetchSocketsResponse"),
        ], out
        paint, poster, fetch, answer = lines
        assert (paint["rooms"], paint["event"], paint["from"]) == ("blue", "paint", node0.mgr.uid)
        assert (poster["event"], poster["from"]) == ("poster", node0.mgr.uid)
        assert sizes[1] > 9000, out  # the row's bytes, not the header's
        assert fetch["request"] == answer["request"]
        assert (answer["from"], answer["sockets"]) == (cluster.nodes[1].mgr.uid, "1")
        assert all(f["nsp"] == "/" for f in lines)

        code, out, err = await finish(in_blue)
        assert code == 0, err
        assert [fields(line)["event"] for line in out.splitlines()] == ["paint", "poster"]


async def test_the_redis_mode_is_refused_on_postgres_and_no_password_is_shown(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:S3cretPW@", 1)
    code, out, err = await finish(await start("monitor", url, "--mode", "sharded"))
    assert (code, out) == (2, "")
    assert "--mode is the Redis pub/sub mode" in err
    code, out, err = await finish(await start("monitor", url, "--key", "k" * 70, "--count", "1"))
    assert code == 2 and "63" in err, err
    assert "S3cretPW" not in err


def size(line: str) -> int:
    """The payload size of a monitor line (its ``<n>B`` token)."""
    return next(int(word[:-1]) for word in line.split() if re.fullmatch(r"[0-9]+B", word))


async def test_the_demo_refuses_a_key_postgres_servers_use_and_leaves_no_trace(
    pg_url: str,
) -> None:
    key = short_key(uuid.uuid4().hex)
    mgr = sioadapter.AsyncClusterManager(pg_url, key=key, requests_timeout=5.0)
    socketio.AsyncServer(client_manager=mgr, async_mode="asgi")
    await mgr.start()
    try:
        code, out, err = await finish(await start("demo", "--redis", pg_url, "--key", key))
        # The probe said ADAPTER_CLOSE: the server does not count it, nor wait for it.
        assert await mgr.server_count() == 1
        started = time.monotonic()
        assert await mgr.fetch_sockets() == []
        assert time.monotonic() - started < 1.0
    finally:
        await mgr.close()
    assert (code, out) == (2, "")
    assert err == (
        f"sioadapter demo: error: 1 server already uses key {key!r} at {redact_url(pg_url)}: "
        "the demo would reach their clients; pass another --key\n"
    )


@pytest.mark.timeout(DEMO_TIMEOUT + 30)
def test_the_demo_on_postgres(pg_url: str) -> None:
    key = short_key(uuid.uuid4().hex)
    args = ["demo", "--redis", pg_url, "--nodes", "2", "--clients", "4", "--rounds", "5"]
    result = subprocess.run(
        sioadapter_command(*args, "--key", key),
        capture_output=True, text=True, timeout=DEMO_TIMEOUT, env=command_env(),
    )  # fmt: skip
    check_report(result, nodes=2, clients=4)
